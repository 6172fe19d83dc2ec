"""python-tuf's ngclient reading a published tree from a directory (the oracle client in
tests that need no HTTP server). URLs are ``LOCAL_BASE_URL + <path in the tree>``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from urllib import parse

from tuf.api import exceptions as tuf_exceptions
from tuf.ngclient.fetcher import FetcherInterface

from signer._client import LOCAL_BASE_URL

__all__ = ["LOCAL_BASE_URL", "TufDirectoryFetcher"]


class TufDirectoryFetcher(FetcherInterface):
    """A missing file (or a path leaving the tree) is an HTTP 404, as a web server's."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _fetch(self, url: str) -> Iterator[bytes]:
        if not url.startswith(LOCAL_BASE_URL):
            raise tuf_exceptions.DownloadHTTPError(f"not served here: {url}", 404)
        rel = parse.unquote(url[len(LOCAL_BASE_URL) :])
        parts = PurePosixPath(rel).parts
        if not parts or any(p in ("..", ".", "/") for p in parts) or rel.startswith("/"):
            raise tuf_exceptions.DownloadHTTPError(f"bad path {rel!r}", 404)
        path = self.root / rel
        if not path.is_file():
            raise tuf_exceptions.DownloadHTTPError(f"{rel} not found", 404)
        return iter([path.read_bytes()])
