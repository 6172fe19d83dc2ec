"""Fetchers: how the Updater gets bytes. One small interface, three implementations.

``fetch(url, max_length, offset=0)`` yields chunks of the resource starting at byte
``offset`` and raises a ``DownloadError`` subclass on failure: ``DownloadHTTPError``
(with ``status_code``; 404 for a missing file), ``DownloadLengthMismatchError`` when more
than ``max_length`` bytes would be delivered, ``SlowRetrievalError`` when too slow.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from verifier._errors import (
    DownloadError,
    DownloadHTTPError,
    DownloadLengthMismatchError,
    SlowRetrievalError,
)
from verifier._internal.storage import read_at_most

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from typing import Any


class Fetcher:
    """Base class of fetchers. Subclasses implement :meth:`fetch`."""

    def fetch(self, url: str, max_length: int, offset: int = 0) -> Iterator[bytes]:
        """Yield the bytes of ``url`` from ``offset`` on, at most ``max_length`` in total.

        ``max_length`` counts bytes of the whole resource (from byte 0), so with an
        offset at most ``max_length - offset`` bytes are yielded.

        Raises:
            DownloadError: a subclass describing the transport failure.
        """
        raise NotImplementedError

    def fetch_bytes(self, url: str, max_length: int) -> bytes:
        """Fetch the whole resource into memory (metadata; bounded by ``max_length``)."""
        return b"".join(self.fetch(url, max_length))


def _too_long(url: str, max_length: int) -> DownloadLengthMismatchError:
    return DownloadLengthMismatchError(f"{url}: more than {max_length} bytes")


class MemoryFetcher(Fetcher):
    """Serve a dict of ``url -> bytes`` (tests, simulators). Missing URLs are 404.

    Attributes:
        requests: every URL fetched, in order (for tests that count requests).
    """

    def __init__(self, files: Mapping[str, bytes], chunk_size: int = 64 * 1024) -> None:
        self.files = files
        self.chunk_size = chunk_size
        self.requests: list[str] = []

    def fetch(self, url: str, max_length: int, offset: int = 0) -> Iterator[bytes]:
        self.requests.append(url)
        data = self.files.get(url)
        if data is None:
            from urllib.parse import unquote

            data = self.files.get(unquote(url))
        if data is None:
            raise DownloadHTTPError(f"not found: {url}", 404)
        return self._chunks(url, data, max_length, offset)

    def _chunks(self, url: str, data: bytes, max_length: int, offset: int) -> Iterator[bytes]:
        for start in range(offset, len(data), self.chunk_size):
            end = min(start + self.chunk_size, len(data))
            if end > max_length:
                if start < max_length:
                    yield data[start:max_length]
                raise _too_long(url, max_length)
            yield data[start:end]


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
        except OSError as e:
            raise DownloadError(f"cannot read {path}: {e}") from e

    def fetch(self, url: str, max_length: int, offset: int = 0) -> Iterator[bytes]:
        return self._chunks(url, self._open(url), max_length, offset)

    def fetch_bytes(self, url: str, max_length: int) -> bytes:
        # One read into one buffer: chunks joined afterwards would hold the file twice.
        with self._open(url) as f:
            try:
                data = read_at_most(f, max_length)
            except OSError as e:
                raise DownloadError(f"cannot read {url}: {e}") from e
        if len(data) > max_length:
            raise _too_long(url, max_length)
        return data

    def _chunks(self, url: str, f: Any, max_length: int, offset: int) -> Iterator[bytes]:
        with f:
            try:
                f.seek(offset)
                total = offset
                while True:
                    chunk = f.read(self.chunk_size)
                    if not chunk:
                        return
                    total += len(chunk)
                    if total > max_length:
                        raise _too_long(url, max_length)
                    yield chunk
            except OSError as e:
                raise DownloadError(f"cannot read {url}: {e}") from e


class HttpFetcher(Fetcher):
    """HTTP(S) with ``requests`` (imported on first use so ``import verifier`` stays fast).

    One ``requests.Session`` per fetcher: the requests of one refresh reuse a kept-alive
    connection. The session does not read the environment (``HTTPS_PROXY``, ``.netrc``,
    ``REQUESTS_CA_BUNDLE``): each of those lookups costs time on every request and a
    device's configuration should be explicit, so pass ``proxy_url`` and ``ca_bundle``
    instead. Redirects are followed (at most 10); nothing is retried.

    Args:
        connect_timeout: seconds to wait for the connection.
        read_timeout: seconds to wait for each read.
        min_speed: bytes per second below which the download is aborted (slow
            retrieval), judged after ``grace_period`` seconds.
        grace_period: seconds before the speed guard applies.
        chunk_size: bytes per read.
        user_agent: the User-Agent header.
        proxy_url: an HTTP(S) proxy for every request, e.g. ``"http://proxy:3128"``.
        ca_bundle: PEM file of the CA certificates trusted for HTTPS (default: the
            ``certifi`` bundle that ``requests`` ships), e.g. a private update PKI.
    """

    def __init__(
        self,
        connect_timeout: float = 10.0,
        read_timeout: float = 10.0,
        min_speed: int = 1024,
        grace_period: float = 5.0,
        chunk_size: int = 256 * 1024,
        user_agent: str = "firmtuf-verifier",
        proxy_url: str | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.min_speed = min_speed
        self.grace_period = grace_period
        self.chunk_size = chunk_size
        self.user_agent = user_agent
        self.proxy_url = proxy_url
        self.ca_bundle = None if ca_bundle is None else os.fspath(ca_bundle)
        self._session: Any = None

    def _get_session(self) -> Any:
        if self._session is None:
            import requests

            session = requests.Session()
            session.trust_env = False
            session.max_redirects = 10
            if self.proxy_url is not None:
                session.proxies = {"http": self.proxy_url, "https": self.proxy_url}
            if self.ca_bundle is not None:
                session.verify = self.ca_bundle
            self._session = session
        return self._session

    def fetch(self, url: str, max_length: int, offset: int = 0) -> Iterator[bytes]:
        if not url.startswith(("http://", "https://")):
            raise DownloadError(f"unsupported URL {url!r}")
        import requests

        # identity: byte ranges and length caps then refer to the bytes TUF verifies.
        headers = {"User-Agent": self.user_agent, "Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            response = self._get_session().get(
                url,
                stream=True,
                timeout=(self.connect_timeout, self.read_timeout),
                headers=headers,
            )
        except requests.exceptions.Timeout as e:
            raise SlowRetrievalError(f"{url}: timed out") from e
        except requests.exceptions.RequestException as e:
            raise DownloadError(f"{url}: {e}") from e
        status = response.status_code
        if status >= 400:
            response.close()
            raise DownloadHTTPError(f"{url}: HTTP {status}", status)
        if offset and (
            status != 206
            or not response.headers.get("Content-Range", "").startswith(f"bytes {offset}-")
        ):
            # Resuming needs exactly the bytes from ``offset`` on; anything else restarts.
            response.close()
            raise DownloadHTTPError(f"{url}: server did not honour the Range request", 416)
        return self._chunks(url, response, max_length, offset)

    def _check_progress(
        self, url: str, total: int, max_length: int, received: int, start: float
    ) -> None:
        if total > max_length:
            raise _too_long(url, max_length)
        elapsed = time.monotonic() - start
        if elapsed > self.grace_period and received / elapsed < self.min_speed:
            raise SlowRetrievalError(
                f"{url}: {received / elapsed:.0f} B/s is below {self.min_speed} B/s"
            )

    def _chunks(self, url: str, response: Any, max_length: int, offset: int) -> Iterator[bytes]:
        start = time.monotonic()
        received = 0
        total = offset
        # read1 returns as soon as some bytes arrive, so a trickling server is measured
        # (and cut off) between small reads instead of blocking until a chunk fills.
        read1 = response.raw.read1
        size = self.chunk_size
        try:
            while chunk := read1(size, decode_content=True):
                received += len(chunk)
                total += len(chunk)
                self._check_progress(url, total, max_length, received, start)
                yield chunk
        except DownloadError:
            raise
        except Exception as e:
            # Raw reads raise urllib3's or the socket's errors, not requests' own: a read
            # timeout is a slow retrieval, anything else a transport failure.
            if _is_timeout(e):
                raise SlowRetrievalError(f"{url}: read timed out") from e
            raise DownloadError(f"{url}: {type(e).__name__}: {e}") from e
        finally:
            # After the last byte the connection is already back in the session's pool
            # (kept alive); otherwise this closes it, as unread bytes make it unusable.
            response.close()


def _is_timeout(e: BaseException) -> bool:
    names = {cls.__name__ for cls in type(e).__mro__}
    return bool(names & {"TimeoutError", "ReadTimeoutError", "Timeout"})
