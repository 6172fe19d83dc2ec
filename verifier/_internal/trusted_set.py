"""The one object that decides what the device trusts (TUF 1.0.x section 5, no I/O).

Metadata is offered in the order of the client workflow through ``update_root``,
``update_timestamp``, ``update_snapshot``, ``update_targets`` and
``update_delegated_targets``. Each method verifies, then either raises or records the new
metadata; nothing else changes trusted state. Expiry is judged against one reference time
given at construction.
"""

from __future__ import annotations

from verifier._errors import (
    BadVersionNumberError,
    EqualVersionNumberError,
    ExpiredMetadataError,
    RepositoryError,
)
from verifier._internal.metadata import Root, Snapshot, Targets, Timestamp, parse


class TrustedMetadataSet:
    """Trusted top-level and delegated metadata of one update run."""

    def __init__(self, root_data: bytes, reference_time: float) -> None:
        """Start from the device's trusted root.

        Raises:
            RepositoryError: the trusted root is malformed or not signed by its own keys.
        """
        self.reference_time = reference_time
        self.root: Root = parse(Root, root_data)
        self.root.verify_delegate("root", self.root)
        self._first_root = self.root
        self._timestamp_data: bytes | None = None
        self.timestamp: Timestamp | None = None
        self.snapshot: Snapshot | None = None
        # Delegated roles are keyed by (delegator, role): one role reached through two
        # delegators is verified with each delegator's keys.
        self.targets: dict[tuple[str, str], Targets] = {}

    def top_targets(self) -> Targets | None:
        """The trusted top-level targets metadata, if loaded."""
        return self.targets.get(("root", "targets"))

    def update_root(self, data: bytes) -> Root:
        """Verify a new root (version N+1) against the trusted root and itself.

        Raises:
            RepositoryError: bad format, signatures or version.
        """
        if self.timestamp is not None:
            raise RuntimeError("cannot update root after timestamp")
        new = self.root.load_delegate("root", Root, data)
        if new.version != self.root.version + 1:
            raise BadVersionNumberError(
                f"expected root version {self.root.version + 1}, got {new.version}"
            )
        new.verify_delegate("root", new)
        self.root = new
        return new

    def check_root_expiry(self) -> None:
        """Raises ExpiredMetadataError when the final root is expired."""
        if self.root.is_expired(self.reference_time):
            raise ExpiredMetadataError("final root.json is expired")

    def fast_forward_reset(self) -> bool:
        """Whether the stored timestamp and snapshot must be forgotten (spec 5.3.11).

        True when a root update in this run rotated the timestamp or snapshot keys: what
        the old keys signed must not block what the new keys sign (recovery from a
        fast-forward attack). A threshold change alone keeps them, and their rollback
        protection. Call after the last root update, before loading any timestamp.
        """
        first, final = self._first_root, self.root
        return final is not first and any(
            _role_keys(first, r) != _role_keys(final, r) for r in ("timestamp", "snapshot")
        )

    def update_timestamp(self, data: bytes) -> Timestamp:
        """Verify timestamp metadata.

        Raises:
            EqualVersionNumberError: same version as the trusted one (keep the old one).
            RepositoryError: bad format, signatures, rollback or expired.
        """
        if self.snapshot is not None:
            raise RuntimeError("cannot update timestamp after snapshot")
        self.check_root_expiry()
        if self.timestamp is not None and data == self._timestamp_data:
            # Byte-identical to the one verified in this run against the same root at
            # the same reference time: the outcome is known (equal version; an expired
            # one is still refused before snapshot) without a second parse and
            # signature check. The usual case of a poll with nothing new.
            raise EqualVersionNumberError("timestamp unchanged")
        new = self.root.load_delegate("timestamp", Timestamp, data)
        if self.timestamp is not None:
            if new.version < self.timestamp.version:
                raise BadVersionNumberError(
                    f"timestamp version {new.version} < trusted {self.timestamp.version}"
                )
            if new.version == self.timestamp.version:
                raise EqualVersionNumberError("timestamp version unchanged")
            if new.snapshot_meta.version < self.timestamp.snapshot_meta.version:
                raise BadVersionNumberError(
                    f"snapshot version {new.snapshot_meta.version} < trusted "
                    f"{self.timestamp.snapshot_meta.version}"
                )
        # Kept even if expired: it still protects the next timestamp from rollback.
        self.timestamp = new
        self._timestamp_data = data
        self._check_final_timestamp()
        return new

    def _check_final_timestamp(self) -> None:
        assert self.timestamp is not None  # noqa: S101 - callers checked
        if self.timestamp.is_expired(self.reference_time):
            raise ExpiredMetadataError("timestamp.json is expired")

    def update_snapshot(self, data: bytes, trusted: bool = False) -> Snapshot:
        """Verify snapshot metadata (``trusted``: local copy, hashes checked before).

        Raises:
            RepositoryError: bad format, hashes, signatures, rollback, version or expired.
        """
        if self.timestamp is None:
            raise RuntimeError("cannot update snapshot before timestamp")
        if self.top_targets() is not None:
            raise RuntimeError("cannot update snapshot after targets")
        self._check_final_timestamp()
        meta = self.timestamp.snapshot_meta
        if not trusted:
            meta.verify(data, "snapshot.json")
        new = self.root.load_delegate("snapshot", Snapshot, data)
        if self.snapshot is not None:
            for name, info in self.snapshot.meta.items():
                new_info = new.meta.get(name)
                if new_info is None:
                    raise BadVersionNumberError(f"new snapshot no longer lists {name}")
                if new_info.version < info.version:
                    raise BadVersionNumberError(
                        f"{name} version {new_info.version} < trusted {info.version}"
                    )
        # Kept even if expired or not the version timestamp names: it still protects the
        # next snapshot from rollback.
        self.snapshot = new
        self._check_final_snapshot()
        return new

    def _check_final_snapshot(self) -> None:
        assert self.snapshot is not None and self.timestamp is not None  # noqa: S101
        if self.snapshot.is_expired(self.reference_time):
            raise ExpiredMetadataError("snapshot.json is expired")
        if self.snapshot.version != self.timestamp.snapshot_meta.version:
            raise BadVersionNumberError(
                f"snapshot version {self.snapshot.version}, timestamp says "
                f"{self.timestamp.snapshot_meta.version}"
            )

    def update_targets(self, data: bytes) -> Targets:
        """Verify top-level targets metadata."""
        return self.update_delegated_targets(data, "targets", "root")

    def update_delegated_targets(self, data: bytes, role_name: str, delegator: str) -> Targets:
        """Verify targets metadata of ``role_name`` delegated by ``delegator``.

        Raises:
            RepositoryError: not in snapshot, bad hashes, signatures, version or expired.
        """
        if self.snapshot is None:
            raise RuntimeError("cannot load targets before snapshot")
        self._check_final_snapshot()
        if delegator == "root":
            parent: Root | Targets | None = self.root
        else:
            parent = self.find_trusted(delegator)
        if parent is None:
            raise RuntimeError(f"cannot load {role_name} before its delegator {delegator}")
        meta = self.snapshot.meta.get(f"{role_name}.json")
        if meta is None:
            raise RepositoryError(f"snapshot does not list {role_name}.json")
        meta.verify(data, f"{role_name}.json")
        new = parent.load_delegate(role_name, Targets, data)
        if new.version != meta.version:
            raise BadVersionNumberError(
                f"{role_name} version {new.version}, snapshot says {meta.version}"
            )
        if new.is_expired(self.reference_time):
            raise ExpiredMetadataError(f"{role_name}.json is expired")
        self.targets[(delegator, role_name)] = new
        return new

    def find_trusted(self, role_name: str) -> Targets | None:
        """Any trusted copy of ``role_name`` (used as a delegator: its keys are what count)."""
        if role_name == "targets":
            return self.top_targets()
        for (_, name), md in self.targets.items():
            if name == role_name:
                return md
        return None


def _role_keys(root: Root, role: str) -> frozenset[str]:
    r = root.roles[role]
    return frozenset(root.keys[k].public for k in r.keyids if k in root.keys)
