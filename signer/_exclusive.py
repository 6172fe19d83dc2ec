"""Create a file only if it does not exist yet, atomically: what keeps two publishers of
one directory from replacing each other's versioned metadata.

The bytes go to a synced staged file first (:func:`signer._fsutil.staged_file`), then
``link(2)`` gives it its name: a link never replaces an existing file, and readers see
the whole file or none. On file systems without hard links (FAT on a USB stick, some
network shares) the name is claimed with ``O_CREAT | O_EXCL`` instead: still never
replaced, but a reader could see the file while it is being written, so the versioned
file must not be referenced yet (publish writes ``timestamp.json`` last).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

from signer._errors import WriteError
from signer._fsutil import staged_file, sync_directory, write_error

_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}
_CHUNK = 1 << 20


def create_exclusive(dest: Path, content: bytes | Path) -> bool:
    """Write ``content`` (bytes, or a file to copy) as ``dest`` unless ``dest`` exists.

    Returns:
        True when this call created ``dest``; False when it existed (left untouched).

    Raises:
        WriteError: ``dest`` could not be created, or not durably (then it is removed).
    """
    with staged_file(dest) as staged:  # removed on leaving: the link keeps the file
        if isinstance(content, bytes):
            staged.write(content)
        else:
            with open(content, "rb") as src:
                shutil.copyfileobj(src, staged, _CHUNK)
        staged.sync()
        try:
            os.link(staged.path, dest)
        except FileExistsError:
            return False
        except OSError as e:
            if e.errno not in _NO_LINKS:
                raise write_error(e, dest) from e
            return _create_without_link(staged.path, dest)
    _synced_or_removed(dest)
    return True


def _create_without_link(tmp: Path, dest: Path) -> bool:
    try:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        return False
    except OSError as e:
        raise write_error(e, dest) from e
    try:
        # The name itself is the file being written (no rename to stage it behind), so
        # this is the one data sync outside verifier.StagedFile.
        with os.fdopen(fd, "wb") as out, open(tmp, "rb") as src:
            shutil.copyfileobj(src, out, _CHUNK)
            out.flush()
            os.fsync(out.fileno())
    except OSError as e:
        with contextlib.suppress(OSError):
            dest.unlink()
        raise write_error(e, dest) from e
    except BaseException:
        with contextlib.suppress(OSError):
            dest.unlink()
        raise
    _synced_or_removed(dest)
    return True


def _synced_or_removed(dest: Path) -> None:
    """A created name that cannot be made durable is taken back before failing."""
    try:
        sync_directory(dest.parent)
    except WriteError:
        with contextlib.suppress(OSError):
            dest.unlink()
        raise
