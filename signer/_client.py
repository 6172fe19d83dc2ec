"""The device side as the signing tool exercises it: python-tuf's ngclient for now.

Everything that plays "a device" (``firmtuf verify``, the pre-publish check, the demo)
goes through this module, so switching to firmtuf's own verifier is a change here only.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib import parse

from tuf.api import exceptions as tuf_exceptions
from tuf.api.metadata import Root, TargetFile, Targets
from tuf.ngclient import Updater
from tuf.ngclient.fetcher import FetcherInterface

_CHUNK = 1 << 20
LOCAL_BASE_URL = "http://published.invalid/"
"""Base URL a :class:`DirectoryFetcher` answers for (never resolved: no network)."""


class ClientRefusal(Exception):
    """The client refused the repository or a target; the message says why."""


class DirectoryFetcher(FetcherInterface):
    """Serves a published tree from a directory, with optional in-memory overlay files.

    URLs are ``LOCAL_BASE_URL + <path in the tree>``; a missing file is an HTTP 404,
    as a web server would answer.
    """

    def __init__(
        self, root: Path | None, overlay: Mapping[str, bytes | Path] | None = None
    ) -> None:
        self.root = root
        self.overlay = dict(overlay or {})

    def _fetch(self, url: str) -> Iterator[bytes]:
        if not url.startswith(LOCAL_BASE_URL):
            raise tuf_exceptions.DownloadHTTPError(f"not served here: {url}", 404)
        rel = parse.unquote(url[len(LOCAL_BASE_URL) :])
        parts = PurePosixPath(rel).parts
        if not parts or any(p in ("..", ".", "/") for p in parts) or rel.startswith("/"):
            raise tuf_exceptions.DownloadHTTPError(f"bad path {rel!r}", 404)
        item = self.overlay.get(rel)
        if isinstance(item, bytes):
            return iter([item])
        path = item if isinstance(item, Path) else (self.root / rel if self.root else None)
        if path is None or not path.is_file():
            raise tuf_exceptions.DownloadHTTPError(f"{rel} not found", 404)
        return _read_chunks(path)


def _read_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            yield chunk


def _urls(source: str) -> tuple[str, str, FetcherInterface | None]:
    """(metadata URL, targets URL, fetcher) for a published tree's directory or base URL."""
    if source.startswith(("http://", "https://")):
        base = source if source.endswith("/") else source + "/"
        return base + "metadata/", base + "targets/", None
    return LOCAL_BASE_URL + "metadata/", LOCAL_BASE_URL + "targets/", DirectoryFetcher(Path(source))


@dataclass
class ClientReport:
    """What a full client check saw."""

    versions: dict[str, int] = field(default_factory=dict)
    targets: dict[str, int] = field(default_factory=dict)
    """Target name -> verified length."""

    def to_dict(self) -> dict[str, Any]:
        return {"versions": self.versions, "targets": self.targets}


def _describe(e: Exception) -> str:
    text = str(e) or type(e).__name__
    return f"{type(e).__name__}: {text}"


def check_repository(
    metadata_url: str,
    targets_url: str,
    trusted_root: bytes | None,
    *,
    fetcher: FetcherInterface | None = None,
    metadata_dir: Path | None = None,
    download: bool = True,
) -> ClientReport:
    """Run a client against a published repository: every role, every target.

    Starting from ``trusted_root`` (or the root cached in ``metadata_dir`` when None) the
    client updates root, timestamp, snapshot and targets, walks every delegation, looks
    every target up through the delegation search and downloads it, checking length and
    hashes.

    Raises:
        ClientRefusal: any check failed (message names the problem).
    """
    with tempfile.TemporaryDirectory(prefix="firmtuf-client-") as tmp:
        mdir = metadata_dir or Path(tmp, "metadata")
        mdir.mkdir(parents=True, exist_ok=True)
        try:
            updater = Updater(
                str(mdir),
                metadata_url,
                str(Path(tmp, "targets")),
                targets_url,
                fetcher=fetcher,
                bootstrap=trusted_root,
            )
            updater.refresh()
            report = ClientReport()
            trusted = updater._trusted_set
            report.versions = {
                "root": trusted.root.version,
                "timestamp": trusted.timestamp.version,
                "snapshot": trusted.snapshot.version,
            }
            for role, targets in _walk_roles(updater):
                report.versions[role] = targets.version
                for name, listed in targets.targets.items():
                    info = updater.get_targetinfo(name)
                    info = _check_found(name, role, info, listed)
                    if download:
                        updater.download_target(info, str(Path(tmp, "dl", "target")))
                    report.targets[name] = info.length
        except ClientRefusal:
            raise
        except (tuf_exceptions.RepositoryError, tuf_exceptions.DownloadError) as e:
            raise ClientRefusal(_describe(e)) from e
        except (OSError, ValueError) as e:
            raise ClientRefusal(_describe(e)) from e
    return report


def _check_found(name: str, role: str, found: TargetFile | None, listed: TargetFile) -> TargetFile:
    if found is None or found != listed:
        raise ClientRefusal(
            f"target {name!r} of role {role} is not what a client's delegation search finds"
        )
    return found


def _walk_roles(updater: Updater) -> Iterator[tuple[str, Targets]]:
    """Pre-order walk of the targets role and all its delegations (each once)."""
    seen: set[str] = set()
    stack = [(Targets.type, Root.type)]
    while stack:
        role, parent = stack.pop()
        if role in seen:
            continue
        seen.add(role)
        targets = updater._load_targets(role, parent)
        yield role, targets
        if targets.delegations and targets.delegations.roles:
            children = [(child, role) for child in targets.delegations.roles]
            stack.extend(reversed(children))
        elif targets.delegations and targets.delegations.succinct_roles:
            bins = targets.delegations.succinct_roles.get_roles()
            stack.extend(reversed([(child, role) for child in bins]))


def verify_published(source: str, trusted_root: bytes) -> ClientReport:
    """Check a published repository (directory or http(s) base URL) as a device would.

    Raises:
        ClientRefusal: the repository or one of its targets does not verify.
    """
    metadata_url, targets_url, fetcher = _urls(source)
    return check_repository(metadata_url, targets_url, trusted_root, fetcher=fetcher)


def device_update(
    metadata_url: str,
    targets_url: str,
    trusted_root: bytes,
    target_name: str,
    dest: Path,
) -> Path:
    """What a device does for one image: refresh, look up ``target_name``, download it.

    Raises:
        ClientRefusal: refused (unsigned, expired, tampered, missing, ...).
    """
    with tempfile.TemporaryDirectory(prefix="firmtuf-device-") as tmp:
        try:
            updater = Updater(
                str(Path(tmp)), metadata_url, None, targets_url, bootstrap=trusted_root
            )
            updater.refresh()
            info = updater.get_targetinfo(target_name)
            if info is not None:
                dest.parent.mkdir(parents=True, exist_ok=True)
                updater.download_target(info, str(dest))
        except (tuf_exceptions.RepositoryError, tuf_exceptions.DownloadError) as e:
            raise ClientRefusal(_describe(e)) from e
    if info is None:
        raise ClientRefusal(f"no target {target_name!r} in the repository")
    return dest
