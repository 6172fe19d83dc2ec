"""The default device transport: HTTP(S) on the standard library (``http.client`` + ``ssl``).

Why not ``requests``: on a device it is the largest cost of an update over HTTP
(importing it costs about as many instructions as all of python-tuf's client, and two
GETs on a new connection take several times what ``http.client`` needs; figures in
docs/benchmarks.md), and it brings four packages. :class:`~verifier.RequestsFetcher`
(extra ``firmtuf[requests]``) stays for devices that want it; both follow the same rules
(``_internal/http_rules``) and pass the same tests.
"""

from __future__ import annotations

from verifier._errors import DownloadError, DownloadHTTPError
from verifier._fetcher import Fetcher
from verifier._internal import http_rules

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from typing import Any

    from verifier._fetcher import Deadline

Origin = tuple[str, str, int]
# A redirect's or an error's body is read (so the connection stays usable) up to this.
_SMALL_BODY = 64 * 1024


class HttpFetcher(http_rules.HttpOptions, Fetcher):
    """HTTP(S) on the standard library: the default transport of an :class:`Updater`.

    - One kept-alive HTTP/1.1 connection per origin (scheme, host, port), reused by every
      request of the fetcher. A kept-alive connection the server closed meanwhile is
      opened again, once, for a request that had received no byte of its answer; a
      body cut short is never fetched again here (the Updater resumes with a Range).
    - HTTPS verified against the system's CA store, or only against ``ca_bundle``.
    - A proxy only when ``proxy_url`` is given (``CONNECT`` tunnels for HTTPS, absolute
      URLs for plain HTTP, Basic credentials from the URL); the environment
      (``HTTPS_PROXY``, ...) is never read.
    - Redirects only when ``max_redirects`` allows them (default: a redirect is an
      error), to the same origin unless ``cross_origin_redirects``, never from HTTPS
      to HTTP, never in a loop; every hop within the same request deadline.
    - ``Range: bytes=N-`` for a resumed download: a 206 with the matching
      ``Content-Range``, or ``DownloadHTTPError`` 416 (the Updater starts over).
    - ``Accept-Encoding: identity``; any other ``Content-Encoding`` is refused (TUF's
      lengths and hashes are of the bytes as published). A body shorter than its
      Content-Length is an error, not a complete file.

    Every socket wait (connect, TLS handshake, a proxy's ``CONNECT`` answer, status
    line, headers, body) is bounded by what is left of the request's
    :class:`~verifier.Deadline`, which comes from the Updater's ``Config``; the timeout
    arguments below can only make it stricter. Not for use by several threads at once
    (an Updater is not either).

    Args:
        connect_timeout: seconds to wait for a connection (None: the Config's).
        read_timeout: seconds to wait for each read (None: the Config's).
        min_speed: bytes per second below which a download is slow retrieval, judged
            after ``grace_period`` seconds (None: the Config's).
        grace_period: seconds before the speed guard applies (None: the Config's).
        chunk_size: bytes per read at most.
        user_agent: the User-Agent header.
        proxy_url: an HTTP proxy for every request,
            ``"http://[user:password@]host:port"``.
        ca_bundle: PEM file of the only CA certificates trusted for HTTPS (default: the
            system's store), e.g. a private update PKI.
        max_redirects: redirects followed per request (0: none).
        cross_origin_redirects: whether a redirect may lead to another scheme, host or
            port (HTTPS to HTTP never).
        max_connections: kept-alive connections held at once (the least recently used
            is closed beyond this).

    Raises:
        ValueError: ``proxy_url`` is not an ``http://host:port`` URL, or a count is out
            of range.
    """

    def _started(self) -> None:
        self._pool: dict[Origin, Any] = {}
        self._context: Any = None

    # -- the transport primitive ------------------------------------------------------

    def _fetch(self, url: str, offset: int, deadline: Deadline) -> _Body:
        self._tighten(deadline)
        headers = self._request_headers(offset)
        seen = [url]
        while True:
            origin = http_rules.origin_of(url)
            response, conn = self._request(origin, self._target(url), headers, deadline)
            status = response.status
            if status not in http_rules.REDIRECTS:
                break
            location = response.getheader("Location")
            self._finish_small(response, origin, conn)
            url = http_rules.redirect_target(
                url, location, status, seen, self.max_redirects, self.cross_origin_redirects
            )
        try:
            if status != 200 and status != 206:
                raise DownloadHTTPError(f"{url}: HTTP {status}", status)
            http_rules.check_encoding(url, response.getheader("Content-Encoding"))
            http_rules.check_range(url, offset, status, response.getheader("Content-Range"))
            length = http_rules.content_length(url, response.headers.get_all("Content-Length"))
        except DownloadError:
            self._finish_small(response, origin, conn)
            raise
        conn.busy = True
        return _Body(self, origin, conn, response, length, self.chunk_size)

    # -- connections ------------------------------------------------------------------

    def _target(self, url: str) -> str:
        """The request target: absolute-form through a proxy for plain HTTP, else the
        path and query."""
        url = url.split("#", 1)[0]
        if self._proxy is not None and url[:5].lower() == "http:":
            return url
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def _request(
        self, origin: Origin, target: str, headers: dict[str, str], deadline: Deadline
    ) -> tuple[Any, Any]:
        """Send GET and read the response head, on the origin's kept-alive connection."""
        from verifier._internal import http_connection

        conn = self._pool.pop(origin, None)
        if conn is not None and (
            conn.busy or conn.sock is None or http_connection.is_dropped(conn.sock)
        ):
            conn.close()
            conn = None
        if self._proxy is not None and origin[0] == "http" and self._proxy[2]:
            headers = {**headers, "Proxy-Authorization": self._proxy[2]}
        reused = conn is not None
        while True:
            if conn is None:
                conn = self._connect(origin, deadline)
            self._pool[origin] = conn  # most recently used last
            self._evict()
            conn.deadline = deadline
            try:
                conn.sock.settimeout(deadline.read_timeout())
                conn.request("GET", target, headers=headers)
                return conn.getresponse(), conn
            except BaseException as e:
                self._drop(origin, conn)
                # A kept-alive connection the server closed meanwhile fails before any
                # byte of an answer: once more on a new one (GET is idempotent). Not a
                # timeout, not a connection of this request.
                if not (reused and isinstance(e, http_connection.STALE)):
                    raise
                conn, reused = None, False

    def _connect(self, origin: Origin, deadline: Deadline) -> Any:
        from verifier._internal.http_connection import Connection, SecureConnection

        scheme, host, port = origin
        timeout = deadline.connect_timeout()
        conn: Any
        if self._proxy is not None:
            proxy_host, proxy_port, auth = self._proxy
            if scheme == "https":
                context = self._tls()
                conn = SecureConnection(proxy_host, proxy_port, timeout=timeout, context=context)
                conn.set_tunnel(host, port, headers={"Proxy-Authorization": auth} if auth else None)
            else:
                conn = Connection(proxy_host, proxy_port, timeout=timeout)
        elif scheme == "https":
            conn = SecureConnection(host, port, timeout=timeout, context=self._tls())
        else:
            conn = Connection(host, port, timeout=timeout)
        conn.deadline = deadline
        try:
            conn.connect()
        except OSError as e:
            conn.close()
            if self._proxy is not None and e.errno is None and "Tunnel" in str(e):
                # Not the origin's answer: a proxy's 404 must not read as "no such file".
                raise DownloadError(f"proxy refused CONNECT to {host}:{port}: {e}") from e
            raise
        except BaseException:
            conn.close()
            raise
        return conn

    def _tls(self) -> Any:
        if self._context is None:
            from verifier._internal.http_connection import tls_context

            self._context = tls_context(self.ca_bundle)
        return self._context

    def _evict(self) -> None:
        # Least recently used first; a connection whose body is being read stays.
        idle = [origin for origin, conn in self._pool.items() if not conn.busy]
        for origin in idle[: max(len(self._pool) - self.max_connections, 0)]:
            self._drop(origin, self._pool[origin])

    def _drop(self, origin: Origin, conn: Any) -> None:
        if self._pool.get(origin) is conn:
            del self._pool[origin]
        conn.close()

    def _finish_small(self, response: Any, origin: Origin, conn: Any) -> None:
        """Read a redirect's or an error's (small) body so the connection stays usable;
        close it instead when the body is large, unannounced, or the server closes it."""
        length = response.length
        if response.will_close or length is None or length > _SMALL_BODY:
            self._drop(origin, conn)
            return
        try:
            response.read(length)
        except Exception:  # noqa: BLE001 - the answer is already decided; only the connection is lost
            self._drop(origin, conn)

    def _done(self, origin: Origin, conn: Any, complete: bool, will_close: bool) -> None:
        """A body was read to its end (the connection serves the next request) or not."""
        conn.busy = False
        if not complete or will_close:
            # Unread bytes make the connection unusable: a new one next time.
            self._drop(origin, conn)

    def close(self) -> None:
        """Close every kept-alive connection."""
        for origin, conn in list(self._pool.items()):
            self._drop(origin, conn)


