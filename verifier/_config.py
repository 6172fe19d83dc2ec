"""Updater limits (``Config``) and what the device is (``DevicePolicy``)."""

from __future__ import annotations

import os
from pathlib import Path

from verifier._internal.version import FirmwareVersion

KIB = 1024
MIB = 1024 * KIB


class _Frozen:
    """Immutable keyword-initialised record (what a frozen dataclass gives, without the
    import cost of ``dataclasses``, which pulls in ``inspect``)."""

    __slots__: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; use replace()")

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, n) for n in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Config(_Frozen):
    """Limits of one Updater (immutable). Every default is bounded; override per device.

    ``Config(max_root_rotations=8)``; ``config.replace(read_timeout=30.0)``.

    Attributes:
        max_root_rotations: root versions fetched in one refresh (32).
        max_delegations: delegated roles visited in one target search (32).
        max_enumerated_roles: roles loaded when ``check()`` lists every firmware (1024).
        root_max_length: bytes of one root.json (512 KiB).
        timestamp_max_length: bytes of timestamp.json (512 KiB).
        snapshot_max_length: bytes of snapshot.json when timestamp gives no length (16 MiB).
        targets_max_length: bytes of a targets file when snapshot gives no length (64 MiB).
        prefix_targets_with_hash: fetch ``dir/<hash>.<name>`` when the repository uses
            consistent snapshots (True, as firmtuf publishes).
        connect_timeout: seconds to open a connection (10).
        read_timeout: seconds one read may wait for data (10).
        response_timeout: seconds from the start of a request to the end of its
            headers: connect, request, status line and headers (20). A server dripping
            its head is given up on here.
        min_speed: bytes per second below which a download is slow retrieval (1 KiB/s;
            0 turns the speed guard and the length part of the deadline off).
        slow_grace_period: seconds of body before the minimum speed applies (5).
        chunk_size: bytes per read and write while downloading (256 KiB).
        sbom_max_length: bytes of a firmware's SBOM ``Updater.sbom()`` accepts (8 MiB;
            docs/adr/0009); a larger one is refused before it is fetched.
        lock_timeout: seconds to wait for another agent holding the trust-store lock
            (or the partial file of the same download) before ``TrustStoreLockedError``
            (30; 0: fail at once).

    Every request of an Updater, whatever its fetcher, ends within
    :meth:`request_deadline` of the bytes it may fetch (``SlowRetrievalError``
    otherwise): the signed length still to fetch for images and for metadata whose
    length is signed, the ``*_max_length`` cap for metadata whose length is not.
    """

    __slots__ = (
        "chunk_size",
        "connect_timeout",
        "lock_timeout",
        "max_delegations",
        "max_enumerated_roles",
        "max_root_rotations",
        "min_speed",
        "prefix_targets_with_hash",
        "read_timeout",
        "response_timeout",
        "root_max_length",
        "sbom_max_length",
        "slow_grace_period",
        "snapshot_max_length",
        "targets_max_length",
        "timestamp_max_length",
    )
    max_root_rotations: int
    max_delegations: int
    max_enumerated_roles: int
    root_max_length: int
    timestamp_max_length: int
    snapshot_max_length: int
    targets_max_length: int
    prefix_targets_with_hash: bool
    connect_timeout: float
    read_timeout: float
    response_timeout: float
    min_speed: int
    slow_grace_period: float
    chunk_size: int
    sbom_max_length: int
    lock_timeout: float

    def __init__(
        self,
        *,
        max_root_rotations: int = 32,
        max_delegations: int = 32,
        max_enumerated_roles: int = 1024,
        root_max_length: int = 512 * KIB,
        timestamp_max_length: int = 512 * KIB,
        snapshot_max_length: int = 16 * MIB,
        targets_max_length: int = 64 * MIB,
        prefix_targets_with_hash: bool = True,
        connect_timeout: float = 10.0,
        read_timeout: float = 10.0,
        response_timeout: float = 20.0,
        min_speed: int = KIB,
        slow_grace_period: float = 5.0,
        chunk_size: int = 256 * KIB,
        sbom_max_length: int = 8 * MIB,
        lock_timeout: float = 30.0,
    ) -> None:
        values = dict(locals())
        del values["self"]
        for name in self.__slots__:
            value = values[name]
            if name in _POSITIVE_INTS and (type(value) is not int or value < 1):
                raise ValueError(f"Config.{name} must be a positive integer, got {value!r}")
            if name in _NON_NEGATIVE and (
                not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0
            ):
                raise ValueError(f"Config.{name} must be a number >= 0, got {value!r}")
            self._set(name, value)

    def replace(self, **changes: object) -> Config:
        """A copy with some fields changed."""
        values = {n: getattr(self, n) for n in self.__slots__}
        values.update(changes)
        return Config(**values)

    def request_deadline(self, length: int) -> float:
        """Seconds one request for ``length`` bytes may take in all.

        ``response_timeout + slow_grace_period + length / min_speed``: the head, then
        the body at no less than the minimum speed (unbounded when ``min_speed`` is 0;
        the head stays bounded).
        """
        if not self.min_speed:
            return float("inf")
        return self.response_timeout + self.slow_grace_period + length / self.min_speed


