"""One firmtuf command at a time per working repository: a lock on ``REPO/.firmtuf.lock``.

Commands that change a repository hold the lock exclusively from their first read to
their last write, so two of them never both read the same state and both "succeed"
(the second one's change would be lost). Commands that only read a repository (status,
publish, verify, key list) hold it shared: they never see half of another command's
save, and they do not block each other.

The lock is ``fcntl.flock`` on an open file, not the file's existence: the kernel drops
it when the holding process ends, however it ends (Ctrl-C, ``kill -9``, a CI runner torn
down), so a lock never outlives its command and a leftover lock file blocks nobody. A
command that finds the repository locked waits up to ``wait`` seconds, polling, then
fails with :class:`LockedError` (exit 7) having read and changed nothing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from signer._errors import ConflictError
from signer._repository import CONFIG_FILE

LOCK_FILE = ".firmtuf.lock"
"""Name of the lock file inside a working repository (git-ignored; its content is a note)."""

WAIT_ENV = "FIRMTUF_LOCK_WAIT"
"""Environment variable: seconds to wait for the repository lock (default DEFAULT_WAIT)."""
DEFAULT_WAIT = 30.0
"""Seconds a command waits for another one to finish before giving up (exit 7)."""

_POLL_START = 0.02
_POLL_MAX = 0.25


class LockedError(ConflictError):
    """Another firmtuf command holds the repository lock for longer than the wait."""


def default_wait() -> float:
    """The wait from ``$FIRMTUF_LOCK_WAIT`` (seconds), else :data:`DEFAULT_WAIT`."""
    raw = os.environ.get(WAIT_ENV)
    if not raw:
        return DEFAULT_WAIT
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_WAIT
    return value if value >= 0 else DEFAULT_WAIT


def _holder_note(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            note = f.read(512).decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f" (held by {note})" if note else ""


def _open(path: Path, exclusive: bool) -> int | None:
    """Open (creating) the lock file; None when a reader cannot (read-only repository)."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as e:
        if exclusive or e.errno not in (errno.EACCES, errno.EROFS, errno.EPERM):
            raise
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None  # read-only and no lock file: no writer can run here either


@contextlib.contextmanager
def repository_lock(
    repo: Path | str, *, exclusive: bool = True, wait: float | None = None
) -> Iterator[None]:
    """Hold the lock of working repository ``repo`` for the ``with`` block.

    Args:
        repo: the repository directory. When it is not a repository (no firmtuf.json)
            nothing is locked: the command itself reports that.
        exclusive: True for commands that change the repository, False for readers.
        wait: seconds to wait for another command (default :func:`default_wait`).

    Raises:
        LockedError: the lock was not free within ``wait`` seconds.
    """
    directory = Path(repo)
    if not (directory / CONFIG_FILE).is_file():
        yield
        return
    path = directory / LOCK_FILE
    fd = _open(path, exclusive)
    if fd is None:
        yield
        return
    try:
        _acquire(fd, path, exclusive, default_wait() if wait is None else wait)
        if exclusive:
            _write_note(fd)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock


PUBLISH_LOCK_FILE = ".firmtuf-publish.lock"
"""Lock file of a published directory (empty: the directory may be served as it is)."""


@contextlib.contextmanager
def publish_lock(out_dir: Path | str, *, wait: float | None = None) -> Iterator[None]:
    """Hold the lock of published directory ``out_dir`` (created when missing).

    Two publishers of one directory (two CI runners, two people) then check and write
    one after the other: the second sees what the first published.

    Raises:
        LockedError: another publish held it for longer than ``wait`` seconds.
    """
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / PUBLISH_LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        _acquire(fd, path, True, default_wait() if wait is None else wait, "publishing to")
        yield
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, exclusive: bool, wait: float, doing: str = "changing") -> None:
    operation = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    deadline = time.monotonic() + wait
    pause = _POLL_START
    while True:
        with contextlib.suppress(BlockingIOError):
            fcntl.flock(fd, operation)
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LockedError(
                f"{path.parent} is busy: another firmtuf command is {doing} it"
                f"{_holder_note(path)}; nothing was done. Waited {wait:g} s "
                f"(--lock-wait / ${WAIT_ENV}); run it again when that command has finished"
            )
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, _POLL_MAX)


def _write_note(fd: int) -> None:
    """Say who holds the lock, for the message of a command that waits in vain."""
    words = [Path(sys.argv[0]).name, *sys.argv[1:3]] if sys.argv else []
    command = " ".join(words)
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    note = f"pid {os.getpid()} on {socket.gethostname()}, {command or 'firmtuf'}, since {since}"
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, note.encode() + b"\n", 0)
