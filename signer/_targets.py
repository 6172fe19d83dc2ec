"""Firmware targets: the ADR 0001 fields, target names, and adding/removing images.

Images are copied into the repository's content store ``REPO/targets/<sha256>.<basename>``
while they are hashed (one read), so the stored bytes are exactly the hashed bytes. The
hashing runs in a second thread, overlapped with the copy (hashlib releases the GIL):
adding an image then takes about as long as hashing it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuf.api.metadata import TargetFile

from signer import _latest
from signer._delegations import check_hardware_ids_admitted
from signer._errors import ConflictError, InvalidInputError, WriteError
from signer._firmware import (
    FirmwareFields,
    validate_target_name,
)
from signer._fsutil import atomic_write, staged_file
from signer._repository import FirmwareRepository, RoleTarget, store_name
from signer._sbom import (
    SbomDocument,
    orphaned_sbom,
    read_sbom,
    refuse_removal,
    sbom_target_name,
)
from verifier import StorageError

HASH_ALGORITHMS = ("sha256", "sha512")
"""Hashes `firmtuf add` can write; sha256 is always written and always first."""

_CHUNK = 1 << 20

ProgressCallback = Callable[[int], None]
"""Called with the number of bytes just processed (for progress bars)."""

StageCallback = Callable[[str], None]
"""Called when add moves on to a slow step after the copy: ``"sync"`` (the stored images
are being flushed to disk) and ``"metadata"`` (the targets metadata is being updated)."""

_QUEUED_CHUNKS = 4
"""Chunks read ahead of the hashing thread (bounded: memory stays a few MiB)."""


def targets_role_for(repo: FirmwareRepository, name: str, role: str | None = None) -> str:
    """The targets role that holds (or would hold) target ``name`` (see
    :meth:`DelegationGraph.route <signer._graph.DelegationGraph.route>`)."""
    return repo.graph.route(name, role)


def _existing_targets(
    repo: FirmwareRepository, names: Sequence[str]
) -> dict[str, tuple[str, TargetFile]]:
    """Targets that may clash with ``names``: every role but the bins, plus the bin of
    each name, so no other bin is read."""
    roles: list[str] = []
    for target_name in names:
        roles.extend(r for r in repo.graph.holders(target_name) if r not in roles)
    existing: dict[str, tuple[str, TargetFile]] = {}
    for role in roles:
        for n, info in repo.metadata(role).signed.targets.items():
            existing.setdefault(n, (role, info))
    return existing


@dataclass(frozen=True)
class AddedTarget:
    """A target created by :func:`add_firmware`."""

    name: str
    role: str
    length: int
    hashes: dict[str, str]
    kind: str = "firmware"
    """``"firmware"``, or ``"sbom"`` for the release's SBOM target (ADR 0009)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "length": self.length,
            "hashes": self.hashes,
            "kind": self.kind,
        }


@dataclass(frozen=True)
class _Ingested:
    stored: Path
    length: int
    hashes: dict[str, str]
    new: bool
    """False when the store already held the image (nothing to remove on failure)."""


def _copy_hashing(
    fin: Any, fout: Any, algorithms: Sequence[str], progress: ProgressCallback | None
) -> tuple[int, dict[str, str]]:
    """Copy ``fin`` to ``fout`` while a second thread hashes the same chunks.

    Returns (length, hex digest per algorithm).
    """
    hashers = [hashlib.new(alg) for alg in algorithms]
    chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUED_CHUNKS)

    def hash_chunks() -> None:
        while (chunk := chunks.get()) is not None:
            for h in hashers:
                h.update(chunk)

    worker = threading.Thread(target=hash_chunks, name="firmtuf-hash", daemon=True)
    worker.start()
    length = 0
    try:
        while chunk := fin.read(_CHUNK):
            chunks.put(chunk)
            fout.write(chunk)
            length += len(chunk)
            if progress is not None:
                progress(len(chunk))
    finally:
        chunks.put(None)
        worker.join()
    return length, {alg: h.hexdigest() for alg, h in zip(algorithms, hashers, strict=True)}


