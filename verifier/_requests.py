"""The ``requests`` transport (extra ``firmtuf[requests]``), for devices that already
carry ``requests``. Same rules as the default :class:`~verifier.HttpFetcher`
(``_internal/http_rules``), same tests; ``requests`` is imported on the first request.
"""

from __future__ import annotations

import contextlib

from verifier._errors import DownloadError, DownloadHTTPError
from verifier._fetcher import Fetcher
from verifier._internal import http_rules

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from collections.abc import Iterator
    from typing import Any

    from verifier._fetcher import Deadline


class RequestsFetcher(http_rules.HttpOptions, Fetcher):
    """HTTP(S) with ``requests`` (``pip install 'firmtuf[requests]'``).

    One ``requests.Session`` per fetcher: its requests reuse kept-alive connections. The
    session does not read the environment (``HTTPS_PROXY``, ``.netrc``,
    ``REQUESTS_CA_BUNDLE``): pass ``proxy_url`` and ``ca_bundle`` instead. Redirects,
    resumed ranges, encodings and short bodies are treated as by :class:`HttpFetcher`;
    every socket read (status line and headers included) waits at most what is left of
    the request's :class:`~verifier.Deadline`.

    Args:
        connect_timeout: seconds to wait for the connection (None: the Config's).
        read_timeout: seconds to wait for each read (None: the Config's).
        min_speed: bytes per second below which the download is aborted (slow
            retrieval), judged after ``grace_period`` seconds (None: the Config's).
        grace_period: seconds before the speed guard applies (None: the Config's).
        chunk_size: bytes per read at most.
        user_agent: the User-Agent header.
        proxy_url: an HTTP proxy for every request, ``"http://[user:password@]host:port"``.
        ca_bundle: PEM file of the CA certificates trusted for HTTPS (default: the
            ``certifi`` bundle that ``requests`` ships), e.g. a private update PKI.
        max_redirects: redirects followed per request (0: none).
        cross_origin_redirects: whether a redirect may lead to another scheme, host or
            port (HTTPS to HTTP never).
        max_connections: origins whose kept-alive connections the session holds at once.

    Raises:
        ValueError: ``proxy_url`` is not an ``http://host:port`` URL, or a count is out
            of range.
    """

    def _started(self) -> None:
        self._session: Any = None

    def _get_session(self) -> Any:
        if self._session is None:
            import requests

            from verifier._internal.http_deadline import mount_deadline_adapter

            session = requests.Session()
            session.trust_env = False
            if self.proxy_url is not None:
                session.proxies = {"http": self.proxy_url, "https": self.proxy_url}
            if self.ca_bundle is not None:
                session.verify = self.ca_bundle
            mount_deadline_adapter(session, self.max_connections)
            self._session = session
        return self._session

    def _fetch(self, url: str, offset: int, deadline: Deadline) -> Iterator[bytes]:
        self._tighten(deadline)
        headers = self._request_headers(offset)
        seen = [url]
        while True:
            http_rules.origin_of(url)
            response = self._get(url, headers, deadline)
            status = response.status_code
            if status not in http_rules.REDIRECTS:
                break
            location = response.headers.get("Location")
            _finish_small(response)
            url = http_rules.redirect_target(
                url, location, status, seen, self.max_redirects, self.cross_origin_redirects
            )
        try:
            if status not in (200, 206):
                raise DownloadHTTPError(f"{url}: HTTP {status}", status)
            http_rules.check_encoding(url, response.headers.get("Content-Encoding"))
            http_rules.check_range(url, offset, status, response.headers.get("Content-Range"))
            length = http_rules.content_length(url, response.raw.headers.getlist("Content-Length"))
        except DownloadError:
            _finish_small(response)
            raise
        return self._chunks(response, length)

    def _get(self, url: str, headers: dict[str, str], deadline: Deadline) -> Any:
        import requests
        from urllib3.exceptions import ProtocolError

        from verifier._internal.http_deadline import current

        session = self._get_session()
        current.deadline = deadline  # read by every response's socket reader
        try:
            for attempt in (1, 2):
                current.reused = False
                try:
                    return session.get(
                        url,
                        stream=True,
                        allow_redirects=False,
                        timeout=(deadline.connect_timeout(), deadline.read_timeout()),
                        headers=headers,
                    )
                except requests.ConnectionError as e:
                    # A kept-alive connection closed before any byte of an answer
                    # (urllib3: "Connection aborted"): once more on a new one, as
                    # HttpFetcher does. Not a timeout, a proxy's or a TLS failure.
                    aborted = bool(e.args) and isinstance(e.args[0], ProtocolError)
                    stale = aborted and current.reused and not isinstance(e, requests.Timeout)
                    if attempt == 2 or not stale:
                        raise
            raise AssertionError("unreachable")
        finally:
            current.deadline = None

    def _chunks(self, response: Any, length: int | None) -> Iterator[bytes]:
        # read1 returns as soon as some bytes arrive, so a trickling server is measured
        # (and cut off) between small reads instead of blocking until a chunk fills.
        read1 = response.raw.read1
        size = self.chunk_size
        received = 0
        try:
            while chunk := read1(size, decode_content=False):
                received += len(chunk)
                yield chunk
            if length is not None and received < length:
                raise DownloadError(f"connection closed after {received} of {length} bytes")
        finally:
            # After the last byte the connection is already back in the session's pool
            # (kept alive); otherwise this closes it, as unread bytes make it unusable.
            response.close()


_SMALL_BODY = 64 * 1024


def _finish_small(response: Any) -> None:
    """Read a redirect's or an error's small body so its connection goes back to the
    pool; close it instead when the body is large or its length unannounced."""
    length = response.headers.get("Content-Length", "")
    if length.isascii() and length.isdigit() and int(length) <= _SMALL_BODY:
        # The answer is decided; a failure here only loses the connection.
        with contextlib.suppress(Exception):
            _ = response.content
    response.close()
