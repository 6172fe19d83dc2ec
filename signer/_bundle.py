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
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuf.api.metadata import Root, Snapshot

import verifier
from signer._client import LOCAL_BASE_URL, DirectoryFetcher
from signer._errors import (
    InvalidInputError,
    PublishError,
    RepositoryLocationError,
    VerificationError,
)
from signer._fsutil import staged_file
from signer._tree import TIMESTAMP_KEY, PublishedTree, metadata_key, target_key, versioned


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
    read = _read_as_device(published, from_root_version, names, now)
    versions = PublishedTree.directory(published).role_versions(read.snapshot_version)
    roles = read.searched
    if all_roles:
        roles += sorted(r for r in versions if r not in roles)
    members = [metadata_key(Root.type, v) for v in roots]
    members += [TIMESTAMP_KEY, metadata_key(Snapshot.type, read.snapshot_version)]
    members += [_role_key(role, versions) for role in roles]
    members += [_image_key(info) for info in read.chosen]
    _write_bundle(published, Path(out), members)
    size = Path(out).stat().st_size
    return BundleReport(str(out), members, names, size, read.warnings)


@dataclass
class _DeviceRead:
    chosen: list[verifier.TargetFile]
    searched: list[str]
    """Every role the device's searches for the chosen targets read, in order."""
    snapshot_version: int
    warnings: list[str]


def _read_as_device(
    published: Path, from_root_version: int, names: list[str], now: float | None
) -> _DeviceRead:
    with _device_view(published, from_root_version) as device:
        chosen = [_find(device, name) for name in names]
        searched = list(dict.fromkeys(r for name in names for r in device.roles_searched(name)))
        warnings = _expiry_warnings(device, time.time() if now is None else now)
        warnings += _newer_firmware_warnings(device, chosen)
        return _DeviceRead(chosen, searched, device.trusted_versions()[Snapshot.type], warnings)


def _find(device: verifier.Updater, name: str) -> verifier.TargetFile:
    info = device.get_targetinfo(name)
    if info is None:
        raise InvalidInputError(f"no target named {name!r} in the published repository")
    return info


def _role_key(role: str, versions: dict[str, int]) -> str:
    if role not in versions:
        raise PublishError(f"snapshot does not list role {role!r}")
    return metadata_key(role, versions[role])


def _image_key(info: verifier.TargetFile) -> str:
    # The file a device asks for (consistent snapshots: the first listed hash).
    return target_key(info.path, next(iter(info.hashes.values())))


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
        with staged_file(out) as staged:
            with tarfile.open(fileobj=staged, mode="w", format=tarfile.USTAR_FORMAT) as tar:  # type: ignore[call-overload]
                for key, path in paths:
                    _add_file(tar, key, path)
            staged.commit()
    except ValueError as e:
        raise PublishError(f"cannot write bundle: {e}") from e
