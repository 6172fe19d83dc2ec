"""What both HTTP transports decide the same way: redirects, resumed ranges, encodings,
Content-Length, proxy URLs. No I/O; plain functions the transports call, so the stdlib
``HttpFetcher`` and the ``requests`` one follow one rule each.
"""

from __future__ import annotations

import os

from verifier._errors import DownloadError, DownloadHTTPError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from collections.abc import Sequence

    from verifier._fetcher import Deadline

REDIRECTS = frozenset((301, 302, 303, 307, 308))


class HttpOptions:
    """The options both HTTP transports take, checked and kept in one place (a base of
    ``HttpFetcher`` and ``RequestsFetcher``; their docstrings say what each means there).

    Raises:
        ValueError: ``proxy_url`` is not an ``http://host:port`` URL, or a count is out
            of range.
    """

    def __init__(
        self,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        min_speed: int | None = None,
        grace_period: float | None = None,
        chunk_size: int = 256 * 1024,
        user_agent: str = "firmtuf-verifier",
        proxy_url: str | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        max_redirects: int = 0,
        cross_origin_redirects: bool = False,
        max_connections: int = 4,
    ) -> None:
        if max_redirects < 0 or max_connections < 1 or chunk_size < 1:
            raise ValueError("need max_redirects >= 0, max_connections >= 1, chunk_size >= 1")
        self._proxy = None if proxy_url is None else parse_proxy(proxy_url)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.min_speed = min_speed
        self.grace_period = grace_period
        self.chunk_size = chunk_size
        self.user_agent = user_agent
        self.proxy_url = proxy_url
        self.ca_bundle = None if ca_bundle is None else os.fspath(ca_bundle)
        self.max_redirects = max_redirects
        self.cross_origin_redirects = cross_origin_redirects
        self.max_connections = max_connections
        self._started()

    def _started(self) -> None:
        """A transport's own state, set up after the options."""

    def _request_headers(self, offset: int) -> dict[str, str]:
        """Headers of a GET from byte ``offset``. identity: byte ranges and length caps then
        refer to the bytes TUF verifies."""
        headers = {"User-Agent": self.user_agent, "Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        return headers

    def _tighten(self, deadline: Deadline) -> None:
        """Apply this transport's own limits to a request's deadline (stricter only)."""
        deadline.tightened(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            min_speed=self.min_speed,
            grace_period=self.grace_period,
        )


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL.

    Raises:
        DownloadError: not an http or https URL with a host and a valid port.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise DownloadError(f"unsupported URL {url!r}")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as e:
        raise DownloadError(f"bad port in {url!r}") from e
    return scheme, parts.hostname.lower(), port


def redirect_target(
    url: str,
    location: str | None,
    status: int,
    seen: list[str],
    max_redirects: int,
    cross_origin: bool,
) -> str:
    """The URL a redirect from ``url`` leads to, if the fetcher may follow it.

    ``seen`` holds the URLs of this request so far (the first one included); the new
    one is appended.

    Raises:
        DownloadHTTPError: redirects are not allowed, or this one is beyond the bound
            (with the redirect's status).
        DownloadError: no Location, a loop, HTTPS to HTTP, another origin when
            ``cross_origin`` is False, or not an http(s) URL.
    """
    first = seen[0]
    if len(seen) > max_redirects:
        raise DownloadHTTPError(
            f"{first}: HTTP {status} redirect not followed "
            f"({len(seen) - 1} followed, max_redirects={max_redirects})",
            status,
        )
    if not location:
        raise DownloadError(f"{url}: HTTP {status} redirect without a Location")
    from urllib.parse import urljoin

    new = urljoin(url, location.strip()).split("#", 1)[0]
    old_origin = origin_of(url)
    new_origin = origin_of(new)
    if old_origin[0] == "https" and new_origin[0] != "https":
        raise DownloadError(f"{url}: refused redirect from HTTPS to {new!r}")
    if new_origin != old_origin and not cross_origin:
        raise DownloadError(
            f"{url}: refused redirect to another origin {new!r} (cross_origin_redirects=False)"
        )
    if new in seen:
        raise DownloadError(f"{first}: redirect loop at {new!r}")
    seen.append(new)
    return new


def check_encoding(url: str, encoding: str | None) -> None:
    """Refuse a body that is not the bytes as published (TUF's lengths and hashes are).

    Raises:
        DownloadError: a Content-Encoding other than identity.
    """
    value = (encoding or "identity").strip().lower()
    if value != "identity":
        raise DownloadError(f"{url}: refused Content-Encoding {value!r} (asked for identity)")


def check_range(url: str, offset: int, status: int, content_range: str | None) -> None:
    """A resumed request must get exactly the bytes from ``offset`` on.

    Raises:
        DownloadHTTPError: status 416 when the server answered otherwise (the caller
            starts over from byte 0).
    """
    if not offset and status != 206:
        return
    if status != 206 or not offset or not (content_range or "").startswith(f"bytes {offset}-"):
        raise DownloadHTTPError(f"{url}: server did not honour the Range request", 416)


def content_length(url: str, values: Sequence[str]) -> int | None:
    """The body length a response announces (None: none announced).

    Raises:
        DownloadError: several different values, or one that is not a decimal number
            (where the body ends would be a guess).
    """
    if not values:
        return None
    found = {v.strip() for v in values}
    if len(found) != 1:
        raise DownloadError(f"{url}: conflicting Content-Length headers {sorted(found)}")
    value = found.pop()
    if not value.isdigit() or not value.isascii():
        raise DownloadError(f"{url}: malformed Content-Length {value!r}")
    return int(value)


def parse_proxy(proxy_url: str) -> tuple[str, int, str | None]:
    """(host, port, Proxy-Authorization value or None) of an ``http://`` proxy URL.

    Raises:
        ValueError: not ``http://[user:password@]host[:port]``.
    """
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(proxy_url)
    try:
        port = parts.port or 8080
    except ValueError as e:
        raise ValueError(f"proxy_url {proxy_url!r}: bad port") from e
    if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"proxy_url must be http://host:port, not {proxy_url!r}")
    auth = None
    if parts.username is not None:
        import base64

        user = unquote(parts.username)
        secret = unquote(parts.password or "")
        auth = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
    return parts.hostname, port, auth
