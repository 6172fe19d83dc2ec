"""Crash-safe file writes: temp file in the same directory, fsync, rename, fsync the dir."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


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


def temp_path(directory: Path, suffix: str = "") -> Path:
    """Create an empty private temp file in ``directory`` and return its path."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=suffix)
    os.close(fd)
    return Path(name)


def atomic_write(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Replace ``path`` with ``data``: readers see the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path.parent, ".part")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if sync_dir:
        fsync_dir(path.parent)


def atomic_copy(src: Path, dest: Path, *, chunk_size: int = 1 << 20) -> None:
    """Copy ``src`` to ``dest`` through a temp file and a rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(dest.parent, ".part")
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            while chunk := fin.read(chunk_size):
                fout.write(chunk)
            fout.flush()
            os.fsync(fout.fileno())
        tmp.replace(dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(dest.parent)


def write_all_or_nothing(files: list[tuple[Path, bytes]]) -> None:
    """Replace several files so that either all get their new bytes or none changes.

    New contents go to synced temp files first (a failure there leaves every file as it
    was); then the temp files are renamed in the given order. If a rename fails, files
    already replaced get their old bytes back (or are removed if they were new).
    """
    staged: list[tuple[Path, Path, bytes | None]] = []
    try:
        for path, data in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            old = path.read_bytes() if path.exists() else None
            tmp = temp_path(path.parent, ".part")
            staged.append((path, tmp, old))
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        for _path, tmp, _old in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    done: list[tuple[Path, bytes | None]] = []
    try:
        for path, tmp, old in staged:
            tmp.replace(path)
            done.append((path, old))
    except BaseException:
        for _path, tmp, _old in staged[len(done) :]:
            with contextlib.suppress(OSError):
                tmp.unlink()
        for path, old in reversed(done):
            with contextlib.suppress(OSError):
                if old is None:
                    path.unlink()
                else:
                    atomic_write(path, old)
        raise
    for directory in {path.parent for path, _ in files}:
        fsync_dir(directory)
