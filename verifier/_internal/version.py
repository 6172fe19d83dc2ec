"""Firmware version ordering shared by the signer and the device (see docs/adr/0001).

Grammar: ``N(.N)*`` with 1 to 8 numeric components, optionally followed by
``-PRERELEASE`` where PRERELEASE is dot-separated identifiers of ``[0-9A-Za-z-]``.
Numeric components compare as integers, missing trailing components count as 0
(``1.2 == 1.2.0``), and pre-releases order as in SemVer 2.0 section 11
(``1.0.0-rc.1 < 1.0.0``). Build metadata (``+...``) is refused: SemVer ignores it
for ordering, which would make two different images "the same version".
"""

from __future__ import annotations

import re
from functools import total_ordering

_MAX_COMPONENTS = 8
_MAX_LENGTH = 64
_VERSION_RE = re.compile(
    r"(?P<release>(?:0|[1-9][0-9]{0,8})(?:\.(?:0|[1-9][0-9]{0,8}))*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


class VersionError(ValueError):
    """A firmware version string does not follow the documented grammar."""


@total_ordering
class FirmwareVersion:
    """A parsed firmware version with a total order (see module docstring)."""

    __slots__ = ("_key", "text")

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise VersionError(f"firmware version must be a string, got {type(text).__name__}")
        if len(text) > _MAX_LENGTH:
            raise VersionError(f"firmware version longer than {_MAX_LENGTH} characters")
        match = _VERSION_RE.fullmatch(text)
        if match is None:
            raise VersionError(
                f"invalid firmware version {text!r}: expected N[.N]...[-prerelease], e.g. 1.4.2"
            )
        release = [int(part) for part in match["release"].split(".")]
        if len(release) > _MAX_COMPONENTS:
            raise VersionError(f"firmware version {text!r} has more than {_MAX_COMPONENTS} parts")
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        pre = match["pre"]
        # A release sorts after all of its pre-releases: (1,) > (0, ...).
        pre_key: tuple[object, ...] = (1,)
        if pre is not None:
            idents: list[tuple[int, int | str]] = []
            for ident in pre.split("."):
                if ident.isdigit():
                    if len(ident) > 1 and ident[0] == "0":
                        raise VersionError(f"invalid firmware version {text!r}: leading zero")
                    idents.append((0, int(ident)))
                else:
                    idents.append((1, ident))
            pre_key = (0, tuple(idents))
        self.text = text
        self._key = (tuple(release), pre_key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FirmwareVersion):
            return NotImplemented
        return self._key == other._key

    def __lt__(self, other: FirmwareVersion) -> bool:
        return self._key < other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return f"FirmwareVersion({self.text!r})"

    def __str__(self) -> str:
        return self.text


def parse_version(text: str) -> FirmwareVersion:
    """Parse ``text`` or raise :class:`VersionError`."""
    return FirmwareVersion(text)
