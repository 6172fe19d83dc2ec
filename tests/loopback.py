"""The tests' one loopback HTTP server: a real server on 127.0.0.1 (ephemeral port).

``LoopbackServer(handler)`` runs any ``BaseHTTPRequestHandler`` class (optionally over
TLS) in a daemon thread; ``serve_directory`` and ``serve_dict`` are the two common
handlers. Tests that need a misbehaving server write only the handler.
(The demo ships its own small server in signer/_demo.py: product code cannot import
tests; benchmarks/_util.py keeps a tuned one, see the reason written there.)
"""

from __future__ import annotations

import functools
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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


class _DictHandler(QuietHandler):
    files: dict[str, bytes] = {}  # noqa: RUF012 - replaced per server by serve_dict

    def do_GET(self) -> None:
        data = self.files.get(unquote(urlsplit(self.path).path).lstrip("/"))
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _DirectoryHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_dict(files: dict[str, bytes]) -> Iterator[str]:
    """Serve ``{relative_path: bytes}``; yields the base URL ending in "/"."""
    with serve(type("Handler", (_DictHandler,), {"files": files})) as url:
        yield url


@contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """Serve a directory tree (files streamed from disk); yields the base URL."""
    with serve(functools.partial(_DirectoryHandler, directory=str(root))) as url:
        yield url