def _ingest(
    image: Path,
    store_dir: Path,
    basename: str,
    algorithms: Sequence[str],
    progress: ProgressCallback | None,
    stage: StageCallback | None = None,
) -> _Ingested:
    """Copy ``image`` into the store while hashing it."""
    with staged_file(store_dir / basename) as staged, open(image, "rb") as fin:
        length, hashes = _copy_hashing(fin, staged, algorithms, progress)
        dest = store_dir / store_name(hashes["sha256"], basename)
        if dest.exists():
            return _Ingested(dest, length, hashes, new=False)
        if stage is not None:
            stage("sync")
        try:
            staged.commit(dest)
        except StorageError:
            # Maybe renamed, but not durably (the directory sync failed): take it back.
            with contextlib.suppress(OSError):
                dest.unlink(missing_ok=True)
            raise
    return _Ingested(dest, length, hashes, new=True)


def add_firmware(
    repo: FirmwareRepository,
    images: Sequence[Path | str],
    fields: FirmwareFields,
    *,
    name: str | None = None,
    hash_algorithms: Sequence[str] = ("sha256",),
    allow_downgrade: bool = False,
    progress: ProgressCallback | None = None,
    role: str | None = None,
    sbom: Path | str | None = None,
    sbom_name: str | None = None,
    stage: StageCallback | None = None,
) -> list[AddedTarget]:
    """Add firmware images as targets and save the repository.

    Each image becomes target ``<first hardware id>/<version>/<file name>`` (or ``name``
    for a single image) with its length, hashes and ``custom.firmtuf`` fields. The targets
    role becomes an unsigned draft: run :meth:`FirmwareRepository.sign` to sign it.

    With ``sbom`` (a CycloneDX or SPDX JSON file) the release's SBOM becomes a target of
    its own, ``sbom_name`` or ``<first hardware id>/<version>/<file name>``, linked by name,
    length and hashes from every image's fields (ADR 0009).

    The role is the one a client's delegation search for the name reaches first (the
    deepest matching delegation, or the name's hash bin), or ``role`` when given. In a
    repository of hash bins only the bins of the new names are read.

    ``progress`` gets each copied chunk's size, ``stage`` each slow step (StageCallback).

    Raises:
        InvalidInputError: missing image, bad name, fields or hash algorithm; ``role``
            unknown or not delegated the name; a delegation on the way to the role is
            bound to hardware ids that exclude one of ``fields.hardware_ids``; SBOM
            unreadable, too large, not JSON or not CycloneDX/SPDX.
        ConflictError: the name exists, or the version is not newer than an existing
            target for one of the hardware ids (unless ``allow_downgrade``).
    """
    fields.validate_new()
    algorithms = _algorithms(hash_algorithms)
    paths = [Path(p) for p in images]
    names = _image_names(paths, fields, name)
    document = None if sbom is None else read_sbom(Path(sbom))
    fields = _with_sbom_link(fields, document, sbom, sbom_name, names, algorithms)
    every_name = names if fields.sbom is None else [*names, fields.sbom.target]
    placement = _place(repo, names, every_name, fields, role, allow_downgrade)

    created: list[Path] = []
    try:
        ingested = _ingest_images(repo, paths, names, fields, algorithms, progress, stage, created)
        ingested += _ingest_sbom(repo, document, fields, algorithms, created)
        if stage is not None:
            stage("metadata")
        return _commit_added(repo, placement, ingested, names, fields)
    except BaseException:
        for stored in created:
            with contextlib.suppress(OSError):
                stored.unlink()
        raise


def _algorithms(hash_algorithms: Sequence[str]) -> list[str]:
    algorithms = ["sha256"]
    for alg in hash_algorithms:
        if alg not in HASH_ALGORITHMS:
            raise InvalidInputError(f"unsupported hash {alg!r} (choose from sha256, sha512)")
        if alg not in algorithms:
            algorithms.append(alg)
    return algorithms


