"""The Updater: network and disk around the trusted metadata set (TUF 1.0.x section 5).

The Updater does I/O only: it fetches (through a :class:`~verifier.Fetcher`, each request
under a :class:`~verifier.Deadline` from its Config), reads and writes the trust store
(``_internal/store``), and hands bytes to the one object that decides what is trusted
(``_internal/trusted_set``). The delegation walk is ``_internal/delegations``, the
firmware policy ``_internal/policy``, the length-and-hash check ``LengthAndHashes`` on
the target type.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

from verifier._bundle import BUNDLE_URL, BundleFetcher, bundled_target_names, member_name
from verifier._config import Config, DevicePolicy
from verifier._errors import (
    BadVersionNumberError,
    DownloadHTTPError,
    DownloadIncompleteError,
    DownloadLengthMismatchError,
    EqualVersionNumberError,
    ExpiredMetadataError,
    InsufficientSpaceError,
    LengthOrHashMismatchError,
    PolicyError,
    RepositoryError,
    SbomError,
    StorageError,
)
from verifier._fetcher import Deadline, Fetcher
from verifier._http import HttpFetcher
from verifier._internal import delegations, device_state, log, partial, storage
from verifier._internal import policy as firmware_policy
from verifier._internal.bundle import Bundle, BundleError
from verifier._internal.lock import FileLock, open_locked
from verifier._internal.metadata import TargetFile, Targets
from verifier._internal.names import check_target_name
from verifier._internal.store import TrustStore
from verifier._internal.support import SupportPeriod, support_target_name
from verifier._internal.trusted_set import TrustedMetadataSet

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from collections.abc import Callable, Iterator

    from verifier._internal.bundle import BundleLimits
    from verifier._internal.device_state import ComponentState, PendingInstall
    from verifier._internal.metadata import LengthAndHashes
    from verifier._internal.policy import CheckReport

    Progress = Callable[[int, int], object]


def _local_unusable(what: str, e: RepositoryError) -> None:
    # Expired or superseded local metadata is the normal case after a while offline or
    # a new release: routine. Anything else (bad signature, format) is a fallback.
    if isinstance(e, (ExpiredMetadataError, BadVersionNumberError, LengthOrHashMismatchError)):
        log.debug("stored %s not final: %s", what, e)
    else:
        log.warning("stored %s not usable, fetching it again: %s", what, e)


def _quote(text: str, safe: str = "") -> str:
    from urllib.parse import quote

    return quote(text, safe=safe)


def verify_root(data: bytes) -> None:
    """Check that ``data`` can start a device: a well-formed root signed by its own keys.

    Raises:
        RepositoryError: malformed, or not signed by a threshold of its own root keys.
    """
    TrustedMetadataSet(data, time.time())


class TrustedRole:
    """A trusted targets role as the Updater loaded it (read-only view).

    Attributes:
        name: the role name.
        delegator: the role that delegated it (``"root"`` for ``targets``).
        version: its metadata version.
        expires: its expiry, in seconds since the epoch.
    """

    __slots__ = ("_md", "delegator", "expires", "name", "version")

    def __init__(self, name: str, delegator: str, md: Targets) -> None:
        self.name = name
        self.delegator = delegator
        self.version: int = md.version
        self.expires: int = md.expires
        self._md = md

    def target_names(self) -> list[str]:
        """Names of the targets this role lists, in listed order."""
        return list(self._md.targets)

    def get(self, name: str) -> TargetFile | None:
        """The target as this role lists it, or None."""
        return self._md.get(name)

    def __repr__(self) -> str:
        return f"TrustedRole({self.name!r}, version={self.version})"


class Updater:
    """Securely refresh TUF metadata, pick firmware and download it.

    Args:
        metadata_dir: the device's trust store (docs/adr/0006): the trusted
            ``root.json`` and trusted metadata at the top, device-owned files in
            ``firmtuf/``.
        metadata_base_url: base URL of the repository metadata, e.g.
            ``"http://127.0.0.1:8000/metadata/"``.
        target_base_url: base URL of target files (needed by ``download``).
        fetcher: how bytes are fetched (default ``HttpFetcher``). Whatever the fetcher,
            every request runs under the deadline ``config`` states.
        config: limits and timeouts (default ``Config()``).
        policy: the device (needed by ``check``; when set, ``download`` enforces it).
        bootstrap: bytes of the root.json the device ships; stored when metadata_dir has
            no trusted root yet, and used again if the stored root is ever unusable (it
            must be signed by its own keys).
        clock: seconds since the epoch, read once per refresh (default ``time.time``).

    Raises:
        RepositoryError: ``bootstrap`` is not a valid self-signed root.
        StorageError: metadata_dir cannot be created, or is a trust store of a newer
            layout.
        TypeError: ``fetcher`` is not a :class:`Fetcher`, or overrides ``fetch`` or
            ``fetch_bytes`` (which enforce the deadline: implement ``_fetch``).
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
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._store = TrustStore(Path(metadata_dir))
        self._dir = self._store.path
        self.config = config or Config()
        # One agent at a time changes the trust store (refresh, device state).
        self._lock = FileLock(
            self._store.lock_path, self.config.lock_timeout, f"trust store {self._dir}"
        )
        self._metadata_url = _with_slash(metadata_base_url)
        self._target_url = None if target_base_url is None else _with_slash(target_base_url)
        if fetcher is None:
            fetcher = HttpFetcher(chunk_size=self.config.chunk_size)
        _check_fetcher(fetcher)
        self._fetcher = fetcher
        self.policy = policy
        self._clock = clock or time.time
        self._trusted: TrustedMetadataSet | None = None
        self._pending_dir_sync = False
        self._bootstrap = bootstrap
        if bootstrap is not None:
            verify_root(bootstrap)
        self._store.migrate()
        root_path = self._role_path("root")
        if bootstrap is not None and not root_path.exists():
            with self._lock:
                self._store.ensure_device_dir()
                self._store.migrate()  # marks the new store with its layout
                if not root_path.exists():
                    storage.atomic_write(root_path, bootstrap)

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
        with self._lock:
            self._trusted = self._refresh()
        log.debug("refreshed %s", self._metadata_url)

    def _refresh(self) -> TrustedMetadataSet:
        now = self._clock()
        root_data = self._read_local("root", self.config.root_max_length)
        trusted: TrustedMetadataSet | None = None
        if root_data is not None:
            try:
                trusted = TrustedMetadataSet(root_data, now)
            except RepositoryError:
                if self._bootstrap is None:
                    raise
                # A damaged stored root: start again from the shipped one (and walk the
                # rotation chain from there), never from nothing.
                log.warning("stored root.json unusable, starting from the bootstrap root")
        # Files written during refresh get one directory fsync at the end (see storage).
        self._pending_dir_sync = False
        try:
            if trusted is None:
                if self._bootstrap is None:
                    raise StorageError(f"no trusted root.json in {self._dir}")
                trusted = TrustedMetadataSet(self._bootstrap, now)
                self._persist("root", self._bootstrap)
            self._update_root(trusted)
            self._update_timestamp(trusted)
            self._update_snapshot(trusted)
            self._load_targets(trusted, "targets", "root")
        finally:
            if self._pending_dir_sync:
                self._pending_dir_sync = False
                storage.fsync_dir(self._dir)
        return trusted

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
        device has seen, ``firmtuf/time_floor.json`` in ``metadata_dir``) rises after
        each successful refresh. See docs/offline-updates.md.

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
        lower = trusted.root.version + 1
        accepted: bytes | None = None
        try:
            for version in range(lower, lower + self.config.max_root_rotations):
                try:
                    data = self._fetch_metadata(f"{version}.root.json", self.config.root_max_length)
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
                self._persist("root", accepted)
        if trusted.fast_forward_reset():
            storage.remove_file(self._role_path("timestamp"))
            storage.remove_file(self._role_path("snapshot"))
            self._pending_dir_sync = True
        trusted.check_root_expiry()

    def _update_timestamp(self, trusted: TrustedMetadataSet) -> None:
        local = self._read_local("timestamp", self.config.timestamp_max_length)
        if local is not None:
            try:
                trusted.update_timestamp(local)
            except RepositoryError as e:
                _local_unusable("timestamp", e)
        data = self._fetch_metadata("timestamp.json", self.config.timestamp_max_length)
        try:
            trusted.update_timestamp(data)
        except EqualVersionNumberError:
            log.debug("timestamp unchanged")
            return
        self._persist("timestamp", data)
        log.debug("new timestamp version %d", trusted.timestamp.version)  # type: ignore[union-attr]

    def _update_snapshot(self, trusted: TrustedMetadataSet) -> None:
        local = self._read_local("snapshot", self.config.snapshot_max_length)
        if local is not None:
            try:
                trusted.update_snapshot(local, trusted=True)
            except RepositoryError as e:
                _local_unusable("snapshot", e)
            else:
                return
        del local  # not kept alive while the new copy is parsed (peak memory)
        assert trusted.timestamp is not None  # noqa: S101 - set by _update_timestamp
        meta = trusted.timestamp.snapshot_meta
        name = (
            f"{meta.version}.snapshot.json" if trusted.root.consistent_snapshot else "snapshot.json"
        )
        if meta.length is None:
            data = self._fetch_metadata(name, self.config.snapshot_max_length)
        else:
            data = b"".join(self._fetch_exact(name, meta.length))
        trusted.update_snapshot(data)
        self._persist("snapshot", data)

    def _load_targets(self, trusted: TrustedMetadataSet, role: str, delegator: str) -> Targets:
        found = trusted.targets.get((delegator, role))
        if found is not None:
            return found
        with self._lock:  # held already during refresh; a later search stores too
            return self._fetch_targets(trusted, role, delegator)

    def _fetch_targets(self, trusted: TrustedMetadataSet, role: str, delegator: str) -> Targets:
        path = self._store.role_path(role)
        local = None if path is None else self._read_local(role, self.config.targets_max_length)
        if local is not None:
            try:
                return trusted.update_delegated_targets(local, role, delegator)
            except RepositoryError as e:
                _local_unusable(role, e)
        del local  # not kept alive while the new copy is parsed (peak memory)
        assert trusted.snapshot is not None  # noqa: S101 - loaded before targets
        meta = trusted.snapshot.meta.get(f"{role}.json")
        if meta is None:
            raise RepositoryError(f"snapshot does not list {role}.json")
        quoted = _quote(role)
        name = (
            f"{meta.version}.{quoted}.json"
            if trusted.root.consistent_snapshot
            else quoted + ".json"
        )
        if meta.length is None:
            chunks = self._fetch_capped(name, self.config.targets_max_length)
        else:
            chunks = self._fetch_exact(name, meta.length)
        if path is None:
            # Not stored (see TrustStore.role_path): verified from memory.
            return trusted.update_delegated_targets(b"".join(chunks), role, delegator)
        # Streamed into a staged file (synced, not yet renamed) and verified from one fresh
        # read that the trusted set alone holds and frees once decoded: large targets
        # metadata is never in memory as chunks, joined bytes, text and parsed objects at
        # once. The stored file changes only if it verifies.
        with storage.StagedFile(path, unique=False) as staged:
            for chunk in chunks:
                staged.write(chunk)
            staged.sync()
            md = trusted.update_delegated_targets(self._read_staged(staged), role, delegator)
            if self._refreshing():
                staged.commit(sync_dir=False)
                self._pending_dir_sync = True
            else:
                staged.commit()
        return md

    def _read_staged(self, staged: storage.StagedFile) -> bytes:
        size = staged.tell()
        data = storage.read_file(staged.path, size)
        if data is None or len(data) != size:
            raise StorageError(f"{staged.path} changed while it was verified")
        return data

    def _role_path(self, role: str) -> Path:
        path = self._store.role_path(role)
        assert path is not None  # noqa: S101 - top-level roles always have a file
        return path

    def _read_local(self, role: str, max_length: int) -> bytes | None:
        path = self._store.role_path(role)
        if path is None:
            return None
        try:
            return storage.read_file(path, max_length)
        except StorageError as e:
            log.warning("ignoring stored %s: %s", path.name, e)
            return None

    def _persist(self, role: str, data: bytes) -> None:
        path = self._role_path(role)
        if self._refreshing():
            storage.atomic_write(path, data, sync_dir=False)
            self._pending_dir_sync = True
        else:
            storage.atomic_write(path, data)

    def _refreshing(self) -> bool:
        return self._trusted is None

    # -- fetching (every request under a deadline from the Config) -------------------

    def _fetch_metadata(self, name: str, max_length: int) -> bytes:
        """Metadata whose length is not signed: at most ``max_length`` bytes."""
        deadline = Deadline.for_request(self.config, max_length)
        return self._fetcher.fetch_bytes(self._metadata_url + name, max_length, deadline=deadline)

    def _fetch_capped(self, name: str, max_length: int) -> Iterator[bytes]:
        deadline = Deadline.for_request(self.config, max_length)
        return self._fetcher.fetch(self._metadata_url + name, max_length, deadline=deadline)

    def _fetch_exact(self, name: str, length: int) -> Iterator[bytes]:
        """Metadata whose length is signed: read up to it, never waiting for more."""
        url = self._metadata_url + name
        return _take(self._fetch_capped(name, length), length, self._short(url, length))

    def _fetch_target(self, url: str, length: int, offset: int) -> Iterator[bytes]:
        deadline = Deadline.for_request(self.config, length - offset)
        chunks = self._fetcher.fetch(url, length, offset, deadline=deadline)
        return _take(chunks, length - offset, self._short(url, length, offset))

    def _short(self, url: str, length: int, offset: int = 0) -> Callable[[int], Exception]:
        """The error for a response that ended before the signed ``length``: the
        transfer's fault (a short Content-Length, a server or proxy that cut the file),
        not the metadata's; the bytes that came stay in a partial download."""

        def error(received: int) -> Exception:
            return DownloadIncompleteError(
                f"{url}: the response ended after {offset + received} of the {length} bytes signed"
            )

        return error

    # -- targets ------------------------------------------------------------------

    def _ensure_refreshed(self) -> TrustedMetadataSet:
        if self._trusted is None:
            self.refresh()
        assert self._trusted is not None  # noqa: S101 - set by refresh
        return self._trusted

    def _loader(self, trusted: TrustedMetadataSet) -> Callable[[str, str], Targets]:
        def load(role: str, delegator: str) -> Targets:
            return self._load_targets(trusted, role, delegator)

        return load

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
        found = delegations.search(self._loader(trusted), target_path, self.config.max_delegations)
        return None if found is None else found[0]

    def roles_searched(self, target_path: str) -> list[str]:
        """Every targets role the delegation search for ``target_path`` loads, in order
        (``targets`` first, the role listing it last when it is found).

        What an offline bundle must carry for a device to find ``target_path``
        (``firmtuf bundle``). Refreshes first if ``refresh()`` was not called.

        Raises:
            RepositoryError: metadata on the search path failed a check.
            DownloadError: the transport failed.
        """
        trusted = self._ensure_refreshed()
        load = self._loader(trusted)
        loaded: list[str] = []

        def recording(role: str, delegator: str) -> Targets:
            md = load(role, delegator)
            loaded.append(role)
            return md

        delegations.search(recording, target_path, self.config.max_delegations)
        return loaded

    def walk_roles(self) -> Iterator[TrustedRole]:
        """Every targets role reachable from the top-level one, once each, pre-order.

        Loads (fetching as needed) and verifies each role. Refreshes first if
        ``refresh()`` was not called.

        Raises:
            RepositoryError: a role failed a check, or more than
                ``Config.max_enumerated_roles`` roles are reachable.
            DownloadError: the transport failed.
        """
        trusted = self._ensure_refreshed()
        load = self._loader(trusted)
        for role, delegator, md in delegations.walk(load, self.config.max_enumerated_roles):
            yield TrustedRole(role, delegator, md)

    def trusted_versions(self) -> dict[str, int]:
        """Versions of the trusted top-level roles (and delegated roles loaded so far).

        Refreshes first if ``refresh()`` was not called.
        """
        trusted = self._ensure_refreshed()
        assert trusted.timestamp is not None and trusted.snapshot is not None  # noqa: S101
        versions = {
            "root": trusted.root.version,
            "timestamp": trusted.timestamp.version,
            "snapshot": trusted.snapshot.version,
        }
        for (_, role), md in trusted.targets.items():
            versions.setdefault(role, md.version)
        return versions

    def trusted_expires(self) -> dict[str, int]:
        """Expiry (seconds since the epoch) of the trusted top-level roles (and delegated
        roles loaded so far). Refreshes first if ``refresh()`` was not called."""
        trusted = self._ensure_refreshed()
        assert trusted.timestamp is not None and trusted.snapshot is not None  # noqa: S101
        expires = {
            "root": trusted.root.expires,
            "timestamp": trusted.timestamp.expires,
            "snapshot": trusted.snapshot.expires,
        }
        for (_, role), md in trusted.targets.items():
            expires.setdefault(role, md.expires)
        return expires

    def _firmware_candidates(
        self, trusted: TrustedMetadataSet
    ) -> Iterator[tuple[TargetFile, delegations.Path]]:
        load = self._loader(trusted)
        names: set[str] = set()
        for _, _, md in delegations.walk(load, self.config.max_enumerated_roles):
            for name, entry in md.targets.items():
                custom = entry.get("custom")
                if custom is not None and "firmtuf" in custom:
                    names.add(name)
        for name in sorted(names):
            found = delegations.search(load, name, self.config.max_delegations)
            if found is not None:
                yield found

    def check(self) -> TargetFile | None:
        """The newest firmware for this device's policy (docs/adr/0001), or None.

        Every firmware target of every reachable role is a candidate, resolved through
        the normal delegation search so a name counts only from the role trusted for it
        (on a bundle: only the images the bundle carries, docs/adr/0011).
        Targets this component marked failed (``mark_failed``) or has staged are not
        offered; the security counter used is never below the one stored for the
        hardware id. ``check_report()`` says why each other firmware was refused; here
        each refusal is a log line (debug for older versions and the staged one, warning
        for the others).

        Raises:
            ValueError: the Updater has no DevicePolicy.
            RepositoryError: metadata failed a check, a firmware entry is malformed, or a
                firmware for this device has an unsafe name.
            DownloadError: the transport failed.
            StorageError: the device state cannot be read.
        """
        return self.check_report().target

    def check_report(self) -> CheckReport:
        """What ``check()`` chooses, and every firmware for this hardware it refused
        (``Refusal``: target, ``RefusalReason``, message).

        Raises:
            ValueError: the Updater has no DevicePolicy.
            RepositoryError: metadata failed a check, a firmware entry for this hardware
                is malformed, or a firmware for this device has an unsafe name.
            DownloadError: the transport failed.
            StorageError: the device state cannot be read.
        """
        device = self._require_policy()
        trusted = self._ensure_refreshed()
        state = self._component(device)
        report = firmware_policy.choose(
            firmware_policy.effective(device, state), self._firmware_candidates(trusted), state
        )
        for r in report.refused:
            level = log.debug if r.reason in firmware_policy.ROUTINE else log.warning
            level(
                "check %s: %s not offered (%s): %s",
                device.hardware_id,
                r.target.path,
                r.reason.value,
                r.message,
            )
        if report.target is not None:
            log.info("check %s: offering %s", device.hardware_id, report.target.path)
        return report

    def verify_policy(self, target: TargetFile) -> None:
        """Check a firmware target against this Updater's DevicePolicy.

        The target must be what the delegation search finds for its name, and every
        delegation on that search path must admit the device's hardware id (ADR 0008).
        Refreshes first if ``refresh()`` was not called.

        Raises:
            ValueError: the Updater has no DevicePolicy.
            PolicyError: not the trusted target for its name, a delegation on its path
                may not ship to this hardware, not firmware, wrong hardware id, not
                newer (downgrade) unless allowed, security counter below the policy's or
                the stored one, or min_version not met.
            MetadataFormatError: ``custom.firmtuf`` is malformed.
            StorageError: the device state cannot be read.
        """
        device = self._require_policy()
        trusted = self._ensure_refreshed()
        found = delegations.search(self._loader(trusted), target.path, self.config.max_delegations)
        if found is None or found[0] != target:
            raise PolicyError(f"{target.path} is not the trusted target of that name")
        state = self._component(device)
        firmware_policy.verify(firmware_policy.effective(device, state), target, found[1])

    def _require_policy(self) -> DevicePolicy:
        if self.policy is None:
            raise ValueError("this Updater has no DevicePolicy")
        return self.policy

    # -- download -----------------------------------------------------------------

    def find_cached_target(self, target: TargetFile, path: str | os.PathLike[str]) -> Path | None:
        """Return ``path`` if it already holds ``target`` (length and hashes), else None."""
        path = Path(path)
        check = target.checker()
        try:
            with open(path, "rb") as f:
                if os.fstat(f.fileno()).st_size != target.length:
                    return None
                check.feed(iter(lambda: f.read(self.config.chunk_size), b""))
            check.verify()
        except (OSError, LengthOrHashMismatchError):
            return None
        return path

    def download(
        self,
        target: TargetFile,
        dest: str | os.PathLike[str],
        *,
        partial_path: str | os.PathLike[str] | None = None,
        progress: Progress | None = None,
    ) -> Path:
        """Download ``target`` to ``dest``, verifying length and hashes while writing.

        Memory use is one chunk. Bytes land in a partial file bound to the target (its
        name and signed hashes) in ``metadata_dir/firmtuf/partial/`` (beside ``dest``
        when that is another file system), which survives an interrupted transfer so
        the next call resumes with an HTTP Range request; ``dest`` appears (atomic
        rename) only once every hash matches. A partial of another release of the same
        name is discarded; so is one that grows past the signed length, one whose bytes
        fail the hashes (a resumed one is restarted once from byte 0 first) and one
        whose write ran out of space. Free space for the rest
        of the signed length (and, on the trust store's file system, room for its
        metadata) is checked before anything is fetched. Two agents never write one
        partial: the second waits up to ``Config.lock_timeout``. A ``dest`` that already
        holds the target is not downloaded again. With a DevicePolicy, a firmware target
        must satisfy it (``verify_policy``); targets without ``custom.firmtuf``
        (manifests, ...) are not firmware and are not checked. Reading stops at the
        trusted length: a server that holds the connection open after it does not delay
        the download.

        Args:
            target: what to download (from ``check()`` or ``get_targetinfo()``).
            dest: where the verified file goes.
            partial_path: a partial file of the caller's choosing instead (not named by
                the target: it is resumed, and restarted once if it does not verify).
            progress: called as ``progress(bytes_done, total)`` before the transfer
                (``bytes_done`` counts resumed bytes), after every chunk written, and with
                0 when a download restarts; whatever the fetcher. An exception it
                raises stops the download (the partial is kept for a resume).

        Returns:
            ``dest`` as a Path.

        Raises:
            UnsafeTargetNameError: the target name is not a safe relative path.
            PolicyError: the target does not fit the DevicePolicy.
            LengthOrHashMismatchError: the downloaded bytes are not the target.
            DownloadError: the transport failed (the partial file is kept, except after
                more bytes than the signed length).
            InsufficientSpaceError: not enough free space (nothing was fetched).
            TrustStoreLockedError: another agent is downloading this target.
            StorageError: the file cannot be written.
            ValueError: no target_base_url was given.
        """
        check_target_name(target.path)
        if self.policy is not None and target.firmware is not None:
            self.verify_policy(target)
        dest = Path(dest)
        if not self._already_there(target, dest, progress):
            self._fetch_into_place(target, dest, partial_path, progress)
        return dest

    def _already_there(self, target: TargetFile, dest: Path, progress: Progress | None) -> bool:
        """Whether ``dest`` already holds ``target`` (then ``progress`` hears it is done)."""
        if self.find_cached_target(target, dest) is None:
            return False
        log.debug("%s already holds %s", dest, target.path)
        if progress is not None:
            progress(target.length, target.length)
        return True

    def _fetch_into_place(
        self,
        target: TargetFile,
        dest: Path,
        partial_path: str | os.PathLike[str] | None,
        progress: Progress | None,
    ) -> None:
        """Fill the locked partial of ``target`` and move it to ``dest`` once verified."""
        url = self._url_for(target)
        part = Path(partial_path) if partial_path is not None else self._partial_for(target, dest)
        fd = open_locked(part, self.config.lock_timeout, f"partial download {part}")
        try:
            # Another agent may have finished this download while this one waited for it.
            if self._already_there(target, dest, progress):
                return
            self._download_to(target, url, fd, part, dest, progress, resumable=True)
            try:
                _move_into_place(part, dest)
            except StorageError as e:  # copying to a dest on another file system
                if not partial.is_no_space(e):
                    raise
                raise _no_room_to_move(fd, part, target, dest) from e
        except OSError as e:
            if partial.is_no_space(e):
                raise _no_room_to_move(fd, part, target, dest) from e
            raise StorageError(f"cannot write {dest}: {e}") from e
        finally:
            # Nothing to resume (a missing file, a refused request): leave no empty file.
            _remove_if_empty(fd, part)
            os.close(fd)
        log.debug("downloaded %s to %s", target.path, dest)

    def _partial_for(self, target: TargetFile, dest: Path) -> Path:
        """The partial bound to ``target``: in ``firmtuf/partial/``, or beside ``dest``
        when ``dest`` is on another file system (an inactive slot partition): the image
        is then written once, not copied across, and a small data partition need not
        hold it (nor be writable). Partials of other releases of the name there are
        discarded."""
        if dest.parent.is_dir() and not partial.same_device(self._dir, dest.parent):
            part_dir = dest.parent
        else:
            part_dir = self._store.partial_dir
            try:
                part_dir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StorageError(f"cannot create {part_dir}: {e}") from e
        part = part_dir / partial.filename(target)
        # Another release of this name: its bytes will never be resumed.
        partial.discard(part_dir, keep=part.name, same_name_as=target.path)
        return part

    def discard_partials(self, *, keep: TargetFile | None = None) -> int:
        """Remove partial downloads from ``metadata_dir/firmtuf/partial/``.

        Partials being written by a download right now are left alone. (A partial
        beside a ``dest`` on another file system goes when its download completes or
        another release of its name starts.)

        Args:
            keep: a target whose partial stays (the one a later call will resume).

        Returns:
            How many partial files were removed.

        Raises:
            StorageError: a partial exists but cannot be removed.
        """
        keep_name = None if keep is None else partial.filename(keep)
        removed = partial.discard(self._store.partial_dir, keep=keep_name)
        if removed:
            log.info("discarded %d partial download(s)", removed)
        return removed

    def _download_to(
        self,
        target: TargetFile,
        url: str,
        fd: int,
        part: Path,
        dest: Path,
        progress: Progress | None,
        *,
        resumable: bool,
    ) -> None:
        """Fill ``fd`` (the locked partial ``part``) with ``target``'s verified bytes."""
        check = target.checker()
        if resumable:
            self._hash_partial(target, fd, part, check)
        os.ftruncate(fd, check.received)
        resumed = check.received > 0
        if not check.complete:
            check, resumed = self._transfer(target, url, fd, part, dest, progress, check)
        try:
            check.verify()
        except LengthOrHashMismatchError:
            if resumed:
                log.warning(
                    "%s: resumed partial %s did not verify; restarting at byte 0",
                    target.path,
                    part,
                )
                if progress is not None:
                    progress(0, target.length)
                self._download_to(target, url, fd, part, dest, progress, resumable=False)
                return
            _discard_partial(fd, part)
            raise

    def _hash_partial(
        self, target: TargetFile, fd: int, part: Path, check: LengthAndHashes
    ) -> None:
        """Feed ``check`` what an earlier attempt wrote to ``fd``, unless it holds more than
        the signed length (then nothing is kept)."""
        size = os.fstat(fd).st_size
        if size > target.length:
            log.warning(
                "partial %s holds %d bytes, more than %s's %d: discarded",
                part,
                size,
                target.path,
                target.length,
            )
            return
        if size:
            os.lseek(fd, 0, os.SEEK_SET)
            chunk = self.config.chunk_size
            check.feed(iter(lambda: os.read(fd, chunk), b""))

    def _transfer(
        self,
        target: TargetFile,
        url: str,
        fd: int,
        part: Path,
        dest: Path,
        progress: Progress | None,
        check: LengthAndHashes,
    ) -> tuple[LengthAndHashes, bool]:
        """Fetch and write the rest of ``target`` after the bytes ``check`` holds.

        Returns:
            The checker of the whole file, and whether its bytes continue an earlier
            attempt (False when the server refused to resume and it restarted at 0).
        """
        self._ensure_space(part, dest, target.length - check.received)
        offset = check.received
        if offset:
            log.info("resuming %s at byte %d of %d", target.path, offset, target.length)
        try:
            chunks = self._fetch_target(url, target.length, offset)
        except DownloadHTTPError as e:
            if not offset or e.status_code != 416:
                raise
            log.warning("%s: the server refused to resume; restarting at byte 0", url)
            os.ftruncate(fd, 0)
            check, offset = target.checker(), 0
            chunks = self._fetch_target(url, target.length, 0)
        os.lseek(fd, offset, os.SEEK_SET)
        if progress is not None:
            progress(offset, target.length)
        try:
            check.feed(chunks, _writer(fd, check, target.length, progress))
        except DownloadLengthMismatchError:
            # More bytes than the signed length: what came is not worth resuming.
            log.warning("%s sent more than %d bytes: partial discarded", url, target.length)
            _discard_partial(fd, part)
            raise
        except OSError as e:
            if partial.is_no_space(e):
                where = f"no space left for {target.path} in {part.parent}"
                raise _out_of_space(fd, part, where, part.parent, target.length - offset) from e
            raise
        finally:
            storage.sync_fd(fd)
        return check, offset > 0

    def _ensure_space(self, part: Path, dest: Path, remaining: int) -> None:
        """Raises InsufficientSpaceError unless the rest of a download fits.

        On the trust store's file system, room for its metadata stays free as well; the
        final copy to a ``dest`` on another file system needs the whole length there.
        Stale partials are discarded first when space is short.
        """
        needed = remaining
        if partial.same_device(part.parent, self._dir):
            needed += partial.metadata_size(self._dir) + partial.METADATA_HEADROOM
        if partial.free_space(part.parent) < needed and part.parent == self._store.partial_dir:
            removed = partial.discard(part.parent, keep=part.name)
            if removed:
                log.warning("short of space: discarded %d other partial download(s)", removed)
        partial.require_space(part.parent, needed, f"downloading {part.name}")
        if not partial.same_device(part.parent, dest.parent):
            partial.require_space(dest.parent, remaining, f"copying to {dest}")

    def _url_for(self, target: TargetFile) -> str:
        if self._target_url is None:
            raise ValueError("download needs a target_base_url")
        trusted = self._ensure_refreshed()
        path = target.path
        if trusted.root.consistent_snapshot and self.config.prefix_targets_with_hash:
            digest = next(iter(target.hashes.values()))
            dirname, sep, basename = path.rpartition("/")
            path = f"{dirname}{sep}{digest}.{basename}"
        # Percent-encoded: a name's space, "%", "?" or "#" is part of the file name, not
        # of the URL's syntax (every fetcher unquotes the path it is given).
        return self._target_url + _quote(path, safe="/")

    def verify_remote_target(self, target: TargetFile) -> None:
        """Fetch ``target`` and check its length and hashes without storing it.

        For checks of a whole published repository (the signing tool's ``verify`` and
        pre-publish check), where writing and fsyncing every image would dominate;
        devices use :meth:`download`.

        Raises:
            UnsafeTargetNameError: the target name is not a safe relative path.
            LengthOrHashMismatchError: the served bytes are not the target.
            DownloadError: the transport failed.
            ValueError: no target_base_url was given.
        """
        check_target_name(target.path)
        self._stream_checked(target, None)

    def _stream_checked(self, target: TargetFile, sink: Callable[[bytes], object] | None) -> None:
        """Fetch ``target`` from the start, pass it to ``sink``, check length and hashes."""
        check = target.checker()
        check.feed(self._fetch_target(self._url_for(target), target.length, 0), sink)
        check.verify()

    # -- support periods and SBOMs (docs/adr/0009) -----------------------------------

    def support(self, hardware_id: str | None = None) -> SupportPeriod | None:
        """The support period the repository declares for ``hardware_id`` (default: the
        DevicePolicy's), from verified metadata only; None when it declares none.

        The declaration is the target ``<hardware id>/support/period.json`` as the
        delegation search finds it, and every delegation on that search path must admit
        the hardware id (docs/adr/0008), so only the role responsible for that hardware
        can declare it. Nothing is downloaded. Refreshes first if ``refresh()`` was not
        called.

        Raises:
            ValueError: no ``hardware_id`` and no DevicePolicy.
            PolicyError: the declaration is listed by a role that may not ship to this
                hardware.
            MetadataFormatError: the declaration is malformed.
            RepositoryError: metadata on the search path failed a check.
            DownloadError: the transport failed.
        """
        if hardware_id is None:
            hardware_id = self._require_policy().hardware_id
        trusted = self._ensure_refreshed()
        name = support_target_name(hardware_id)
        found = delegations.search(self._loader(trusted), name, self.config.max_delegations)
        if found is None:
            return None
        target, path = found
        bound = firmware_policy.binding_problem(hardware_id, path)
        if bound is not None:
            raise PolicyError(f"{name}: {bound}")
        return SupportPeriod.from_target(target, hardware_id)

    def sbom_target(self, target: TargetFile) -> TargetFile | None:
        """The SBOM target that firmware ``target`` links, checked against the link.

        Found by the delegation search for the linked name; its length and hashes must
        be the ones the firmware's link states (the link is signed with the firmware).

        Returns:
            The SBOM target, or None when ``target`` is not firmware or links no SBOM.

        Raises:
            SbomError: the linked SBOM is not a target, is not the one linked, or is
                larger than ``Config.sbom_max_length``.
            RepositoryError: metadata on the search path failed a check.
            DownloadError: the transport failed.
        """
        firmware = target.firmware
        link = None if firmware is None else firmware.sbom
        if link is None:
            return None
        found = self.get_targetinfo(link.target)
        if found is None:
            raise SbomError(f"SBOM {link.target!r} linked from {target.path!r} is not a target")
        if not link.matches(found):
            raise SbomError(
                f"{link.target!r} is not the SBOM {target.path!r} links (length or hashes differ)"
            )
        if found.length > self.config.sbom_max_length:
            raise SbomError(
                f"SBOM {link.target!r} is {found.length} bytes, larger than "
                f"Config.sbom_max_length ({self.config.sbom_max_length})"
            )
        return found

    def sbom(self, target: TargetFile) -> bytes | None:
        """Fetch and verify the SBOM of firmware ``target`` (CycloneDX or SPDX JSON).

        The SBOM is checked as :meth:`sbom_target` says, then fetched with the same
        length and hash checks as an image, in memory (at most
        ``Config.sbom_max_length`` bytes).

        Returns:
            The SBOM's bytes, or None when ``target`` links no SBOM.

        Raises:
            SbomError: see :meth:`sbom_target` (raised before anything is fetched).
            LengthOrHashMismatchError: the served bytes are not the linked SBOM.
            UnsafeTargetNameError: the SBOM's name is not a safe relative path.
            DownloadError: the transport failed.
            ValueError: no target_base_url was given.
        """
        found = self.sbom_target(target)
        if found is None:
            return None
        check_target_name(found.path)
        data = bytearray()
        self._stream_checked(found, data.extend)
        return bytes(data)

    # -- device state (docs/adr/0010) ---------------------------------------------------

    def _component(self, device: DevicePolicy) -> ComponentState:
        return device_state.load(self._store, device.hardware_id, self._lock)

    def pending(self) -> PendingInstall | None:
        """The install staged for this component and not yet confirmed or failed, or None.

        Read from the trust store only (no network): what an agent asks after a reboot.

        Raises:
            ValueError: the Updater has no DevicePolicy.
            StorageError: the device state cannot be read.
        """
        return self._component(self._require_policy()).pending

    def stage(self, target: TargetFile, image: str | os.PathLike[str] | None = None) -> None:
        """Record ``target`` as installed but not yet confirmed (the first phase).

        Call it once the image is verified (``download``) and written to where it will
        boot from; after the reboot, ``confirm()`` (it runs) or ``mark_failed()`` (it
        did not). A newer ``stage`` replaces an earlier one. The target must pass
        ``verify_policy``; with ``image``, that file must hold it (it is read once).

        Raises:
            ValueError: the Updater has no DevicePolicy.
            PolicyError: the target does not fit the policy.
            StorageError: ``image`` does not hold the target, or the state cannot be
                written.
            TrustStoreLockedError: another agent holds the trust store.
        """
        device = self._require_policy()
        check_target_name(target.path)
        self.verify_policy(target)
        where = None
        if image is not None:
            where = os.fspath(image)
            if self.find_cached_target(target, where) is None:
                raise StorageError(f"{where} does not hold {target.path} (length or hashes)")
        with self._lock:
            state = self._component(device)
            firmware_policy.record_stage(device, target, state, where, self._clock())
            device_state.save(self._store, state)
        log.info("%s: staged %s", device.hardware_id, target.path)

    def confirm(self) -> DevicePolicy:
        """Commit the staged install as installed: offline, from what ``stage`` recorded.

        Needs neither the network nor the target still being published (a release
        withdrawn after it was staged confirms all the same). The stored security
        counter never decreases.

        Returns:
            The updated DevicePolicy (also the Updater's ``policy`` now).

        Raises:
            ValueError: the Updater has no DevicePolicy, or nothing is staged.
            StorageError: the device state cannot be read or written.
            TrustStoreLockedError: another agent holds the trust store.
        """
        device = self._require_policy()
        with self._lock:
            state = self._component(device)
            if state.pending is None:
                raise ValueError(f"no install is staged for {device.hardware_id!r}")
            target = state.pending.target
            self.policy = firmware_policy.record_install(device, target, state)
            device_state.save(self._store, state)
        log.info("%s: confirmed %s", device.hardware_id, target.path)
        return self.policy

    def mark_failed(self, target: TargetFile | None = None, *, reason: str = "failed") -> None:
        """Record a target as rejected on this component: ``check()`` no longer offers it
        (a newer one is offered as usual). Clears the staged install if it is that one.

        Args:
            target: the target that failed (default: the staged one).
            reason: what happened, kept with the record (``Refusal.message``).

        Raises:
            ValueError: the Updater has no DevicePolicy, or no target was given and
                nothing is staged.
            PolicyError: ``target`` is not firmware for this hardware id.
            StorageError: the device state cannot be read or written.
            TrustStoreLockedError: another agent holds the trust store.
        """
        device = self._require_policy()
        with self._lock:
            state = self._component(device)
            if target is None:
                if state.pending is None:
                    raise ValueError(f"no install is staged for {device.hardware_id!r}")
                target = state.pending.target
            firmware_policy.record_failure(device, target, state, reason)
            device_state.save(self._store, state)
        log.warning(
            "%s: %s marked failed (%s); not offered again", device.hardware_id, target.path, reason
        )

    def mark_installed(self, target: TargetFile) -> DevicePolicy:
        """Record that ``target`` was installed (the one-step form of stage + confirm).

        Its version and security counter go to this component's state in
        ``metadata_dir/firmtuf/components/``, written crash-safely; the stored counter
        never decreases; a staged install is cleared. The Updater's policy is updated.

        Returns:
            The updated DevicePolicy.

        Raises:
            PolicyError: ``target`` is not firmware, or not for this hardware id.
            ValueError: the Updater has no DevicePolicy.
            StorageError: the state cannot be written.
            TrustStoreLockedError: another agent holds the trust store.
        """
        if target.firmware is None:
            raise PolicyError(f"{target.path} is not firmware (no custom.firmtuf)")
        device = self._require_policy()
        with self._lock:
            state = self._component(device)
            self.policy = firmware_policy.record_install(device, target, state)
            device_state.save(self._store, state)
        log.info("%s: installed %s", device.hardware_id, target.path)
        return self.policy


