"""A loopback server that answers each request with whatever bytes a test scripts.

For transport tests that need what a well-behaved ``http.server`` cannot send: wrong
Content-Length, broken chunked framing, connections closed between or during answers,
a proxy refusing or tunnelling ``CONNECT``. Every request is recorded with the
connection it came on. (Raw sockets on purpose: tests/loopback.py, the tests' HTTP server,
is built on ``http.server``, which frames every answer correctly.)
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType


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