def _image_names(paths: list[Path], fields: FirmwareFields, name: str | None) -> list[str]:
    """The target name of each image (checked: files exist, names valid and distinct)."""
    if not paths:
        raise InvalidInputError("no image given")
    if name is not None and len(paths) > 1:
        raise InvalidInputError("--name names one image; add images one by one to name them")
    names: list[str] = []
    for path in paths:
        if not path.is_file():
            what = "is not a file" if path.exists() else "does not exist"
            raise InvalidInputError(f"image {path} {what}")
        target_name = name or f"{fields.hardware_ids[0]}/{fields.version}/{path.name}"
        validate_target_name(target_name)
        if target_name in names:
            raise ConflictError(f"target {target_name!r} given twice")
        names.append(target_name)
    return names


def _with_sbom_link(
    fields: FirmwareFields,
    document: SbomDocument | None,
    sbom: Path | str | None,
    sbom_name: str | None,
    names: list[str],
    algorithms: list[str],
) -> FirmwareFields:
    """``fields`` linking the release's SBOM target (unchanged without ``sbom``)."""
    if document is None or sbom is None:
        if sbom_name is not None:
            raise InvalidInputError("--sbom-name names the SBOM given with --sbom")
        return fields
    sbom_target = sbom_target_name(Path(sbom), fields.hardware_ids[0], fields.version, sbom_name)
    if sbom_target in names:
        raise ConflictError(f"SBOM target {sbom_target!r} is also an image's name")
    return dataclasses.replace(fields, sbom=document.link(sbom_target, algorithms))


@dataclass
class _Placement:
    """Where each new target goes, checked against what the repository holds."""

    roles: dict[str, str]
    bins: set[str]
    newest: _latest.Newest


def _place(
    repo: FirmwareRepository,
    names: list[str],
    every_name: list[str],
    fields: FirmwareFields,
    role: str | None,
    allow_downgrade: bool,
) -> _Placement:
    """The role of each new target; refuses a taken name, a delegation that may not ship
    to the hardware ids, and (unless ``allow_downgrade``) a version that is not newer."""
    bins = repo.graph.bins()
    existing = _existing_targets(repo, every_name)
    for target_name in every_name:
        if target_name in existing:
            raise ConflictError(f"target {target_name!r} already exists (remove it first)")
    roles = {n: targets_role_for(repo, n, role) for n in every_name}
    for target_name in names:
        chain = repo.graph.path(target_name, roles[target_name])
        check_hardware_ids_admitted(target_name, fields.hardware_ids, chain)
    newest = _latest.newest_in_bins(repo, bins) if bins else {}
    if not allow_downgrade:
        _check_newer(existing, fields)
        _latest.check_newer_in_bins(newest, fields)
    return _Placement(roles, bins, newest)


def _ingest_images(
    repo: FirmwareRepository,
    paths: list[Path],
    names: list[str],
    fields: FirmwareFields,
    algorithms: list[str],
    progress: ProgressCallback | None,
    stage: StageCallback | None,
    created: list[Path],
) -> list[tuple[TargetFile, str]]:
    """Copy each image into the content store (new files appended to ``created``)."""
    repo.targets_dir.mkdir(exist_ok=True)
    ingested = []
    for path, target_name in zip(paths, names, strict=True):
        try:
            ingest = _ingest(
                path, repo.targets_dir, target_name.rpartition("/")[2], algorithms, progress, stage
            )
        except WriteError:
            raise  # the store, not the image (a WriteError is an OSError too)
        except OSError as e:
            raise InvalidInputError(f"cannot read image {path}: {e.strerror}") from None
        if ingest.new:
            created.append(ingest.stored)
        custom = {"custom": fields.to_custom()}
        info = TargetFile(ingest.length, ingest.hashes, target_name, unrecognized_fields=custom)
        ingested.append((info, "firmware"))
    return ingested


def _ingest_sbom(
    repo: FirmwareRepository,
    document: SbomDocument | None,
    fields: FirmwareFields,
    algorithms: list[str],
    created: list[Path],
) -> list[tuple[TargetFile, str]]:
    """Store the release's SBOM (a new file appended to ``created``); its target entry."""
    if document is None or fields.sbom is None:
        return []
    info = document.target(fields.sbom.target, algorithms)
    if _store_bytes(repo, info, document.data):
        created.append(repo.stored_image(info.path, info))
    return [(info, "sbom")]


