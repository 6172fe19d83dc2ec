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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tuf.api.metadata import Root, Snapshot, Targets, Timestamp

from signer._errors import (
    InvalidInputError,
    PublishConflictError,
    PublishError,
    RepositoryLocationError,
)
from signer._exclusive import create_exclusive
from signer._fsutil import atomic_copy
from signer._tree import (
    METADATA,
    MUTABLE_KEYS,
    TARGETS,
    TIMESTAMP_KEY,
    PublishedTree,
    TreeKey,
    metadata_key,
)

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


def _upload_rank(key: str) -> tuple[int, int, str]:
    """Sort key for the safe upload order (see module docstring)."""
    parsed = TreeKey.parse(key)
    if parsed.is_target:
        return (0, 0, key)
    if parsed.version is None:
        return {Timestamp.type: 6, Root.type: 5}.get(parsed.role or "", 1), 0, key
    rank = {Root.type: 4, Snapshot.type: 3, Targets.type: 2}.get(parsed.role or "", 1)
    return (rank, parsed.version, key)


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
    if not root.joinpath(*TIMESTAMP_KEY.split("/")).is_file():
        raise RepositoryLocationError(f"{root} is not a published repository (no {TIMESTAMP_KEY})")
    files: dict[str, LocalFile] = {}
    for top in (METADATA, TARGETS):
        base = root / top.rstrip("/")
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
    listed_timestamp = store.read(TIMESTAMP_KEY) if TIMESTAMP_KEY in remote else None
    live = _tree(store, remote).live_versions()
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
        if item.key not in MUTABLE_KEYS and item.key in remote:
            _check_still_unreferenced(store, item.key, listed_timestamp)
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


def _check_still_unreferenced(store: Store, key: str, listed_timestamp: bytes | None) -> None:
    """Replace an unreferenced leftover only while ``timestamp.json`` is still the one
    listed: another publisher's timestamp may reference that very file by now (two
    clones sign the same version numbers), and replacing it would swap their release."""
    if store.read(TIMESTAMP_KEY) != listed_timestamp:
        raise PublishConflictError(
            f"{key} in {store.url} is referenced by a timestamp another publisher wrote while "
            "this publish ran; nothing of this publish is referenced. Bring this repository "
            "up to date with the one that published (git pull), then sign and publish again"
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
    parsed = TreeKey.parse(key)
    if parsed.is_target:
        # Content-addressed: the same name with other bytes is a broken or hostile store.
        raise PublishError(f"{key} exists in the store with other content; not replacing it")
    if parsed.role is None or parsed.version is None:
        return
    if parsed.role == Root.type:
        # Devices fetch N.root.json as soon as it exists, referenced or not.
        raise PublishError(f"{key} was already published with other content (roots are immutable)")
    if parsed.version <= live.get(parsed.role, 0):
        raise PublishConflictError(
            f"{key} was already published with other content and devices may hold it "
            "(another publisher was first?); bring this repository up to date with the "
            "one that published (git pull), then sign a new version"
        )


def _tree(store: Store, remote: Mapping[str, RemoteObject]) -> PublishedTree:
    """The store's tree as listed: an object the listing does not show is absent."""
    return PublishedTree(lambda key: store.read(key) if key in remote else None, store.url)


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
    tree = _tree(store, remote)
    live_snapshot = tree.snapshot_version()
    if live_snapshot is None:
        raise PublishError(f"nothing is published at {store.url} (no {TIMESTAMP_KEY})")
    present = _present_versions(remote)
    kept = _kept_versions(tree, present, keep, live_snapshot)
    report = PruneReport(url=store.url, dry_run=dry_run)
    kept_images: set[str] = set()
    for role, role_versions in sorted(kept.items()):
        for version in sorted(role_versions):
            report.kept_metadata.append(metadata_key(role, version))
            if role != Snapshot.type:
                kept_images |= tree.image_keys(role, version)
    doomed_metadata = [
        metadata_key(role, version)
        for role, versions in sorted(present.items())
        for version in versions
        if version not in kept.get(role, set())
    ]
    doomed_images = sorted(k for k in remote if TreeKey.parse(k).is_target and k not in kept_images)
    # Metadata first: once it is gone nothing can point at the images deleted after it.
    report.deleted = doomed_metadata + doomed_images
    if not dry_run and report.deleted:
        store.delete(doomed_metadata)
        store.delete(doomed_images)
    return report


def _present_versions(keys: Iterable[str]) -> dict[str, list[int]]:
    """Role -> stored versions (ascending) of every prunable role (not root, timestamp)."""
    present: dict[str, list[int]] = {}
    for parsed in sorted(map(TreeKey.parse, keys), key=lambda k: k.version or 0):
        if parsed.version is not None and parsed.role not in (None, Root.type, Timestamp.type):
            present.setdefault(parsed.role, []).append(parsed.version)
    return present


def _kept_versions(
    tree: PublishedTree, present: dict[str, list[int]], keep: int, live_snapshot: int
) -> dict[str, set[int]]:
    """Role -> versions to keep: the ``keep`` newest of each role, the live snapshot, and
    every version a kept snapshot references.

    Raises:
        PublishError: a kept snapshot is missing or unreadable.
    """
    kept = {Snapshot.type: {*present.get(Snapshot.type, [])[-keep:], live_snapshot}}
    for snapshot_version in sorted(kept[Snapshot.type]):
        for role, version in tree.role_versions(snapshot_version).items():
            kept.setdefault(role, set()).add(version)
    for role, versions in present.items():
        if role != Snapshot.type:
            kept.setdefault(role, set()).update(versions[-keep:])
    return kept


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
