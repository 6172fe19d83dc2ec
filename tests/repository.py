"""The tests' one TUF repository builder, on python-tuf's Metadata API.

A ``Repository`` keeps the role payloads, their signers and every root version in memory
and signs when asked (modelled on python-tuf's tests/repository_simulator.py). It owns, once:
key generation (pooled per key type on request, so hypothesis examples stay fast), signing
with thresholds and other signers, version and meta bookkeeping (snapshot and timestamp
meta, with lengths and hashes on request), delegations (succinct hash bins too), the
published layout of the brief (``metadata/N.root.json``, ``N.<role>.json``,
``targets/<dir>/<sha256>.<basename>``) and the serialisation ("pretty": python-tuf's
default, the device re-encodes ``signed`` to check signatures; "compact"; "canonical": as
firmtuf's signer writes, the device checks the raw bytes).

Its views:
- ``files`` / ``fetcher`` / ``updater()``: the URL -> bytes map a device fetches through
  ``verifier.MemoryFetcher``; ``override`` replaces what one URL serves;
- ``tree(hooks)``: ``{relative_path: bytes}`` of the published layout, for the oracle tests
  that serve the same bytes to python-tuf and to the verifier (``oracle_repository``);
- ``PublishedRepository``: every version so far, written to a directory as firmtuf's signer
  publishes one.

Attacks: ``Hooks`` change what the repository signs (a compromised or buggy repository);
``override``, ``tamper`` and ``edit_json`` change bytes after signing (a mirror or a man in
the middle).
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

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
from tuf.api.serialization import MetadataSerializer
from tuf.api.serialization.json import JSONSerializer

import verifier

KEY_TYPES = ("ed25519", "ecdsa-p256", "ecdsa-p384", "rsa-pss")
TOP_ROLES = ("root", "timestamp", "snapshot", "targets")
BASE = "https://repo.test/"
METADATA_URL = BASE + "metadata/"
TARGETS_URL = BASE + "targets/"

# -- keys ---------------------------------------------------------------------------------------


def generate(key_type: str = "ed25519") -> CryptoSigner:
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


_POOL: dict[str, list[CryptoSigner]] = {k: [] for k in KEY_TYPES}


class KeyPool:
    """Hands out distinct signers within one repository.

    ``shared``: the signers come from a process-wide pool, so two repositories hold the same
    keys (fast, for the many repositories of hypothesis runs); otherwise every key is new,
    as tests that show another repository's metadata is refused need.
    """

    def __init__(self, shared: bool = False) -> None:
        self.shared = shared
        self._used = dict.fromkeys(KEY_TYPES, 0)

    def take(self, key_type: str = "ed25519") -> CryptoSigner:
        if not self.shared:
            return generate(key_type)
        pool = _POOL[key_type]
        index = self._used[key_type]
        while len(pool) <= index:
            pool.append(generate(key_type))
        self._used[key_type] += 1
        return pool[index]


# -- layout and serialisation -------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def target_file_path(path: str, content: bytes) -> str:
    """Where a target lives in a consistent-snapshot repository."""
    dirname, sep, basename = path.rpartition("/")
    return f"targets/{dirname}{sep}{sha256(content)}.{basename}"


def future(days: int = 30) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)


class CanonicalLayout(MetadataSerializer):
    """Metadata as firmtuf's signer writes it: canonical JSON (compact, keys sorted, raw
    UTF-8), so a device verifies the raw ``signed`` bytes before parsing (the fast path)."""

    def serialize(self, metadata_obj: Metadata) -> bytes:  # type: ignore[type-arg]
        doc = metadata_obj.to_dict()
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


LAYOUTS: dict[str, Callable[[], MetadataSerializer]] = {
    "pretty": JSONSerializer,
    "compact": lambda: JSONSerializer(compact=True),  # python-tuf's Metadata.to_bytes()
    "canonical": CanonicalLayout,
}


def _sign_raw(signed: dict[str, Any], signers: list[Signer]) -> bytes:
    """Sign a ``signed`` dict as is (canonical JSON by securesystemslib, like python-tuf)."""
    payload = encode_canonical(signed).encode("utf-8")  # type: ignore[union-attr]
    signatures: dict[str, Any] = {}
    for signer in signers:
        signatures.setdefault(signer.public_key.keyid, signer.sign(payload).to_dict())
    doc = {"signatures": list(signatures.values()), "signed": signed}
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode("utf-8")


# -- attacks ------------------------------------------------------------------------------------


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


def tamper(data: bytes, old: str, new: str) -> bytes:
    """``data`` with ``old`` (a ``"key": value`` pair) replaced by ``new``, in either
    layout (python-tuf's pretty ``"key": value`` or canonical ``"key":value``); a tamper
    that changes nothing fails the test instead of passing unnoticed."""
    for a, b in ((old, new), (old.replace(": ", ":"), new.replace(": ", ":"))):
        changed = data.replace(a.encode(), b.encode())
        if changed != data:
            return changed
    raise AssertionError(f"{old!r} not found in the metadata")


def edit_json(
    files: dict[str, bytes], path: str, edit: Callable[[dict[str, Any]], object]
) -> bytes:
    """Edit the JSON document ``files[path]`` after signing; returns the new bytes."""
    doc = json.loads(files[path])
    edit(doc)
    files[path] = json.dumps(doc, indent=1).encode()
    return files[path]


# -- the repository -----------------------------------------------------------------------------


class Repository:
    """A mutable TUF repository in memory.

    Args:
        key_type: type of new keys.
        layout: "pretty", "compact" or "canonical" serialisation of the metadata.
        consistent_snapshot: the root's flag (what ``serve`` answers follows it).
        pooled_keys: take keys from the process-wide pool (see ``KeyPool``).
        thresholds, nkeys, key_types: per top-level role.
        lifetimes: days each top-level role's metadata is valid ("targets" also for
            delegated roles); 30 days where not given.
        snapshot_hashes: also put length and hashes of targets roles into snapshot meta.
        timestamp_hashes: also put length and hashes of snapshot into timestamp meta.
    """

    def __init__(
        self,
        key_type: str = "ed25519",
        *,
        layout: str = "pretty",
        consistent_snapshot: bool = True,
        pooled_keys: bool = False,
        thresholds: Mapping[str, int] | None = None,
        nkeys: Mapping[str, int] | None = None,
        key_types: Mapping[str, str] | None = None,
        lifetimes: Mapping[str, float] | None = None,
        snapshot_hashes: bool = False,
        timestamp_hashes: bool = False,
    ) -> None:
        self.key_type = key_type
        self.serializer = LAYOUTS[layout]()
        self.keys = KeyPool(shared=pooled_keys)
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.lifetimes = dict(lifetimes or {})
        self.snapshot_hashes = snapshot_hashes
        self.timestamp_hashes = timestamp_hashes
        self.root = Metadata(
            Root(expires=self.expiry("root"), consistent_snapshot=consistent_snapshot)
        )
        self.timestamp = Metadata(Timestamp(expires=self.expiry("timestamp")))
        self.snapshot = Metadata(Snapshot(expires=self.expiry("snapshot")))
        self.targets = Metadata(Targets(expires=self.expiry("targets")))
        self.delegated: dict[str, Metadata[Targets]] = {}
        self.signers: dict[str, list[Signer]] = {}
        thresholds, nkeys, key_types = thresholds or {}, nkeys or {}, key_types or {}
        for role in TOP_ROLES:
            threshold = thresholds.get(role, 1)
            self.root.signed.roles[role].threshold = threshold
            for _ in range(max(nkeys.get(role, threshold), threshold, 1)):
                self.add_key(role, key_type=key_types.get(role, key_type))
        # (payload, its own signers) of every committed root version, signed when asked
        self.root_versions: list[tuple[Root, list[Signer]]] = []
        # published file path -> (target path, content); two roles may sign one name
        self.target_files: dict[str, tuple[str, bytes]] = {}
        self.override: dict[str, bytes] = {}
        self.commit_root()
        self.files = _Urls(self)
        self.fetcher = verifier.MemoryFetcher(self.files)

    # -- keys and roles -----------------------------------------------------------------------

    def expiry(self, role: str) -> datetime:
        days = self.lifetimes.get(role if role in TOP_ROLES else "targets", 30)
        return self.now + timedelta(days=days)

    def md(self, role: str) -> Metadata[Any]:
        if role in TOP_ROLES:
            return getattr(self, role)  # type: ignore[no-any-return]
        return self.delegated[role]

    def targets_roles(self) -> list[str]:
        """The targets role and every delegated role, in the order they were added."""
        return ["targets", *self.delegated]

    def add_key(
        self,
        role: str,
        signer: Signer | None = None,
        delegator: str = "root",
        *,
        key_type: str | None = None,
    ) -> Signer:
        """A new (or the given) signer for ``role``, listed by ``delegator``."""
        signer = signer or self.keys.take(key_type or self.key_type)
        self.md(delegator).signed.add_key(signer.public_key, role)
        self.signers.setdefault(role, []).append(signer)
        return signer

    def rotate_keys(
        self,
        role: str,
        *,
        keep: int = 0,
        add: int = 1,
        key_type: str | None = None,
        threshold: int | None = None,
    ) -> None:
        """Replace keys of a top-level role in the working root (commit_root after)."""
        old = self.signers[role]
        for signer in old[keep:]:
            self.root.signed.revoke_key(signer.public_key.keyid, role)
        self.signers[role] = old[:keep]
        for _ in range(add):
            self.add_key(role, key_type=key_type)
        if threshold is not None:
            self.root.signed.roles[role].threshold = threshold

    def commit_root(self) -> None:
        """Freeze the working root as the next root version; it is signed by its own root
        keys and those of the version before (a device walks the chain)."""
        if self.root_versions:
            self.root.signed.version = self.root_versions[-1][0].version + 1
        frozen = Root.from_dict(copy.deepcopy(self.root.signed.to_dict()))
        self.root_versions.append((frozen, list(self.signers["root"])))

    def rotate_root(self, new_signers: list[Signer] | None = None) -> None:
        """Next root version, with ``new_signers`` as its root keys if given."""
        if new_signers is not None:
            for signer in self.signers["root"]:
                self.root.signed.revoke_key(signer.public_key.keyid, "root")
            for signer in new_signers:
                self.root.signed.add_key(signer.public_key, "root")
            self.signers["root"] = list(new_signers)
        self.commit_root()

    def add_target(
        self, path: str, data: bytes, role: str = "targets", custom: object = None
    ) -> TargetFile:
        info = TargetFile.from_data(path, data, ["sha256"])
        if custom is not None:
            info.unrecognized_fields["custom"] = custom
        self.md(role).signed.targets[path] = info
        self.target_files[target_file_path(path, data)] = (path, data)
        return info

    def delegate(
        self,
        delegator: str,
        name: str,
        paths: list[str] | None = None,
        *,
        hash_prefixes: list[str] | None = None,
        terminating: bool = False,
        threshold: int = 1,
        nkeys: int = 1,
        key_type: str | None = None,
        signers: list[Signer] | None = None,
    ) -> None:
        """Add a delegated targets role ``name`` under ``delegator``, with ``nkeys`` new
        keys (or the given ``signers``)."""
        parent = self.md(delegator).signed
        if parent.delegations is None:
            parent.delegations = Delegations({}, roles={})
        assert parent.delegations.roles is not None
        role = DelegatedRole(name, [], threshold, terminating, paths, hash_prefixes)
        parent.delegations.roles[name] = role
        self.delegated[name] = Metadata(Targets(expires=self.expiry(name)))
        if signers is None:
            signers = [self.keys.take(key_type or self.key_type) for _ in range(max(nkeys, 1))]
        for signer in signers:
            self.add_key(name, signer, delegator)

    def delegate_succinct(
        self, delegator: str, bit_length: int, prefix: str, *, key_type: str | None = None
    ) -> list[str]:
        """Add succinct hash bins (one key for all bins, TAP 15); returns the bin names."""
        parent = self.md(delegator).signed
        signer = self.keys.take(key_type or self.key_type)
        succinct = SuccinctRoles([], 1, bit_length, prefix)
        parent.delegations = Delegations({}, succinct_roles=succinct)
        parent.add_key(signer.public_key)
        names = list(succinct.get_roles())
        for name in names:
            self.delegated[name] = Metadata(Targets(expires=self.expiry(name)))
            self.signers[name] = [signer]
        return names

    def bin_for(self, delegator: str, path: str) -> str:
        delegations = self.md(delegator).signed.delegations
        assert delegations is not None and delegations.succinct_roles is not None
        return delegations.succinct_roles.get_role_for_target(path)  # type: ignore[no-any-return]

    def delegator_of(self, role: str) -> str:
        """The role whose payload lists ``role`` (meta or delegation)."""
        if role in ("timestamp", "snapshot", "targets"):
            return {"timestamp": "root", "snapshot": "timestamp", "targets": "snapshot"}[role]
        for name in self.targets_roles():
            d = self.md(name).signed.delegations
            if d is None:
                continue
            if d.roles and role in d.roles:
                return name
            if d.succinct_roles is not None and d.succinct_roles.is_delegated_role(role):
                return name
        raise KeyError(role)

    # -- versions and meta --------------------------------------------------------------------

    def bump(self, role: str) -> None:
        """Increase a role's version (as a repository does on every change)."""
        if role == "root":
            self.commit_root()
        else:
            self.md(role).signed.version += 1

    def _meta(self, version: int, data: bytes | None, with_hashes: bool) -> MetaFile:
        if with_hashes and data is not None:
            return MetaFile(version, len(data), {"sha256": sha256(data)})
        return MetaFile(version)

    def update_snapshot(self) -> None:
        """Bump snapshot (listing current targets versions) and timestamp."""
        self.snapshot.signed.meta = {
            f"{role}.json": self._meta(
                self.md(role).signed.version,
                self.sign(role) if self.snapshot_hashes else None,
                self.snapshot_hashes,
            )
            for role in self.targets_roles()
        }
        self.snapshot.signed.version += 1
        self.update_timestamp()

    def update_timestamp(self) -> None:
        data = self.sign("snapshot") if self.timestamp_hashes else None
        version = self.snapshot.signed.version
        self.timestamp.signed.snapshot_meta = self._meta(version, data, self.timestamp_hashes)
        self.timestamp.signed.version += 1

    def publish(self, roles: tuple[str, ...] = ("targets",)) -> None:
        """Bump the given targets roles, then snapshot and timestamp."""
        for role in roles:
            self.md(role).signed.version += 1
        self.update_snapshot()

    # -- signing and the published layout ------------------------------------------------------

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
        for signer in signers:  # a key listed twice signs once
            if signer.public_key.keyid not in seen:
                seen.add(signer.public_key.keyid)
                md.sign(signer, append=True)
        if hooks.post_sign is not None:
            hooks.post_sign(role, md.signed.version, md)
        return md.to_bytes(self.serializer)

    def sign_root(self, index: int, hooks: Hooks | None = None) -> bytes:
        """Root version ``index + 1``, signed by its keys and those of the version before."""
        root, signers = self.root_versions[index]
        previous = self.root_versions[index - 1][1] if index else []
        return self._sign("root", root, [*previous, *signers], hooks or Hooks())

    def sign(self, role: str, hooks: Hooks | None = None) -> bytes:
        """The current version of ``role`` signed (root: the newest committed version)."""
        if role == "root":
            return self.sign_root(len(self.root_versions) - 1, hooks)
        signers = list(self.signers.get(role, []))
        return self._sign(role, self.md(role).signed, signers, hooks or Hooks())

    @property
    def signed_roots(self) -> list[bytes]:
        return [self.sign_root(i) for i in range(len(self.root_versions))]

    def metadata_path(self, role: str) -> str:
        """Where the current version of ``role`` is published."""
        if role == "timestamp":
            return "metadata/timestamp.json"
        if role == "root":
            return f"metadata/{self.root_versions[-1][0].version}.root.json"
        return f"metadata/{self.md(role).signed.version}.{role}.json"

    def tree(self, hooks: Hooks | None = None) -> dict[str, bytes]:
        """Sign every role (snapshot and timestamp meta filled in from the bytes signed)
        and return ``{relative_path: bytes}``: every root version and the current version
        of every other role and target."""
        hooks = hooks or Hooks()
        files: dict[str, bytes] = {}
        for index, (root, _) in enumerate(self.root_versions):
            files[f"metadata/{root.version}.root.json"] = self.sign_root(index, hooks)
        files["metadata/root.json"] = files[self.metadata_path("root")]
        self.snapshot.signed.meta = {}
        for name in self.targets_roles():
            data = self.sign(name, hooks)
            files[self.metadata_path(name)] = data
            version = self.md(name).signed.version
            self.snapshot.signed.meta[f"{name}.json"] = self._meta(
                version, data, self.snapshot_hashes
            )
        data = self.sign("snapshot", hooks)
        files[self.metadata_path("snapshot")] = data
        self.timestamp.signed.snapshot_meta = self._meta(
            self.snapshot.signed.version, data, self.timestamp_hashes
        )
        files["metadata/timestamp.json"] = self.sign("timestamp", hooks)
        for file_path, (_, content) in self.target_files.items():
            files[file_path] = content
        return files

    # -- the URL view a device fetches from ------------------------------------------------------

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
            version: int | None = int(version_text)
            role = rest.removesuffix(".json")
        else:
            version, role = None, name.removesuffix(".json")
        if role == "root":
            if version is None or not 1 <= version <= len(self.root_versions):
                return None
            return self.sign_root(version - 1)
        if (version is None) == self.root.signed.consistent_snapshot:
            return None
        if role != "snapshot" and role not in self.targets_roles():
            return None
        if version is not None and version != self.md(role).signed.version:
            return None
        return self.sign(role)

    def _serve_target(self, path: str) -> bytes | None:
        if self.root.signed.consistent_snapshot:
            found = self.target_files.get("targets/" + path)
            return None if found is None else found[1]
        contents = [data for name, data in self.target_files.values() if name == path]
        return contents[-1] if contents else None

    def updater(self, metadata_dir: object, **kwargs: object) -> verifier.Updater:
        """An Updater on this repository with root version 1 as trusted root."""
        d = Path(str(metadata_dir))
        d.mkdir(parents=True, exist_ok=True)
        if not (d / "root.json").exists():
            (d / "root.json").write_bytes(self.sign_root(0))
        kwargs.setdefault("fetcher", self.fetcher)
        return verifier.Updater(d, METADATA_URL, TARGETS_URL, **kwargs)  # type: ignore[arg-type]


