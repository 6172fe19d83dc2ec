"""Partial downloads bound to their target, and the free space a download needs.

A partial file in the trust store's ``firmtuf/partial/`` is named by its target:
``<name tag>-<content tag>.part``, where the name tag is a digest of the target name and
the content tag a digest of its signed length and hashes (docs/adr/0010). Bytes of one
release are therefore never resumed as another's: a new release of the same name gets
a new file, and the old one is discarded when the new one starts. Tags are digests, so
no target name or hash string, however long or strange, becomes a path.

While a download writes its partial it holds an ``flock`` on it (``lock.open_locked``):
a second agent downloading the same target waits (bounded), and discarding partials
skips the ones being written.
"""

from __future__ import annotations

import errno
import os

from verifier._errors import InsufficientSpaceError, StorageError
from verifier._internal import log
from verifier._internal.hashing import sha256

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from pathlib import Path

    from verifier._internal.metadata import TargetFile

SUFFIX = ".part"
_TAG = 16  # hex digits per tag: 64 bits, names stay short on FAT and in logs
# Room kept free on the trust store's file system beyond its metadata, so the next
# refresh can always save what it verifies (root rotations included).
METADATA_HEADROOM = 1024 * 1024


def name_tag(name: str) -> str:
    return sha256(name.encode("utf-8", "surrogatepass")).hex()[:_TAG]


def content_tag(target: TargetFile) -> str:
    text = f"{target.length}\0" + "\0".join(f"{k}:{v}" for k, v in sorted(target.hashes.items()))
    return sha256(text.encode("utf-8", "surrogatepass")).hex()[:_TAG]


def filename(target: TargetFile) -> str:
    """The partial file name bound to ``target`` (name and content)."""
    return f"{name_tag(target.path)}-{content_tag(target)}{SUFFIX}"


def discard(directory: Path, *, keep: str | None = None, same_name_as: str | None = None) -> int:
    """Remove partial files in ``directory`` that no download is writing now.

    Args:
        directory: the partial folder.
        keep: a file name to leave alone.
        same_name_as: only partials of this target name (other releases of it).

    Returns:
        How many were removed.
    """
    from verifier._internal.lock import try_lock

    prefix = None if same_name_as is None else name_tag(same_name_as) + "-"
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return 0
    except OSError as e:
        raise StorageError(f"cannot list {directory}: {e}") from e
    for entry in entries:
        name = entry.name
        if not name.endswith(SUFFIX) or name == keep:
            continue
        if prefix is not None and not name.startswith(prefix):
            continue
        path = directory / name
        with try_lock(path) as locked:
            if not locked:
                continue  # being written by another download
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as e:
                raise StorageError(f"cannot remove {path}: {e}") from e
        removed += 1
        log.debug("discarded partial download %s", path)
    return removed


def free_space(directory: Path) -> int:
    """Bytes an unprivileged writer may still use in ``directory``'s file system."""
    try:
        st = os.statvfs(directory)
    except OSError as e:
        raise StorageError(f"cannot stat the file system of {directory}: {e}") from e
    return st.f_bavail * st.f_frsize


def same_device(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_dev == b.stat().st_dev
    except OSError:
        return False


def metadata_size(store_dir: Path) -> int:
    """Bytes of the stored role files (a refresh may rewrite each of them once)."""
    total = 0
    try:
        with os.scandir(store_dir) as entries:
            for entry in entries:
                if entry.name.endswith(".json") and entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    except OSError:
        return 0
    return total


def require_space(directory: Path, needed: int, what: str) -> None:
    """Raises InsufficientSpaceError unless ``needed`` bytes are free in ``directory``."""
    available = free_space(directory)
    if available < needed:
        raise InsufficientSpaceError(
            f"{what} needs {needed} bytes free in {directory}, {available} are",
            str(directory),
            needed,
            available,
        )


def is_no_space(e: OSError | StorageError) -> bool:
    return e.errno in (errno.ENOSPC, errno.EDQUOT)
