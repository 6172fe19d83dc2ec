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

import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signer._errors import InvalidInputError, PublishError, RepositoryLocationError
from signer._fsutil import StagedFile
from signer._store import split_versioned
from verifier import Config

# The device's search (verifier.Updater.get_targetinfo) visits top-level targets and then
# up to max_delegations delegated roles; a smaller bound here made `firmtuf bundle` miss a
# target the device finds at the end of a 32-deep chain.
_MAX_SEARCH = Config().max_delegations + 1


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


def _load(meta_dir: Path, name: str) -> dict[str, Any]:
    path = meta_dir / name
    try:
        signed = json.loads(path.read_bytes())["signed"]
    except FileNotFoundError as e:
        raise PublishError(f"{path} is missing from the published repository") from e
    except (ValueError, KeyError, TypeError) as e:
        raise PublishError(f"{path} is not TUF metadata") from e
    if not isinstance(signed, dict):
        raise PublishError(f"{path} is not TUF metadata")
    return signed


def _roles_for_target(delegations: dict[str, Any], target: str) -> list[tuple[str, bool]]:
    """Delegated roles trusted for ``target`` in order, as the TUF client computes them."""
    from tuf.api.metadata import Delegations

    try:
        parsed = Delegations.from_dict(json.loads(json.dumps(delegations)))
    except (ValueError, KeyError, TypeError) as e:
        raise PublishError(f"bad delegations in the published metadata: {e}") from e
    return list(parsed.get_roles_for_target(target))


class _Repo:
    def __init__(self, published: Path) -> None:
        self.meta = published / "metadata"
        self.targets_dir = published / "targets"
        if not (self.meta / "timestamp.json").is_file():
            raise RepositoryLocationError(
                f"{published} is not a published repository (no metadata/timestamp.json)"
            )
        ts = _load(self.meta, "timestamp.json")
        try:
            self.snapshot_version = int(ts["meta"]["snapshot.json"]["version"])
        except (KeyError, TypeError, ValueError) as e:
            raise PublishError("timestamp.json has no snapshot version") from e
        self.snapshot_name = f"{self.snapshot_version}.snapshot.json"
        self.snapshot = _load(self.meta, self.snapshot_name)
        self.loaded: dict[str, dict[str, Any]] = {}

    def role_file(self, role: str) -> str:
        try:
            version = int(self.snapshot["meta"][f"{role}.json"]["version"])
        except (KeyError, TypeError, ValueError) as e:
            raise PublishError(f"snapshot does not list role {role!r}") from e
        return f"{version}.{role}.json"

    def role(self, role: str) -> dict[str, Any]:
        if role not in self.loaded:
            self.loaded[role] = _load(self.meta, self.role_file(role))
        return self.loaded[role]

    def search(self, target: str) -> tuple[dict[str, Any], list[str]]:
        """Pre-order depth-first delegation search: (target info, roles visited)."""
        visited: list[str] = []
        stack = ["targets"]
        while stack and len(visited) < _MAX_SEARCH:
            role = stack.pop()
            if role in visited:
                continue
            signed = self.role(role)
            visited.append(role)
            info = signed.get("targets", {}).get(target)
            if isinstance(info, dict):
                return info, visited
            children: list[str] = []
            if isinstance(signed.get("delegations"), dict):
                for child, terminating in _roles_for_target(signed["delegations"], target):
                    children.append(child)
                    if terminating:
                        stack = []
                        break
            stack.extend(reversed(children))
        raise InvalidInputError(f"no target named {target!r} in the published repository")

    def all_roles(self) -> list[str]:
        return sorted(
            name.removesuffix(".json")
            for name in self.snapshot.get("meta", {})
            if name.removesuffix(".json") != "targets"
        )

    def newest_root(self) -> int:
        versions = [
            parsed[0]
            for p in self.meta.glob("*.root.json")
            if (parsed := split_versioned(p.name)) is not None and parsed[1] == "root"
        ]
        if not versions:
            raise PublishError(f"no N.root.json in {self.meta}")
        return max(versions)


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> None:
    info = tarfile.TarInfo(name)
    info.size = path.stat().st_size
    info.mode = 0o644
    info.mtime = 0
    with open(path, "rb") as f:
        tar.addfile(info, f)


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
        PublishError: unknown target, bad root version, incomplete repository.
    """
    if not target_names:
        raise InvalidInputError("choose at least one --target")
    repo = _Repo(published)
    newest_root = repo.newest_root()
    if not 1 <= from_root_version <= newest_root:
        raise InvalidInputError(
            f"--from-root-version must be between 1 and {newest_root} (the newest root)"
        )
    members: list[tuple[str, Path]] = []
    for version in range(from_root_version, newest_root + 1):
        members.append((f"metadata/{version}.root.json", repo.meta / f"{version}.root.json"))
    members.append(("metadata/timestamp.json", repo.meta / "timestamp.json"))
    members.append((f"metadata/{repo.snapshot_name}", repo.meta / repo.snapshot_name))

    roles: list[str] = []
    images: list[tuple[str, Path]] = []
    for name in dict.fromkeys(target_names):
        info, visited = repo.search(name)
        roles.extend(r for r in visited if r not in roles)
        try:
            digest = info["hashes"]["sha256"]
        except (KeyError, TypeError) as e:
            raise PublishError(f"target {name!r} has no sha256 hash") from e
        head, _, base = name.rpartition("/")
        key = f"targets/{head + '/' if head else ''}{digest}.{base}"
        images.append((key, published / key))
    if all_roles:
        roles.extend(r for r in ["targets", *repo.all_roles()] if r not in roles)
    for role in roles:
        file = repo.role_file(role)
        members.append((f"metadata/{file}", repo.meta / file))
    members.extend(images)

    for key, path in members:
        if not path.is_file() or path.is_symlink():
            raise PublishError(f"{key} is missing from the published repository")
    out = Path(out)
    try:
        with StagedFile(out.parent) as staged:
            with tarfile.open(fileobj=staged.file, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                for key, path in members:
                    _add_file(tar, key, path)
            staged.commit(out)
    except ValueError as e:
        raise PublishError(f"cannot write bundle: {e}") from e
    return BundleReport(
        path=str(out),
        members=[k for k, _ in members],
        targets=list(dict.fromkeys(target_names)),
        size=out.stat().st_size,
    )
