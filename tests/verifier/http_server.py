"""A real HTTP server on 127.0.0.1 serving a RepositorySimulator (tests only).

Supports ``Range: bytes=N-`` (206), counts requests, and can trickle a response
(``slow_paths``: path -> seconds between single bytes) or cut one short (``truncate``).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from tests.verifier.simulator import BASE, RepositorySimulator


class SimServer:
    def __init__(self, sim: RepositorySimulator) -> None:
        self.sim = sim
        self.requests: list[str] = []
        self.ranges: list[str | None] = []
        self.slow_paths: dict[str, float] = {}
        self.truncate: dict[str, int] = {}
        self.honour_range = True
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                server.ranges.append(self.headers.get("Range"))
                data = server.sim.serve(BASE + self.path.lstrip("/"))
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                rng = self.headers.get("Range")
                if rng and server.honour_range and rng.startswith("bytes="):
                    start = int(rng[len("bytes=") :].split("-")[0])
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
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

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> SimServer:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