def _commit_added(
    repo: FirmwareRepository,
    placement: _Placement,
    ingested: list[tuple[TargetFile, str]],
    names: list[str],
    fields: FirmwareFields,
) -> list[AddedTarget]:
    """List the ingested targets in their roles and save (newest-per-bin index too)."""
    by_role: dict[str, list[tuple[TargetFile, str]]] = {}
    for item in ingested:
        by_role.setdefault(placement.roles[item[0].path], []).append(item)
    added: list[AddedTarget] = []
    for role_name, items in by_role.items():
        with repo.edit_targets(role_name) as targets:
            for info, kind in items:
                targets.targets[info.path] = info
                added.append(AddedTarget(info.path, role_name, info.length, info.hashes, kind))
    repo.save()
    if placement.bins:
        in_bins = {n: fields for n in names if placement.roles[n] in placement.bins}
        _latest.record_added(repo, placement.bins, placement.newest, in_bins)
    return added


def _store_bytes(repo: FirmwareRepository, info: TargetFile, data: bytes) -> bool:
    """Put ``data`` (of target ``info``) in the content store; False when already there."""
    dest = repo.stored_image(info.path, info)
    if dest.exists():
        return False
    atomic_write(dest, data)
    return True


def _check_newer(existing: dict[str, tuple[str, TargetFile]], fields: FirmwareFields) -> None:
    new_version = fields.parsed_version
    for target_name, (_role, info) in sorted(existing.items()):
        other = FirmwareFields.from_target(target_name, info)
        if other is None:
            continue
        shared = [hw for hw in fields.hardware_ids if hw in other.hardware_ids]
        if shared and not new_version > other.parsed_version:
            raise ConflictError(
                f"version {fields.version} is not newer than {other.version} "
                f"({target_name}) for hardware id {shared[0]!r}; use --allow-downgrade to add it"
            )


def remove_target(repo: FirmwareRepository, name: str) -> list[str]:
    """Remove target ``name`` and save; its image leaves the store when nothing else uses it.

    A firmware's SBOM target goes with it when no other firmware links it. Returns the
    names removed (``name`` first).

    Raises:
        ConflictError: no target has that name; it is a support declaration (`firmtuf
            support remove` withdraws one) or an SBOM another firmware links.
    """
    bins = repo.graph.bins()
    found = _found(repo, name)
    if not found:
        raise ConflictError(f"no target named {name!r}")
    role, _, info = found[0]
    refuse_removal(repo, name, info)
    with repo.edit_targets(role) as targets:
        del targets.targets[name]
    orphans = orphaned_sbom(repo, name, info)
    for orphan in orphans:
        with repo.edit_targets(orphan.role) as targets:
            del targets.targets[orphan.name]
    repo.save()
    if role in bins:
        _latest.forget(repo)
    for gone in [RoleTarget(role, name, info), *orphans]:
        _forget_stored(repo, bins, gone.name, gone.info)
    return [name, *(orphan.name for orphan in orphans)]


def _forget_stored(repo: FirmwareRepository, bins: set[str], name: str, info: TargetFile) -> None:
    """Remove a removed target's stored file unless another target uses it."""
    sha = info.hashes.get("sha256")
    if sha is None:
        return
    stored = repo.targets_dir / store_name(sha, name)
    if bins:
        # Another bin may hold the same image under the same base name, and reading
        # every bin to free one store file is not worth it: the file stays (unpublished).
        return
    still_used = any(
        i.hashes.get("sha256") == sha and store_name(sha, n) == stored.name
        for _r, n, i in repo.iter_targets()
    )
    if not still_used:
        with contextlib.suppress(OSError):
            stored.unlink()


def _found(repo: FirmwareRepository, name: str) -> list[RoleTarget]:
    """Target ``name`` in each of the roles that may hold it."""
    found = []
    for role in repo.graph.holders(name):
        info = repo.metadata(role).signed.targets.get(name)
        if info is not None:
            found.append(RoleTarget(role, name, info))
    return found
