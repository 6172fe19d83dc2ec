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
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import verifier
from signer._client import LOCAL_BASE_URL, DirectoryFetcher
from signer._errors import (
    InvalidInputError,
    PublishError,
    RepositoryLocationError,
    VerificationError,
)
from signer._fsutil import StagedFile
from signer._store import split_versioned


@dataclass
class BundleReport:
    """What went into a bundle."""

    path: str
    members: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    size: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "members": self.members,
            "targets": self.targets,
            "size": self.size,
            "warnings": self.warnings,
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


class _Repo:
    """Where the files of a published tree are (the device view decides what is in it)."""

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

    def role_file(self, role: str) -> str:
        try:
            version = int(self.snapshot["meta"][f"{role}.json"]["version"])
        except (KeyError, TypeError, ValueError) as e:
            raise PublishError(f"snapshot does not list role {role!r}") from e
        return f"{version}.{role}.json"

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


@contextmanager
def _device_view(published: Path, root_version: int) -> Iterator[verifier.Updater]:
    """firmtuf's verifier over the published tree, trusting root ``root_version`` (what
    the oldest devices the bundle is for trust). Expiry is not judged here (a bundle may
    be made for a device whose clock is behind): :func:`_expiry_warnings` reports it."""
    try:
        root = (published / "metadata" / f"{root_version}.root.json").read_bytes()
    except OSError as e:
        raise PublishError(f"cannot read root version {root_version}: {e.strerror}") from e
    with tempfile.TemporaryDirectory(prefix="firmtuf-bundle-") as tmp:
        try:
            updater = verifier.Updater(
                tmp,
                LOCAL_BASE_URL + "metadata/",
                LOCAL_BASE_URL + "targets/",
                fetcher=DirectoryFetcher(published),
                bootstrap=root,
                clock=lambda: float("-inf"),
            )
            updater.refresh()
            yield updater
        except verifier.RepositoryError as e:
            raise VerificationError(
                f"the published repository does not verify from root version {root_version}: {e}"
            ) from e
        except verifier.DownloadError as e:
            raise PublishError(f"incomplete published repository: {e}") from e


def _image_member(info: verifier.TargetFile) -> str:
    # The file a device asks for (consistent snapshots: the first listed hash).
    digest = next(iter(info.hashes.values()))
    head, _, base = info.path.rpartition("/")
    return f"targets/{head + '/' if head else ''}{digest}.{base}"


def _expiry_warnings(device: verifier.Updater, now: float) -> list[str]:
    return [
        f"{role} expired on {time.strftime('%Y-%m-%d %H:%M', time.gmtime(when))} UTC: devices "
        "refuse this bundle (refresh and publish, then bundle again)"
        for role, when in device.trusted_expires().items()
        if when <= now
    ]


def _newer_firmware_warnings(
    device: verifier.Updater, chosen: list[verifier.TargetFile]
) -> list[str]:
    """For each hardware id the bundle ships to: the newer firmware the repository lists
    that a device's policy would pick if the bundle carried it."""
    newest: dict[str, tuple[Any, verifier.TargetFile]] = {}
    for info in chosen:
        try:
            fw = info.firmware
        except verifier.RepositoryError:
            continue  # malformed custom.firmtuf: no device installs it anyway
        for hardware_id in fw.hardware_ids if fw is not None else ():
            key = (fw.version, fw.security_counter)
            if hardware_id not in newest or key > newest[hardware_id][0]:
                newest[hardware_id] = (key, info)
    warnings = []
    for hardware_id, (key, bundled) in sorted(newest.items()):
        device.policy = verifier.DevicePolicy(hardware_id, "0")
        try:
            best = device.check()
        except verifier.VerifierError as e:
            warnings.append(f"could not look for firmware newer than {bundled.path}: {e}")
            continue
        fw = None if best is None else best.firmware
        if best is None or fw is None or (fw.version, fw.security_counter) <= key:
            continue
        warnings.append(
            f"the repository lists {best.path} ({fw.version}) for {hardware_id}, newer than "
            f"the bundle's {bundled.path} ({key[0]}): devices on this bundle install "
            f"{key[0]} (add --target {best.path} to ship the newest)"
        )
    return warnings


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
    now: float | None = None,
) -> BundleReport:
    """Write an offline update bundle for ``target_names`` from a published repository.

    The published metadata is verified with firmtuf's verifier from root version
    ``from_root_version``; the bundle carries, for each target, every role the device's
    delegation search reads (``Updater.roles_searched``), so a device's ``check()`` on
    the bundle (which considers only the images it carries) and ``download()`` find
    everything they need.

    Args:
        published: a directory written by ``firmtuf publish``.
        out: the tar file to write (atomically: it appears complete or not at all).
        target_names: the targets to ship (at least one).
        from_root_version: the oldest root version devices in the field trust; the
            bundle carries root versions from it to the newest.
        all_roles: also ship every other delegated role (for clients that read every
            role: python-tuf's, or firmtuf verifiers whose ``check()`` predates bundles
            choosing only among the images they carry).
        now: the time expiry warnings are judged at (default: now).

    Returns:
        The report, with ``warnings``: expired metadata, and firmware newer than the
        bundled one that the repository lists for the same hardware id.

    Raises:
        InvalidInputError: no target, unknown target, bad root version.
        VerificationError: the published metadata does not verify.
        PublishError: the published repository is incomplete.
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
    chosen: list[verifier.TargetFile] = []
    with _device_view(published, from_root_version) as device:
        for name in dict.fromkeys(target_names):
            info = device.get_targetinfo(name)
            if info is None:
                raise InvalidInputError(f"no target named {name!r} in the published repository")
            roles.extend(r for r in device.roles_searched(name) if r not in roles)
            key = _image_member(info)
            images.append((key, published / key))
            chosen.append(info)
        warnings = _expiry_warnings(device, time.time() if now is None else now)
        warnings += _newer_firmware_warnings(device, chosen)
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
        warnings=warnings,
    )
