"""A small TUF repository built with python-tuf's Metadata API, written in the published
layout of the BRIEF (consistent snapshots, hash-prefixed targets), for publishing tests
that must not depend on the state of the signer CLI."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

_SER = JSONSerializer(compact=False)
_ROLES = ("root", "timestamp", "snapshot", "targets")


class RepoBuilder:
    """Signs with one ed25519 key per top-level role; optional delegated role ``fw``."""

    def __init__(self, root_dir: Path, *, expires_in: timedelta = timedelta(days=7)) -> None:
        self.dir = root_dir
        self.expires_in = expires_in
        self.signers = {r: CryptoSigner.generate_ed25519() for r in _ROLES}
        self.delegate_signer = CryptoSigner.generate_ed25519()
        expires = self._expiry()
        root = Root(expires=expires, consistent_snapshot=True)
        for role, signer in self.signers.items():
            root.add_key(signer.public_key, role)
        self.md: dict[str, Metadata[Any]] = {
            "root": Metadata(root),
            "timestamp": Metadata(Timestamp(expires=expires)),
            "snapshot": Metadata(Snapshot(expires=expires)),
            "targets": Metadata(Targets(expires=expires)),
        }
        self.files: dict[str, bytes] = {}
        self.published: set[str] = set()
        self.dirty: set[str] = set(self.md)
        self.commit()

    def _expiry(self) -> datetime:
        return (datetime.now(UTC) + self.expires_in).replace(microsecond=0)

    def _sign(self, role: str) -> bytes:
        md = self.md[role]
        md.signatures.clear()
        signer = self.signers.get(role, self.delegate_signer)
        md.sign(signer)
        return md.to_bytes(_SER)

    def add_target(self, name: str, data: bytes, *, role: str = "targets", **firmware: Any) -> str:
        """Add an image; returns its key under the published tree."""
        custom = {"firmtuf": firmware} if firmware else None
        tf = TargetFile.from_data(name, data, ["sha256"])
        if custom:
            tf.unrecognized_fields["custom"] = custom
        self.md[role].signed.targets[name] = tf
        self.dirty.add(role)
        head, _, base = name.rpartition("/")
        key = f"targets/{head + '/' if head else ''}{tf.hashes['sha256']}.{base}"
        self.files[key] = data
        return key

    def delegate(
        self, role: str, paths: list[str], *, parent: str = "targets", terminating: bool = True
    ) -> None:
        """Delegate ``paths`` from ``parent`` to a new role signed by ``delegate_signer``."""
        targets = self.md[parent].signed
        if targets.delegations is None:
            targets.delegations = Delegations(keys={}, roles={})
        key = self.delegate_signer.public_key
        assert targets.delegations.roles is not None
        targets.delegations.keys[key.keyid] = key
        targets.delegations.roles[role] = DelegatedRole(
            role, [key.keyid], 1, terminating=terminating, paths=paths
        )
        self.md[role] = Metadata(Targets(expires=self._expiry()))
        self.dirty |= {parent, role}

    def rotate_key(self, role: str) -> None:
        """Replace ``role``'s key with a new one (a new root version lists it)."""
        root = self.md["root"].signed
        old = self.signers[role].public_key.keyid
        self.signers[role] = CryptoSigner.generate_ed25519()
        root.revoke_key(old, role)
        root.add_key(self.signers[role].public_key, role)
        self.dirty |= {"root", role}

    def rotate_root(self) -> None:
        """Bump root (same keys): devices must walk the chain."""
        self.dirty.add("root")

    def commit(self) -> None:
        """Bump versions of changed roles, update snapshot/timestamp and sign them."""
        for role in sorted(self.dirty - {"root", "snapshot", "timestamp"}):
            signed = self._bump(role)
            self.files[f"metadata/{signed.version}.{role}.json"] = self._sign(role)
            self.md["snapshot"].signed.meta[f"{role}.json"] = MetaFile(signed.version)
        if "root" in self.dirty:
            root = self._bump("root")
            data = self._sign("root")
            self.files[f"metadata/{root.version}.root.json"] = data
            self.files["metadata/root.json"] = data
        snap = self._bump("snapshot")
        self.files[f"metadata/{snap.version}.snapshot.json"] = self._sign("snapshot")
        ts = self._bump("timestamp")
        ts.snapshot_meta = MetaFile(snap.version)
        self.files["metadata/timestamp.json"] = self._sign("timestamp")
        self.dirty = set()

    def _bump(self, role: str) -> Any:
        signed = self.md[role].signed
        if role in self.published:
            signed.version += 1
        self.published.add(role)
        if role != "root":
            signed.expires = self._expiry()
        return signed

    @property
    def root_bytes(self) -> bytes:
        return self.files["metadata/1.root.json"]

    def write(self, out: Path) -> Path:
        """Write the whole published tree (every version so far) to ``out``."""
        if out.exists():
            shutil.rmtree(out)
        for key, data in self.files.items():
            path = out / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return out
