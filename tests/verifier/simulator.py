"""In-memory TUF repository built with python-tuf's Metadata API (tests only).

Modelled on python-tuf's tests/repository_simulator.py: metadata objects are kept in
memory and serialised and signed when fetched, so a test edits ``sim.targets`` (etc.),
calls ``sim.publish()`` and the device sees the new state. ``sim.files`` is a mapping
of URL -> bytes served through ``verifier.MemoryFetcher``; ``sim.override`` replaces
what one URL serves (attacks).
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterator, Mapping
from urllib.parse import unquote

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
from tuf.api.serialization import MetadataSerializer
from tuf.api.serialization.json import JSONSerializer

import verifier

BASE = "https://repo.test/"
METADATA_URL = BASE + "metadata/"
TARGETS_URL = BASE + "targets/"
TOP = ("root", "timestamp", "snapshot", "targets")


def future(days: int = 30) -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0) + (
        datetime.timedelta(days=days)
    )


class Files(Mapping[str, bytes]):
    """The URL -> bytes view the device fetches from."""

    def __init__(self, sim: RepositorySimulator) -> None:
        self.sim = sim

    def __getitem__(self, url: str) -> bytes:
        data = self.sim.serve(url)
        if data is None:
            raise KeyError(url)
        return data

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class CanonicalLayout(MetadataSerializer):
    """Metadata as firmtuf's signer writes it: canonical JSON (compact, keys sorted, raw
    UTF-8), so a device verifies the raw ``signed`` bytes before parsing (the fast path)."""

    def serialize(self, metadata_obj: Metadata) -> bytes:  # type: ignore[type-arg]
        doc = metadata_obj.to_dict()
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class RepositorySimulator:
    """``layout``: "pretty" (python-tuf's default JSONSerializer: the device re-encodes
    ``signed`` to check signatures) or "canonical" (firmtuf's signer: raw bytes checked)."""

    def __init__(self, consistent_snapshot: bool = True, layout: str = "pretty") -> None:
        self.serializer: MetadataSerializer = (
            CanonicalLayout() if layout == "canonical" else JSONSerializer()
        )
        self.signers: dict[str, list[Signer]] = {}
        self.root = Metadata(Root(expires=future(), consistent_snapshot=consistent_snapshot))
        self.timestamp = Metadata(Timestamp(expires=future()))
        self.snapshot = Metadata(Snapshot(expires=future()))
        self.targets = Metadata(Targets(expires=future()))
        self.delegated: dict[str, Metadata[Targets]] = {}
        self.artifacts: dict[str, bytes] = {}
        self.override: dict[str, bytes] = {}
        self.compute_metafile_hashes_length = False
        self.signed_roots: list[bytes] = []
        for role in TOP:
            self.add_key(role)
        self.publish_root()
        self.files = Files(self)
        self.fetcher = verifier.MemoryFetcher(self.files)

    # -- keys and signing -------------------------------------------------------------

    def add_key(self, role: str, signer: Signer | None = None, delegator: str = "root") -> Signer:
        signer = signer or CryptoSigner.generate_ed25519()
        if delegator == "root":
            self.root.signed.add_key(signer.public_key, role)
        else:
            self.md(delegator).signed.add_key(signer.public_key, role)
        self.signers.setdefault(role, []).append(signer)
        return signer

    def md(self, role: str) -> Metadata:  # type: ignore[type-arg]
        if role in TOP:
            return getattr(self, role)  # type: ignore[no-any-return]
        return self.delegated[role]

    def sign(self, role: str) -> bytes:
        md = self.md(role)
        md.signatures.clear()
        for signer in self.signers.get(role, []):
            md.sign(signer, append=True)
        return md.to_bytes(self.serializer)

    def publish_root(self) -> None:
        """Sign the current root (also with the previous root's keys) and publish it."""
        self.signed_roots.append(self.sign("root"))

    def rotate_root(self, new_signers: list[Signer] | None = None) -> None:
        """Next root version signed by old and new root keys."""
        old = list(self.signers["root"])
        self.root.signed.version += 1
        if new_signers is not None:
            for s in old:
                self.root.signed.revoke_key(s.public_key.keyid, "root")
            for s in new_signers:
                self.root.signed.add_key(s.public_key, "root")
        md = self.root
        md.signatures.clear()
        for s in old + (new_signers or []):
            md.sign(s, append=True)
        if new_signers is not None:
            self.signers["root"] = list(new_signers)
        self.signed_roots.append(md.to_bytes(self.serializer))

    # -- repository state --------------------------------------------------------------

    def add_target(
        self, path: str, data: bytes, role: str = "targets", custom: object = None
    ) -> None:
        target = TargetFile.from_data(path, data, ["sha256"])
        if custom is not None:
            target.unrecognized_fields["custom"] = custom
        self.md(role).signed.targets[path] = target
        self.artifacts[path] = data

    def add_delegation(
        self,
        delegator: str,
        name: str,
        paths: list[str] | None = None,
        *,
        terminating: bool = False,
        hash_prefixes: list[str] | None = None,
        threshold: int = 1,
    ) -> None:
        parent = self.md(delegator).signed
        if parent.delegations is None:
            parent.delegations = Delegations({}, roles={})
        assert parent.delegations.roles is not None
        role = DelegatedRole(name, [], threshold, terminating, paths, hash_prefixes)
        parent.delegations.roles[name] = role
        self.delegated[name] = Metadata(Targets(expires=future()))
        self.add_key(name, delegator=delegator)

    def add_succinct(self, delegator: str, bit_length: int, prefix: str) -> None:
        parent = self.md(delegator).signed
        signer = CryptoSigner.generate_ed25519()
        succinct = SuccinctRoles([], 1, bit_length, prefix)
        parent.delegations = Delegations({}, succinct_roles=succinct)
        parent.add_key(signer.public_key)
        for name in succinct.get_roles():
            self.delegated[name] = Metadata(Targets(expires=future()))
            self.signers[name] = [signer]

    def update_snapshot(self) -> None:
        """Bump snapshot (listing current targets versions) and timestamp."""
        meta: dict[str, MetaFile] = {}
        for role in ["targets", *self.delegated]:
            mf = MetaFile(self.md(role).signed.version)
            if self.compute_metafile_hashes_length:
                data = self.sign(role)
                mf = MetaFile(mf.version, len(data), {"sha256": hashlib.sha256(data).hexdigest()})
            meta[f"{role}.json"] = mf
        self.snapshot.signed.meta = meta
        self.snapshot.signed.version += 1
        self.update_timestamp()

    def update_timestamp(self) -> None:
        mf = MetaFile(self.snapshot.signed.version)
        if self.compute_metafile_hashes_length:
            data = self.sign("snapshot")
            mf = MetaFile(mf.version, len(data), {"sha256": hashlib.sha256(data).hexdigest()})
        self.timestamp.signed.snapshot_meta = mf
        self.timestamp.signed.version += 1

    def publish(self, roles: tuple[str, ...] = ("targets",)) -> None:
        """Bump the given targets roles, then snapshot and timestamp."""
        for role in roles:
            self.md(role).signed.version += 1
        self.update_snapshot()

    # -- serving ------------------------------------------------------------------------

    def file(self, path: str) -> bytes | None:
        """What the repository serves at ``path`` (relative to BASE): the source of a
        ``tests.loopback.FileServer`` standing for it over HTTP."""
        return self.serve(BASE + path)

    def serve(self, url: str) -> bytes | None:
        if url in self.override:
            return self.override[url]
        url = unquote(url)
        if url in self.override:
            return self.override[url]
        if url.startswith(TARGETS_URL):
            return self._serve_target(url[len(TARGETS_URL) :])
        if not url.startswith(METADATA_URL):
            return None
        name = url[len(METADATA_URL) :]
        version_text, _, rest = name.partition(".")
        if name == "timestamp.json":
            return self.sign("timestamp")
        if version_text.isdigit():
            version = int(version_text)
            role = rest.removesuffix(".json")
        else:
            version, role = None, name.removesuffix(".json")
        if role == "root":
            if version is None or not 1 <= version <= len(self.signed_roots):
                return None
            return self.signed_roots[version - 1]
        consistent = self.root.signed.consistent_snapshot
        if (version is None) == consistent:
            return None
        for candidate in ["snapshot", "targets", *self.delegated]:
            if candidate == role:
                md = self.md(candidate)
                if version is not None and version != md.signed.version:
                    return None
                return self.sign(candidate)
        return None

    def _serve_target(self, path: str) -> bytes | None:
        if self.root.signed.consistent_snapshot:
            dirname, sep, basename = path.rpartition("/")
            digest, _, name = basename.partition(".")
            data = self.artifacts.get(f"{dirname}{sep}{name}")
            if data is None or hashlib.sha256(data).hexdigest() != digest:
                return None
            return data
        return self.artifacts.get(path)

    def updater(self, metadata_dir: object, **kwargs: object) -> verifier.Updater:
        """An Updater on this repository with the current root as trusted root."""
        from pathlib import Path

        d = Path(str(metadata_dir))
        d.mkdir(parents=True, exist_ok=True)
        if not (d / "root.json").exists():
            (d / "root.json").write_bytes(self.signed_roots[0])
        kwargs.setdefault("fetcher", self.fetcher)
        return verifier.Updater(d, METADATA_URL, TARGETS_URL, **kwargs)  # type: ignore[arg-type]


def tamper(data: bytes, old: str, new: str) -> bytes:
    """``data`` with ``old`` (a ``"key": value`` pair) replaced by ``new``, in either
    layout (python-tuf's pretty ``"key": value`` or canonical ``"key":value``); a tamper
    that changes nothing fails the test instead of passing unnoticed."""
    for a, b in ((old, new), (old.replace(": ", ":"), new.replace(": ", ":"))):
        changed = data.replace(a.encode(), b.encode())
        if changed != data:
            return changed
    raise AssertionError(f"{old!r} not found in the metadata")