class _Body:
    """The body of one response, read lazily in chunks of at most ``size`` bytes.

    ``read1`` returns as soon as some bytes arrive, so a trickling server is measured
    (and cut off) between small reads instead of blocking until a chunk fills. A body
    that ends before its Content-Length is an error (``http.client`` reports it as a
    normal end). ``close()`` before the end closes the connection.
    """

    __slots__ = ("_conn", "_fetcher", "_length", "_origin", "_received", "_response", "_size")

    def __init__(
        self,
        fetcher: HttpFetcher,
        origin: Origin,
        conn: Any,
        response: Any,
        length: int | None,
        size: int,
    ) -> None:
        self._fetcher: HttpFetcher | None = fetcher
        self._origin = origin
        self._conn = conn
        self._response = response
        self._length = length
        self._received = 0
        self._size = size

    def __iter__(self) -> _Body:
        return self

    def __next__(self) -> bytes:
        if self._fetcher is None:
            raise StopIteration
        try:
            chunk: bytes = self._response.read1(self._size)
        except BaseException:
            self._end(complete=False)
            raise
        if chunk:
            self._received += len(chunk)
            return chunk
        if self._length is not None and self._received < self._length:
            self._end(complete=False)
            raise DownloadError(f"connection closed after {self._received} of {self._length} bytes")
        self._end(complete=True)
        raise StopIteration

    def close(self) -> None:
        if self._fetcher is not None:
            # A reader that stopped at the announced length left nothing unread.
            self._end(complete=self._length is not None and self._received == self._length)

    def _end(self, complete: bool) -> None:
        fetcher, self._fetcher = self._fetcher, None
        if fetcher is not None:
            if complete:
                # read1 does not close a response it read to its end: until closed, the
                # connection refuses the next request (ResponseNotReady).
                self._response.close()
            fetcher._done(self._origin, self._conn, complete, self._response.will_close)
