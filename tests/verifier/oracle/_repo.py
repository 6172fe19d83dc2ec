"""An in-memory TUF repository built with python-tuf's Metadata API.

The oracle tests serve the same bytes to python-tuf's ngclient and to our verifier. The
builder owns the key material (securesystemslib CryptoSigners generated at run time, pooled
per key type so hypothesis examples stay fast) and the unsigned payloads; ``publish()`` signs
everything and returns ``{relative_path: bytes}`` in the published layout of the brief:
``metadata/N.root.json ... root.json timestamp.json N.snapshot.json N.<role>.json`` and
``targets/<dir>/<sha256>.<basename>`` (consistent snapshots).

Attacks are applied in two places: ``Hooks.pre_sign`` changes a payload after the builder
filled in its meta but before signing (a repository that signs something wrong), and the
caller edits the returned dict (a mirror or man in the middle that changes bytes).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from securesystemslib.formats import encode_canonical
from securesystemslib.signer import CryptoSigner, Signer
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    SuccinctRoles,
    TargetFile,
    Targets,
    Timestamp,
)

KEY_TYPES = ("ed25519", "ecdsa-p256", "ecdsa-p384", "rsa-pss")
TOP_ROLES = ("root", "timestamp", "snapshot", "targets")

_POOL: dict[str, list[CryptoSigner]] = {k: [] for k in KEY_TYPES}


def _generate(key_type: str) -> CryptoSigner:
    if key_type == "ed25519":
        return CryptoSigner.generate_ed25519()
    if key_type == "ecdsa-p256":
        return CryptoSigner.generate_ecdsa(scheme="ecdsa-sha2-nistp256")
    if key_type == "ecdsa-p384":
        return CryptoSigner.generate_ecdsa(scheme="ecdsa-sha2-nistp384")
    if key_type == "rsa-pss":
        # 2048 bits keeps generation fast; the scheme is what the tests exercise.
        return CryptoSigner.generate_rsa(scheme="rsassa-pss-sha256", size=2048)
    raise ValueError(f"unknown key type {key_type}")


class KeyPool:
    """Hands out distinct pooled signers of each type within one repository."""

    def __init__(self) -> None:
        self._used = dict.fromkeys(KEY_TYPES, 0)

    def take(self, key_type: str) -> CryptoSigner:
        pool = _POOL[key_type]
        index = self._used[key_type]
        while len(pool) <= index:
            pool.append(_generate(key_type))
        self._used[key_type] += 1
        return pool[index]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Hooks:
    """Where a test changes what the repository signs.

    pre_sign(role, version, metadata) runs after the builder filled in meta, versions and
    expiry, just before signing. signers(role, version) may return the signers to use
    instead of the role's own keys. post_sign(role, version, metadata) may change the
    signatures before the bytes are written (and hashed into the parent's meta).
    edit_signed(role, version, signed_dict) edits the JSON of ``signed`` itself, which is
    then signed as it is: the way to sign what the Metadata API would refuse to build
    (wrong types, odd formats), so that parsers are tested behind valid signatures.
    """

    pre_sign: Callable[[str, int, Metadata[Any]], None] | None = None
    signers: Callable[[str, int], list[Signer] | None] | None = None
    post_sign: Callable[[str, int, Metadata[Any]], None] | None = None
    edit_signed: Callable[[str, int, dict[str, Any]], None] | None = None


@dataclass
class _Role:
    signed: Targets
    signers: list[CryptoSigner] = field(default_factory=list)


class RepoBuilder:
    """A mutable TUF repository; ``publish()`` returns its signed files.

    Args:
        key_type: default key type of new keys.
        snapshot_hashes: also put length and hashes of targets roles into snapshot meta.
        timestamp_hashes: also put length and hashes of snapshot into timestamp meta.
    """

    def __init__(
        self,
        key_type: str = "ed25519",
        *,
        thresholds: dict[str, int] | None = None,
        nkeys: dict[str, int] | None = None,
        snapshot_hashes: bool = False,
        timestamp_hashes: bool = False,
        key_types: dict[str, str] | None = None,
    ) -> None:
        self.key_type = key_type
        self.keys = KeyPool()
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.snapshot_hashes = snapshot_hashes
        self.timestamp_hashes = timestamp_hashes
        thresholds = thresholds or {}
        nkeys = nkeys or {}
        key_types = key_types or {}

        self.root = Root(expires=self.expiry(365), consistent_snapshot=True)
        self.signers: dict[str, list[CryptoSigner]] = {}
        for role in TOP_ROLES:
            threshold = thresholds.get(role, 1)
            count = max(nkeys.get(role, threshold), threshold, 1)
            self.root.roles[role].threshold = threshold
            self.signers[role] = []
            for _ in range(count):
                self._add_top_key(role, key_types.get(role, key_type))
        # (payload, signers of that version) for every published root version
        self.root_versions: list[tuple[Root, list[CryptoSigner]]] = []
        self.timestamp = Timestamp(expires=self.expiry(1))
        self.snapshot = Snapshot(expires=self.expiry(7))
        self.targets: dict[str, _Role] = {
            "targets": _Role(Targets(expires=self.expiry(30)), self.signers["targets"])
        }
        # published file path -> (target path, content); two roles may sign one name
        self.target_files: dict[str, tuple[str, bytes]] = {}
        self.commit_root()

    # -- construction -------------------------------------------------------------------

    def expiry(self, days: float) -> datetime:
        return self.now + timedelta(days=days)

    def _add_top_key(self, role: str, key_type: str) -> CryptoSigner:
        signer = self.keys.take(key_type)
        self.root.add_key(signer.public_key, role)
        self.signers[role].append(signer)
        return signer

    def commit_root(self) -> None:
        """Freeze the current root payload as the next published root version."""
        if self.root_versions:
            self.root.version = self.root_versions[-1][0].version + 1
        frozen = Root.from_dict(copy.deepcopy(self.root.to_dict()))
        self.root_versions.append((frozen, list(self.signers["root"])))

    def rotate_keys(
        self,
        role: str,
        *,
        keep: int = 0,
        add: int = 1,
        key_type: str | None = None,
        threshold: int | None = None,
    ) -> None:
        """Replace keys of a top-level role in the working root (call commit_root after)."""
        old = self.signers[role]
        for signer in old[keep:]:
            self.root.revoke_key(signer.public_key.keyid, role)
        self.signers[role] = old[:keep]
        for _ in range(add):
            self._add_top_key(role, key_type or self.key_type)
        if threshold is not None:
            self.root.roles[role].threshold = threshold
        if role == "targets":
            self.targets["targets"].signers = self.signers["targets"]

    def delegate(
        self,
        delegator: str,
        name: str,
        *,
        paths: list[str] | None = None,
        path_hash_prefixes: list[str] | None = None,
        terminating: bool = False,
        threshold: int = 1,
        nkeys: int = 1,
        key_type: str | None = None,
    ) -> None:
        """Add a delegated targets role ``name`` under ``delegator``."""
        parent = self.targets[delegator].signed
        if parent.delegations is None:
            parent.delegations = Delegations(keys={}, roles={})
        assert parent.delegations.roles is not None
        signers = [self.keys.take(key_type or self.key_type) for _ in range(max(nkeys, 1))]
        role = DelegatedRole(
            name, [], threshold, terminating, paths=paths, path_hash_prefixes=path_hash_prefixes
        )
        parent.delegations.roles[name] = role
        for signer in signers:
            parent.add_key(signer.public_key, name)
        self.targets[name] = _Role(Targets(expires=self.expiry(30)), signers)

    def delegate_succinct(
        self, delegator: str, bit_length: int, name_prefix: str, *, key_type: str | None = None
    ) -> list[str]:
        """Add succinct hash bins (one key for all bins, TAP 15); returns the bin names."""
        parent = self.targets[delegator].signed
        signer = self.keys.take(key_type or self.key_type)
        succinct = SuccinctRoles([], 1, bit_length, name_prefix)
        parent.delegations = Delegations(keys={}, succinct_roles=succinct)
        parent.add_key(signer.public_key)
        names = list(succinct.get_roles())
        for name in names:
            self.targets[name] = _Role(Targets(expires=self.expiry(30)), [signer])
        return names

    def bin_for(self, delegator: str, path: str) -> str:
        delegations = self.targets[delegator].signed.delegations
        assert delegations is not None and delegations.succinct_roles is not None
        return delegations.succinct_roles.get_role_for_target(path)

    def add_target(
        self, role: str, path: str, data: bytes, custom: dict[str, Any] | None = None
    ) -> TargetFile:
        info = TargetFile.from_data(path, data, ["sha256"])
        if custom:
            info.unrecognized_fields["custom"] = custom
        self.targets[role].signed.targets[path] = info
        self.target_files[target_file_path(path, data)] = (path, data)
        return info

    def bump(self, role: str) -> None:
        """Increase a role's version (as a repository does on every change)."""
        if role == "root":
            self.commit_root()
        elif role == "timestamp":
            self.timestamp.version += 1
        elif role == "snapshot":
            self.snapshot.version += 1
        else:
            self.targets[role].signed.version += 1

    # -- publishing ---------------------------------------------------------------------

    def _sign(self, role: str, signed: Any, signers: list[Signer], hooks: Hooks) -> bytes:
        md = Metadata(copy.deepcopy(signed))
        if hooks.pre_sign is not None:
            hooks.pre_sign(role, md.signed.version, md)
        if hooks.signers is not None:
            override = hooks.signers(role, md.signed.version)
            if override is not None:
                signers = override
        if hooks.edit_signed is not None:
            signed_dict = md.signed.to_dict()
            hooks.edit_signed(role, md.signed.version, signed_dict)
            if signed_dict != md.signed.to_dict():
                return _sign_raw(signed_dict, signers)
        seen: set[str] = set()
        for signer in signers:
            if signer.public_key.keyid not in seen:
                seen.add(signer.public_key.keyid)
                md.sign(signer, append=True)
        if hooks.post_sign is not None:
            hooks.post_sign(role, md.signed.version, md)
        return md.to_bytes()

    def publish(self, hooks: Hooks | None = None) -> dict[str, bytes]:
        """Sign every role and return ``{relative_path: bytes}``."""
        hooks = hooks or Hooks()
        files: dict[str, bytes] = {}
        previous: list[CryptoSigner] = []
        for root, signers in self.root_versions:
            data = self._sign("root", root, [*previous, *signers], hooks)
            files[f"metadata/{root.version}.root.json"] = data
            previous = signers
        newest = self.root_versions[-1][0].version
        files["metadata/root.json"] = files[f"metadata/{newest}.root.json"]

        self.snapshot.meta = {}
        for name, role in self.targets.items():
            data = self._sign(name, role.signed, list(role.signers), hooks)
            files[f"metadata/{role.signed.version}.{name}.json"] = data
            self.snapshot.meta[f"{name}.json"] = self._meta(
                role.signed.version, data, self.snapshot_hashes
            )
        data = self._sign("snapshot", self.snapshot, list(self.signers["snapshot"]), hooks)
        files[f"metadata/{self.snapshot.version}.snapshot.json"] = data
        self.timestamp.snapshot_meta = self._meta(
            self.snapshot.version, data, self.timestamp_hashes
        )
        data = self._sign("timestamp", self.timestamp, list(self.signers["timestamp"]), hooks)
        files["metadata/timestamp.json"] = data

        for file_path, (_, content) in self.target_files.items():
            files[file_path] = content
        return files

    @staticmethod
    def _meta(version: int, data: bytes, with_hashes: bool) -> MetaFile:
        if with_hashes:
            return MetaFile(version, len(data), {"sha256": sha256(data)})
        return MetaFile(version)


def _sign_raw(signed: dict[str, Any], signers: list[Signer]) -> bytes:
    """Sign a ``signed`` dict as is (canonical JSON by securesystemslib, like python-tuf)."""
    payload = encode_canonical(signed).encode("utf-8")  # type: ignore[union-attr]
    signatures: dict[str, Any] = {}
    for signer in signers:
        signatures.setdefault(signer.public_key.keyid, signer.sign(payload).to_dict())
    doc = {"signatures": list(signatures.values()), "signed": signed}
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode("utf-8")


def target_file_path(path: str, content: bytes) -> str:
    """Where a target lives in a consistent-snapshot repository."""
    dirname, sep, basename = path.rpartition("/")
    return f"targets/{dirname}{sep}{sha256(content)}.{basename}"
