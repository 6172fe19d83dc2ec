"""Fetchers: how the Updater gets bytes. One template-method base, three implementations.

:meth:`Fetcher.fetch` (public, not overridden) runs every request under a
:class:`Deadline` and a length cap, and wraps foreign errors once; an implementation
writes only the transport primitive :meth:`Fetcher._fetch` (as python-tuf's
``FetcherInterface``). Errors: ``DownloadHTTPError`` (with ``status_code``; 404 for a
missing file), ``DownloadLengthMismatchError`` when more than ``max_length`` bytes would
be delivered, ``SlowRetrievalError`` when a deadline, a read timeout or the minimum speed
is missed, ``DownloadError`` for any other transport failure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from verifier._config import Config
from verifier._errors import (
    DownloadError,
    DownloadHTTPError,
    DownloadLengthMismatchError,
    SlowRetrievalError,
    VerifierError,
)
from verifier._internal.storage import read_at_most

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from typing import Any, NoReturn

_DEFAULT_CONFIG = Config()


class Deadline:
    """The time budget of one request, on the monotonic clock.

    Made by the Updater from its :class:`Config` for every request
    (:meth:`for_request`), passed to :meth:`Fetcher._fetch` so a transport can bound
    each blocking operation, and enforced again by :meth:`Fetcher.fetch` between
    chunks. Two phases:

    - head: connect, request, status line and headers, until ``_fetch`` returns; it
      must end ``response_timeout`` seconds after the start;
    - body: ends at the overall deadline, ``Config.request_deadline(length)`` seconds
      after the start; after ``slow_grace_period`` seconds of body the average speed
      must stay at or above ``min_speed``.

    A transport sets each blocking wait to :meth:`connect_timeout` or
    :meth:`read_timeout` (each never beyond the current phase's end), so a server that
    drips its status line or headers one byte at a time is given up on at the bound.

    Attributes:
        start: monotonic time the request started.
        head_end: monotonic time the head phase must be over by.
        end: monotonic time the whole request must be over by.
    """

    __slots__ = (
        "_body_start",
        "_connect",
        "_grace",
        "_min_speed",
        "_read",
        "_received",
        "end",
        "head_end",
        "start",
    )

    def __init__(
        self,
        *,
        response_timeout: float,
        total: float,
        connect_timeout: float,
        read_timeout: float,
        min_speed: float = 0,
        grace_period: float = 0,
    ) -> None:
        self.start = time.monotonic()
        self.head_end = self.start + min(response_timeout, total)
        self.end = self.start + total
        self._connect = connect_timeout
        self._read = read_timeout
        self._min_speed = min_speed
        self._grace = grace_period
        self._body_start: float | None = None
        self._received = 0

    @classmethod
    def for_request(cls, config: Config, length: int) -> Deadline:
        """The deadline of a request for ``length`` bytes (the signed length still to
        fetch, or the length cap when none is signed) under ``config``."""
        return cls(
            response_timeout=config.response_timeout,
            total=config.request_deadline(length),
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            min_speed=config.min_speed,
            grace_period=config.slow_grace_period,
        )

    def tightened(
        self,
        *,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        min_speed: float | None = None,
        grace_period: float | None = None,
    ) -> Deadline:
        """The stricter of this deadline and a fetcher's own limits (None: keep)."""
        if connect_timeout is not None:
            self._connect = min(self._connect, connect_timeout)
        if read_timeout is not None:
            self._read = min(self._read, read_timeout)
        if min_speed is not None:
            self._min_speed = max(self._min_speed, min_speed)
        if grace_period is not None:
            self._grace = min(self._grace, grace_period)
        return self

    def remaining(self) -> float:
        """Seconds left in the current phase (head, then body); <= 0 once over."""
        bound = self.head_end if self._body_start is None else self.end
        return bound - time.monotonic()

    def connect_timeout(self) -> float:
        """Timeout for opening a connection.

        Raises:
            SlowRetrievalError: the current phase is already over.
        """
        return min(self._connect, self._left())

    def read_timeout(self) -> float:
        """Timeout for one blocking read (the read timeout, cut to the time left).

        Raises:
            SlowRetrievalError: the current phase is already over.
        """
        return min(self._read, self._left())

    def _left(self) -> float:
        left = self.remaining()
        if left <= 0:
            raise self._expired()
        return left

    def _expired(self) -> SlowRetrievalError:
        if self._body_start is None:
            took = self.head_end - self.start
            return SlowRetrievalError(f"no response headers within {took:.1f} s")
        return SlowRetrievalError(f"not complete within {self.end - self.start:.1f} s")

    def head_done(self) -> None:
        """Mark the end of the head phase.

        Raises:
            SlowRetrievalError: it ended after its deadline.
        """
        if self._body_start is None:
            now = time.monotonic()
            if now > self.head_end:
                raise self._expired()
            self._body_start = now

    def progress(self, received: int) -> None:
        """Account for ``received`` more body bytes.

        Raises:
            SlowRetrievalError: past the overall deadline, or slower than the minimum
                speed after the grace period.
        """
        now = time.monotonic()
        if now > self.end:
            raise self._expired()
        self._received += received
        assert self._body_start is not None  # noqa: S101 - head_done came first
        elapsed = now - self._body_start
        if self._min_speed and elapsed > self._grace:
            speed = self._received / elapsed
            if speed < self._min_speed:
                raise SlowRetrievalError(f"{speed:.0f} B/s is below {self._min_speed:.0f} B/s")


class Fetcher:
    """Base class of fetchers: a template method, like python-tuf's ``FetcherInterface``.

    Subclasses implement only :meth:`_fetch`, the transport primitive. :meth:`fetch`
    and :meth:`fetch_bytes` are final (the Updater refuses a fetcher that overrides
    them): they enforce the length cap and the deadline and wrap foreign errors once.
    """

    def fetch(
        self, url: str, max_length: int, offset: int = 0, *, deadline: Deadline | None = None
    ) -> Iterator[bytes]:
        """Yield the bytes of ``url`` from ``offset`` on, at most ``max_length`` in total.

        ``max_length`` counts bytes of the whole resource (from byte 0), so with an
        offset at most ``max_length - offset`` bytes are yielded. The request is made
        before this returns (an HTTP error status raises here); the body is read as
        the iterator is consumed. A caller that stops early (it has all the bytes it
        trusts) should ``close()`` the iterator: no further read is made.

        Args:
            url: what to fetch.
            max_length: the cap in bytes.
            offset: first byte wanted (a resumed download).
            deadline: the request's time budget (default: from ``Config()`` for
                ``max_length - offset`` bytes).

        Raises:
            DownloadError: a subclass describing the transport failure.
        """
        if deadline is None:
            deadline = Deadline.for_request(_DEFAULT_CONFIG, max(max_length - offset, 0))
        try:
            chunks = self._fetch(url, offset, deadline)
        except Exception as e:  # noqa: BLE001 - the one place foreign errors are classified
            _reraise(url, e)
        try:
            deadline.head_done()
        except Exception as e:  # noqa: BLE001 - the one place foreign errors are classified
            _close(chunks)  # the transport releases its connection now, not at GC
            _reraise(url, e)
        return self._guard(url, chunks, max_length, offset, deadline)

    def fetch_bytes(self, url: str, max_length: int, *, deadline: Deadline | None = None) -> bytes:
        """Fetch the whole resource into memory (metadata; bounded by ``max_length``).

        Raises:
            DownloadError: as :meth:`fetch`.
        """
        if deadline is None:
            deadline = Deadline.for_request(_DEFAULT_CONFIG, max_length)
        try:
            data = self._fetch_bytes(url, max_length, deadline)
        except Exception as e:  # noqa: BLE001 - the one place foreign errors are classified
            _reraise(url, e)
        if len(data) > max_length:
            raise _too_long(url, max_length)
        return data

    def _fetch(self, url: str, offset: int, deadline: Deadline) -> Iterator[bytes]:
        """The transport primitive: open ``url`` from byte ``offset`` on, return the body.

        Make the request now (connect, send, read status and headers, raise
        ``DownloadHTTPError`` for an error status) and return an iterator over body
        chunks, read lazily; the iterator's ``close()`` (if any) is called when the
        caller is done. Bound every blocking wait with ``deadline.connect_timeout()``
        or ``deadline.read_timeout()``. Length caps, the overall deadline, the minimum
        speed and error wrapping are the base class's: raise what the transport
        raises.
        """
        raise NotImplementedError

    def _fetch_bytes(self, url: str, max_length: int, deadline: Deadline) -> bytes:
        """The whole body (may return up to ``max_length + 1`` bytes; the base checks).

        Override when the transport can do better than joining :meth:`fetch`'s chunks
        (one read into one buffer).
        """
        return b"".join(self.fetch(url, max_length, deadline=deadline))

    def _guard(
        self, url: str, chunks: Iterator[bytes], max_length: int, offset: int, deadline: Deadline
    ) -> Iterator[bytes]:
        total = offset
        try:
            for chunk in chunks:
                total += len(chunk)
                if total > max_length:
                    raise _too_long(url, max_length)  # noqa: TRY301 - passes _classify as is
                deadline.progress(len(chunk))
                yield chunk
        except Exception as e:  # noqa: BLE001 - the one place foreign errors are classified
            _reraise(url, e)
        finally:
            _close(chunks)


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


def _reraise(url: str, e: Exception) -> NoReturn:
    error = _classify(url, e)
    if error is e:
        raise e
    raise error from e


def _classify(url: str, e: Exception) -> Exception:
    """The error to raise for ``e`` from a transport: wrapped once, by its cause.

    The verifier's own errors pass unchanged (a message without the URL gets it).
    Timeouts are slow retrieval; other transport errors are ``DownloadError``. What is
    not the network's fault (out of memory, a missing module, interrupts) is not
    reported as "network trouble, retry later": it propagates unchanged.
    """
    if isinstance(e, VerifierError):
        if isinstance(e, DownloadError) and url not in str(e):
            e.args = (f"{url}: {e}", *e.args[1:])
        return e
    if isinstance(e, (MemoryError, ImportError)):
        return e
    if _is_timeout(e):
        return SlowRetrievalError(f"{url}: timed out ({type(e).__name__}: {e})")
    return DownloadError(f"{url}: {type(e).__name__}: {e}")


def _too_long(url: str, max_length: int) -> DownloadLengthMismatchError:
    return DownloadLengthMismatchError(f"{url}: more than {max_length} bytes")


def _is_timeout(e: BaseException) -> bool:
    names = {cls.__name__ for cls in type(e).__mro__}
    return bool(names & {"TimeoutError", "ReadTimeoutError", "Timeout", "ConnectTimeoutError"})


class MemoryFetcher(Fetcher):
    """Serve a dict of ``url -> bytes`` (tests, simulators). Missing URLs are 404.

    Attributes:
        requests: every URL fetched, in order (for tests that count requests).
    """

    def __init__(self, files: Mapping[str, bytes], chunk_size: int = 64 * 1024) -> None:
        self.files = files
        self.chunk_size = chunk_size
        self.requests: list[str] = []

    def _fetch(self, url: str, offset: int, deadline: Deadline) -> Iterator[bytes]:
        self.requests.append(url)
        data = self.files.get(url)
        if data is None:
            from urllib.parse import unquote

            data = self.files.get(unquote(url))
        if data is None:
            raise DownloadHTTPError(f"not found: {url}", 404)
        size = self.chunk_size
        return (data[start : start + size] for start in range(offset, len(data), size))


class DirectoryFetcher(Fetcher):
    """Serve URLs under ``base_url`` from files under ``root`` (a local mirror, USB stick).

    Paths that would leave ``root`` (``..``, symlinks out) are refused with a 403.
    """

    def __init__(
        self, root: str | os.PathLike[str], base_url: str = "", chunk_size: int = 256 * 1024
    ) -> None:
        self.root = Path(root).resolve()
        self.base_url = base_url
        self.chunk_size = chunk_size

    def _path(self, url: str) -> Path:
        rel = url[len(self.base_url) :] if url.startswith(self.base_url) else None
        if rel is None:
            raise DownloadHTTPError(f"{url} is not under {self.base_url}", 404)
        from urllib.parse import unquote

        rel = unquote(rel.split("?", 1)[0])
        if "\x00" in rel or "\\" in rel:
            raise DownloadHTTPError(f"refused path {rel!r}", 403)
        path = (self.root / rel.lstrip("/")).resolve()
        if path != self.root and self.root not in path.parents:
            raise DownloadHTTPError(f"refused path escaping the mirror: {rel!r}", 403)
        return path

    def _open(self, url: str) -> Any:
        path = self._path(url)
        try:
            return open(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise DownloadHTTPError(f"not found: {url}", 404) from e

    def _fetch(self, url: str, offset: int, deadline: Deadline) -> Iterator[bytes]:
        f = self._open(url)
        try:
            f.seek(offset)
        except BaseException:
            f.close()
            raise
        return self._chunks(f)

    def _chunks(self, f: Any) -> Iterator[bytes]:
        with f:
            while chunk := f.read(self.chunk_size):
                yield chunk

    def _fetch_bytes(self, url: str, max_length: int, deadline: Deadline) -> bytes:
        # One read into one buffer: chunks joined afterwards would hold the file twice.
        with self._open(url) as f:
            data = read_at_most(f, max_length)
        deadline.head_done()
        deadline.progress(len(data))
        return data
