"""Crash-safe file writes: temp file, fdatasync, rename, fsync the directory
(:class:`StagedFile`, the one durable write of both the verifier and the signer).

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
    from typing import BinaryIO


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename (or a removal) in ``directory`` durable (``verifier.fsync_dir``).

    A no-op where directories cannot be opened (some platforms have no directory
    descriptors; there a rename is as durable as the file system makes it).

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
        raise StorageError(f"cannot sync {directory}: {e.strerror or e}") from e
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

    ``unique``: as for :class:`StagedFile`; the trust store, which one agent writes,
    reuses ``.<name>.tmp``.

    Raises:
        StorageError: the file cannot be written.
    """
    with StagedFile(path, unique=unique) as staged:
        staged.write(data)
        staged.commit(sync_dir=sync_dir)


class StagedFile:
    """A new file written beside ``dest`` and renamed over it by :meth:`commit`.

    The one durable write of firmtuf: the device's trust store and downloads, and every
    file the signing tool writes, go through it. Readers see the old file or the new one,
    never a mix, and a power cut leaves one of them whole: the data is synced
    (``fdatasync``) before the rename makes it visible, and the directory is synced after
    it, which makes the rename itself durable. Leaving the ``with`` block without a
    commit (an exception, or a caller that decides the file is not needed) removes the
    temp file and leaves ``dest`` untouched.

    Public, unlike the rest of this module, because the signing tool builds its writes
    on it (it never reaches into ``verifier._internal``): it holds only what writing one
    file needs. Writes go straight to the file descriptor (no buffer to flush, nothing
    written behind the caller's back), so it also serves as the binary file object of
    ``tarfile`` or ``shutil.copyfileobj``.

    Example::

        with StagedFile(path) as staged:
            for chunk in chunks:
                staged.write(chunk)
            staged.commit()

    Args:
        dest: the file to replace (or create); its directory must exist.
        unique: the temp file gets a name of its own, ``.<name>.<random>.tmp``
            (concurrent writers of one path never share it; a crash may leave it behind);
            with False it is ``.<name>.tmp``, reused by the next write of ``dest`` (one
            writer per path, so a crash leaves no pile).

    Raises:
        StorageError: the temp file cannot be created, written, synced or renamed, or the
            directory cannot be synced (``errno`` tells why). Where a directory cannot be
            opened at all (some platforms), its sync is skipped.
    """

    def __init__(self, dest: str | os.PathLike[str], *, unique: bool = True) -> None:
        self.dest = Path(dest)
        flags = os.O_WRONLY | os.O_CREAT
        if unique:
            self.path = self.dest.with_name(f".{self.dest.name}.{os.urandom(6).hex()}.tmp")
            flags |= os.O_EXCL
        else:
            self.path = self.dest.with_name(f".{self.dest.name}.tmp")
            flags |= os.O_TRUNC
        try:
            self._fd = os.open(self.path, flags, 0o644)
        except OSError as e:
            raise StorageError(f"cannot write {self.dest}: {e.strerror or e}") from e
        self._size = 0
        self._synced = False
        self._open = True  # the descriptor
        self._done = False  # renamed into place, or discarded

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self._done:
            self.discard()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append ``data``; returns its length (all of it is written)."""
        view = memoryview(data)
        n = len(view)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as e:
            raise StorageError(f"cannot write {self.dest}: {e.strerror or e}") from e
        self._size += n
        self._synced = False
        return n

    def tell(self) -> int:
        """Bytes written so far (the file-object protocol ``tarfile`` needs)."""
        return self._size

    def sync(self) -> None:
        """Put the bytes written so far on disk (before reading them back from ``path``)."""
        if self._synced:
            return
        try:
            _sync_file(self._fd)
        except OSError as e:
            raise StorageError(f"cannot write {self.dest}: {e.strerror or e}") from e
        self._synced = True

    def commit(self, dest: str | os.PathLike[str] | None = None, *, sync_dir: bool = True) -> None:
        """Sync, then rename over ``dest`` (by default the one given when staging).

        Args:
            dest: another name in the same directory, for a file named after its
                content (known only once it is written).
            sync_dir: also sync the directory, which makes the rename durable. A caller
                writing several files may do it once at the end (:func:`fsync_dir`);
                until then a power cut may bring back the old file, still whole.

        Raises:
            StorageError: nothing was renamed (the temp file is removed, ``dest``
                unchanged); or, only with ``sync_dir``, the rename is done but the
                directory could not be synced, so it may not survive a power cut.
        """
        target = self.dest if dest is None else Path(dest)
        try:
            self.sync()
            self._close()
            self.path.replace(target)
            self._done = True
        except (OSError, StorageError) as e:
            self.discard()
            if isinstance(e, StorageError):
                raise
            raise StorageError(f"cannot write {target}: {e.strerror or e}") from e
        if sync_dir:
            fsync_dir(target.parent)

    def discard(self) -> None:
        """Remove the temp file (``dest`` stays as it is)."""
        self._done = True
        with contextlib.suppress(OSError):
            self._close()
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._open:
            self._open = False
            os.close(self._fd)


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
