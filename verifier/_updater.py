"""The Updater: network and disk around the trusted metadata set (TUF 1.0.x section 5)."""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

from verifier._config import STATE_DIR, STATE_FILE, Config, DevicePolicy, read_device_state
from verifier._errors import (
    DownloadError,
    DownloadHTTPError,
    EqualVersionNumberError,
    LengthOrHashMismatchError,
    PolicyError,
    RepositoryError,
    StorageError,
)
from verifier._fetcher import Fetcher, HttpFetcher
from verifier._internal import storage
from verifier._internal.firmware import FirmwareInfo, check_target_name
from verifier._internal.hashing import new_hasher
from verifier._internal.metadata import Root, TargetFile, Targets
from verifier._internal.trusted_set import TrustedMetadataSet

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from collections.abc import Callable, Iterator
    from typing import Any

    from verifier._bundle import BundleUpdater
    from verifier._internal.bundle import BundleLimits


def _log(msg: str, *args: object) -> None:
    # logging is imported only when there is something to say: it is slow to import.
    import logging

    logging.getLogger(__name__).info(msg, *args)


def role_filename(role: str) -> str:
    """The file name of a role's metadata in metadata_dir (role names are url-quoted)."""
    return f"{_quote(role)}.json"


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


class Updater:
    """Securely refresh TUF metadata, pick firmware and download it.

    Args:
        metadata_dir: directory holding the trusted ``root.json`` and trusted metadata.
        metadata_base_url: base URL of the repository metadata, e.g.
            ``"http://127.0.0.1:8000/metadata/"``.
        target_base_url: base URL of target files (needed by ``download``).
        fetcher: how bytes are fetched (default ``HttpFetcher`` built from ``config``).
        config: limits (default ``Config()``).
        policy: the device (needed by ``check``; when set, ``download`` enforces it).
        bootstrap: bytes of the root.json the device ships; stored when metadata_dir has
            no trusted root yet, and used again if the stored root is ever unusable (it
            must be signed by its own keys).

    Raises:
        RepositoryError: ``bootstrap`` is not a valid self-signed root.
        StorageError: metadata_dir cannot be created.
    """

    def __init__(
        self,
        metadata_dir: str | os.PathLike[str],
        metadata_base_url: str,
        target_base_url: str | None = None,
        *,
        fetcher: Fetcher | None = None,
        config: Config | None = None,
        policy: DevicePolicy | None = None,
        bootstrap: bytes | None = None,
    ) -> None:
        self._dir = Path(metadata_dir)
        self._metadata_url = _with_slash(metadata_base_url)
        self._target_url = None if target_base_url is None else _with_slash(target_base_url)
        self.config = config or Config()
        self._fetcher = fetcher or HttpFetcher(
            connect_timeout=self.config.connect_timeout,
            read_timeout=self.config.read_timeout,
            min_speed=self.config.min_speed,
            grace_period=self.config.slow_grace_period,
            chunk_size=self.config.chunk_size,
        )
        self.policy = policy
        # The clock read once per refresh (replaceable for conformance tests that fake time).
        self._clock = time.time
        self._trusted: TrustedMetadataSet | None = None
        self._pending_dir_sync = False
        self._bootstrap = bootstrap
        if bootstrap is not None:
            TrustedMetadataSet(bootstrap, time.time())  # self-signed, parseable
        if bootstrap is not None and not (self._dir / "root.json").exists():
            try:
                self._dir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StorageError(f"cannot create {self._dir}: {e}") from e
            storage.atomic_write(self._dir / "root.json", bootstrap)

    # -- refresh ------------------------------------------------------------------

    def refresh(self) -> None:
        """Run the TUF client workflow for the top-level roles.

        Reads the clock once; the whole refresh is judged at that time.

        Raises:
            RepositoryError: metadata failed a check (trusted state unchanged for it).
            DownloadError: the transport failed.
            StorageError: trusted metadata cannot be read or written.
        """
        self._trusted = None
        now = self._clock()
        root_data = self._read_local("root.json", self.config.root_max_length)
        trusted: TrustedMetadataSet | None = None
        if root_data is not None:
            try:
                trusted = TrustedMetadataSet(root_data, now)
            except RepositoryError:
                if self._bootstrap is None:
                    raise
                # A damaged stored root: start again from the shipped one (and walk the
                # rotation chain from there), never from nothing.
                _log("stored root.json unusable, starting from the bootstrap root")
        # Files written during refresh get one directory fsync at the end (see storage).
        self._pending_dir_sync = False
        try:
            if trusted is None:
                if self._bootstrap is None:
                    raise StorageError(f"no trusted root.json in {self._dir}")
                trusted = TrustedMetadataSet(self._bootstrap, now)
                self._persist("root.json", self._bootstrap)
            self._update_root(trusted)
            self._update_timestamp(trusted)
            self._update_snapshot(trusted)
            self._load_targets(trusted, "targets", "root")
        finally:
            if self._pending_dir_sync:
                self._pending_dir_sync = False
                storage.fsync_dir(self._dir)
        self._trusted = trusted

    # -- offline bundles (verifier/_bundle.py) --------------------------------------

    @classmethod
    def from_bundle(
        cls,
        bundle_path: str | os.PathLike[str],
        metadata_dir: str | os.PathLike[str],
        *,
        config: Config | None = None,
        policy: DevicePolicy | None = None,
        bootstrap: bytes | None = None,
        limits: BundleLimits | None = None,
        clock: Callable[[], float] | None = None,
        unsafe_ignore_expiry: bool = False,
    ) -> BundleUpdater:
        """An Updater reading an offline bundle (``firmtuf bundle``) with the same checks.

        Expiry is judged at ``max(clock(), time floor)``; the floor (the newest time the
        device has seen, ``time_floor.json`` in ``metadata_dir``) rises after each
        successful refresh. See docs/offline-updates.md.

        Args:
            bundle_path: the bundle file (streamed, never extracted).
            metadata_dir: the device's trusted metadata, as for ``Updater``.
            config: limits, as for ``Updater``.
            policy: the device, as for ``Updater``.
            bootstrap: the shipped root.json, as for ``Updater``.
            limits: bounds on the bundle's members (``BundleLimits``).
            clock: seconds since the epoch (default ``time.time``).
            unsafe_ignore_expiry: skip every expiry check for this bundle (devices with
                no clock at all); signatures, versions, hashes and policy still apply,
                and the time floor is not advanced.

        Returns:
            A ``BundleUpdater`` (an ``Updater``; close it, or use it in a ``with``).

        Raises:
            RepositoryError: the bundle is malformed (``BundleError``: truncated, links,
                path traversal, extra or oversize members, ...).
        """
        from verifier._bundle import BundleUpdater

        return BundleUpdater(
            bundle_path,
            metadata_dir,
            config=config,
            policy=policy,
            bootstrap=bootstrap,
            limits=limits,
            clock=clock or time.time,
            unsafe_ignore_expiry=unsafe_ignore_expiry,
        )

    def _update_root(self, trusted: TrustedMetadataSet) -> None:
        first = trusted.root
        lower = first.version + 1
        accepted: bytes | None = None
        try:
            for version in range(lower, lower + self.config.max_root_rotations):
                try:
                    data = self._fetch(f"{version}.root.json", self.config.root_max_length)
                except DownloadHTTPError as e:
                    if e.status_code in (403, 404):
                        break
                    raise
                trusted.update_root(data)
                accepted = data
        finally:
            # Only the newest accepted root is written (also when a later one fails):
            # the stored root is the same as with one write per rotation, in one write.
            if accepted is not None:
                self._persist("root.json", accepted)
        final = trusted.root
        if final is not first and any(
            _role_keys(first, r) != _role_keys(final, r) for r in ("timestamp", "snapshot")
        ):
            # Spec 5.3.11: keys rotated, so forget what the old keys signed (fast-forward
            # attack recovery: a rolled-forward timestamp must not block the new one).
            storage.remove_file(self._dir / "timestamp.json")
            storage.remove_file(self._dir / "snapshot.json")
            self._pending_dir_sync = True
        trusted.check_root_expiry()

    def _update_timestamp(self, trusted: TrustedMetadataSet) -> None:
        local = self._read_local("timestamp.json", self.config.timestamp_max_length)
        if local is not None:
            try:
                trusted.update_timestamp(local)
            except RepositoryError as e:
                _log("local timestamp not usable: %s", e)
        data = self._fetch("timestamp.json", self.config.timestamp_max_length)
        if trusted.timestamp is not None and data == local:
            # Byte-identical to the stored copy just verified against the same root at
            # the same reference time: the outcome is known (equal version: keep it, and
            # an expired one is still refused before snapshot) without a second parse and
            # signature check. The usual case of a poll with nothing new.
            return
        try:
            trusted.update_timestamp(data)
        except EqualVersionNumberError:
            return
        self._persist("timestamp.json", data)

    def _update_snapshot(self, trusted: TrustedMetadataSet) -> None:
        local = self._read_local("snapshot.json", self.config.snapshot_max_length)
        if local is not None:
            try:
                trusted.update_snapshot(local, trusted=True)
            except RepositoryError as e:
                _log("local snapshot not usable: %s", e)
            else:
                return
        del local  # not kept alive while the new copy is parsed (peak memory)
        assert trusted.timestamp is not None  # noqa: S101 - set by _update_timestamp
        meta = trusted.timestamp.snapshot_meta
        name = (
            f"{meta.version}.snapshot.json"
            if trusted.root.consistent_snapshot
            else ("snapshot.json")
        )
        data = self._fetch(name, meta.length or self.config.snapshot_max_length)
        trusted.update_snapshot(data)
        self._persist("snapshot.json", data)

    def _load_targets(self, trusted: TrustedMetadataSet, role: str, delegator: str) -> Targets:
        found = trusted.targets.get((delegator, role))
        if found is not None:
            return found
        filename = role_filename(role)
        local = self._read_local(filename, self.config.targets_max_length)
        if local is not None:
            try:
                return trusted.update_delegated_targets(local, role, delegator)
            except RepositoryError as e:
                _log("local %s not usable: %s", role, e)
        del local  # not kept alive while the new copy is parsed (peak memory)
        assert trusted.snapshot is not None  # noqa: S101 - loaded before targets
        meta = trusted.snapshot.meta.get(f"{role}.json")
        if meta is None:
            raise RepositoryError(f"snapshot does not list {role}.json")
        quoted = _quote(role)
        name = (
            f"{meta.version}.{quoted}.json"
            if trusted.root.consistent_snapshot
            else (f"{quoted}.json")
        )
        # Streamed into a staged file (synced, not yet renamed) and verified from one fresh
        # read that the trusted set alone holds and frees once decoded: large targets
        # metadata is never in memory as chunks, joined bytes, text and parsed objects at
        # once. The stored file changes only if it verifies.
        path = self._dir / filename
        tmp, size = self._fetch_staged(name, meta.length or self.config.targets_max_length, path)
        try:
            md = trusted.update_delegated_targets(self._read_staged(tmp, size), role, delegator)
        except BaseException:
            storage.discard(tmp)
            raise
        if self._refreshing():
            storage.commit(tmp, path, sync_dir=False)
            self._pending_dir_sync = True
        else:
            storage.commit(tmp, path)
        return md

    def _fetch_staged(self, name: str, max_length: int, path: Path) -> tuple[Path, int]:
        url = self._metadata_url + name
        try:
            return storage.stage_chunks(path, self._fetcher.fetch(url, max_length))
        except (DownloadError, StorageError):
            raise
        except Exception as e:
            raise DownloadError(f"{url}: {type(e).__name__}: {e}") from e

    def _read_staged(self, tmp: Path, size: int) -> bytes:
        data = storage.read_file(tmp, size)
        if data is None or len(data) != size:
            raise StorageError(f"{tmp} changed while it was verified")
        return data

    def _read_local(self, filename: str, max_length: int) -> bytes | None:
        try:
            return storage.read_file(self._dir / filename, max_length)
        except StorageError as e:
            _log("ignoring stored %s: %s", filename, e)
            return None

    def _persist(self, filename: str, data: bytes) -> None:
        if self._refreshing():
            storage.atomic_write(self._dir / filename, data, sync_dir=False)
            self._pending_dir_sync = True
        else:
            storage.atomic_write(self._dir / filename, data)

    def _refreshing(self) -> bool:
        return self._trusted is None

    def _fetch(self, name: str, max_length: int) -> bytes:
        url = self._metadata_url + name
        try:
            return self._fetcher.fetch_bytes(url, max_length)
        except DownloadError:
            raise
        except Exception as e:
            raise DownloadError(f"{url}: {type(e).__name__}: {e}") from e

    # -- targets ------------------------------------------------------------------

    def _ensure_refreshed(self) -> TrustedMetadataSet:
        if self._trusted is None:
            self.refresh()
        assert self._trusted is not None  # noqa: S101 - set by refresh
        return self._trusted

    def get_targetinfo(self, target_path: str) -> TargetFile | None:
        """Find ``target_path`` by the TUF delegation search (pre-order, depth first).

        Refreshes first if ``refresh()`` was not called. Delegated metadata is fetched
        only when the search needs it.

        Returns:
            The target as the first trusted role for it describes it, or None.

        Raises:
            RepositoryError: metadata on the search path failed a check.
            DownloadError: the transport failed.
        """
        trusted = self._ensure_refreshed()
        to_visit: list[tuple[str, str]] = [("targets", "root")]
        visited: set[str] = set()
        while to_visit and len(visited) <= self.config.max_delegations:
            role, delegator = to_visit.pop()
            if role in visited:
                continue
            md = self._load_targets(trusted, role, delegator)
            target = md.get(target_path)
            if target is not None:
                return target
            visited.add(role)
            if md.delegations is not None:
                children: list[tuple[str, str]] = []
                for child, terminating in md.delegations.roles_for_target(target_path):
                    children.append((child, role))
                    if terminating:
                        to_visit.clear()
                        break
                to_visit.extend(reversed(children))
        if to_visit:
            _log("%s: more than %d roles to visit", target_path, self.config.max_delegations)
        return None

    def _all_firmware_names(self, trusted: TrustedMetadataSet) -> list[str]:
        names: set[str] = set()
        to_visit: list[tuple[str, str]] = [("targets", "root")]
        visited: set[str] = set()
        while to_visit:
            role, delegator = to_visit.pop()
            if role in visited:
                continue
            if len(visited) >= self.config.max_enumerated_roles:
                raise RepositoryError(
                    f"more than {self.config.max_enumerated_roles} roles to enumerate"
                )
            visited.add(role)
            md = self._load_targets(trusted, role, delegator)
            for name, entry in md.targets.items():
                custom = entry.get("custom")
                if custom is not None and "firmtuf" in custom:
                    names.add(name)
            if md.delegations is not None:
                children = [(c, role) for c in md.delegations.all_role_names()]
                to_visit.extend(reversed(children))
        return sorted(names)

    def check(self) -> TargetFile | None:
        """The newest firmware for this device's policy (docs/adr/0001), or None.

        Every firmware target of every reachable role is a candidate, resolved through
        the normal delegation search so a name counts only from the role trusted for it.

        Raises:
            ValueError: the Updater has no DevicePolicy.
            RepositoryError: metadata failed a check, a firmware entry is malformed, or a
                firmware for this device has an unsafe name.
            DownloadError: the transport failed.
        """
        policy = self._require_policy()
        trusted = self._ensure_refreshed()
        best: tuple[Any, ...] | None = None
        chosen: TargetFile | None = None
        for name in self._all_firmware_names(trusted):
            target = self.get_targetinfo(name)
            if target is None:
                continue
            fw = target.firmware
            if fw is None or policy.hardware_id not in fw.hardware_ids:
                continue
            check_target_name(name)
            if _policy_problem(policy, fw) is not None:
                continue
            key = (fw.version, fw.security_counter)
            if best is None or key > best:
                best, chosen = key, target
        return chosen

    def verify_policy(self, target: TargetFile) -> None:
        """Check a firmware target against this Updater's DevicePolicy.

        Raises:
            ValueError: the Updater has no DevicePolicy.
            PolicyError: not firmware, wrong hardware id, not newer (downgrade) unless
                allowed, security counter below the stored one, or min_version not met.
            MetadataFormatError: ``custom.firmtuf`` is malformed.
        """
        policy = self._require_policy()
        fw = target.firmware
        if fw is None:
            raise PolicyError(f"{target.path} is not firmware (no custom.firmtuf)")
        if policy.hardware_id not in fw.hardware_ids:
            raise PolicyError(f"{target.path} is not for hardware {policy.hardware_id!r}")
        problem = _policy_problem(policy, fw)
        if problem is not None:
            raise PolicyError(f"{target.path}: {problem}")

    def _require_policy(self) -> DevicePolicy:
        if self.policy is None:
            raise ValueError("this Updater has no DevicePolicy")
        return self.policy

    # -- download -----------------------------------------------------------------

    def find_cached_target(self, target: TargetFile, path: str | os.PathLike[str]) -> Path | None:
        """Return ``path`` if it already holds ``target`` (length and hashes), else None."""
        path = Path(path)
        try:
            with open(path, "rb") as f:
                if os.fstat(f.fileno()).st_size != target.length:
                    return None
                hashers = _hashers(target)
                while chunk := f.read(self.config.chunk_size):
                    for h in hashers.values():
                        h.update(chunk)
        except OSError:
            return None
        if all(hashers[a].hexdigest() == target.hashes[a].lower() for a in hashers):
            return path
        return None

    def download(
        self,
        target: TargetFile,
        dest: str | os.PathLike[str],
        *,
        partial_path: str | os.PathLike[str] | None = None,
    ) -> Path:
        """Download ``target`` to ``dest``, verifying length and hashes while writing.

        Memory use is one chunk. Bytes land in ``partial_path`` (default ``dest`` +
        ``.part``), which survives an interrupted transfer so the next call resumes with
        an HTTP Range request; ``dest`` appears (atomic rename) only once every hash
        matches. A ``dest`` that already holds the target is not downloaded again. With a
        DevicePolicy, a firmware target must satisfy it (``verify_policy``); targets
        without ``custom.firmtuf`` (manifests, ...) are not firmware and are not checked.

        Returns:
            ``dest`` as a Path.

        Raises:
            UnsafeTargetNameError: the target name is not a safe relative path.
            PolicyError: the target does not fit the DevicePolicy.
            LengthOrHashMismatchError: the downloaded bytes are not the target.
            DownloadError: the transport failed (the partial file is kept).
            StorageError: the file cannot be written.
            ValueError: no target_base_url was given.
        """
        check_target_name(target.path)
        if self.policy is not None and target.firmware is not None:
            self.verify_policy(target)
        dest = Path(dest)
        if self.find_cached_target(target, dest) is not None:
            return dest
        url = self._url_for(target)
        part = (
            Path(partial_path) if partial_path is not None else dest.with_name(dest.name + ".part")
        )
        try:
            self._download_to(target, url, part)
            _move_into_place(part, dest)
        except OSError as e:
            raise StorageError(f"cannot write {dest}: {e}") from e
        return dest

    def _download_to(self, target: TargetFile, url: str, part: Path) -> None:
        hashers = _hashers(target)
        offset = 0
        try:
            size = part.stat().st_size
        except FileNotFoundError:
            size = 0
        if 0 < size <= target.length:
            # Resume: hash what an earlier attempt wrote, then fetch the rest.
            with open(part, "rb") as f:
                kept = iter(lambda: f.read(self.config.chunk_size), b"")
                offset = _consume(target, kept, hashers, 0, _drop)
        elif size:
            part.unlink()
        mode = "ab" if offset else "wb"
        if offset < target.length:
            try:
                chunks = self._fetch_target(url, target.length, offset)
            except DownloadHTTPError as e:
                if not offset or e.status_code != 416:
                    raise
                # The server refused the Range: start over.
                hashers, offset, mode = _hashers(target), 0, "wb"
                chunks = self._fetch_target(url, target.length, 0)
            with open(part, mode) as f:
                try:
                    offset = _consume(target, chunks, hashers, offset, f.write)
                finally:
                    f.flush()
                    os.fsync(f.fileno())
        problem = _length_or_hash_problem(target, offset, hashers)
        if problem is not None:
            part.unlink()
            raise LengthOrHashMismatchError(problem)

    def _url_for(self, target: TargetFile) -> str:
        if self._target_url is None:
            raise ValueError("download needs a target_base_url")
        trusted = self._ensure_refreshed()
        path = target.path
        if trusted.root.consistent_snapshot and self.config.prefix_targets_with_hash:
            digest = next(iter(target.hashes.values()))
            dirname, sep, basename = path.rpartition("/")
            path = f"{dirname}{sep}{digest}.{basename}"
        return self._target_url + path

    def _fetch_target(self, url: str, length: int, offset: int) -> Iterator[bytes]:
        try:
            return self._fetcher.fetch(url, length, offset)
        except DownloadError:
            raise
        except Exception as e:
            raise DownloadError(f"{url}: {type(e).__name__}: {e}") from e

    def _check_remote_target(self, target: TargetFile) -> None:
        """Fetch ``target`` and check its length and hashes without storing it.

        For checks of a whole published repository (the signing tool's ``verify`` and
        pre-publish check), where writing and fsyncing every image would dominate;
        devices use :meth:`download`.

        Raises:
            UnsafeTargetNameError, LengthOrHashMismatchError, DownloadError: as download.
        """
        check_target_name(target.path)
        url = self._url_for(target)
        hashers = _hashers(target)
        total = _consume(target, self._fetch_target(url, target.length, 0), hashers, 0, _drop)
        problem = _length_or_hash_problem(target, total, hashers)
        if problem is not None:
            raise LengthOrHashMismatchError(problem)

    # -- device state ---------------------------------------------------------------

    def mark_installed(self, target: TargetFile) -> DevicePolicy | None:
        """Record that ``target`` was installed: its version and security counter.

        The stored counter never decreases. State is written crash-safely to
        ``metadata_dir/firmtuf/device.json``; the Updater's policy is updated.

        Returns:
            The updated DevicePolicy (None when the Updater has none).

        Raises:
            PolicyError: ``target`` is not firmware.
            StorageError: the state cannot be written.
        """
        fw = target.firmware
        if fw is None:
            raise PolicyError(f"{target.path} is not firmware (no custom.firmtuf)")
        state = read_device_state(os.fspath(self._dir))
        counter = fw.security_counter
        if state is not None:
            counter = max(counter, int(state["security_counter"]))  # type: ignore[call-overload]
        if self.policy is not None:
            counter = max(counter, self.policy.security_counter)
        data = {"name": target.path, "version": fw.version.text, "security_counter": counter}
        state_dir = self._dir / STATE_DIR
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"cannot create {state_dir}: {e}") from e
        storage.atomic_write(state_dir / STATE_FILE, json.dumps(data).encode())
        if self.policy is not None:
            self.policy = DevicePolicy(
                self.policy.hardware_id, fw.version, counter, self.policy.unsafe_allow_downgrade
            )
        return self.policy


