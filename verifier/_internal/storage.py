"""Crash-safe file writes: temp file, fdatasync, rename, fsync the directory.

A power cut at any moment leaves either the old file or the new one, never a torn file:
the data is on disk before the rename makes it visible. The directory fsync only makes
the rename itself durable, so a caller writing several files may do it once at the end
(``sync_dir=False`` then :func:`fsync_dir`); until then a power cut may bring back the
old file, which is still a whole, verifiable file.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from verifier._errors import StorageError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from collections.abc import Iterable
    from typing import BinaryIO


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable.

    Raises:
        StorageError: the file system could not sync it (EIO, ENOSPC): the rename may
            not survive a power cut.
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError as e:
        raise StorageError(f"cannot sync {directory}: {e}") from e
    finally:
        os.close(fd)


# fdatasync skips the inode timestamps fsync would also flush; the file size (needed to
# read the data back) is still synced.
_sync_file = getattr(os, "fdatasync", os.fsync)


def sync_fd(fd: int) -> None:
    """Put the data written to ``fd`` (and its size) on disk."""
    _sync_file(fd)


def atomic_write(path: Path, data: bytes, *, sync_dir: bool = True, unique: bool = False) -> None:
    """Replace ``path`` with ``data`` atomically (and durably with ``sync_dir``).

    ``unique``: the temp file gets a name of its own (concurrent writers of one path
    never share it; a crash may leave it behind) instead of ``.<name>.tmp`` (one per
    file, reused by the next write: the device's trust store, which one agent writes).

    Raises:
        StorageError: the file cannot be written.
    """
    commit(stage_chunks(path, (data,), unique=unique)[0], path, sync_dir=sync_dir)


def stage(path: Path, data: bytes) -> Path:
    """First half of :func:`atomic_write`: ``data`` in a synced temp file beside ``path``.

    The caller then either :func:`commit` s it or :func:`discard` s it; ``path`` is
    untouched until the commit.

    Raises:
        StorageError: the file cannot be written (nothing is left behind).
    """
    return stage_chunks(path, (data,))[0]


def stage_chunks(path: Path, chunks: Iterable[bytes], *, unique: bool = False) -> tuple[Path, int]:
    """:func:`stage` the concatenated ``chunks``; returns the temp file and its size.

    Lets a caller store a download as it arrives and verify it from a fresh read, without
    holding it in memory twice. An exception raised by ``chunks`` propagates unchanged
    (the temp file is removed).

    Raises:
        StorageError: the file cannot be written (nothing is left behind).
    """
    flags = os.O_WRONLY | os.O_CREAT
    if unique:
        tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
        flags |= os.O_EXCL
    else:
        tmp = path.with_name(f".{path.name}.tmp")
        flags |= os.O_TRUNC
    try:
        fd = os.open(tmp, flags, 0o644)
    except OSError as e:
        raise StorageError(f"cannot write {path}: {e}") from e
    size = 0
    try:
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                size += len(view)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            _sync_file(fd)
        finally:
            os.close(fd)
    except OSError as e:
        discard(tmp)
        raise StorageError(f"cannot write {path}: {e}") from e
    except BaseException:
        discard(tmp)
        raise
    return tmp, size


def commit(tmp: Path, path: Path, *, sync_dir: bool = True) -> None:
    """Rename a :func:`stage` d file over ``path`` (durably with ``sync_dir``).

    Raises:
        StorageError: the rename failed (the temp file is removed, ``path`` unchanged).
    """
    try:
        tmp.replace(path)
        if sync_dir:
            fsync_dir(path.parent)
    except OSError as e:
        discard(tmp)
        raise StorageError(f"cannot write {path}: {e}") from e


def discard(tmp: Path) -> None:
    """Remove a :func:`stage` d file that will not be committed."""
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)


def read_at_most(f: BinaryIO, max_length: int) -> bytes:
    """Read ``f`` to its end or to ``max_length + 1`` bytes, whichever comes first.

    Sized from ``fstat``: ``f.read(max_length + 1)`` would reserve the whole limit
    (64 MiB for targets) in memory before reading a small file.
    """
    want = min(os.fstat(f.fileno()).st_size, max_length) + 1
    data: bytes = f.read(want)
    if len(data) == want and want <= max_length:
        data += f.read(max_length + 1 - want)  # the file grew since fstat
    return data


def read_file(path: Path, max_length: int) -> bytes | None:
    """Read a stored file (at most ``max_length`` bytes), or None when it does not exist.

    Raises:
        StorageError: the file exists but cannot be read, or is too large.
    """
    try:
        with open(path, "rb") as f:
            data = read_at_most(f, max_length)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StorageError(f"cannot read {path}: {e}") from e
    if len(data) > max_length:
        raise StorageError(f"{path} is larger than {max_length} bytes")
    return data


def remove_file(path: Path) -> None:
    """Delete ``path`` if it exists, durably."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    except OSError as e:
        raise StorageError(f"cannot remove {path}: {e}") from e
    fsync_dir(path.parent)


def durable_write(path: str | os.PathLike[str], data: bytes, *, sync_dir: bool = True) -> None:
    """Replace ``path`` with ``data``: readers see the old file or the new one, and a
    power cut leaves one of them whole (``verifier.atomic_write``).

    The bytes go to a temp file of its own beside ``path`` (so concurrent writers of one
    path never share one), are synced, then renamed over ``path``; with ``sync_dir``
    the directory is synced too, which makes the rename durable. Missing parent
    directories are created.

    Raises:
        StorageError: the file cannot be written (``errno`` tells why).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StorageError(f"cannot create {path.parent}: {e}") from e
    atomic_write(path, data, sync_dir=sync_dir, unique=True)
