"""A real HTTP server on 127.0.0.1 serving a RepositorySimulator (tests only).

Supports ``Range: bytes=N-`` (206), counts requests, and can trickle a response
(``slow_paths``: path -> seconds between single bytes) or cut one short (``truncate``).
``hostile``: path -> a misbehaviour before or around the body (see ``HOSTILE``), each
dripping one byte per ``drip`` seconds or holding the connection open until the server
stops.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler
from types import TracebackType

from tests.loopback import LoopbackServer, QuietHandler
from tests.verifier.simulator import BASE, RepositorySimulator

HOSTILE = (
    "drip-status",  # the status line, one byte at a time (then a valid response)
    "drip-headers",  # status at once, then many header lines one byte at a time
    "stall-after-headers",  # complete headers, then no body byte ever
    "long-content-length",  # Content-Length 100 too large, the body, then silence
)


class SimServer:
    def __init__(self, sim: RepositorySimulator) -> None:
        self.sim = sim
        self.hostile: dict[str, str] = {}
        self.drip = 0.01
        self.stop = threading.Event()
        # Set when a client hung up while a hostile response was still being dripped.
        self.client_gave_up = threading.Event()
        self.requests: list[str] = []
        self.ranges: list[str | None] = []
        self.slow_paths: dict[str, float] = {}
        self.truncate: dict[str, int] = {}
        self.honour_range = True
        self.lie_about_range = False
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                server.ranges.append(self.headers.get("Range"))
                data = server.sim.serve(BASE + self.path.lstrip("/"))
                if data is None:
                    self.send_error(404)
                    return
                mode = server.hostile.get(self.path)
                if mode is not None:
                    try:
                        server._misbehave(self, mode, data)
                    except (BrokenPipeError, ConnectionResetError):
                        server.client_gave_up.set()
                    self.close_connection = True
                    return
                start = 0
                rng = self.headers.get("Range")
                if rng and server.honour_range and rng.startswith("bytes="):
                    start = int(rng[len("bytes=") :].split("-")[0])
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    if server.lie_about_range:  # claims a range, sends the whole file
                        start = 0
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                cut = server.truncate.get(self.path)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                delay = server.slow_paths.get(self.path)
                try:
                    if delay is not None:
                        for i in range(len(body)):
                            self.wfile.write(body[i : i + 1])
                            self.wfile.flush()
                            time.sleep(delay)
                    elif cut is not None:
                        self.wfile.write(body[:cut])
                        self.wfile.flush()
                        self.close_connection = True
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = LoopbackServer(Handler)
        self.url = self.server.url

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

    def __enter__(self) -> SimServer:
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