def _check_fetcher(fetcher: object) -> None:
    if not isinstance(fetcher, Fetcher):
        raise TypeError(f"fetcher must be a verifier.Fetcher, not {type(fetcher).__name__}")
    kind = type(fetcher)
    if kind.fetch is not Fetcher.fetch or kind.fetch_bytes is not Fetcher.fetch_bytes:
        raise TypeError(
            f"{kind.__name__} overrides fetch or fetch_bytes, which enforce the Config's "
            "deadline and length caps: implement the transport primitive _fetch instead"
        )


def _take(
    chunks: Iterator[bytes], length: int, short: Callable[[int], Exception] | None = None
) -> Iterator[bytes]:
    """``chunks`` up to ``length`` bytes in all; then ``chunks`` is closed unread.

    Raises:
        Exception: ``short(received)`` when ``chunks`` ends before ``length`` bytes
            (without ``short``, a short stream just ends).
    """
    total = 0
    try:
        for chunk in chunks:
            total += len(chunk)
            yield chunk
            if total >= length:
                return
        if total < length and short is not None:
            raise short(total)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _writer(
    fd: int, check: LengthAndHashes, total: int, progress: Progress | None
) -> Callable[[bytes], None]:
    def write(chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]
        if progress is not None:
            progress(check.received, total)

    return write


