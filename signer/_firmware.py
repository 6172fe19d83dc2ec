"""The facts a target carries and the rules for target names.

Firmware fields (``custom.firmtuf``, ADR 0001) with their SBOM link, and the support
declaration (``custom.firmtuf_support``, ADR 0009). No repository here: the repository
(which refuses to sign malformed targets), `status` and the commands use these rules.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib import parse

from tuf.api.metadata import TargetFile, Targets

from signer._errors import InvalidInputError, MetadataError
from verifier import FirmwareVersion, VersionError

CUSTOM_KEY = "firmtuf"
"""Key of the firmware fields inside a target's ``custom`` object (ADR 0001)."""

MAX_SECURITY_COUNTER = 2**63 - 1

SUPPORT_KEY = "firmtuf_support"
"""Key of a support declaration inside its target's ``custom`` object (ADR 0009)."""

SBOM_KEY = "firmtuf_sbom"
"""Key of an SBOM's format inside its target's ``custom`` object (ADR 0009)."""

SUPPORT_SUFFIX = "/support/period.json"
"""A hardware id's support declaration is the target ``<hardware id>/support/period.json``."""

MAX_URL_LENGTH = 2048


def validate_hardware_id(hw: Any, *, new: bool = False) -> str:
    """``hw``, or InvalidInputError when it is not a hardware id (ADR 0001).

    ``new``: also refuse whitespace, the rule for ids written from now on (a device
    reporting ``acme-gw`` never matches ``acme gw``, and shells split such ids).
    """
    if not isinstance(hw, str) or not hw or hw.strip() != hw:
        raise InvalidInputError(f"invalid hardware id {hw!r}: empty or padded")
    if any(unicodedata.category(c) == "Cc" for c in hw):
        raise InvalidInputError(f"invalid hardware id {hw!r}: control character")
    if new and any(c.isspace() for c in hw):
        raise InvalidInputError(f"invalid hardware id {hw!r}: contains whitespace")
    return hw


@dataclass(frozen=True)
class FirmwareFields:
    """The firmware facts of a target (``custom.firmtuf``, ADR 0001)."""

    hardware_ids: tuple[str, ...]
    version: str
    security_counter: int | None = None
    min_version: str | None = None
    notes: str | None = None
    sbom: SbomLink | None = None
    """The release's SBOM target (ADR 0009), or None."""

    def validate(self) -> None:
        """Raise InvalidInputError unless the fields follow ADR 0001."""
        if not self.hardware_ids:
            raise InvalidInputError("at least one --hardware-id is needed")
        seen: set[str] = set()
        for hw in self.hardware_ids:
            validate_hardware_id(hw)
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
        if self.sbom is not None:
            fields["sbom"] = self.sbom.to_dict()
        return {CUSTOM_KEY: fields}

    def validate_new(self) -> None:
        """:meth:`validate`, plus the rules for new targets only.

        A hardware id with whitespace is refused: a device reporting ``acme-gw`` never
        matches ``acme gw``, and shells split such ids. (Targets signed before this rule
        stay readable.)
        """
        self.validate()
        for hw in self.hardware_ids:
            validate_hardware_id(hw, new=True)

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
        sbom = raw.get("sbom")
        fields = cls(
            tuple(hw),
            version,
            raw.get("security_counter"),
            raw.get("min_version"),
            raw.get("notes"),
            None if sbom is None else SbomLink.from_dict(sbom),
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
    """Raise MetadataError when a target of ``role`` has a bad name, firmware fields or
    support declaration."""
    for name, info in targets.targets.items():
        try:
            validate_target_name(name)
        except InvalidInputError as e:
            raise MetadataError(f"{role}: {e}") from None
        FirmwareFields.from_target(name, info)
        SupportDeclaration.from_target(name, info)


def _check_hashes(raw: Any, what: str) -> dict[str, str]:
    if (
        not isinstance(raw, dict)
        or "sha256" not in raw
        or not all(
            isinstance(k, str) and isinstance(v, str) and re.fullmatch(r"[0-9a-f]{16,128}", v)
            for k, v in raw.items()
        )
    ):
        raise InvalidInputError(f"{what} hashes must map algorithms to hex digests, sha256 too")
    return dict(raw)


@dataclass(frozen=True)
class SbomLink:
    """A firmware's link to its SBOM target (``custom.firmtuf.sbom``, ADR 0009)."""

    target: str
    length: int
    hashes: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "length": self.length, "hashes": dict(self.hashes)}

    @classmethod
    def from_dict(cls, raw: Any) -> SbomLink:
        """Parse a link; raise InvalidInputError when it does not follow ADR 0009."""
        if not isinstance(raw, dict):
            raise InvalidInputError("sbom is not an object")
        target = raw.get("target")
        if not isinstance(target, str):
            raise InvalidInputError("sbom.target is not a string")
        validate_target_name(target)
        length = raw.get("length")
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise InvalidInputError("sbom.length is not an integer >= 0")
        return cls(target, length, _check_hashes(raw.get("hashes"), "sbom"))


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def parse_date(text: Any, what: str) -> date:
    """``YYYY-MM-DD`` -> date, or InvalidInputError."""
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        raise InvalidInputError(f"{what} must be a date YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"{what} {text!r} is not a calendar date") from None


def _parse_timestamp(text: Any, what: str) -> datetime:
    if not isinstance(text, str) or not _TIMESTAMP.fullmatch(text):
        raise InvalidInputError(f"{what} must be a time YYYY-MM-DDTHH:MM:SSZ")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInputError(f"{what} {text!r} is not a valid time") from None


def validate_url(url: Any) -> None:
    """Raise InvalidInputError unless ``url`` is an absolute http(s) URL a person can open."""
    if not isinstance(url, str) or not url:
        raise InvalidInputError("url must be text")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInputError(f"url is longer than {MAX_URL_LENGTH} characters")
    if any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in url):
        raise InvalidInputError("url contains whitespace, control or format characters")
    parts = parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise InvalidInputError(f"url {url!r} is not an http(s) URL")


