"""The two clients behind one small interface, so every scenario runs both the same way.

`tuf` is python-tuf 7.x's `tuf.ngclient.Updater`; `firmtuf` is our `verifier.Updater`
(public API from docs/BRIEF: Updater(metadata_dir, metadata_base_url, target_base_url,
fetcher=, config=)). In-process runs read the repository directory through a fetcher of
each client (python-tuf: a FetcherInterface reading files; verifier: its DirectoryFetcher);
HTTP runs use each client's default fetcher against 127.0.0.1.

Imports of the clients happen inside `make_client` so the runner can time them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOCAL_BASE = "http://bench.invalid/"
# The biggest benchmark repository (100k targets) has a 22 MB targets.json, over
# python-tuf's default 5 MB limit: its limits are raised so limits never decide a result.
BIG = 1 << 30


class Client:
    """refresh / lookup / download over one client library."""

    name = ""

    def refresh(self) -> None:
        raise NotImplementedError

    def lookup(self, target: str) -> Any:
        raise NotImplementedError

    def download(self, info: Any, dest: Path) -> None:
        raise NotImplementedError


class TufClient(Client):
    name = "tuf"

    def __init__(self, metadata_dir: Path, repo: Path | None, url: str | None) -> None:
        from tuf.api import exceptions
        from tuf.ngclient import FetcherInterface, Updater, UpdaterConfig

        class LocalFetcher(FetcherInterface):
            """Serves LOCAL_BASE/<path> from the repository directory."""

            def __init__(self, root: Path) -> None:
                self.root = root

            def _fetch(self, url: str) -> Iterator[bytes]:
                path = self.root / url[len(LOCAL_BASE) :]
                if not path.is_file():
                    raise exceptions.DownloadHTTPError("not found", 404)
                with open(path, "rb") as f:
                    yield from iter(lambda: f.read(1 << 20), b"")

        base = url if url is not None else LOCAL_BASE
        fetcher = LocalFetcher(repo) if url is None and repo is not None else None
        config = UpdaterConfig(
            root_max_length=BIG,
            timestamp_max_length=BIG,
            snapshot_max_length=BIG,
            targets_max_length=BIG,
        )
        self.up = Updater(
            str(metadata_dir),
            base + "metadata/",
            target_base_url=base + "targets/",
            fetcher=fetcher,
            config=config,
            bootstrap=None,
        )

    def refresh(self) -> None:
        self.up.refresh()

    def lookup(self, target: str) -> Any:
        return self.up.get_targetinfo(target)

    def download(self, info: Any, dest: Path) -> None:
        self.up.download_target(info, str(dest))


class FirmtufClient(Client):
    name = "firmtuf"

    def __init__(self, metadata_dir: Path, repo: Path | None, url: str | None) -> None:
        import verifier

        # Default Config: its metadata limits (targets up to 64 MiB) fit every benchmark
        # repository, so nothing is raised (python-tuf's 5 MB targets limit is).
        kwargs: dict[str, Any] = {}
        if url is None:
            assert repo is not None
            kwargs["fetcher"] = _directory_fetcher(verifier, repo)
            base = LOCAL_BASE
        else:
            base = url
        self.up = verifier.Updater(metadata_dir, base + "metadata/", base + "targets/", **kwargs)

    def refresh(self) -> None:
        self.up.refresh()

    def lookup(self, target: str) -> Any:
        return self.up.get_targetinfo(target)

    def download(self, info: Any, dest: Path) -> None:
        self.up.download(info, dest)


class FloorClient(Client):
    """benchmarks/floor.py: the least work a client must do (not a client; see there)."""

    name = "floor"

    def __init__(self, metadata_dir: Path, repo: Path | None, url: str | None) -> None:
        import floor

        self.floor = floor.Floor(str(metadata_dir), url if url is not None else str(repo))

    def refresh(self) -> None:
        self.floor.refresh()

    def lookup(self, target: str) -> Any:
        return self.floor.lookup(target)

    def download(self, info: Any, dest: Path) -> None:
        self.floor.download(info, str(dest))


def _directory_fetcher(verifier: Any, repo: Path) -> Any:
    """The verifier's DirectoryFetcher serving LOCAL_BASE from `repo`."""
    cls = verifier.DirectoryFetcher
    try:
        return cls(repo, base_url=LOCAL_BASE)
    except TypeError:
        return cls({LOCAL_BASE: repo})


CLIENTS = {"tuf": TufClient, "firmtuf": FirmtufClient, "floor": FloorClient}


def make_client(name: str, metadata_dir: Path, repo: Path | None, url: str | None) -> Client:
    return CLIENTS[name](metadata_dir, repo, url)


def import_client(name: str) -> None:
    """Import the client library the way a device program would."""
    if name == "tuf":
        import tuf.ngclient  # noqa: F401
    elif name == "firmtuf":
        import verifier  # noqa: F401
    elif name == "floor":
        import floor  # noqa: F401