def _discard_partial(fd: int, part: Path) -> None:
    """Empty and remove a partial that must not be resumed (its lock is still held)."""
    try:
        os.ftruncate(fd, 0)
        part.unlink(missing_ok=True)
    except OSError as e:
        log.warning("cannot discard partial %s: %s", part, e)


def _out_of_space(
    fd: int, part: Path, where: str, directory: Path, needed: int
) -> InsufficientSpaceError:
    """Discard the partial that hit ENOSPC (a full disk must not stay full: the next
    metadata save needs room) and the error that says so."""
    _discard_partial(fd, part)
    return InsufficientSpaceError(
        f"{where}: partial discarded", str(directory), needed, partial.free_space(directory)
    )


def _no_room_to_move(fd: int, part: Path, target: TargetFile, dest: Path) -> InsufficientSpaceError:
    """Even a whole, verified image goes when it cannot be moved for want of space."""
    where = f"no space left to move {target.path} into {dest}"
    return _out_of_space(fd, part, where, dest.parent, target.length)


def _remove_if_empty(fd: int, part: Path) -> None:
    """Remove ``part`` if it is still the (locked) empty file ``fd``."""
    try:
        st = os.fstat(fd)
        if st.st_size == 0 and part.stat().st_ino == st.st_ino:
            part.unlink()
    except OSError:
        pass  # renamed into place, or already gone: nothing left behind


