"""Benchmark repositories, built with python-tuf's Metadata API (not with firmtuf's signer).

A repository is laid out as `firmtuf publish` writes it and as python-tuf's ngclient expects:
`<root>/metadata/{1..4.root.json, root.json, timestamp.json, N.snapshot.json, N.targets.json,
N.<role>.json}` and `<root>/targets/<dir>/<sha256>.<basename>` (consistent snapshots).

Shape of every repository:
- root rotated three times (1.root.json is what a fresh device ships; 2, 3, 4 each change the
  root key and are signed by the old and the new key);
- `flat` layout: top-level targets.json lists N targets and delegates one role `firmware`
  holding the looked-up target (and the image, when there is one);
- `bins` layout: top-level targets.json delegates to hash bins (classic path_hash_prefixes,
  16 bins below 10,000 targets, 256 from there) holding the N targets plus the looked-up one.
Only the looked-up target and the image exist as files; the other targets are metadata only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from securesystemslib.signer import CryptoSigner, Signer
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

LOOKUP_NAME = "acme-gw-r2/2.0.0/gateway.bin"
IMAGE_NAME = "acme-gw-r2/2.0.1/image.bin"
_SERIALIZER = JSONSerializer(compact=True)
_ZERO_HASHES: dict[int, str] = {}


def _expiry() -> datetime:
    return (datetime.now(UTC) + timedelta(days=365)).replace(microsecond=0)


def zero_sha256(size: int) -> str:
    """Hex sha256 of `size` zero bytes (the content of a sparse image), cached."""
    if size not in _ZERO_HASHES:
        h = hashlib.sha256()
        chunk = bytes(1 << 20)
        left = size
        while left:
            n = min(left, len(chunk))
            h.update(chunk[:n] if n < len(chunk) else chunk)
            left -= n
        _ZERO_HASHES[size] = h.hexdigest()
    return _ZERO_HASHES[size]


def _synthetic_target(i: int) -> tuple[str, TargetFile]:
    # Realistic firmware entries: ADR 0001 custom fields, one sha256, a plausible length.
    hw = f"acme-sensor-r{i % 7}"
    name = f"{hw}/1.{i // 1000}.{i % 1000}/fw-{i}.bin"
    digest = hashlib.sha256(name.encode()).hexdigest()
    custom = {"firmtuf": {"hardware_ids": [hw], "version": f"1.{i // 1000}.{i % 1000}"}}
    return name, TargetFile(
        length=65536 + i,
        hashes={"sha256": digest},
        path=name,
        unrecognized_fields={"custom": custom},
    )


def _file_target(name: str, data_path: Path, sha256: str | None = None) -> TargetFile:
    size = data_path.stat().st_size
    if sha256 is None:
        h = hashlib.sha256()
        with open(data_path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        sha256 = h.hexdigest()
    hw = name.split("/", 1)[0]
    version = name.split("/")[1]
    custom = {"firmtuf": {"hardware_ids": [hw], "version": version}}
    return TargetFile(
        length=size, hashes={"sha256": sha256}, path=name, unrecognized_fields={"custom": custom}
    )


def _bin_prefixes(n_bins: int) -> list[list[str]]:
    width = 1 if n_bins <= 16 else 2
    per_bin = (16**width) // n_bins
    all_prefixes = [format(p, f"0{width}x") for p in range(16**width)]
    return [all_prefixes[b * per_bin : (b + 1) * per_bin] for b in range(n_bins)]


@dataclass
class BuiltRepo:
    """A repository on disk plus the signers needed to change it."""

    root: Path
    n_targets: int
    layout: str
    lookup: str
    image: str | None
    image_size: int
    signers: dict[str, Signer] = field(repr=False)
    timestamp: Metadata[Timestamp] = field(repr=False)

    @property
    def metadata(self) -> Path:
        return self.root / "metadata"

    @property
    def first_root(self) -> Path:
        """The root.json a fresh device ships (version 1)."""
        return self.metadata / "1.root.json"

    def with_new_timestamp(self, dest: Path) -> Path:
        """Copy of this repository (hard links) whose only change is timestamp version + 1."""
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(self.root, dest, copy_function=os.link)
        ts = Metadata[Timestamp].from_dict(self.timestamp.to_dict())
        ts.signed.version += 1
        ts.signatures.clear()
        ts.sign(self.signers["timestamp"])
        out = dest / "metadata" / "timestamp.json"
        out.unlink()
        out.write_bytes(ts.to_bytes(_SERIALIZER))
        return dest


def build_repo(out: Path, n_targets: int, layout: str = "flat", image_size: int = 0) -> BuiltRepo:
    """Write a repository with `n_targets` targets to `out` (replaced if present).

    Args:
        out: directory to create; holds `metadata/` and `targets/`.
        n_targets: number of synthetic targets besides the looked-up one.
        layout: "flat" (one targets.json + one delegated role) or "bins" (hash bins).
        image_size: when > 0, also publish a sparse zero-filled image of this many bytes
            as target IMAGE_NAME in the delegated role (flat) or its bin.
    """
    if layout not in ("flat", "bins"):
        raise ValueError(f"unknown layout {layout!r}")
    if out.exists():
        shutil.rmtree(out)
    meta_dir = out / "metadata"
    meta_dir.mkdir(parents=True)
    (out / "targets").mkdir()
    expires = _expiry()
    signers: dict[str, Signer] = {
        role: CryptoSigner.generate_ed25519() for role in ("timestamp", "snapshot", "targets")
    }

    def write(md: Metadata, name: str) -> None:
        (meta_dir / name).write_bytes(md.to_bytes(_SERIALIZER))

    # Files that really exist: the looked-up target and, optionally, the sparse image.
    real: list[tuple[str, TargetFile]] = []
    for name, size in [(LOOKUP_NAME, 4096)] + ([(IMAGE_NAME, image_size)] if image_size else []):
        tmp = out / "targets" / "tmp.bin"
        with open(tmp, "wb") as f:
            if name == LOOKUP_NAME:
                f.write(hashlib.sha256(b"lookup").digest() * (size // 32))
            else:
                f.truncate(size)
        sha = zero_sha256(size) if name == IMAGE_NAME else None
        tf = _file_target(name, tmp, sha)
        dirname, _, base = name.rpartition("/")
        dest = out / "targets" / dirname / f"{tf.hashes['sha256']}.{base}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(dest)
        real.append((name, tf))

    synthetic = [_synthetic_target(i) for i in range(n_targets)]
    top = Metadata(Targets(expires=expires))
    delegated: dict[str, Metadata[Targets]] = {}
    if layout == "flat":
        top.signed.targets = dict(synthetic)
        role_signer = CryptoSigner.generate_ed25519()
        signers["firmware"] = role_signer
        role = DelegatedRole(
            name="firmware",
            keyids=[role_signer.public_key.keyid],
            threshold=1,
            terminating=True,
            paths=["acme-gw-r2/*/*"],
        )
        top.signed.delegations = Delegations(
            keys={role_signer.public_key.keyid: role_signer.public_key}, roles={"firmware": role}
        )
        fw = Metadata(Targets(expires=expires))
        fw.signed.targets = dict(real)
        delegated["firmware"] = fw
    else:
        n_bins = 16 if n_targets < 10_000 else 256
        bin_signer = CryptoSigner.generate_ed25519()
        roles: dict[str, DelegatedRole] = {}
        prefix_to_bin: dict[str, str] = {}
        for prefixes in _bin_prefixes(n_bins):
            name = f"bin-{prefixes[0]}-{prefixes[-1]}"
            signers[name] = bin_signer
            roles[name] = DelegatedRole(
                name=name,
                keyids=[bin_signer.public_key.keyid],
                threshold=1,
                terminating=True,
                path_hash_prefixes=prefixes,
            )
            delegated[name] = Metadata(Targets(expires=expires))
            for p in prefixes:
                prefix_to_bin[p] = name
        width = len(next(iter(prefix_to_bin)))
        top.signed.delegations = Delegations(
            keys={bin_signer.public_key.keyid: bin_signer.public_key}, roles=roles
        )
        for name, tf in synthetic + real:
            prefix = hashlib.sha256(name.encode()).hexdigest()[:width]
            delegated[prefix_to_bin[prefix]].signed.targets[name] = tf

    snapshot = Metadata(Snapshot(expires=expires))
    top.sign(signers["targets"])
    write(top, "1.targets.json")
    snapshot.signed.meta["targets.json"] = MetaFile(version=1)
    for name, md in delegated.items():
        md.sign(signers[name])
        write(md, f"1.{name}.json")
        snapshot.signed.meta[f"{name}.json"] = MetaFile(version=1)
    snapshot.sign(signers["snapshot"])
    write(snapshot, "1.snapshot.json")
    timestamp = Metadata(Timestamp(expires=expires))
    timestamp.signed.snapshot_meta = MetaFile(version=1)
    timestamp.sign(signers["timestamp"])
    write(timestamp, "timestamp.json")

    # Root v1..v4: every version changes the root key and is signed by the old and new key.
    root_signer = CryptoSigner.generate_ed25519()
    root = Metadata(Root(expires=expires, consistent_snapshot=True))
    root.signed.add_key(root_signer.public_key, "root")
    for top_role in ("timestamp", "snapshot", "targets"):
        root.signed.add_key(signers[top_role].public_key, top_role)
    root.sign(root_signer)
    write(root, "1.root.json")
    for version in (2, 3, 4):
        new_signer = CryptoSigner.generate_ed25519()
        root.signed.revoke_key(root_signer.public_key.keyid, "root")
        root.signed.add_key(new_signer.public_key, "root")
        root.signed.version = version
        root.signatures.clear()
        root.sign(root_signer, append=True)
        root.sign(new_signer, append=True)
        write(root, f"{version}.root.json")
        root_signer = new_signer
    write(root, "root.json")

    image = IMAGE_NAME if image_size else None
    return BuiltRepo(out, n_targets, layout, LOOKUP_NAME, image, image_size, signers, timestamp)
