"""Both HTTP transports against servers that lie about their framing, redirect where
they should not, or close kept-alive connections: each is refused with the right error
(or, for a closed idle connection, retried once on a new connection), never a body
taken as complete when it is not, never bytes of one answer read as another's."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import verifier
from tests.loopback import (
    Reply,
    Request,
    ScriptedServer,
    chunked,
    response,
)
from tests.verifier.conftest import Transport

BODY = b"0123456789" * 100


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[Request], Reply | None]], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(handler: Callable[[Request], Reply | None]) -> ScriptedServer:
        server = ScriptedServer(handler).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def _ok(request: Request) -> Reply:
    return Reply(response(BODY + request.target.encode()))


# -- framing --------------------------------------------------------------------------


def test_body_shorter_than_its_content_length_is_an_error(
    serve: Callable, transport: Transport
) -> None:
    """Closed before the announced end: a transport error (resumable), not a short file
    the Updater would then blame on the repository."""
    server = serve(
        lambda r: Reply(response(BODY[:300], headers={"Content-Length": "1000"}), "close")
    )
    chunks: list[bytes] = []
    with pytest.raises(verifier.DownloadError) as info:
        chunks.extend(transport().fetch(server.url + "image", 2000))
    assert not isinstance(info.value, verifier.DownloadHTTPError)
    assert b"".join(chunks) == BODY[:300]
    with pytest.raises(verifier.DownloadError):
        transport().fetch_bytes(server.url + "timestamp.json", 2000)


def test_body_longer_than_its_content_length_does_not_leak_into_the_next_answer(
    serve: Callable, transport: Transport
) -> None:
    def handle(request: Request) -> Reply:
        if request.target == "/first":
            # 100 bytes announced, 1000 sent, connection kept: the rest is garbage.
            return Reply(response(BODY, headers={"Content-Length": "100"}))
        return _ok(request)

    server = serve(handle)
    fetcher = transport()
    assert fetcher.fetch_bytes(server.url + "first", 2000) == BODY[:100]
    assert fetcher.fetch_bytes(server.url + "second", 2000) == BODY + b"/second"


@pytest.mark.parametrize(
    "lengths", [["100", "200"], ["12abc"], ["-5"], ["1_0"], ["+10"], ["\u0661\u0660"]]
)
def test_malformed_or_conflicting_content_length_is_refused(
    serve: Callable, transport: Transport, lengths: list[str]
) -> None:
    head = "HTTP/1.1 200 OK\r\n" + "".join(f"Content-Length: {v}\r\n" for v in lengths)
    server = serve(lambda r: Reply(head.encode() + b"\r\n" + BODY, "close"))
    with pytest.raises(verifier.DownloadError) as info:
        transport().fetch_bytes(server.url + "x", 2000)
    assert not isinstance(info.value, verifier.DownloadHTTPError)


def test_chunked_body_and_the_connection_after_it(serve: Callable, transport: Transport) -> None:
    body = chunked(BODY[:7], BODY[7:500], BODY[500:], end=b"0\r\nX-Trailer: y\r\n\r\n")
    server = serve(
        lambda r: (
            Reply(response(body, headers={"Transfer-Encoding": "chunked"}))
            if r.target == "/c"
            else _ok(r)
        )
    )
    fetcher = transport()
    assert fetcher.fetch_bytes(server.url + "c", 2000) == BODY
    assert fetcher.fetch_bytes(server.url + "d", 2000) == BODY + b"/d"
    assert server.connections == 1


@pytest.mark.parametrize(
    "body",
    [
        chunked(BODY[:100], end=b""),  # no last chunk: the connection just closes
        b"64\r\n" + BODY[:50],  # cut inside a chunk
        b"zz\r\n" + BODY[:100] + b"\r\n0\r\n\r\n",  # a chunk size that is not hex
    ],
    ids=["no-last-chunk", "cut-in-chunk", "bad-size"],
)
def test_broken_chunked_body_is_an_error(
    serve: Callable, transport: Transport, body: bytes
) -> None:
    server = serve(
        lambda r: Reply(response(body, headers={"Transfer-Encoding": "chunked"}), "close")
    )
    with pytest.raises(verifier.DownloadError):
        transport().fetch_bytes(server.url + "x", 2000)


def test_chunked_body_is_capped_while_it_streams(serve: Callable, transport: Transport) -> None:
    """No Content-Length to refuse up front: the cap ends the read."""
    body = chunked(*[BODY] * 50)
    server = serve(
        lambda r: Reply(response(body, headers={"Transfer-Encoding": "chunked"}), "hold")
    )
    with pytest.raises(verifier.DownloadLengthMismatchError):
        transport().fetch_bytes(server.url + "x", 5000)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_content_encoding_is_refused(serve: Callable, transport: Transport, encoding: str) -> None:
    """We ask for identity: an encoded body is not the bytes TUF signed the length and
    hashes of (and decoding it would be a decompression bomb to cap)."""
    import gzip

    seen: list[str | None] = []

    def handle(request: Request) -> Reply:
        seen.append(request.headers.get("accept-encoding"))
        return Reply(response(gzip.compress(BODY), headers={"Content-Encoding": encoding}))

    server = serve(handle)
    with pytest.raises(verifier.DownloadError, match="Content-Encoding"):
        transport().fetch_bytes(server.url + "x", 100_000)
    assert seen == ["identity"]


# -- redirects --------------------------------------------------------------------------


def _redirects(routes: dict[str, str]) -> Callable[[Request], Reply]:
    def handle(request: Request) -> Reply:
        location = routes.get(request.target)
        if location is None:
            return _ok(request)
        return Reply(response(b"moved", "302 Found", {"Location": location}))

    return handle


def test_redirect_is_an_error_unless_allowed(serve: Callable, transport: Transport) -> None:
    server = serve(_redirects({"/old": "/new"}))
    with pytest.raises(verifier.DownloadHTTPError, match="max_redirects=0") as info:
        transport().fetch_bytes(server.url + "old", 2000)
    assert info.value.status_code == 302
    fetcher = transport(max_redirects=1)
    assert fetcher.fetch_bytes(server.url + "old", 2000) == BODY + b"/new"
    assert [r.target for r in server.requests] == ["/old", "/old", "/new"]


def test_redirects_are_bounded(serve: Callable, transport: Transport) -> None:
    server = serve(_redirects({"/1": "/2", "/2": "/3", "/3": "/4"}))
    with pytest.raises(verifier.DownloadHTTPError, match="2 followed"):
        transport(max_redirects=2).fetch_bytes(server.url + "1", 2000)
    assert [r.target for r in server.requests] == ["/1", "/2", "/3"]
    assert transport(max_redirects=3).fetch_bytes(server.url + "1", 2000) == BODY + b"/4"


def test_redirect_loop_is_refused(serve: Callable, transport: Transport) -> None:
    server = serve(_redirects({"/a": "/b", "/b": "/a"}))
    with pytest.raises(verifier.DownloadError, match="loop"):
        transport(max_redirects=10).fetch_bytes(server.url + "a", 2000)
    assert [r.target for r in server.requests] == ["/a", "/b"]


def test_cross_origin_redirect_only_when_allowed(serve: Callable, transport: Transport) -> None:
    mirror = serve(_ok)
    server = serve(_redirects({"/x": mirror.url + "y"}))
    with pytest.raises(verifier.DownloadError, match="another origin") as info:
        transport(max_redirects=3).fetch_bytes(server.url + "x", 2000)
    assert not isinstance(info.value, verifier.DownloadHTTPError)
    assert mirror.requests == []
    fetcher = transport(max_redirects=3, cross_origin_redirects=True)
    assert fetcher.fetch_bytes(server.url + "x", 2000) == BODY + b"/y"


def test_redirect_to_a_non_http_url_is_refused(serve: Callable, transport: Transport) -> None:
    server = serve(_redirects({"/x": "file:///etc/passwd"}))
    fetcher = transport(max_redirects=3, cross_origin_redirects=True)
    with pytest.raises(verifier.DownloadError, match="unsupported URL"):
        fetcher.fetch_bytes(server.url + "x", 2000)


def test_resumed_request_keeps_its_range_across_a_redirect(
    serve: Callable, transport: Transport
) -> None:
    def handle(request: Request) -> Reply:
        if request.target == "/old":
            return Reply(response(b"", "307 Temporary Redirect", {"Location": "/new"}))
        start = int(request.headers["range"].removeprefix("bytes=").rstrip("-"))
        return Reply(
            response(
                BODY[start:],
                "206 Partial Content",
                {"Content-Range": f"bytes {start}-{len(BODY) - 1}/{len(BODY)}"},
            )
        )

    server = serve(handle)
    got = b"".join(transport(max_redirects=1).fetch(server.url + "old", len(BODY), offset=400))
    assert got == BODY[400:]
    assert [r.headers.get("range") for r in server.requests] == ["bytes=400-"] * 2


# -- kept-alive connections the server closes ---------------------------------------------


def test_connection_closed_after_an_answer_is_not_reused(
    serve: Callable, transport: Transport
) -> None:
    server = serve(lambda r: Reply(_ok(r).data, "close"))
    fetcher = transport()
    assert fetcher.fetch_bytes(server.url + "a", 2000) == BODY + b"/a"
    assert fetcher.fetch_bytes(server.url + "b", 2000) == BODY + b"/b"
    assert server.connections == 2


def test_kept_alive_connection_closed_unanswered_is_retried_once(
    serve: Callable, transport: Transport
) -> None:
    """The server's idle timeout fires as the second request arrives: it closes without
    a word. The request goes again, once, on a new connection."""
    server = serve(lambda r: _ok(r) if r.number == 0 else None)
    fetcher = transport()
    assert fetcher.fetch_bytes(server.url + "a", 2000) == BODY + b"/a"
    assert fetcher.fetch_bytes(server.url + "b", 2000) == BODY + b"/b"
    assert [(r.connection, r.target) for r in server.requests] == [(0, "/a"), (0, "/b"), (1, "/b")]


def test_a_new_connection_closed_unanswered_is_not_retried(
    serve: Callable, transport: Transport
) -> None:
    server = serve(lambda r: _ok(r) if r.connection == 0 and r.number == 0 else None)
    fetcher = transport()
    assert fetcher.fetch_bytes(server.url + "a", 2000) == BODY + b"/a"
    with pytest.raises(verifier.DownloadError) as info:
        fetcher.fetch_bytes(server.url + "b", 2000)
    assert not isinstance(info.value, verifier.DownloadHTTPError)
    assert [(r.connection, r.target) for r in server.requests] == [(0, "/a"), (0, "/b"), (1, "/b")]
    with pytest.raises(verifier.DownloadError):
        transport().fetch_bytes(server.url + "c", 2000)  # a fresh one: tried once
    assert [r.target for r in server.requests].count("/c") == 1


def test_body_cut_on_a_kept_alive_connection_is_not_fetched_again(
    serve: Callable, transport: Transport
) -> None:
    """Bytes already handed to the caller are never requested (and counted) again by the
    transport: the error goes to the caller, who resumes with a Range."""

    def handle(request: Request) -> Reply:
        if request.number == 0:
            return _ok(request)
        cut = response(BODY, headers={"Content-Length": str(len(BODY) * 2)})
        return Reply(cut, "close")

    server = serve(handle)
    fetcher = transport()
    assert fetcher.fetch_bytes(server.url + "a", 5000) == BODY + b"/a"
    received: list[bytes] = []
    with pytest.raises(verifier.DownloadError):
        received.extend(fetcher.fetch(server.url + "image", 5000))
    assert b"".join(received) == BODY
    assert [r.target for r in server.requests] == ["/a", "/image"]


def test_error_answers_keep_the_connection(serve: Callable, transport: Transport) -> None:
    """A 404 with a small body (the poll's "no newer root") does not cost a connection."""

    def handle(request: Request) -> Reply:
        if request.target == "/2.root.json":
            return Reply(response(b"not found", "404 Not Found"))
        return _ok(request)

    server = serve(handle)
    fetcher = transport()
    with pytest.raises(verifier.DownloadHTTPError) as info:
        fetcher.fetch_bytes(server.url + "2.root.json", 2000)
    assert info.value.status_code == 404
    assert fetcher.fetch_bytes(server.url + "timestamp.json", 2000) == BODY + b"/timestamp.json"
    assert server.connections == 1


def test_connections_beyond_the_bound_close_the_least_recently_used_idle_one(
    serve: Callable,
) -> None:
    servers = [serve(_ok) for _ in range(3)]
    fetcher = verifier.HttpFetcher(max_connections=2, chunk_size=100)
    streaming = fetcher.fetch(servers[0].url + "big", 5000)
    first = next(streaming)  # the oldest, but its body is being read: it stays
    assert fetcher.fetch_bytes(servers[1].url + "x", 5000) == BODY + b"/x"
    assert fetcher.fetch_bytes(servers[2].url + "x", 5000) == BODY + b"/x"  # closes 1's
    assert first + b"".join(streaming) == BODY + b"/big"
    assert fetcher.fetch_bytes(servers[2].url + "y", 5000) == BODY + b"/y"
    assert fetcher.fetch_bytes(servers[0].url + "y", 5000) == BODY + b"/y"
    assert [s.connections for s in servers] == [1, 1, 1]
    assert fetcher.fetch_bytes(servers[1].url + "y", 5000) == BODY + b"/y"
    assert [s.connections for s in servers] == [1, 2, 1]
