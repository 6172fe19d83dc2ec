"""A real HTTP server on 127.0.0.1 (ephemeral port) for CLI and end-to-end tests."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit


class _DictHandler(SimpleHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path).lstrip("/")
        data = self.files.get(path)
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _QuietDirectoryHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _serve(handler: Any) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def serve_dict(files: dict[str, bytes]) -> Iterator[str]:
    """Serve ``{relative_path: bytes}``; yields the base URL ending in "/"."""
    handler = type("Handler", (_DictHandler,), {"files": files})
    with _serve(handler) as url:
        yield url


@contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """Serve a directory tree (files streamed from disk); yields the base URL."""
    with _serve(functools.partial(_QuietDirectoryHandler, directory=str(root))) as url:
        yield url
