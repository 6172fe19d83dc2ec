"""Publishing a repository tree to a store (a local directory or S3) in a client-safe order.

A published tree is ``metadata/`` (consistent-snapshot metadata: ``N.root.json``,
``root.json``, ``timestamp.json``, ``N.snapshot.json``, ``N.targets.json``,
``N.<delegated>.json``) plus ``targets/`` (hash-prefixed, content-addressed images).

Devices follow references: timestamp -> snapshot -> targets -> delegated roles -> images.
Uploading in the reverse order (images, delegated roles, targets, snapshot, root chain,
then ``timestamp.json`` last) means a device that reads the store at any instant of a
publish sees either the previous state or the new one, never a reference to a file that
is not there yet. Versioned metadata that devices may already have seen is immutable:
a publish that would overwrite it with other bytes is refused before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from signer._errors import (
    InvalidInputError,
    PublishConflictError,
    PublishError,
    RepositoryLocationError,
)
from signer._exclusive import create_exclusive
from signer._fsutil import atomic_copy

_VERSIONED_RE = re.compile(r"^([1-9][0-9]{0,18})\.(.+)\.json$")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteObject:
    """What a store listing says about one object."""

    size: int
    etag: str | None = None


@dataclass(frozen=True)
class LocalFile:
    """A file of the tree to publish, with the digests used to skip unchanged objects."""

    key: str
    path: Path
    size: int
    sha256: str
    md5: str


class Store(Protocol):
    """Where a published tree lives. Keys are POSIX paths relative to the tree root."""

    url: str

    def listing(self) -> dict[str, RemoteObject]:
        """Return every object of the tree (metadata/ and targets/) with its size."""

    def is_same(self, local: LocalFile, remote: RemoteObject) -> bool:
        """Return True when the stored object already has the bytes of ``local``."""

    def read(self, key: str) -> bytes | None:
        """Return the bytes of ``key``, or None when it does not exist."""

    def put(
        self, local: LocalFile, *, if_absent: bool = False, if_match: str | None = None
    ) -> None:
        """Store ``local`` under its key; the object appears whole or not at all.

        Conditional writes (what keeps two publishers from replacing each other's files):
        ``if_absent`` only creates (S3 ``If-None-Match: *``), ``if_match`` only replaces
        the object whose ETag (for a directory: SHA-256) the listing gave.

        Raises:
            PreconditionFailedError: the condition does not hold (another writer).
        """

    def stream(self, key: str) -> Iterator[bytes] | None:
        """Yield the bytes of ``key`` in chunks, or return None when it does not exist."""

    def delete(self, keys: list[str]) -> None:
        """Delete ``keys`` (absent keys are ignored)."""


class PreconditionFailedError(Exception):
    """A conditional put found the object created or changed by another writer."""


MUTABLE_KEYS = ("metadata/timestamp.json", "metadata/root.json")
"""The only objects a publish replaces; everything else is created once."""


@dataclass
class SyncReport:
    """What a publish did: keys uploaded (in upload order) and keys left as they were."""

    url: str
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "uploaded": self.uploaded, "skipped": self.skipped}


@dataclass
class PruneReport:
    """What a prune did (or would do with ``dry_run``)."""

    url: str
    deleted: list[str] = field(default_factory=list)
    kept_metadata: list[str] = field(default_factory=list)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "deleted": self.deleted,
            "kept_metadata": self.kept_metadata,
            "dry_run": self.dry_run,
        }


def split_versioned(name: str) -> tuple[int, str] | None:
    """``"3.snapshot.json"`` -> ``(3, "snapshot")``; None for unversioned names."""
    m = _VERSIONED_RE.match(name)
    if m is None:
        return None
    return int(m.group(1)), m.group(2)


def _upload_rank(key: str) -> tuple[int, int, str]:
    """Sort key for the safe upload order (see module docstring)."""
    if key.startswith("targets/"):
        return (0, 0, key)
    name = key.removeprefix("metadata/")
    if name == "timestamp.json":
        return (6, 0, key)
    if name == "root.json":
        return (5, 0, key)
    parsed = split_versioned(name)
    if parsed is None:
        return (1, 0, key)
    version, role = parsed
    if role == "root":
        return (4, version, key)
    if role == "snapshot":
        return (3, version, key)
    if role == "targets":
        return (2, version, key)
    return (1, version, key)


def upload_order(keys: Iterable[str]) -> list[str]:
    """Return ``keys`` in the order that keeps devices safe at every instant."""
    return sorted(keys, key=_upload_rank)


def _digest_file(path: Path) -> tuple[str, str]:
    sha = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def _read_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            yield chunk


def scan_tree(root: Path) -> dict[str, LocalFile]:
    """Collect the files of a published tree (``metadata/`` and ``targets/``).

    Raises:
        PublishError: the directory is not a published tree, or holds symlinks.
    """
    if not (root / "metadata" / "timestamp.json").is_file():
        raise RepositoryLocationError(
            f"{root} is not a published repository (no metadata/timestamp.json)"
        )
    files: dict[str, LocalFile] = {}
    for top in ("metadata", "targets"):
        base = root / top
        if not base.exists():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_symlink():
                raise PublishError(f"refusing to publish a symlink: {path}")
            if not path.is_file():
                continue
            key = path.relative_to(root).as_posix()
            sha, md5 = _digest_file(path)
            files[key] = LocalFile(key, path, path.stat().st_size, sha, md5)
    return files


def _parse_json(data: bytes, key: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
        signed = doc["signed"]
    except (ValueError, KeyError, TypeError) as e:
        raise PublishError(f"{key} in the store is not TUF metadata") from e
    if not isinstance(signed, dict):
        raise PublishError(f"{key} in the store is not TUF metadata")
    return signed


def _live_versions(store: Store, remote: dict[str, RemoteObject]) -> dict[str, int]:
    """Role versions devices may be using now: what the stored timestamp references."""
    live: dict[str, int] = {}
    data = store.read("metadata/timestamp.json") if "metadata/timestamp.json" in remote else None
    if data is None:
        return live
    ts = _parse_json(data, "metadata/timestamp.json")
    try:
        snap_version = ts["meta"]["snapshot.json"]["version"]
    except (KeyError, TypeError) as e:
        raise PublishError("metadata/timestamp.json in the store has no snapshot version") from e
    if not isinstance(snap_version, int):
        raise PublishError("metadata/timestamp.json in the store has no snapshot version")
    live["snapshot"] = snap_version
    snap_key = f"metadata/{snap_version}.snapshot.json"
    snap_data = store.read(snap_key) if snap_key in remote else None
    if snap_data is None:
        return live
    for name, info in _parse_json(snap_data, snap_key).get("meta", {}).items():
        if isinstance(info, dict) and isinstance(info.get("version"), int):
            live[str(name).removesuffix(".json")] = info["version"]
    return live


def sync_tree(
    source: Path,
    store: Store,
    *,
    on_upload: Callable[[LocalFile], None] | None = None,
) -> SyncReport:
    """Upload a published tree to ``store`` in the safe order, skipping unchanged objects.

    Never deletes anything (see :func:`prune`).

    Args:
        source: a directory written by ``firmtuf publish`` (``metadata/`` + ``targets/``).
        store: the destination.
        on_upload: called before each upload (progress reporting).

    Returns:
        The keys uploaded, in upload order, and the keys skipped as unchanged.

    Raises:
        PublishError: the tree is not publishable, it would change versioned metadata that
            devices may already hold, or the store failed (earlier uploads stay; they are
            not referenced until ``timestamp.json`` is written).
    """
    local = scan_tree(source)
    remote = store.listing()
    live = _live_versions(store, remote)
    report = SyncReport(url=store.url)
    todo: list[LocalFile] = []
    for key in upload_order(local):
        item = local[key]
        existing = remote.get(key)
        if existing is not None and store.is_same(item, existing):
            report.skipped.append(key)
            continue
        if existing is not None:
            _check_overwrite(key, live)
        todo.append(item)
    for item in todo:
        if on_upload is not None:
            on_upload(item)
        if _put_conditionally(store, item, remote.get(item.key)):
            report.uploaded.append(item.key)
        else:
            report.skipped.append(item.key)
    return report


def _put_conditionally(store: Store, item: LocalFile, listed: RemoteObject | None) -> bool:
    """Put ``item`` only over what the listing showed; False when another publisher put the
    same bytes meanwhile.

    Raises:
        PublishConflictError: another publisher created or changed the object meanwhile.
    """
    try:
        if listed is None:
            store.put(item, if_absent=True)
        else:
            store.put(item, if_match=listed.etag)
    except PreconditionFailedError:
        if item.key not in MUTABLE_KEYS and _stored_sha256(store, item.key) == item.sha256:
            return False
    else:
        return True
    raise PublishConflictError(
        f"{item.key} in {store.url} was written by another publisher while this publish "
        "ran; nothing of this publish is referenced (timestamp.json is written last). "
        "Bring this repository up to date with the one that published (git pull), then "
        "sign and publish again"
    )


def _stored_sha256(store: Store, key: str) -> str | None:
    chunks = store.stream(key)
    if chunks is None:
        return None
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def _check_overwrite(key: str, live: dict[str, int]) -> None:
    """Refuse to replace metadata that devices may already have verified."""
    if key.startswith("targets/"):
        # Content-addressed: the same name with other bytes is a broken or hostile store.
        raise PublishError(f"{key} exists in the store with other content; not replacing it")
    parsed = split_versioned(key.removeprefix("metadata/"))
    if parsed is None:
        return
    version, role = parsed
    if role == "root":
        # Devices fetch N.root.json as soon as it exists, referenced or not.
        raise PublishError(f"{key} was already published with other content (roots are immutable)")
    if version <= live.get(role, 0):
        raise PublishConflictError(
            f"{key} was already published with other content and devices may hold it "
            "(another publisher was first?); bring this repository up to date with the "
            "one that published (git pull), then sign a new version"
        )


def _target_keys(signed: dict[str, Any]) -> set[str]:
    keys: set[str] = set()
    targets = signed.get("targets", {})
    if not isinstance(targets, dict):
        return keys
    for name, info in targets.items():
        if not isinstance(info, dict) or not isinstance(info.get("hashes"), dict):
            continue
        head, _, base = str(name).rpartition("/")
        for digest in info["hashes"].values():
            keys.add(f"targets/{head + '/' if head else ''}{digest}.{base}")
    return keys


def prune(store: Store, keep: int, *, dry_run: bool = False) -> PruneReport:
    """Delete old metadata versions and the images only they referenced.

    Keeps, for snapshot and every targets role, the ``keep`` newest versions plus every
    version the live timestamp/snapshot (and each kept snapshot) references; keeps every
    image a kept targets-role version lists. Root versions, ``root.json`` and
    ``timestamp.json`` are never deleted: devices need the whole root chain.

    Args:
        store: the published repository.
        keep: how many versions of each role to keep (at least 1).
        dry_run: report what would be deleted without deleting.

    Raises:
        PublishError: ``keep`` < 1, nothing is published, or metadata that must be kept
            is missing or unreadable (nothing is deleted then).
    """
    if keep < 1:
        raise InvalidInputError("--keep must be at least 1")
    remote = store.listing()
    if "metadata/timestamp.json" not in remote:
        raise PublishError(f"nothing is published at {store.url} (no metadata/timestamp.json)")
    live = _live_versions(store, remote)

    versions: dict[str, list[int]] = {}
    for key in remote:
        if not key.startswith("metadata/"):
            continue
        parsed = split_versioned(key.removeprefix("metadata/"))
        if parsed is not None and parsed[1] not in ("root", "timestamp"):
            versions.setdefault(parsed[1], []).append(parsed[0])

    def newest(role: str) -> set[int]:
        return set(sorted(versions.get(role, []))[-keep:])

    kept: dict[str, set[int]] = {"snapshot": newest("snapshot") | {live["snapshot"]}}
    for snap_version in sorted(kept["snapshot"]):
        key = f"metadata/{snap_version}.snapshot.json"
        data = store.read(key)
        if data is None:
            raise PublishError(f"{key} is referenced but missing; not pruning")
        for name, info in _parse_json(data, key).get("meta", {}).items():
            if isinstance(info, dict) and isinstance(info.get("version"), int):
                kept.setdefault(str(name).removesuffix(".json"), set()).add(info["version"])
    for role in versions:
        if role != "snapshot":
            kept.setdefault(role, set()).update(newest(role))

    report = PruneReport(url=store.url, dry_run=dry_run)
    kept_targets: set[str] = set()
    for role, role_versions in sorted(kept.items()):
        for version in sorted(role_versions):
            key = f"metadata/{version}.{role}.json"
            report.kept_metadata.append(key)
            if role == "snapshot":
                continue
            data = store.read(key)
            if data is None:
                raise PublishError(f"{key} is referenced but missing; not pruning")
            kept_targets |= _target_keys(_parse_json(data, key))

    doomed_metadata = []
    for role, present in sorted(versions.items()):
        for version in sorted(present):
            if version not in kept.get(role, set()):
                doomed_metadata.append(f"metadata/{version}.{role}.json")
    doomed_targets = sorted(k for k in remote if k.startswith("targets/") and k not in kept_targets)
    # Metadata first: once it is gone nothing can point at the images deleted after it.
    report.deleted = doomed_metadata + doomed_targets
    if not dry_run and report.deleted:
        store.delete(doomed_metadata)
        store.delete(doomed_targets)
    return report


class LocalStore:
    """A published tree in a local directory (served by any static web server)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def listing(self) -> dict[str, RemoteObject]:
        out: dict[str, RemoteObject] = {}
        for top in ("metadata", "targets"):
            base = self.root / top
            if base.is_dir():
                for path in base.rglob("*"):
                    if path.is_file() and not path.is_symlink():
                        key = path.relative_to(self.root).as_posix()
                        # The ETag of a directory store is the SHA-256, for the small
                        # objects a publish replaces conditionally.
                        etag = _digest_file(path)[0] if key in MUTABLE_KEYS else None
                        out[key] = RemoteObject(path.stat().st_size, etag)
        return out

    def is_same(self, local: LocalFile, remote: RemoteObject) -> bool:
        return remote.size == local.size and _digest_file(self._path(local.key))[0] == local.sha256

    def read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def stream(self, key: str) -> Iterator[bytes] | None:
        path = self._path(key)
        if not path.is_file():
            return None
        return _read_chunks(path)

    def put(
        self, local: LocalFile, *, if_absent: bool = False, if_match: str | None = None
    ) -> None:
        dest = self._path(local.key)
        if if_absent:
            if not create_exclusive(dest, local.path):
                raise PreconditionFailedError(local.key)
            return
        if if_match is not None:
            current = _digest_file(dest)[0] if dest.is_file() else None
            if current != if_match:
                raise PreconditionFailedError(local.key)
        atomic_copy(local.path, dest, chunk_size=_CHUNK)

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)


def open_store(url: str, *, endpoint_url: str | None = None) -> Store:
    """Return the store for ``url``: ``s3://bucket/prefix`` or a local directory path."""
    if url.startswith("s3://"):
        from signer._s3 import S3Store  # boto3 only when S3 is used

        return S3Store.from_url(url, endpoint_url=endpoint_url)
    if "://" in url:
        raise InvalidInputError(
            f"unsupported destination {url!r} (use a directory or s3://bucket/prefix)"
        )
    return LocalStore(Path(url))
