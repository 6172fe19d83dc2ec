"""`firmtuf publish`: write the servable tree, checked first, in a client-safe order.

Published layout (what devices fetch, consistent snapshots)::

    OUT/metadata/1.root.json ... N.root.json, root.json     every root version
    OUT/metadata/N.targets.json, N.<delegated>.json          versioned targets metadata
    OUT/metadata/N.snapshot.json
    OUT/metadata/timestamp.json                              the only mutable entry point
    OUT/targets/<dir>/<hash>.<basename>                      images, one name per hash

Before anything is written the new tree is checked end to end by a client: one that
already trusts the previously published tree (so rollbacks are caught) and then updates
to the new one through an overlay of the new files. Files are then written in reference
order — images, delegated targets, targets, snapshot, root versions, ``timestamp.json``
last — each through a temp file and a rename, so a device reading OUT at any instant,
or after a crash midway, sees the previous repository or the new one. Versioned
metadata already published is never overwritten with other bytes.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuf.api.exceptions import LengthOrHashMismatchError
from tuf.api.metadata import Root, Snapshot, Targets, Timestamp

from signer._client import (
    LOCAL_BASE_URL,
    ClientRefusal,
    ClientReport,
    DirectoryFetcher,
    Source,
    check_repository,
)
from signer._errors import PublishConflictError, PublishError
from signer._exclusive import create_exclusive
from signer._fsutil import atomic_copy, atomic_write
from signer._lock import publish_lock
from signer._repository import FirmwareRepository
from signer._status import repository_status
from signer._tree import ROOT_KEY, TIMESTAMP_KEY, TreeKey, image_keys, metadata_key

_CHUNK = 1 << 20


@dataclass
class PublishReport:
    """What :func:`publish` wrote (in write order) and what was already there."""

    out_dir: str
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": self.out_dir,
            "written": self.written,
            "unchanged": self.unchanged,
            "versions": self.versions,
        }


def _check_publishable(repo: FirmwareRepository) -> None:
    status = repository_status(repo)
    for role in status.roles:
        if role.problems:
            hint = "; run 'firmtuf sign'" if role.under_signed else ""
            raise PublishError(f"cannot publish: {role.role} {role.problems[0]}{hint}")


def _same_file(path: Path, digest: str) -> bool:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest() == digest


@dataclass(frozen=True)
class TreeFile:
    """One file of the tree :func:`publish` writes.

    Attributes:
        key: where it goes in the tree (see :mod:`signer._tree`).
        content: its bytes, or the stored image file.
        immutable: versioned metadata: created once, never replaced.
    """

    key: str
    content: bytes | Path
    immutable: bool = False


def plan(repo: FirmwareRepository) -> list[TreeFile]:
    """The files of the published tree in write order (images, targets roles, snapshot,
    root chain, ``root.json``, ``timestamp.json``).

    Raises:
        PublishError: a role is not publishable or a stored image does not match.
    """
    _check_publishable(repo)
    files = _image_files(repo)
    targets_roles = repo.targets_roles()
    for role in [*reversed(targets_roles[1:]), Targets.type, Snapshot.type]:
        version = repo.metadata(role).signed.version
        data = repo.metadata_path(role).read_bytes()
        files.append(TreeFile(metadata_key(role, version), data, immutable=True))
    root_version = repo.metadata(Root.type).signed.version
    for version in range(1, root_version + 1):
        path = repo.root_history_path(version)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise PublishError(
                f"cannot publish: root version {version} is missing ({path})"
            ) from None
        files.append(TreeFile(metadata_key(Root.type, version), data, immutable=True))
    files.append(TreeFile(ROOT_KEY, repo.metadata_path(Root.type).read_bytes()))
    files.append(TreeFile(TIMESTAMP_KEY, repo.metadata_path(Timestamp.type).read_bytes()))
    return files


def _image_files(repo: FirmwareRepository) -> list[TreeFile]:
    """Every stored image under each of its keys, checked against its signed length and
    hashes first."""
    files: list[TreeFile] = []
    for role, name, info in repo.iter_targets():
        src = repo.stored_image(name, info)
        try:
            with open(src, "rb") as f:
                info.verify_length_and_hashes(f)
        except FileNotFoundError:
            raise PublishError(
                f"cannot publish: image of target {name!r} is missing from the store ({src.name})"
            ) from None
        except LengthOrHashMismatchError:
            raise PublishError(
                f"cannot publish: stored image of target {name!r} does not "
                f"match its {role} metadata"
            ) from None
        files.extend(TreeFile(key, src) for key in image_keys(name, info.hashes))
    return files


def _write(dest: Path, content: bytes | Path, *, exclusive: bool = False) -> None:
    """Write one file of the tree atomically (tests replace this to simulate a crash).

    ``exclusive`` files (versioned metadata, images) are created, never replaced: when
    another publisher created the same name meanwhile, the same bytes are fine and other
    bytes are a :class:`PublishConflictError`.
    """
    if exclusive:
        if not create_exclusive(dest, content) and not _same_content(dest, content):
            raise _conflict(dest)
        return
    if isinstance(content, bytes):
        atomic_write(dest, content)
    else:
        atomic_copy(content, dest)


def _same_content(dest: Path, content: bytes | Path) -> bool:
    if isinstance(content, bytes):
        return dest.read_bytes() == content
    # Store files are named <sha256>.<basename> and were verified by plan().
    return dest.stat().st_size == content.stat().st_size and _same_file(
        dest, content.name.partition(".")[0]
    )


def _conflict(dest: Path) -> PublishError:
    if dest.name.endswith(".root.json"):
        # Another root under a published root version: another repository entirely.
        return PublishError(
            f"cannot publish: {dest} already exists with other content "
            "(OUT_DIR holds another repository)"
        )
    return PublishConflictError(
        f"cannot publish: {dest} was published with other content by another publisher "
        "(or this version was published differently); nothing of this publish is "
        "referenced. Bring this repository up to date with the one that published "
        "(git pull), then sign and publish again"
    )


def publish(repo: FirmwareRepository, out_dir: Path | str) -> PublishReport:
    """Publish ``repo`` into ``out_dir`` (see module docstring).

    Raises:
        PublishError: a role is under-signed, expired or stale, an image is missing or
            altered, OUT_DIR holds other bytes under a published version, or the new tree
            does not verify for a client (including rollback against the published tree).
    """
    out = Path(out_dir)
    files = plan(repo)
    with publish_lock(out):
        return _publish_locked(repo, out, files)


def _publish_locked(repo: FirmwareRepository, out: Path, files: list[TreeFile]) -> PublishReport:
    report = PublishReport(str(out))
    todo: list[TreeFile] = []
    conflicts: list[Path] = []
    for file in files:
        dest = out / file.key
        if dest.is_file():
            if _same_content(dest, file.content):
                report.unchanged.append(file.key)
                continue
            if file.immutable:
                conflicts.append(dest)
        elif dest.exists():
            raise PublishError(f"cannot publish: {dest} exists and is not a file")
        todo.append(file)
    if conflicts:
        # A different root first: OUT_DIR holds another repository (not a race).
        raise _conflict(next((d for d in conflicts if d.name.endswith(".root.json")), conflicts[0]))
    _client_check(repo, out, files)
    for file in todo:
        # Images are content-addressed: created once, like versioned metadata.
        exclusive = file.immutable or TreeKey.parse(file.key).is_target
        try:
            _write(out / file.key, file.content, exclusive=exclusive)
        except OSError as e:
            raise PublishError(
                f"publish stopped writing {file.key}: {e.strerror or e}; devices still see "
                "the previously published tree; run publish again"
            ) from e
        report.written.append(file.key)
    for role in [Root.type, Timestamp.type, Snapshot.type, *repo.targets_roles()]:
        report.versions[role] = repo.metadata(role).signed.version
    return report


def _client_check(repo: FirmwareRepository, out: Path, files: list[TreeFile]) -> None:
    """Check the new tree as a client that already trusts the published one would."""
    files_by_name = {file.key: file.content for file in files}
    first_root = files_by_name[metadata_key(Root.type, 1)]
    if not isinstance(first_root, bytes):  # pragma: no cover - plan() reads roots as bytes
        raise PublishError("cannot publish: root version 1 is missing")
    metadata_url = LOCAL_BASE_URL + "metadata/"
    targets_url = LOCAL_BASE_URL + "targets/"
    with tempfile.TemporaryDirectory(prefix="firmtuf-publish-check-") as tmp:
        mdir = Path(tmp, "metadata")
        bootstrap: bytes | None = first_root
        if out.joinpath(*TIMESTAMP_KEY.split("/")).is_file():
            try:
                check_repository(
                    metadata_url,
                    targets_url,
                    first_root,
                    fetcher=DirectoryFetcher(out),
                    metadata_dir=mdir,
                    download=False,
                )
                bootstrap = None  # keep what the client now trusts
            except ClientRefusal:
                # The published tree does not verify (e.g. expired): nothing to roll
                # back from; check the new tree from the first root.
                pass
        try:
            check_repository(
                metadata_url,
                targets_url,
                bootstrap,
                fetcher=DirectoryFetcher(out, files_by_name),
                metadata_dir=mdir if bootstrap is None else Path(tmp, "fresh"),
            )
        except ClientRefusal as e:
            raise PublishError(f"cannot publish: the new tree does not verify: {e}") from e


def working_source(repo: FirmwareRepository) -> Source:
    """The tree :func:`publish` would write for ``repo``, served from memory and the store.

    Raises:
        PublishError: the repository is not publishable.
    """
    overlay = {file.key: file.content for file in plan(repo)}
    return Source(
        LOCAL_BASE_URL + "metadata/", LOCAL_BASE_URL + "targets/", DirectoryFetcher(None, overlay)
    )


def verify_working_repository(
    repo: FirmwareRepository, trusted_root: bytes, *, download: bool = True
) -> ClientReport:
    """Check what :func:`publish` would write for ``repo``, as a client trusting ``trusted_root``.

    Raises:
        PublishError: the repository is not publishable.
        ClientRefusal: the tree it would publish does not verify from ``trusted_root``.
    """
    where = working_source(repo)
    return check_repository(
        where.metadata_url,
        where.targets_url,
        trusted_root,
        fetcher=where.fetcher,
        download=download,
    )
