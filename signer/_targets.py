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
from signer._delegations import (
    check_hardware_ids_admitted,
    delegation_path,
    hash_bins,
    route_target,
    search_order,
)
from signer._errors import ConflictError, InvalidInputError, MetadataError
from signer._firmware import (
    FirmwareFields,
    validate_target_name,
)
from signer._fsutil import StagedFile, atomic_write
from signer._repository import FirmwareRepository
from signer._sbom import (
    SbomDocument,
    orphaned_sbom,
    read_sbom,
    refuse_removal,
    sbom_target_name,
)

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
    """The targets role that holds (or would hold) target ``name`` (see route_target)."""
    return route_target(repo, name, role)


def _existing_targets(
    repo: FirmwareRepository, names: Sequence[str], bins: set[str]
) -> dict[str, tuple[str, TargetFile]]:
    """Targets that may clash with ``names``: every role but the bins, plus the bins that
    a client searches for ``names`` (one per name), so no other bin is read."""
    roles = [r for r in repo.targets_roles() if r not in bins]
    for target_name in names:
        roles.extend(r for r in search_order(repo, target_name) if r not in roles)
    existing: dict[str, tuple[str, TargetFile]] = {}
    for role in roles:
        for n, info in repo.metadata(role).signed.targets.items():
            existing.setdefault(n, (role, info))
    return existing