_COPY_CHUNK = 1 << 20


def _move_into_place(part: Path, dest: Path) -> None:
    try:
        part.replace(dest)
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        # Partial file on another file system: copied beside dest, then renamed.
        with storage.StagedFile(dest, unique=False) as staged, open(part, "rb") as src:
            while chunk := src.read(_COPY_CHUNK):
                staged.write(chunk)
            staged.commit(sync_dir=False)
        part.unlink()
    storage.fsync_dir(dest.parent)


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


class BundleUpdater(Updater):
    """An :class:`~verifier.Updater` reading one bundle file (see ``Updater.from_bundle``).

    Adds the expiry policy for devices without a trustworthy clock: a persisted time
    floor (``max(clock, floor)`` is the reference time; the floor rises after each
    successful refresh), and an explicit, unsafe-named way to ignore expiry. It lives
    here, not in ``verifier/_bundle.py``, because ``Updater.from_bundle`` makes it: the
    bundle module stays below the Updater (no import circle).
    """

    def __init__(
        self,
        bundle_path: str | os.PathLike[str],
        metadata_dir: str | os.PathLike[str],
        *,
        config: Config | None = None,
        policy: DevicePolicy | None = None,
        bootstrap: bytes | None = None,
        limits: BundleLimits | None = None,
        clock: Callable[[], float] = time.time,
        unsafe_ignore_expiry: bool = False,
    ) -> None:
        try:
            self.bundle = Bundle(bundle_path, limits)
        except BundleError as e:
            raise BundleError(f"bad bundle {bundle_path}: {e}") from e
        try:
            super().__init__(
                metadata_dir,
                BUNDLE_URL + "metadata/",
                BUNDLE_URL + "targets/",
                fetcher=BundleFetcher(self.bundle),
                config=config,
                policy=policy,
                bootstrap=bootstrap,
                clock=self._reference_time,
            )
        except BaseException:
            self.bundle.close()
            raise
        # Only bundle readers need the time floor (and datetime): not ``import verifier``.
        from verifier._internal.timefloor import TimeFloor

        self._floor = TimeFloor(metadata_dir)
        self._device_clock = clock
        self.unsafe_ignore_expiry = unsafe_ignore_expiry
        self._judged_at: float | None = None

    def _reference_time(self) -> float:
        if self.unsafe_ignore_expiry:
            self._judged_at = None
            return float("-inf")  # nothing is ever expired
        now = self._device_clock()
        floor = self._floor.load()  # TimeFloorError is a StorageError
        if floor is not None:
            now = max(now, floor.timestamp())
        self._judged_at = now
        return now

    def refresh(self) -> None:
        """Refresh from the bundle; on success the time floor rises to the time used.

        Raises:
            RepositoryError: a bundle member failed a check (``BundleError`` when the
                bundle file turned out malformed while read).
            StorageError: trusted metadata or the time floor cannot be read or written.
        """
        try:
            super().refresh()
        except BundleError as e:
            raise BundleError(f"bad bundle {self.bundle.path}: {e}") from e
        if self._judged_at is not None:
            from datetime import UTC, datetime

            self._floor.advance(datetime.fromtimestamp(self._judged_at, UTC))

    def _firmware_candidates(
        self, trusted: TrustedMetadataSet
    ) -> Iterator[tuple[TargetFile, delegations.Path]]:
        # On a bundle only the images it carries are candidates (ADR 0011): each
        # name is resolved by the ordinary delegation search (so only the roles on its
        # path are read: what `firmtuf bundle` ships) and kept only when the bundled
        # file is the one the trusted target names. Newer firmware the metadata lists
        # but the bundle lacks is never chosen.
        load = self._loader(trusted)
        for name in bundled_target_names(self.bundle):
            found = delegations.search(load, name, self.config.max_delegations)
            if found is not None and member_name(self._url_for(found[0])) in self.bundle:
                yield found

    def _short(self, url: str, length: int, offset: int = 0) -> Callable[[int], Exception]:
        # A member shorter than the signed length is what the bundle holds: no retry of
        # "the transfer" helps, the bundle is at fault.
        def error(received: int) -> Exception:
            return BundleError(
                f"{member_name(url)} in the bundle {self.bundle.path.name} holds"
                f" {offset + received} bytes, the trusted metadata signs {length}"
            )

        return error

    def close(self) -> None:
        """Close the bundle file."""
        self.bundle.close()

    def __enter__(self) -> BundleUpdater:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
