"""The firmware facts of a target (ADR 0001) and the rules for target names.

No repository here: both the repository (which refuses to sign malformed targets) and the
`add` command use these rules.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from tuf.api.metadata import TargetFile, Targets

from signer._errors import InvalidInputError, MetadataError
from verifier._internal.version import FirmwareVersion, VersionError

CUSTOM_KEY = "firmtuf"
"""Key of the firmware fields inside a target's ``custom`` object (ADR 0001)."""

MAX_SECURITY_COUNTER = 2**63 - 1


@dataclass(frozen=True)
class FirmwareFields:
    """The firmware facts of a target (``custom.firmtuf``, ADR 0001)."""

    hardware_ids: tuple[str, ...]
    version: str
    security_counter: int | None = None
    min_version: str | None = None
    notes: str | None = None

    def validate(self) -> None:
        """Raise InvalidInputError unless the fields follow ADR 0001."""
        if not self.hardware_ids:
            raise InvalidInputError("at least one --hardware-id is needed")
        seen: set[str] = set()
        for hw in self.hardware_ids:
            if not isinstance(hw, str) or not hw or hw.strip() != hw:
                raise InvalidInputError(f"invalid hardware id {hw!r}: empty or padded")
            if any(unicodedata.category(c) == "Cc" for c in hw):
                raise InvalidInputError(f"invalid hardware id {hw!r}: control character")
            if hw in seen:
                raise InvalidInputError(f"hardware id {hw!r} given twice")
            seen.add(hw)
        version = parse_firmware_version(self.version, "version")
        if self.min_version is not None:
            minimum = parse_firmware_version(self.min_version, "min-version")
            if not minimum < version:
                raise InvalidInputError(
                    f"min-version {self.min_version} must be lower than version {self.version}"
                )
        if self.security_counter is not None and not (
            isinstance(self.security_counter, int)
            and not isinstance(self.security_counter, bool)
            and 0 <= self.security_counter <= MAX_SECURITY_COUNTER
        ):
            raise InvalidInputError(
                f"security counter must be an integer from 0 to 2^63-1, got {self.security_counter}"
            )
        if self.notes is not None and not isinstance(self.notes, str):
            raise InvalidInputError("notes must be text")

    @property
    def parsed_version(self) -> FirmwareVersion:
        return FirmwareVersion(self.version)

    def to_custom(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"hardware_ids": list(self.hardware_ids), "version": self.version}
        if self.security_counter is not None:
            fields["security_counter"] = self.security_counter
        if self.min_version is not None:
            fields["min_version"] = self.min_version
        if self.notes is not None:
            fields["notes"] = self.notes
        return {CUSTOM_KEY: fields}

    def validate_new(self) -> None:
        """:meth:`validate`, plus the rules for new targets only.

        A hardware id with whitespace is refused: a device reporting ``acme-gw`` never
        matches ``acme gw``, and shells split such ids. (Targets signed before this rule
        stay readable.)
        """
        self.validate()
        for hw in self.hardware_ids:
            if any(c.isspace() for c in hw):
                raise InvalidInputError(f"invalid hardware id {hw!r}: contains whitespace")

    @classmethod
    def from_target(cls, name: str, info: TargetFile) -> FirmwareFields | None:
        """The firmware fields of a target; None when it is not firmware.

        Raises:
            MetadataError: ``custom.firmtuf`` is present but malformed.
        """
        custom = info.custom
        if CUSTOM_KEY not in custom:
            return None
        try:
            return cls._parse(custom[CUSTOM_KEY])
        except InvalidInputError as e:
            raise MetadataError(f"target {name!r}: malformed custom.{CUSTOM_KEY}: {e}") from None

    @classmethod
    def _parse(cls, raw: Any) -> FirmwareFields:
        if not isinstance(raw, dict):
            raise InvalidInputError("not an object")
        hw = raw.get("hardware_ids")
        if not isinstance(hw, list) or not all(isinstance(h, str) for h in hw):
            raise InvalidInputError("hardware_ids is not a list of strings")
        version = raw.get("version")
        if not isinstance(version, str):
            raise InvalidInputError("version is not a string")
        for opt in ("min_version", "notes"):
            if opt in raw and not isinstance(raw[opt], str):
                raise InvalidInputError(f"{opt} is not a string")
        fields = cls(
            tuple(hw),
            version,
            raw.get("security_counter"),
            raw.get("min_version"),
            raw.get("notes"),
        )
        fields.validate()
        return fields


def parse_firmware_version(text: str, what: str = "version") -> FirmwareVersion:
    """Parse a firmware version (ADR 0001 grammar) or raise InvalidInputError."""
    try:
        return FirmwareVersion(text)
    except VersionError as e:
        raise InvalidInputError(f"{what}: {e}") from None


# A target name is appended to a base URL unescaped (docs/adr/0001).
_URL_SPECIAL = "?#%"


def validate_target_name(name: str) -> None:
    """Raise InvalidInputError unless ``name`` is a relative POSIX path per ADR 0001."""
    if not isinstance(name, str) or not name:
        raise InvalidInputError("target name is empty")
    if name.startswith("/"):
        raise InvalidInputError(f"target name {name!r} is an absolute path")
    if "\\" in name:
        raise InvalidInputError(f"target name {name!r} contains a backslash")
    for c in _URL_SPECIAL:
        if c in name:
            raise InvalidInputError(
                f"target name {name!r} contains {c!r}, which a URL would not carry as is"
            )
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise InvalidInputError(f"target name {name!r} contains a control character")
    for segment in name.split("/"):
        if segment == "":
            raise InvalidInputError(f"target name {name!r} has an empty path segment")
        if segment in (".", ".."):
            raise InvalidInputError(f"target name {name!r} has a {segment!r} segment")
    if len(name.encode()) > 1024:
        raise InvalidInputError("target name is longer than 1024 bytes")


def check_targets_content(role: str, targets: Targets) -> None:
    """Raise MetadataError when a target of ``role`` has a bad name or firmware fields."""
    for name, info in targets.targets.items():
        try:
            validate_target_name(name)
        except InvalidInputError as e:
            raise MetadataError(f"{role}: {e}") from None
        FirmwareFields.from_target(name, info)
