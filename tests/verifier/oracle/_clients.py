"""Two TUF clients behind one interface: python-tuf's ngclient and our verifier.

Both read the same ``{relative_path: bytes}`` repository through a fetcher that serves the
dict, keep their trusted metadata in their own directory between steps (a device that
reboots: a new Updater each step), and report what they decided as an ``Outcome``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from tuf.api.exceptions import DownloadHTTPError
from tuf.ngclient import FetcherInterface, Updater, UpdaterConfig

BASE_URL = "https://oracle.invalid/"
METADATA_URL = BASE_URL + "metadata/"
TARGETS_URL = BASE_URL + "targets/"


@dataclass(frozen=True)
class Outcome:
    """What a client decided in one step: "ok" or the error class name."""

    refresh: str
    info: str | None = None  # "found", "none" or error name; None when not reached
    download: str | None = None
    error: BaseException | None = field(default=None, compare=False, repr=False)
    # sha256 of the target the client found (which role's entry won the search).
    found: str | None = field(default=None, compare=False)
    # The top-level files the client trusts after the step (name -> bytes).
    trusted: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    @property
    def decision(self) -> tuple[bool, str | None, bool | None]:
        """The accept/refuse decision that both clients must agree on."""
        info = self.info if self.info in (None, "found", "none") else "error"
        download = None if self.download is None else self.download == "ok"
        return (self.refresh == "ok", info, download)


class Client(Protocol):
    name: str
    metadata_dir: Path

    def step(self, files: dict[str, bytes], target: str | None) -> Outcome: ...

    def updater(self, files: dict[str, bytes]) -> Any: ...

    def download(self, up: Any, info: Any, dest: Path) -> None: ...

    def error(self, name: str) -> type[BaseException]: ...


class DictFetcher(FetcherInterface):
    """python-tuf fetcher serving a dict; missing files are a 404 like on a web server."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[str] = []

    def _fetch(self, url: str) -> Iterator[bytes]:
        self.requests.append(url)
        # What a web server does with the URL: drop query and fragment, decode %XX.
        path = unquote(urlsplit(url.removeprefix(BASE_URL)).path)
        if not url.startswith(BASE_URL) or path not in self.files:
            raise DownloadHTTPError(f"not found: {url}", 404)
        return iter([self.files[path]])


def _name(exc: BaseException) -> str:
    return type(exc).__name__


class TufClient:
    """python-tuf ngclient (the reference)."""

    name = "python-tuf"

    def __init__(self, root: bytes, workdir: Path, config: UpdaterConfig | None = None) -> None:
        self.metadata_dir = workdir / "metadata"
        self.target_dir = workdir / "targets"
        self.metadata_dir.mkdir(parents=True)
        self.target_dir.mkdir(parents=True)
        (self.metadata_dir / "root.json").write_bytes(root)
        self.config = config or UpdaterConfig()
        self.last_fetcher: DictFetcher | None = None

    def updater(self, files: dict[str, bytes]) -> Updater:
        self.last_fetcher = DictFetcher(files)
        return Updater(
            str(self.metadata_dir),
            METADATA_URL,
            str(self.target_dir),
            TARGETS_URL,
            fetcher=self.last_fetcher,
            config=self.config,
            bootstrap=None,  # the trusted root.json written above or left by a previous step
        )

    def download(self, up: Any, info: Any, dest: Path) -> None:
        up.download_target(info, str(dest))

    def error(self, name: str) -> type[BaseException]:
        from tuf.api import exceptions, serialization

        # A malformed document is a serialization.DeserializationError (a RepositoryError).
        found: type[BaseException] = getattr(exceptions, name, None) or getattr(serialization, name)
        return found

    def step(self, files: dict[str, bytes], target: str | None) -> Outcome:
        return _with_trusted(self, _step(self, files, target))


class VerifierClient:
    """Our verifier (the device side of firmtuf)."""

    name = "verifier"

    def __init__(self, root: bytes, workdir: Path, config: Any = None) -> None:
        self.metadata_dir = workdir / "metadata"
        self.metadata_dir.mkdir(parents=True)
        (self.metadata_dir / "root.json").write_bytes(root)
        self.workdir = workdir
        self.config = config

    def updater(self, files: dict[str, bytes]) -> Any:
        import verifier

        config = self.config or same_limits_as_python_tuf()
        return verifier.Updater(
            self.metadata_dir,
            METADATA_URL,
            TARGETS_URL,
            fetcher=memory_fetcher(files),
            config=config,
        )

    def download(self, up: Any, info: Any, dest: Path) -> None:
        up.download(info, dest)

    def error(self, name: str) -> type[BaseException]:
        import verifier

        return getattr(verifier, name)

    def step(self, files: dict[str, bytes], target: str | None) -> Outcome:
        return _with_trusted(self, _step(self, files, target))


def _with_trusted(client: Client, out: Outcome) -> Outcome:
    stored = {p.name: p.read_bytes() for p in client.metadata_dir.glob("*.json")}
    return replace(out, trusted=stored)


def _step(client: Client, files: dict[str, bytes], target: str | None) -> Outcome:
    """A device boot: new Updater, refresh, look the target up, download it."""
    try:
        up = client.updater(files)
        up.refresh()
    except Exception as e:
        return Outcome(_name(e), error=e)
    if target is None:
        return Outcome("ok")
    try:
        info = up.get_targetinfo(target)
    except Exception as e:
        return Outcome("ok", _name(e), error=e)
    if info is None:
        return Outcome("ok", "none")
    found = info.hashes.get("sha256")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            client.download(up, info, Path(tmp) / "image")
    except Exception as e:
        return Outcome("ok", "found", _name(e), error=e, found=found)
    return Outcome("ok", "found", "ok", found=found)


def same_limits_as_python_tuf() -> Any:
    """Our Config with python-tuf's default length limits, so "too large" compares equal."""
    import verifier

    tuf = UpdaterConfig()
    return verifier.Config(
        root_max_length=tuf.root_max_length,
        timestamp_max_length=tuf.timestamp_max_length,
        snapshot_max_length=tuf.snapshot_max_length,
        targets_max_length=tuf.targets_max_length,
    )


def memory_fetcher(files: dict[str, bytes]) -> Any:
    """Our verifier's MemoryFetcher serving the same dict under the same URLs."""
    import verifier

    return verifier.MemoryFetcher({BASE_URL + path: data for path, data in files.items()})
