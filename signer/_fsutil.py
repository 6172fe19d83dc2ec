"""Crash-safe file writes: temp file in the same directory, fsync, rename, fsync the dir.

Every file the signer writes goes through :class:`StagedFile` (directly, or through
:func:`atomic_write` / :func:`atomic_copy`): readers see the old file or the new one,
never a mix, and a power cut after the write returns cannot bring the old one back.
A directory created whole (a new repository, a signing event) goes through
:func:`staged_dir`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class StagedFile:
    """A private temp file in ``directory``, renamed over its destination by :meth:`commit`.

    Used as a context manager: leaving the block without a commit (an exception, or a
    caller that decides the file is not needed) removes the temp file.
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".part")
        self.path = Path(name)
        self.file: BinaryIO = os.fdopen(fd, "wb")
        self._done = False

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._done:
            self.discard()

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def sync(self) -> None:
        """Put the written bytes on disk (before reading them back through ``path``)."""
        self.file.flush()
        os.fsync(self.file.fileno())

    def commit(self, dest: Path, *, sync_dir: bool = True) -> None:
        """Sync, then rename over ``dest`` (and fsync its directory with ``sync_dir``)."""
        self.sync()
        self.file.close()
        self.path.replace(dest)
        self._done = True
        if sync_dir:
            fsync_dir(dest.parent)

    def discard(self) -> None:
        self._done = True
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


@contextlib.contextmanager
def staged_dir(dest: Path, prefix: str) -> Iterator[Path]:
    """A temp directory beside ``dest``, renamed to ``dest`` when the block succeeds.

    Readers never see a half-filled ``dest``: the directory appears whole or not at all.
    ``dest`` may exist as an empty directory (it is replaced). When the block raises,
    the temp directory and everything in it are removed.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{prefix}-", dir=dest.parent))
    try:
        yield staging
        if dest.exists():
            dest.rmdir()
        staging.replace(dest)
        fsync_dir(dest.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def remove_tree(path: Path) -> None:
    """Remove the directory ``path`` and everything in it, durably (the parent is synced)."""
    shutil.rmtree(path)
    fsync_dir(path.parent)


def atomic_write(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Replace ``path`` with ``data``: readers see the old file or the new one, never a mix."""
    with StagedFile(path.parent) as staged:
        staged.write(data)
        staged.commit(path, sync_dir=sync_dir)


def atomic_copy(src: Path, dest: Path, *, chunk_size: int = 1 << 20) -> None:
    """Copy ``src`` to ``dest`` through a temp file and a rename."""
    with StagedFile(dest.parent) as staged, open(src, "rb") as fin:
        while chunk := fin.read(chunk_size):
            staged.write(chunk)
        staged.commit(dest)


def write_all_or_nothing(files: list[tuple[Path, bytes]]) -> None:
    """Replace several files so that either all get their new bytes or none changes.

    New contents go to synced temp files first (a failure there leaves every file as it
    was); then the temp files are renamed in the given order. If a rename fails, files
    already replaced get their old bytes back (or are removed if they were new).
    """
    staged: list[tuple[Path, StagedFile, bytes | None]] = []
    try:
        for path, data in files:
            old = path.read_bytes() if path.exists() else None
            tmp = StagedFile(path.parent)
            staged.append((path, tmp, old))
            tmp.write(data)
            tmp.sync()
    except BaseException:
        for _path, tmp, _old in staged:
            tmp.discard()
        raise
    done: list[tuple[Path, bytes | None]] = []
    try:
        for path, tmp, old in staged:
            tmp.commit(path, sync_dir=False)
            done.append((path, old))
    except BaseException:
        for _path, tmp, _old in staged[len(done) :]:
            tmp.discard()
        for path, old in reversed(done):
            with contextlib.suppress(OSError):
                if old is None:
                    path.unlink()
                else:
                    atomic_write(path, old)
        raise
    for directory in {path.parent for path, _ in files}:
        fsync_dir(directory)