def support_target_name(hardware_id: str) -> str:
    """Name of the support declaration target of ``hardware_id`` (ADR 0009)."""
    return hardware_id + SUPPORT_SUFFIX


@dataclass(frozen=True)
class SupportEntry:
    """One declared support period: the current one, or an earlier one in the history."""

    support_until: date
    declared: datetime
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "support_until": self.support_until.isoformat(),
            "declared": self.declared.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if self.url is not None:
            data["url"] = self.url
        return data

    @classmethod
    def from_dict(cls, raw: Any, what: str) -> SupportEntry:
        if not isinstance(raw, dict):
            raise InvalidInputError(f"{what} is not an object")
        url = raw.get("url")
        if url is not None:
            validate_url(url)
        return cls(
            parse_date(raw.get("support_until"), f"{what} support_until"),
            _parse_timestamp(raw.get("declared"), f"{what} declared"),
            url,
        )


@dataclass(frozen=True)
class SupportDeclaration:
    """A hardware id's signed support period (``custom.firmtuf_support``, ADR 0009)."""

    hardware_id: str
    current: SupportEntry
    history: tuple[SupportEntry, ...] = field(default=())
    """Earlier declarations, oldest first (the declaration's changelog)."""

    @property
    def support_until(self) -> date:
        return self.current.support_until

    @property
    def url(self) -> str | None:
        return self.current.url

    @property
    def ends_at(self) -> datetime:
        """When support has ended: the day after ``support_until``, 00:00 UTC."""
        return datetime.combine(self.support_until + timedelta(days=1), time(), UTC)

    @property
    def shortened_from(self) -> date | None:
        """The previous end date when this declaration shortened it, else None."""
        if self.history and self.history[-1].support_until > self.support_until:
            return self.history[-1].support_until
        return None

    def to_dict(self) -> dict[str, Any]:
        data = {"hardware_id": self.hardware_id, **self.current.to_dict()}
        if self.history:
            data["history"] = [entry.to_dict() for entry in self.history]
        return data

    def to_bytes(self) -> bytes:
        """The target's content: the declaration as JSON (readable by any TUF client)."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=1).encode() + b"\n"

    @classmethod
    def from_dict(cls, raw: Any, name: str) -> SupportDeclaration:
        if not isinstance(raw, dict):
            raise InvalidInputError("not an object")
        hw = validate_hardware_id(raw.get("hardware_id"))
        if support_target_name(hw) != name:
            raise InvalidInputError(f"hardware_id {hw!r} is not the one its name declares for")
        history = raw.get("history", [])
        if not isinstance(history, list):
            raise InvalidInputError("history is not a list")
        return cls(
            hw,
            SupportEntry.from_dict(raw, "declaration"),
            tuple(SupportEntry.from_dict(e, f"history[{i}]") for i, e in enumerate(history)),
        )

    @classmethod
    def from_target(cls, name: str, info: TargetFile) -> SupportDeclaration | None:
        """The support declaration of a target; None when it carries none.

        Raises:
            MetadataError: ``custom.firmtuf_support`` is present but malformed.
        """
        custom = info.custom
        if SUPPORT_KEY not in custom:
            return None
        try:
            return cls.from_dict(custom[SUPPORT_KEY], name)
        except InvalidInputError as e:
            raise MetadataError(f"target {name!r}: malformed custom.{SUPPORT_KEY}: {e}") from None