def oracle_repository(key_type: str = "ed25519", **options: Any) -> Repository:
    """The oracle tests' repository: pooled keys (hypothesis builds thousands of
    repositories), python-tuf's compact layout, and lifetimes like a real repository's."""
    lifetimes = {"root": 365, "timestamp": 1, "snapshot": 7, "targets": 30}
    return Repository(key_type, pooled_keys=True, layout="compact", lifetimes=lifetimes, **options)


class _Urls(Mapping[str, bytes]):
    """The URL -> bytes view the device fetches from (signed when fetched)."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo

    def __getitem__(self, url: str) -> bytes:
        data = self.repo.serve(url)
        if data is None:
            raise KeyError(url)
        return data

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class PublishedRepository:
    """Every version so far in the published layout, as firmtuf's signer publishes a
    directory (one ed25519 key per top-level role, one key for all delegated roles): for
    publishing tests that must not depend on the state of the signer CLI.

    ``add_target`` / ``delegate`` / ``rotate_key`` mark roles changed; ``commit()`` bumps
    their versions (expiry ``expires_in`` from now), then snapshot and timestamp.
    """

    def __init__(self, root_dir: Path, *, expires_in: timedelta = timedelta(days=7)) -> None:
        self.dir = root_dir
        self.expires_in = expires_in
        days = expires_in / timedelta(days=1)
        self.repository = Repository(lifetimes=dict.fromkeys(TOP_ROLES, days))
        self.delegate_signer = generate()
        self.files: dict[str, bytes] = {}
        self.published: set[str] = set()
        self.dirty: set[str] = set(TOP_ROLES)
        self.commit()

    def add_target(self, name: str, data: bytes, *, role: str = "targets", **firmware: Any) -> str:
        """Add an image; returns its key under the published tree."""
        self.repository.add_target(name, data, role, {"firmtuf": firmware} if firmware else None)
        self.dirty.add(role)
        return target_file_path(name, data)

    def delegate(
        self, role: str, paths: list[str], *, parent: str = "targets", terminating: bool = True
    ) -> None:
        """Delegate ``paths`` from ``parent`` to a new role signed by ``delegate_signer``."""
        self.repository.delegate(
            parent, role, paths, terminating=terminating, signers=[self.delegate_signer]
        )
        self.dirty |= {parent, role}

    def rotate_key(self, role: str) -> None:
        """Replace ``role``'s key with a new one (a new root version lists it)."""
        self.repository.rotate_keys(role)
        self.dirty |= {"root", role}

    def rotate_root(self) -> None:
        """Bump root (same keys): devices must walk the chain."""
        self.dirty.add("root")

    def commit(self) -> None:
        """Bump versions of changed roles, then snapshot and timestamp, and sign them."""
        expires = (datetime.now(UTC) + self.expires_in).replace(microsecond=0)
        for role in self.dirty | {"snapshot", "timestamp"}:
            if role in self.published:
                self.repository.bump(role)
            self.published.add(role)
            if role != "root":
                self.repository.md(role).signed.expires = expires
        self.files.update(self.repository.tree())
        self.dirty = set()

    @property
    def root_bytes(self) -> bytes:
        return self.files["metadata/1.root.json"]

    def write(self, out: Path) -> Path:
        """Write the whole published tree (every version so far) to ``out``."""
        return write_tree(self.files, out)


def write_tree(files: Mapping[str, bytes], out: Path) -> Path:
    """Write ``{relative_path: bytes}`` (a ``tree()``) as the directory ``out``."""
    if out.exists():
        shutil.rmtree(out)
    for key, data in files.items():
        path = out / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return out