_POSITIVE_INTS = frozenset(
    (
        "max_root_rotations",
        "max_delegations",
        "max_enumerated_roles",
        "root_max_length",
        "timestamp_max_length",
        "snapshot_max_length",
        "targets_max_length",
        "chunk_size",
        "sbom_max_length",
    )
)
_NON_NEGATIVE = frozenset(
    (
        "connect_timeout",
        "read_timeout",
        "response_timeout",
        "min_speed",
        "slow_grace_period",
        "lock_timeout",
    )
)


class DevicePolicy(_Frozen):
    """What this device is and runs; ``Updater.check()`` picks firmware for it (ADR 0001).

    Attributes:
        hardware_id: the device model, matched against ``custom.firmtuf.hardware_ids``.
        installed_version: the firmware version running now.
        security_counter: the highest security counter of any installed image.
        unsafe_allow_downgrade: also consider versions <= installed (the security counter
            is still enforced). Named unsafe because it re-opens known vulnerabilities.
    """

    __slots__ = ("hardware_id", "installed_version", "security_counter", "unsafe_allow_downgrade")
    hardware_id: str
    installed_version: FirmwareVersion
    security_counter: int
    unsafe_allow_downgrade: bool

    def __init__(
        self,
        hardware_id: str,
        installed_version: str | FirmwareVersion,
        security_counter: int = 0,
        unsafe_allow_downgrade: bool = False,
    ) -> None:
        if not isinstance(hardware_id, str) or not hardware_id:
            raise ValueError("DevicePolicy needs a non-empty hardware_id")
        if not isinstance(installed_version, FirmwareVersion):
            installed_version = FirmwareVersion(installed_version)
        if type(security_counter) is not int or security_counter < 0:
            raise ValueError("security_counter must be an integer >= 0")
        self._set("hardware_id", hardware_id)
        self._set("installed_version", installed_version)
        self._set("security_counter", security_counter)
        self._set("unsafe_allow_downgrade", bool(unsafe_allow_downgrade))

    @classmethod
    def from_metadata_dir(
        cls,
        metadata_dir: str | os.PathLike[str],
        hardware_id: str,
        installed_version: str | FirmwareVersion,
        *,
        unsafe_allow_downgrade: bool = False,
    ) -> DevicePolicy:
        """Build the policy of component ``hardware_id`` from what the Updater recorded
        (``mark_installed`` / ``confirm``), in ``metadata_dir/firmtuf/components/``.

        ``installed_version`` (the factory image) is used until an install is recorded.
        Layout 2's single-component state is adopted by the first hardware id read.

        Raises:
            StorageError: the stored state exists but is unreadable or malformed.
        """
        from verifier._internal import device_state
        from verifier._internal.lock import FileLock
        from verifier._internal.store import TrustStore

        store = TrustStore(Path(metadata_dir))
        lock = FileLock(store.lock_path, Config().lock_timeout, f"trust store {store.path}")
        installed = device_state.load(store, hardware_id, lock).installed
        counter = 0
        if installed is not None:
            installed_version = installed.version
            counter = installed.security_counter
        return cls(hardware_id, installed_version, counter, unsafe_allow_downgrade)
