"""The tests' one loopback HTTP server module: real servers on 127.0.0.1 (ephemeral port).

- ``LoopbackServer(handler)`` runs any ``BaseHTTPRequestHandler`` class (optionally over
  TLS) in a daemon thread; ``serve`` is it as a context manager yielding the URL.
- ``FileServer(files)`` answers GET from ``files(path)``: ranges, a record of requests,
  and the hostile behaviours the transport and deadline tests need as options (bytes
  dripped or paced, a body cut short, a range lied about, a status line or headers
  dripped, a stall after the headers, a Content-Length too long). ``serve_dict`` and
  ``files_in`` (a directory) are its two common sources; ``serve_directory`` streams a
  directory tree with the standard library's handler.
- ``ScriptedServer(handler)`` answers each request with whatever bytes a test scripts:
  what ``http.server`` cannot send (wrong framing, broken chunking, connections closed
  between or during answers, a CONNECT proxy).
(The demo ships its own small server in signer/_demo.py: product code cannot import
tests; benchmarks/_util.py keeps a tuned one, see the reason written there.)
"""

from __future__ import annotations

import contextlib
import functools
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that does not log every request to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LoopbackServer:
    """A threading HTTP(S) server on 127.0.0.1; a context manager.

    Attributes:
        url: the base URL, ending in "/" (``https://`` with ``tls``).
        httpd: the server itself.
    """

    def __init__(self, handler: Any, *, tls: ssl.SSLContext | None = None) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()


