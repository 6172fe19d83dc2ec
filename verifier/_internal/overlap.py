"""Hashing overlapped with the transfer: a second thread hashes while the first receives
and writes.

``cryptography``'s hashes release the GIL, so on a device with two cores the hash of an
image costs (almost) nothing on top of the transfer, and on one core the network and
disk waits still overlap with it. Memory stays bounded: the receiving thread blocks once
:data:`QUEUE_CHUNKS` chunks wait to be hashed, so at most that many plus the two in hand
are held, whatever the image size. The worker runs on a :data:`STACK_SIZE` stack (the
default reservation is the process's ``ulimit -s``, typically 8 MiB of address space).
"""

from __future__ import annotations

import threading

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from collections.abc import Sequence
    from typing import Any

# Below this many bytes still to check, a thread costs more than it saves.
MIN_BYTES = 1024 * 1024
QUEUE_CHUNKS = 4
STACK_SIZE = 256 * 1024
_STACK_LOCK = threading.Lock()


class HashWorker:
    """Feeds chunks to ``hashers`` in a second thread, in order.

    ``put(chunk)`` hands a chunk over (blocking while the queue is full); ``finish()``
    waits until every chunk handed over is hashed, and raises what a hasher raised.
    """

    __slots__ = ("_error", "_hashers", "_queue", "_thread")

    def __init__(self, hashers: Sequence[Any]) -> None:
        import queue

        self._hashers = hashers
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="firmtuf-hash", daemon=True)
        with _STACK_LOCK:
            # stack_size() is process-wide: set for this start only, then put back.
            try:
                old = threading.stack_size(STACK_SIZE)
            except (ValueError, RuntimeError):  # not settable here: the default stack
                self._thread.start()
            else:
                try:
                    self._thread.start()
                finally:
                    threading.stack_size(old)

    def _run(self) -> None:
        get = self._queue.get
        while (chunk := get()) is not None:
            if self._error is None:
                try:
                    for hasher in self._hashers:
                        hasher.update(chunk)
                except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
                    self._error = e  # keep draining: the producer must never block forever

    def put(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def finish(self, *, raise_error: bool = True) -> None:
        """Wait for the hashes of every chunk put; then the thread is gone.

        Raises:
            Exception: what a hasher raised (unless ``raise_error`` is False).
        """
        self._queue.put(None)
        self._thread.join()
        if raise_error and self._error is not None:
            raise self._error
