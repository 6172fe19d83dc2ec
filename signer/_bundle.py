"""Offline update bundles: one tar file with everything a device needs to update from a
USB stick (root chain, timestamp, snapshot, targets and the delegated roles searched on
the way to each chosen image, and the images themselves).

Format (read by ``verifier/_internal/bundle.py``; see docs/offline-updates.md): an
uncompressed POSIX ustar archive of regular files only, metadata members first::

    metadata/N.root.json ...      root chain from --from-root-version to the newest
    metadata/timestamp.json
    metadata/V.snapshot.json
    metadata/V.targets.json
    metadata/V.<delegated>.json   roles the TUF search visits for the chosen targets
    targets/<dir>/<sha256>.<name> the chosen images

Nothing in the bundle is trusted by position or name: the device verifies it exactly as
an online update, starting from the root it already trusts.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuf.api.metadata import Root, Snapshot, Timestamp

from signer._client import ClientRefusal, SearchResult, search_published
from signer._errors import (
    InvalidInputError,
    PublishError,
    RepositoryLocationError,
    VerificationError,
)
from signer._fsutil import StagedFile
from signer._tree import TIMESTAMP_KEY, PublishedTree, metadata_key, target_key, versioned
from verifier import TargetFile

_TOP_LEVEL = (Root.type, Timestamp.type, Snapshot.type)


@dataclass
class BundleReport:
    """What went into a bundle."""

    path: str
    members: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    size: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "members": self.members,
            "targets": self.targets,
            "size": self.size,
        }


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> None:
    info = tarfile.TarInfo(name)
    info.size = path.stat().st_size
    info.mode = 0o644
    info.mtime = 0
    with open(path, "rb") as f:
        tar.addfile(info, f)


def _root_versions(published: Path, from_root_version: int) -> range:
    """The root chain from ``from_root_version`` to the newest published root.

    Raises:
        RepositoryLocationError: ``published`` is not a published tree.
        InvalidInputError: ``from_root_version`` is not a published root version.
    """
    if not published.joinpath(*TIMESTAMP_KEY.split("/")).is_file():
        raise RepositoryLocationError(
            f"{published} is not a published repository (no {TIMESTAMP_KEY})"
        )
    roots = versioned(
        (p.relative_to(published).as_posix() for p in published.glob("metadata/*")), Root.type
    )
    if not roots:
        raise PublishError(f"no N.root.json in {published / 'metadata'}")
    if not 1 <= from_root_version <= roots[-1]:
        raise InvalidInputError(
            f"--from-root-version must be between 1 and {roots[-1]} (the newest root)"
        )
    return range(from_root_version, roots[-1] + 1)


def _device_search(published: Path, first_root: int, names: list[str]) -> SearchResult:
    """Search ``names`` as a device trusting root ``first_root`` does: every name found,
    with the version of every role trusted on the way (top-level roles first).

    The search is the verifier's own, so the bundle carries exactly the roles a device
    loads (the same depth bound, the same order, the same terminating rules).

    Raises:
        InvalidInputError: a name the device would not find.
        VerificationError: the published metadata does not verify as a device would.
    """
    root_path = published / metadata_key(Root.type, first_root)
    try:
        result = search_published(published, root_path.read_bytes(), names)
    except FileNotFoundError as e:
        raise PublishError(f"{root_path} is missing from the published repository") from e
    except ClientRefusal as e:
        raise VerificationError(
            f"{published} does not verify as a device would verify it ({e}): a device "
            "would refuse this bundle; nothing was written"
        ) from e
    for name, info in result.found.items():
        if info is None:
            raise InvalidInputError(f"no target named {name!r} in the published repository")
    return result


def build_bundle(
    published: Path,
    out: Path,
    target_names: list[str],
    *,
    from_root_version: int = 1,
    all_roles: bool = False,
) -> BundleReport:
    """Write an offline update bundle for ``target_names`` from a published repository.

    Args:
        published: a directory written by ``firmtuf publish``.
        out: the tar file to write (atomically: it appears complete or not at all).
        target_names: the targets to ship (at least one).
        from_root_version: the oldest root version devices in the field trust; the
            bundle carries root versions from it to the newest.
        all_roles: ship every delegated role, not only those searched for the chosen
            targets (for devices that call ``Updater.check()`` on delegated repositories).

    Raises:
        InvalidInputError: no or unknown target, bad root version.
        RepositoryLocationError: ``published`` is not a published tree.
        VerificationError: the published metadata does not verify from root
            ``from_root_version`` as a device would verify it.
        PublishError: a file the bundle needs is missing.
    """
    if not target_names:
        raise InvalidInputError("choose at least one --target")
    names = list(dict.fromkeys(target_names))
    published = Path(published)
    roots = _root_versions(published, from_root_version)
    search = _device_search(published, from_root_version, names)
    versions = search.versions
    roles = {role: v for role, v in versions.items() if role not in _TOP_LEVEL}
    if all_roles:
        tree = PublishedTree.directory(published)
        for role, version in tree.role_versions(versions[Snapshot.type]).items():
            roles.setdefault(role, version)
    members = [metadata_key(Root.type, v) for v in roots]
    members += [TIMESTAMP_KEY, metadata_key(Snapshot.type, versions[Snapshot.type])]
    members += [metadata_key(role, version) for role, version in roles.items()]
    members += [_image_key(name, search.found[name]) for name in names]
    _write_bundle(published, Path(out), members)
    return BundleReport(
        path=str(out), members=members, targets=names, size=Path(out).stat().st_size
    )


def _image_key(name: str, info: TargetFile | None) -> str:
    digest = None if info is None else info.hashes.get("sha256")
    if digest is None:
        raise PublishError(f"target {name!r} has no sha256 hash")
    return target_key(name, digest)


def _write_bundle(published: Path, out: Path, members: list[str]) -> None:
    """Write ``members`` (keys of the published tree) as a ustar archive, atomically.

    Raises:
        PublishError: a member is missing (or not a regular file), or the write failed.
    """
    paths = [(key, published.joinpath(*key.split("/"))) for key in members]
    for key, path in paths:
        if not path.is_file() or path.is_symlink():
            raise PublishError(f"{key} is missing from the published repository")
    try:
        with StagedFile(out.parent) as staged:
            with tarfile.open(fileobj=staged.file, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                for key, path in paths:
                    _add_file(tar, key, path)
            staged.commit(out)
    except ValueError as e:
        raise PublishError(f"cannot write bundle: {e}") from e