@contextmanager
def serve(handler: Any, *, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Run ``handler`` on a loopback server; yields the base URL ending in "/"."""
    with LoopbackServer(handler, tls=tls) as server:
        yield server.url


HOSTILE = (
    "drip-status",  # the status line, one byte at a time (then a valid response)
    "drip-headers",  # status at once, then many header lines one byte at a time
    "stall-after-headers",  # complete headers, then no body byte ever
    "long-content-length",  # Content-Length 100 too large, the body, then silence
)


class FileServer:
    """A loopback server answering GET from ``files(path)`` (the request path without its
    leading "/"; None: 404), with ``Range: bytes=N-`` (206); a context manager.

    Options, set before or between requests (keys are request paths, "/" included):
    ``slow_paths`` path -> seconds between single body bytes; ``pace`` path prefix ->
    (bytes, seconds) per chunk; ``truncate`` path -> bytes sent before the connection
    closes; ``hostile`` path -> one of ``HOSTILE``, dripping one byte per ``drip``
    seconds or holding the connection until the server stops; ``honour_range`` False
    answers 200 to a range; ``lie_about_range`` answers 206 with the whole file.
    ``requests`` and ``ranges`` record each request's path and Range header;
    ``client_gave_up`` is set when a client hung up on a hostile response.
    """

    def __init__(self, files: Callable[[str], bytes | None]) -> None:
        self.files = files
        self.hostile: dict[str, str] = {}
        self.drip = 0.01
        self.stop = threading.Event()
        self.client_gave_up = threading.Event()
        self.requests: list[str] = []
        self.ranges: list[str | None] = []
        self.slow_paths: dict[str, float] = {}
        self.pace: dict[str, tuple[int, float]] = {}
        self.truncate: dict[str, int] = {}
        self.honour_range = True
        self.lie_about_range = False
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                server._answer(self)

        self.server = LoopbackServer(Handler)
        self.url = self.server.url

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        self.requests.append(path)
        self.ranges.append(handler.headers.get("Range"))
        data = self.files(path.lstrip("/"))
        if data is None:
            handler.send_error(404)
            return
        mode = self.hostile.get(path)
        if mode is not None:
            try:
                self._misbehave(handler, mode, data)
            except (BrokenPipeError, ConnectionResetError):
                self.client_gave_up.set()
            handler.close_connection = True
            return
        start = 0
        rng = handler.headers.get("Range")
        if rng and self.honour_range and rng.startswith("bytes="):
            start = int(rng[len("bytes=") :].split("-")[0])
            if start >= len(data):
                handler.send_error(416)
                return
            handler.send_response(206)
            if self.lie_about_range:  # claims a range, sends the whole file
                start = 0
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            handler.send_response(200)
        body = data[start:]
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        cut = self.truncate.get(path)
        if cut is not None:
            body = body[:cut]
            handler.close_connection = True
        chunk, delay = len(body) or 1, 0.0
        if path in self.slow_paths:
            chunk, delay = 1, self.slow_paths[path]
        else:
            for prefix, paced in self.pace.items():
                if path.startswith(prefix):
                    chunk, delay = paced
        try:
            for i in range(0, len(body), chunk):
                handler.wfile.write(body[i : i + chunk])
                if delay:
                    handler.wfile.flush()
                    time.sleep(delay)
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _drip(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        for i in range(len(raw)):
            if self.stop.is_set():
                return
            handler.wfile.write(raw[i : i + 1])
            handler.wfile.flush()
            time.sleep(self.drip)

    def _misbehave(self, handler: BaseHTTPRequestHandler, mode: str, data: bytes) -> None:
        status = b"HTTP/1.1 200 OK\r\n"
        length = len(data) + 100 if mode == "long-content-length" else len(data)
        head = f"Content-Length: {length}\r\n".encode()
        if mode == "drip-status":
            # Long enough that, dripped, the head alone takes many seconds.
            self._drip(handler, b"HTTP/1.1 200 " + b"O" * 2000 + b"K\r\n")
            handler.wfile.write(head + b"\r\n" + data)
        elif mode == "drip-headers":
            handler.wfile.write(status)
            # 60 lines: http.client refuses more than 100 headers.
            filler = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 40) for i in range(60))
            self._drip(handler, filler + head + b"\r\n")
            handler.wfile.write(data)
        elif mode == "stall-after-headers":
            handler.wfile.write(status + head + b"\r\n")
            handler.wfile.flush()
            self.stop.wait()
        elif mode == "long-content-length":
            handler.wfile.write(status + head + b"\r\n" + data)
            handler.wfile.flush()
            self.stop.wait()
        else:
            raise ValueError(f"unknown hostile mode {mode!r}")

    def __enter__(self) -> FileServer:
        self.server.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop.set()  # dripping and stalled responses end first
        self.server.__exit__(exc_type, exc, tb)


def files_in(root: Path) -> Callable[[str], bytes | None]:
    """A ``FileServer`` source: the files under ``root`` (nothing outside it)."""
    base = root.resolve()

    def read(path: str) -> bytes | None:
        target = (base / unquote(urlsplit(path).path)).resolve()
        return target.read_bytes() if base in target.parents and target.is_file() else None

    return read


@contextmanager
def serve_dict(files: dict[str, bytes]) -> Iterator[str]:
    """Serve ``{relative_path: bytes}``; yields the base URL ending in "/"."""
    with FileServer(lambda path: files.get(unquote(urlsplit(path).path))) as server:
        yield server.url


class _DirectoryHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """Serve a directory tree (files streamed from disk); yields the base URL."""
    with serve(functools.partial(_DirectoryHandler, directory=str(root))) as url:
        yield url


# Raw sockets on purpose: http.server frames every answer correctly.
@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    connection: int  # which accepted connection (0, 1, ...)
    number: int  # which request on that connection (0, 1, ...)


@dataclass
class Reply:
    """What to send, then: ``keep`` the connection for the next request, ``close`` it,
    ``hold`` it open without a word until the server stops, or ``tunnel`` to
    ``tunnel_to`` (a CONNECT proxy: relay bytes both ways)."""

    data: bytes = b""
    then: str = "keep"
    tunnel_to: tuple[str, int] | None = None


def response(body: bytes, status: str = "200 OK", headers: dict[str, str] | None = None) -> bytes:
    """An HTTP/1.1 response with Content-Length (unless ``headers`` name one or say
    chunked)."""
    fields = dict(headers or {})
    if not any(k.lower() in ("content-length", "transfer-encoding") for k in fields):
        fields["Content-Length"] = str(len(body))
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    return head.encode("latin-1") + b"\r\n" + body


def chunked(*parts: bytes, end: bytes = b"0\r\n\r\n") -> bytes:
    """A chunked body of ``parts`` (``end``: the last-chunk and trailer)."""
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + end


Handler = Callable[[Request], Reply | None]


@dataclass
class ScriptedServer:
    """``handler(request)`` -> a Reply, or None to close the connection unanswered."""

    handler: Handler
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._stop = threading.Event()
        self._connections = 0
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def connections(self) -> int:
        return self._connections

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            index = self._connections
            self._connections += 1
            self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn, index), daemon=True).start()

    def _serve(self, conn: socket.socket, index: int) -> None:
        reader = conn.makefile("rb")
        number = 0
        try:
            while True:
                line = reader.readline()
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers = {}
                while (h := reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = h.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                request = Request(method, target, headers, index, number)
                self.requests.append(request)
                number += 1
                reply = self.handler(request)
                if reply is None:
                    return
                conn.sendall(reply.data)
                if reply.then == "close":
                    return
                if reply.then == "hold":
                    self._stop.wait()
                    return
                if reply.then == "tunnel":
                    assert reply.tunnel_to is not None
                    self._relay(conn, reader, reply.tunnel_to)
                    return
        except OSError:
            return
        finally:
            reader.close()
            conn.close()

    def _relay(self, client: socket.socket, reader: object, to: tuple[str, int]) -> None:
        upstream = socket.create_connection(to)
        self._open.append(upstream)

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
        back.start()
        pump(client, upstream)
        back.join(5)
        upstream.close()

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._sock.close()
        for s in self._open:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
