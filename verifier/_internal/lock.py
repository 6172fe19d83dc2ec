"""The trust-store lock: one agent at a time changes a device's trust store.

``flock`` on ``firmtuf/lock`` (never on a file's existence): the kernel drops it when
its holder ends, however it ends (``kill -9``, a power cut), so a stale lock never blocks
a device. Nothing is written to take it: the pid named in a waiter's error comes from
the kernel's lock table (``/proc/locks``), so an agent started per poll does not wear
flash with a pid note.
Each :class:`FileLock` is reentrant for its owner (an Updater whose ``check()`` refreshes
holds it once); two owners, in one process or two, exclude each other (Linux ``flock``
locks belong to the open file, not the process).

The same primitive locks one partial download (:func:`open_locked`), so two agents never
write one partial file.
"""

from __future__ import annotations

import errno
import os
import time

from verifier._errors import StorageError, TrustStoreLockedError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no flock, the lock is advisory only
    fcntl = None  # type: ignore[assignment]

_POLL_START = 0.01
_POLL_MAX = 0.25
# Opening for writing fails with these on a read-only store: nothing can be written
# there, so there is nothing to exclude.
_READ_ONLY = frozenset((errno.EROFS, errno.EACCES, errno.EPERM))


class FileLock:
    """An exclusive, reentrant ``flock`` on ``path`` waiting at most ``timeout`` seconds.

    Args:
        path: the lock file (created if missing, with its folder).
        timeout: seconds to wait for another holder (0: fail at once).
        what: how the error message names what is locked.
    """

    __slots__ = ("_depth", "_fd", "path", "timeout", "what")

    def __init__(self, path: Path, timeout: float, what: str) -> None:
        self.path = path
        self.timeout = timeout
        self.what = what
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> FileLock:
        if self._depth == 0:
            self._fd = _acquire(self.path, self.timeout, self.what, create_dir=True)
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor releases the flock

    @property
    def held(self) -> bool:
        """Whether this owner holds the lock now."""
        return self._depth > 0


def open_locked(path: Path, timeout: float, what: str) -> int:
    """Open (creating) ``path`` read-write and hold an exclusive flock on it.

    The descriptor refers to the file at ``path`` when this returns: a file renamed or
    removed by its previous holder while this one waited is let go and ``path`` opened
    again. Close the descriptor to release the lock.

    Raises:
        TrustStoreLockedError: another holder kept it longer than ``timeout``.
        StorageError: it cannot be opened.
    """
    while True:
        fd = _acquire(path, timeout, what, create_dir=False, required=True)
        assert fd is not None  # noqa: S101 - required=True never returns None
        try:
            same = path.stat().st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def _acquire(
    path: Path,
    timeout: float,
    what: str,
    *,
    create_dir: bool,
    required: bool = False,
) -> int | None:
    try:
        fd = _open(path, create_dir)
    except OSError as e:
        if not required and e.errno in _READ_ONLY:
            return None  # a read-only store: nothing can be written, nothing to exclude
        raise StorageError(f"cannot open {path}: {e}") from e
    if fcntl is None:  # pragma: no cover - not POSIX
        return fd
    end = time.monotonic() + timeout
    delay = _POLL_START
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                os.close(fd)
                raise StorageError(f"cannot lock {path}: {e}") from e
        else:
            return fd
        left = end - time.monotonic()
        if left <= 0:
            who = _holder(fd)
            os.close(fd)
            raise TrustStoreLockedError(
                f"{what} is locked by another agent{who} for more than {timeout:g} s "
                "(Config.lock_timeout); try again later"
            )
        time.sleep(min(delay, left))
        delay = min(delay * 2, _POLL_MAX)


def _open(path: Path, create_dir: bool) -> int:
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(path, flags, 0o644)
    except FileNotFoundError:
        if not create_dir:
            raise
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, flags, 0o644)


def _holder(fd: int) -> str:
    """ " (pid N)" of the process holding the flock on ``fd``'s file, from the kernel's
    lock table (Linux), or "" when it cannot be told."""
    try:
        st = os.fstat(fd)
        file_id = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        with open("/proc/locks", "rb") as f:
            table = f.read().decode("ascii", "replace")
    except OSError:
        return ""
    for line in table.splitlines():
        fields = line.split()
        # "N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE START END"; waiters have "->"
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == file_id:
            return f" (pid {fields[4]})" if fields[4].isdigit() else ""
    return ""


class try_lock:  # lower case: used like a function, ``with try_lock(path) as locked``
    """Hold an exclusive flock on an existing ``path`` if nobody else does, at once.

    ``locked`` is False when another holder has it (or the file is gone); the caller
    then leaves the file alone.
    """

    __slots__ = ("_fd", "path")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return False
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
        self._fd = fd
        return True

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
