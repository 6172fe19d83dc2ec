"""Reading offline update bundles (``firmtuf bundle``) on the device.

A bundle is an uncompressed POSIX ustar archive. This module parses the tar headers
itself (stdlib ``tarfile`` follows pax headers, GNU long names and links, and reads
extended headers of any size into memory, none of which a bundle needs), and accepts
only what the signer writes:

- regular files only (no links, directories, devices, pax or GNU extension headers);
- names ``metadata/N.<role>.json``, ``metadata/timestamp.json`` or
  ``targets/<dir>/<64 hex>.<name>``: no absolute path, ``..``, ``.``, empty segment,
  backslash or control character, and ``<dir>/<name>`` must pass the target-name rule
  (``check_target_name``);
- each name once; sizes under :class:`BundleLimits`; valid header checksums;
- a complete archive: every member whole, the end-of-archive marker present and
  nothing but zero padding after it.

The archive is indexed once and members are streamed from disk on demand; their content
is then verified by the ordinary TUF checks, exactly as for an online update.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from verifier._errors import RepositoryError, UnsafeTargetNameError
from verifier._internal.names import check_target_name

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from collections.abc import Iterator
    from typing import BinaryIO

_BLOCK = 512
_ZERO_BLOCK = bytes(_BLOCK)
_CHUNK = 1 << 16
_MAX_PADDING = 64 * 1024
_METADATA_RE = re.compile(r"^metadata/(?:[1-9][0-9]{0,18}\.[A-Za-z0-9_.@+-]+|timestamp)\.json$")
_TARGET_FILE_RE = re.compile(r"^[0-9a-f]{64}\..+$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class BundleError(RepositoryError):
    """The bundle file is not a well-formed firmtuf bundle (refused before any TUF check)."""


class BundleMemberNotFound(BundleError):
    """The update asked for a file the bundle does not carry."""


class BundleLimits:
    """Bounds on what a bundle may contain (a hostile USB stick must not exhaust a device).

    Attributes:
        max_members: members in one bundle (10 000).
        max_metadata_size: bytes of one metadata member (4 MiB).
        max_target_size: bytes of one image (4 GiB).
        max_name_length: characters of a member name (255, the ustar limit).
    """

    __slots__ = ("max_members", "max_metadata_size", "max_name_length", "max_target_size")

    def __init__(
        self,
        *,
        max_members: int = 10_000,
        max_metadata_size: int = 4 * 1024 * 1024,
        max_target_size: int = 4 * 1024 * 1024 * 1024,
        max_name_length: int = 255,
    ) -> None:
        self.max_members = max_members
        self.max_metadata_size = max_metadata_size
        self.max_target_size = max_target_size
        self.max_name_length = max_name_length


class _Member:
    __slots__ = ("offset", "size")

    def __init__(self, offset: int, size: int) -> None:
        self.offset = offset
        self.size = size


def _field_str(raw: bytes, what: str) -> str:
    value = raw.split(b"\x00", 1)[0]
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BundleError(f"member {what} is not valid UTF-8") from e


def _octal(raw: bytes, what: str) -> int:
    text = raw.replace(b"\x00", b" ").strip()
    if not text or any(c not in b"01234567" for c in text):
        raise BundleError(f"bad {what} field in a tar header")
    return int(text, 8)


def _check_name(name: str, limits: BundleLimits) -> None:
    if len(name) > limits.max_name_length:
        raise BundleError(f"member name too long: {name[:64]!r}...")
    segments = name.split("/")
    if (
        name.startswith("/")
        or "\\" in name
        or any(seg in ("..", ".") for seg in segments)
        or (len(name) > 1 and name[1] == ":")
    ):
        raise BundleError(f"unsafe member name {name!r} (path traversal)")
    if _CONTROL_RE.search(name) or "" in segments:
        raise BundleError(f"bad member name {name!r}")
    if _METADATA_RE.match(name):
        return
    if segments[0] == "targets" and len(segments) >= 2 and _TARGET_FILE_RE.match(segments[-1]):
        target_name = "/".join([*segments[1:-1], segments[-1][65:]])
        try:
            check_target_name(target_name)
        except UnsafeTargetNameError as e:
            raise BundleError(f"member {name!r} carries an unsafe target name: {e}") from None
        return
    raise BundleError(f"unexpected member {name!r} (not metadata or a hash-named target)")


def _parse_header(block: bytes) -> tuple[str, int, bytes]:
    stored = _octal(block[148:156], "checksum")
    computed = sum(block[:148]) + 8 * 32 + sum(block[156:])
    if stored != computed:
        raise BundleError("corrupt tar header (checksum mismatch)")
    if block[257:263] != b"ustar\x00":
        raise BundleError("not a POSIX ustar archive")
    name = _field_str(block[0:100], "name")
    prefix = _field_str(block[345:500], "prefix")
    full = f"{prefix}/{name}" if prefix else name
    return full, _octal(block[124:136], "size"), block[156:157]


_TYPE_NAMES = {
    b"1": "a hard link",
    b"2": "a symlink",
    b"3": "a character device",
    b"4": "a block device",
    b"5": "a directory",
    b"6": "a FIFO",
    b"x": "a pax extended header",
    b"g": "a pax global header",
    b"L": "a GNU long name",
    b"K": "a GNU long link name",
}


class Bundle:
    """An indexed, validated bundle file; members are streamed from disk.

    Raises:
        BundleError: on open, when the file is not a well-formed bundle.
    """

    def __init__(self, path: str | os.PathLike[str], limits: BundleLimits | None = None) -> None:
        self.path = Path(path)
        self.limits = limits or BundleLimits()
        self._members: dict[str, _Member] = {}
        try:
            # O_NONBLOCK: a FIFO must not hang the device before we can refuse it.
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError as e:
            raise BundleError(f"cannot open bundle {self.path}: {e.strerror}") from e
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise BundleError(f"bundle {self.path} is not a regular file")
        self._file: BinaryIO = os.fdopen(fd, "rb")
        try:
            self._index()
        except BaseException:
            self._file.close()
            raise

    def _index(self) -> None:
        f = self._file
        total = os.fstat(f.fileno()).st_size
        pos = 0
        while True:
            block = f.read(_BLOCK)
            if len(block) < _BLOCK:
                raise BundleError("bundle is truncated (no end-of-archive marker)")
            if block == _ZERO_BLOCK:
                if f.read(_BLOCK) != _ZERO_BLOCK:
                    raise BundleError("bundle is truncated or corrupt (bad end-of-archive marker)")
                # Writers pad to a record (10 KiB for tar's default blocking factor).
                tail = f.read(_MAX_PADDING + 1)
                if len(tail) > _MAX_PADDING or tail.count(0) != len(tail):
                    raise BundleError("bundle has data after the end-of-archive marker")
                break
            name, size, kind = _parse_header(block)
            if kind not in (b"0", b"\x00"):
                what = _TYPE_NAMES.get(kind, f"type {kind!r}")
                raise BundleError(f"member {name!r} is {what}; only regular files are allowed")
            _check_name(name, self.limits)
            cap = (
                self.limits.max_metadata_size
                if name.startswith("metadata/")
                else self.limits.max_target_size
            )
            if size > cap:
                raise BundleError(f"member {name!r} is too large ({size} > {cap} bytes)")
            if name in self._members:
                raise BundleError(f"member {name!r} appears twice")
            if len(self._members) >= self.limits.max_members:
                raise BundleError(f"bundle has more than {self.limits.max_members} members")
            data_start = pos + _BLOCK
            pos = data_start + -(-size // _BLOCK) * _BLOCK
            if data_start + size > total:
                raise BundleError(f"bundle is truncated (member {name!r} is incomplete)")
            self._members[name] = _Member(data_start, size)
            f.seek(pos)
        if not self._members:
            raise BundleError("bundle is empty")

    def names(self) -> list[str]:
        """Member names in archive order."""
        return list(self._members)

    def __contains__(self, name: object) -> bool:
        return name in self._members

    def size(self, name: str) -> int:
        """Size in bytes of member ``name``."""
        return self._lookup(name).size

    def _lookup(self, name: str) -> _Member:
        member = self._members.get(name)
        if member is None:
            raise BundleMemberNotFound(f"{name} is not in the bundle")
        return member

    def stream(self, name: str, start: int = 0) -> Iterator[bytes]:
        """Yield the bytes of member ``name`` from byte ``start`` on, in chunks read from
        disk as they are used.

        Raises:
            BundleMemberNotFound: no such member.
            BundleError: the file shrank since it was indexed.
        """
        member = self._lookup(name)
        start = min(max(start, 0), member.size)
        return self._stream(name, member.offset + start, member.size - start)

    def _stream(self, name: str, offset: int, left: int) -> Iterator[bytes]:
        while left:
            self._file.seek(offset)
            chunk = self._file.read(min(_CHUNK, left))
            if not chunk:
                raise BundleError(f"bundle is truncated (member {name!r} is incomplete)")
            offset += len(chunk)
            left -= len(chunk)
            yield chunk

    def read(self, name: str) -> bytes:
        """The whole content of member ``name`` (metadata is small and bounded)."""
        return b"".join(self.stream(name))

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
