"""Crash-safe file writes: temp file, fsync, rename, fsync the directory.

A power cut at any moment leaves either the old file or the new one, never a torn file.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from verifier._errors import StorageError


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably.

    Raises:
        StorageError: the file cannot be written.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)
        fsync_dir(path.parent)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise StorageError(f"cannot write {path}: {e}") from e


def read_file(path: Path, max_length: int) -> bytes | None:
    """Read a stored file (at most ``max_length`` bytes), or None when it does not exist.

    Raises:
        StorageError: the file exists but cannot be read, or is too large.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(max_length + 1)
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