def store_name(sha256: str, name: str) -> str:
    """File name of an image in the content store (and, hash-prefixed, when published)."""
    return f"{sha256}.{name.rpartition('/')[2]}"


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
) -> tuple[Path, int, dict[str, str], bool]:
    """Copy ``image`` into the store while hashing it. Returns (path, length, hashes, new)."""
    with StagedFile(store_dir) as staged, open(image, "rb") as fin:
        length, hashes = _copy_hashing(fin, staged.file, algorithms, progress)
        dest = store_dir / store_name(hashes["sha256"], basename)
        if dest.exists():
            return dest, length, hashes, False
        if stage is not None:
            stage("sync")
        staged.commit(dest)
    return dest, length, hashes, True


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

    ``progress`` is called with the bytes of each chunk copied; ``stage`` with the name of
    each slow step after the copy (see :data:`StageCallback`).

    Raises:
        InvalidInputError: missing image, bad name, fields or hash algorithm; ``role``
            unknown or not delegated the name; a delegation on the way to the role is
            bound to hardware ids that exclude one of ``fields.hardware_ids``; SBOM
            unreadable, too large, not JSON or not CycloneDX/SPDX.
        ConflictError: the name exists, or the version is not newer than an existing
            target for one of the hardware ids (unless ``allow_downgrade``).
    """
    fields.validate_new()
    algorithms = ["sha256"]
    for alg in hash_algorithms:
        if alg not in HASH_ALGORITHMS:
            raise InvalidInputError(f"unsupported hash {alg!r} (choose from sha256, sha512)")
        if alg not in algorithms:
            algorithms.append(alg)
    if not images:
        raise InvalidInputError("no image given")
    paths = [Path(p) for p in images]
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
    document: SbomDocument | None = None
    if sbom is not None:
        document = read_sbom(Path(sbom))
        sbom_target = sbom_target_name(
            Path(sbom), fields.hardware_ids[0], fields.version, sbom_name
        )
        if sbom_target in names:
            raise ConflictError(f"SBOM target {sbom_target!r} is also an image's name")
        fields = dataclasses.replace(fields, sbom=document.link(sbom_target, algorithms))
    elif sbom_name is not None:
        raise InvalidInputError("--sbom-name names the SBOM given with --sbom")
    every_name = names if fields.sbom is None else [*names, fields.sbom.target]

    bins = hash_bins(repo)
    existing = _existing_targets(repo, every_name, bins)
    for target_name in every_name:
        if target_name in existing:
            raise ConflictError(f"target {target_name!r} already exists (remove it first)")
    roles = {n: targets_role_for(repo, n, role) for n in every_name}
    for target_name in names:
        chain = delegation_path(repo, target_name, roles[target_name])
        check_hardware_ids_admitted(target_name, fields.hardware_ids, chain)
    newest = _latest.newest_in_bins(repo, bins) if bins else {}
    if not allow_downgrade:
        _check_newer(existing, fields)
        _latest.check_newer_in_bins(newest, fields)

    created: list[Path] = []
    added: list[AddedTarget] = []
    try:
        repo.targets_dir.mkdir(exist_ok=True)
        ingested = []
        for path, target_name in zip(paths, names, strict=True):
            try:
                stored, length, hashes, new = _ingest(
                    path,
                    repo.targets_dir,
                    target_name.rpartition("/")[2],
                    algorithms,
                    progress,
                    stage,
                )
            except OSError as e:
                raise InvalidInputError(f"cannot read image {path}: {e.strerror}") from None
            if new:
                created.append(stored)
            info = TargetFile(
                length, hashes, target_name, unrecognized_fields={"custom": fields.to_custom()}
            )
            ingested.append((info, "firmware"))
        if document is not None and fields.sbom is not None:
            info = document.target(fields.sbom.target, algorithms)
            if _store_bytes(repo, info, document.data):
                created.append(stored_image(repo, info.path, info))
            ingested.append((info, "sbom"))
        if stage is not None:
            stage("metadata")
        by_role: dict[str, list[tuple[TargetFile, str]]] = {}
        for item in ingested:
            by_role.setdefault(roles[item[0].path], []).append(item)
        for role_name, items in by_role.items():
            with repo.edit_targets(role_name) as targets:
                for info, kind in items:
                    targets.targets[info.path] = info
                    added.append(AddedTarget(info.path, role_name, info.length, info.hashes, kind))
        repo.save()
        if bins:
            in_bins = {n: fields for n in names if roles[n] in bins}
            _latest.record_added(repo, bins, newest, in_bins)
    except BaseException:
        for stored in created:
            with contextlib.suppress(OSError):
                stored.unlink()
        raise
    return added


def _store_bytes(repo: FirmwareRepository, info: TargetFile, data: bytes) -> bool:
    """Put ``data`` (of target ``info``) in the content store; False when already there."""
    dest = stored_image(repo, info.path, info)
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
    bins = hash_bins(repo)
    found = [(role, info) for role, (n, info) in _found(repo, name, bins)]
    if not found:
        raise ConflictError(f"no target named {name!r}")
    role, info = found[0]
    refuse_removal(repo, name, info)
    with repo.edit_targets(role) as targets:
        del targets.targets[name]
    orphans = orphaned_sbom(repo, name, info)
    for orphan_role, orphan, _ in orphans:
        with repo.edit_targets(orphan_role) as targets:
            del targets.targets[orphan]
    repo.save()
    if role in bins:
        _latest.forget(repo)
    for _, orphan, orphan_info in [(role, name, info), *orphans]:
        _forget_stored(repo, bins, orphan, orphan_info)
    return [name, *(orphan for _, orphan, _ in orphans)]


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


def _found(
    repo: FirmwareRepository, name: str, bins: set[str]
) -> list[tuple[str, tuple[str, TargetFile]]]:
    """(role, (name, info)) of target ``name`` in the roles that may hold it."""
    roles = [r for r in repo.targets_roles() if r not in bins]
    roles.extend(r for r in search_order(repo, name) if r not in roles)
    found = []
    for role in roles:
        info = repo.metadata(role).signed.targets.get(name)
        if info is not None:
            found.append((role, (name, info)))
    return found


def stored_image(repo: FirmwareRepository, name: str, info: TargetFile) -> Path:
    """Path of target ``name``'s image in the content store."""
    sha = info.hashes.get("sha256")
    if sha is None:
        raise MetadataError(f"target {name!r} has no sha256 hash")
    return repo.targets_dir / store_name(sha, name)