def _policy_problem(policy: DevicePolicy, fw: FirmwareInfo) -> str | None:
    if fw.security_counter < policy.security_counter:
        return (
            f"security counter {fw.security_counter} is below the device's "
            f"{policy.security_counter}"
        )
    if fw.version <= policy.installed_version and not policy.unsafe_allow_downgrade:
        return f"version {fw.version} is not newer than installed {policy.installed_version}"
    if fw.min_version is not None and policy.installed_version < fw.min_version:
        return f"needs installed version >= {fw.min_version}"
    return None


def _consume(
    target: TargetFile,
    chunks: Iterator[bytes],
    hashers: dict[str, Any],
    total: int,
    sink: Callable[[bytes], object],
) -> int:
    """Hash and pass on ``chunks`` after ``total`` bytes already seen; the new total.

    Raises LengthOrHashMismatchError as soon as the target's length is exceeded.
    """
    for chunk in chunks:
        total += len(chunk)
        if total > target.length:
            raise LengthOrHashMismatchError(f"{target.path}: more than {target.length} bytes")
        sink(chunk)
        for h in hashers.values():
            h.update(chunk)
    return total


def _drop(chunk: bytes) -> None:
    del chunk


def _length_or_hash_problem(target: TargetFile, total: int, hashers: dict[str, Any]) -> str | None:
    if total != target.length:
        return f"{target.path}: got {total} bytes, expected {target.length}"
    for algo, hasher in hashers.items():
        if hasher.hexdigest() != target.hashes[algo].lower():
            return f"{target.path}: {algo} hash mismatch"
    return None


def _hashers(target: TargetFile) -> dict[str, Any]:
    return {algo: new_hasher(algo, target.path) for algo in target.hashes}


def _move_into_place(part: Path, dest: Path) -> None:
    try:
        part.replace(dest)
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        # Partial file on another file system: copy beside dest, then rename.
        tmp = dest.with_name(f".{dest.name}.tmp")
        import shutil

        try:
            shutil.copyfile(part, tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
        part.unlink()
    storage.fsync_dir(dest.parent)


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _role_keys(root: Root, role: str) -> frozenset[str]:
    # Spec 5.3.11 speaks of rotated keys: a threshold change alone keeps the trusted
    # timestamp and snapshot (and their rollback protection).
    r = root.roles[role]
    return frozenset(root.keys[k].public for k in r.keyids if k in root.keys)
