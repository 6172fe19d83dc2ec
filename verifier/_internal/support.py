"""Support declarations and SBOM links as the device reads them (docs/adr/0009).

A hardware id's support period is the target ``<hardware id>/support/period.json`` with
``custom.firmtuf_support``; a firmware's SBOM is the target its ``custom.firmtuf.sbom``
links by name, length and hashes. Both are read from verified metadata only.
"""

from __future__ import annotations

import re

from verifier._errors import MetadataFormatError
from verifier._internal.dates import days_from_civil
from verifier._internal.names import check_target_name

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from typing import Any

    from verifier._internal.metadata import TargetFile

SUPPORT_KEY = "firmtuf_support"
SUPPORT_SUFFIX = "/support/period.json"

_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_HEX = re.compile(r"[0-9a-f]{16,128}")
_MAX_URL = 2048
_DAY = 86400


def support_target_name(hardware_id: str) -> str:
    """Name of the support declaration target of ``hardware_id``."""
    return hardware_id + SUPPORT_SUFFIX


def _date(text: Any, what: str) -> str:
    match = _DATE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise MetadataFormatError(f"{what} must be a date YYYY-MM-DD")
    y, m, d = (int(g) for g in match.groups())
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    if not 1 <= m <= 12 or not 1 <= d <= days[m - 1]:
        raise MetadataFormatError(f"{what} {text!r} is not a calendar date")
    return text


def _end_of(day: str) -> int:
    """Seconds since the epoch when ``day`` (YYYY-MM-DD, UTC) is over."""
    y, m, d = (int(part) for part in day.split("-"))
    return (days_from_civil(y, m, d) + 1) * _DAY


class SupportPeriod:
    """The support period a repository declares for a hardware id (docs/adr/0009).

    Attributes:
        hardware_id: the device model it is declared for.
        until: the last day (``YYYY-MM-DD``, UTC) of security updates.
        ends_at: when support has ended (seconds since the epoch): the next day, 00:00 UTC.
        url: the published support policy (``http(s)``), or None.
        declared: when the declaration was made (``YYYY-MM-DDTHH:MM:SSZ``).
        shortened_from: the previous last day when this declaration shortened the
            period, else None.
        history: earlier last days, oldest first.
    """

    __slots__ = ("declared", "ends_at", "hardware_id", "history", "shortened_from", "until", "url")

    def __init__(
        self,
        hardware_id: str,
        until: str,
        url: str | None,
        declared: str,
        history: tuple[str, ...] = (),
    ) -> None:
        self.hardware_id = hardware_id
        self.until = until
        self.ends_at = _end_of(until)
        self.url = url
        self.declared = declared
        self.history = history
        # ISO dates compare as text.
        self.shortened_from = history[-1] if history and history[-1] > until else None

    def ended(self, now: float) -> bool:
        """Whether support is over at ``now`` (seconds since the epoch)."""
        return now >= self.ends_at

    def __repr__(self) -> str:
        return f"SupportPeriod({self.hardware_id!r}, until={self.until!r})"

    @classmethod
    def from_target(cls, target: TargetFile, hardware_id: str) -> SupportPeriod:
        """Parse the declaration target of ``hardware_id``.

        Raises:
            MetadataFormatError: not a declaration, malformed, or for another hardware id.
        """
        what = f"target {target.path!r} custom.{SUPPORT_KEY}"
        raw = (target.custom or {}).get(SUPPORT_KEY)
        if not isinstance(raw, dict):
            raise MetadataFormatError(f"{what} must be an object")
        if raw.get("hardware_id") != hardware_id or target.path != support_target_name(hardware_id):
            raise MetadataFormatError(f"{what} is not the declaration of {hardware_id!r}")
        url = raw.get("url")
        if url is not None and not _is_url(url):
            raise MetadataFormatError(f"{what} url must be an http(s) URL")
        declared = raw.get("declared")
        if not isinstance(declared, str) or not _TIMESTAMP.fullmatch(declared):
            raise MetadataFormatError(f"{what} declared must be YYYY-MM-DDTHH:MM:SSZ")
        history = raw.get("history", [])
        if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
            raise MetadataFormatError(f"{what} history must be a list of objects")
        earlier = tuple(_date(h.get("support_until"), f"{what} history") for h in history)
        return cls(
            hardware_id,
            _date(raw.get("support_until"), f"{what} support_until"),
            url,
            declared,
            earlier,
        )


def _is_url(url: Any) -> bool:
    if not isinstance(url, str) or len(url) > _MAX_URL:
        return False
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return False
    scheme, sep, rest = url.partition("://")
    return bool(sep) and scheme in ("http", "https") and bool(rest.split("/", 1)[0])


class SbomLink:
    """A firmware's link to its SBOM target (``custom.firmtuf.sbom``, docs/adr/0009).

    Attributes:
        target: name of the SBOM target.
        length: its length.
        hashes: algorithm -> hex digest (sha256 at least).
    """

    __slots__ = ("hashes", "length", "target")

    def __init__(self, target: str, length: int, hashes: dict[str, str]) -> None:
        self.target = target
        self.length = length
        self.hashes = hashes

    def __repr__(self) -> str:
        return f"SbomLink({self.target!r}, length={self.length})"

    def matches(self, target: TargetFile) -> bool:
        """Whether ``target`` has this link's length and every hash it names."""
        return target.length == self.length and all(
            target.hashes.get(algo) == digest for algo, digest in self.hashes.items()
        )

    @classmethod
    def from_dict(cls, data: Any, what: str) -> SbomLink:
        """Parse ``custom.firmtuf.sbom``.

        Raises:
            MetadataFormatError: it does not follow docs/adr/0009.
        """
        what = f"{what} sbom"
        if not isinstance(data, dict):
            raise MetadataFormatError(f"{what} must be an object")
        target = data.get("target")
        length = data.get("length")
        hashes = data.get("hashes")
        if not isinstance(target, str):
            raise MetadataFormatError(f"{what} target must be a target name")
        check_target_name(target)
        if type(length) is not int or length < 0:
            raise MetadataFormatError(f"{what} length must be an integer >= 0")
        if (
            not isinstance(hashes, dict)
            or "sha256" not in hashes
            or not all(isinstance(v, str) and _HEX.fullmatch(v) for v in hashes.values())
        ):
            raise MetadataFormatError(f"{what} hashes must hold hex digests, sha256 too")
        return cls(target, length, hashes)
