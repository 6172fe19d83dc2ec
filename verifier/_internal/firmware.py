"""Firmware facts of a target (``custom.firmtuf``, docs/adr/0001)."""

from __future__ import annotations

from verifier._errors import MetadataFormatError
from verifier._internal.support import SbomLink
from verifier._internal.version import FirmwareVersion, VersionError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from typing import Any

_MAX_COUNTER = 2**63


class FirmwareInfo:
    """The ``custom.firmtuf`` object of a firmware target (see docs/adr/0001).

    Attributes:
        hardware_ids: device models the image runs on.
        version: firmware version of the image.
        security_counter: anti-rollback counter (0 when absent).
        min_version: version the device must already run, or None.
        notes: release notes for people, never used in decisions.
        sbom: the link to the release's SBOM target (``SbomLink``, docs/adr/0009), or
            None.
    """

    __slots__ = ("hardware_ids", "min_version", "notes", "sbom", "security_counter", "version")

    def __init__(
        self,
        hardware_ids: tuple[str, ...],
        version: FirmwareVersion,
        security_counter: int = 0,
        min_version: FirmwareVersion | None = None,
        notes: str | None = None,
        sbom: SbomLink | None = None,
    ) -> None:
        self.hardware_ids = hardware_ids
        self.version = version
        self.security_counter = security_counter
        self.min_version = min_version
        self.notes = notes
        self.sbom = sbom

    def __repr__(self) -> str:
        return (
            f"FirmwareInfo(hardware_ids={self.hardware_ids!r}, version={self.version.text!r}, "
            f"security_counter={self.security_counter})"
        )

    @classmethod
    def from_dict(cls, data: Any, path: str) -> FirmwareInfo:
        """Parse ``custom.firmtuf``.

        Raises:
            MetadataFormatError: the object does not follow ADR 0001.
        """
        what = f"target {path!r} custom.firmtuf"
        if not isinstance(data, dict):
            raise MetadataFormatError(f"{what} must be an object")
        ids = data.get("hardware_ids")
        if (
            not isinstance(ids, list)
            or not ids
            or not all(isinstance(i, str) and i for i in ids)
            or len(set(ids)) != len(ids)
        ):
            raise MetadataFormatError(f"{what} hardware_ids must be unique non-empty strings")
        counter = data.get("security_counter", 0)
        if type(counter) is not int or not 0 <= counter < _MAX_COUNTER:
            raise MetadataFormatError(f"{what} security_counter must be 0 <= n < 2^63")
        notes = data.get("notes")
        if notes is not None and not isinstance(notes, str):
            raise MetadataFormatError(f"{what} notes must be a string")
        try:
            version = FirmwareVersion(data.get("version"))  # type: ignore[arg-type]
            min_raw = data.get("min_version")
            min_version = None if min_raw is None else FirmwareVersion(min_raw)
        except VersionError as e:
            raise MetadataFormatError(f"{what}: {e}") from e
        link = data.get("sbom")
        sbom = None if link is None else SbomLink.from_dict(link, what)
        return cls(tuple(ids), version, counter, min_version, notes, sbom)
