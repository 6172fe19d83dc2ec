"""Repository scenarios and mutations for the differential tests.

A scenario is: build a repository (key types, thresholds, delegation shape), optionally let
both clients take an honest first step, evolve the repository (new versions, key
rotations), apply one mutation, and let both clients take a second step; ``then`` adds
more such steps. At every step both clients boot anew, refresh, look up a target and
download it; the tests compare their decisions and what they then trust.

Mutation families: POST_ (bytes changed after signing: a mirror or man in the middle),
PRE_ (payload changed before signing: a compromised or buggy repository), STATE_ (the
repository's history: rollbacks, rotations), TARGET_ (target file bytes) and, at the end of
this module, SIGNED_EDITS (JSON of ``signed`` edited and signed as is, to test parsers
behind valid signatures).
"""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from securesystemslib.signer import Signer
from tuf.api.metadata import DelegatedRole, Delegations, Metadata, Signature, SuccinctRoles

from tests.repository import (
    KEY_TYPES,
    TOP_ROLES,
    Hooks,
    Repository,
    edit_json,
    generate,
    oracle_repository,
    sha256,
)
from tests.verifier.oracle._clients import Client, Outcome, TufClient, VerifierClient

TARGET = "fw/image.bin"
MISSING_TARGET = "fw/missing.bin"

SHAPES = (
    "top",
    "paths",
    "paths_decoy",
    "terminating_miss",
    "nested",
    "hash_prefix",
    "succinct",
    "terminating_child",
    "cycle",
)

# Mutations applied to the bytes a client downloads (a mirror or man in the middle).
POST_MUTATIONS = (
    "sig_flip",
    "sig_drop",
    "sig_dup",
    "sig_dup_append",
    "junk",
    "truncated_json",
    "wrong_type_version",
    "wrong_type_expires",
    "missing_signed",
    "wrong_type_field",
    "oversize",
    "missing_file",
    "reserialize",
    "unknown_field_unsigned",
)
# Mutations of what the repository signs (a compromised or buggy repository).
PRE_MUTATIONS = (
    "version_up",
    "version_down",
    "expire",
    "meta_version_up",
    "meta_version_down",
    "meta_hash",
    "meta_length",
    "threshold_up",
    "threshold_zero",
    "paths_away",
    "terminating_flip",
    "wrong_key",
    "spec_version_major",
    "unknown_field",
    "wrong_type_role",
)
# Mutations of the repository's history.
STATE_MUTATIONS = (
    "none",
    "rollback",
    "rotate_good",
    "rotate_old_keys_only",
    "rotate_new_keys_only",
    "root_skip_version",
    "key_alias",
    "ff_recover_timestamp",
    "ff_recover_snapshot",
    "root_chain_break",
)
TARGET_MUTATIONS = ("target_flip", "target_long", "target_short", "target_missing")
# Damage to the device's own trusted files before it boots (storage faults): a client must
# recover from the repository, or refuse, never trust damaged data.
LOCAL_MUTATIONS = (
    "local_junk_timestamp",
    "local_junk_snapshot",
    "local_junk_targets",
    "local_delete_timestamp",
    "local_delete_snapshot",
    "local_delete_targets",
    "local_empty_timestamp",
)
MUTATIONS: tuple[str, ...] = (
    POST_MUTATIONS + PRE_MUTATIONS + STATE_MUTATIONS + TARGET_MUTATIONS + LOCAL_MUTATIONS
)  # + SIGNED_EDITS below

MAX_LENGTHS = {"root": 512000, "timestamp": 16384, "snapshot": 2000000, "targets": 5000000}


@dataclass
class Scenario:
    key_type: str = "ed25519"
    key_types: dict[str, str] = field(default_factory=dict)  # per top-level role
    thresholds: dict[str, int] = field(default_factory=dict)
    extra_keys: dict[str, int] = field(default_factory=dict)
    snapshot_hashes: bool = False
    timestamp_hashes: bool = False
    shape: str = "top"
    delegated_threshold: int = 1
    succinct_bits: int = 2
    preflight: bool = True
    bump: tuple[str, ...] = ()
    rotate: str | None = None
    mutation: str = "none"
    # root, timestamp, snapshot, targets, or pathN: the Nth delegated role on the target's
    # search path (see resolve_role)
    mutation_role: str = "timestamp"
    target: str = TARGET
    junk: bytes = b"\x00"
    start_version: int = 3  # above 1, so that a rollback to a valid lower version exists
    # Later steps: each one's bump, rotate, mutation, mutation_role, target and junk
    # evolve the repository again (the device boots again after each).
    then: tuple[Scenario, ...] = ()


@dataclass
class Built:
    builder: Repository
    path_roles: list[str]  # delegated roles on the search path of TARGET, in order


def build(sc: Scenario) -> Built:
    nkeys = {r: sc.thresholds.get(r, 1) + sc.extra_keys.get(r, 0) for r in sc.thresholds}
    b = oracle_repository(
        sc.key_type,
        thresholds=sc.thresholds,
        nkeys=nkeys,
        snapshot_hashes=sc.snapshot_hashes,
        timestamp_hashes=sc.timestamp_hashes,
        key_types=sc.key_types,
    )
    data = b"firmware image " * 64
    dt = sc.delegated_threshold
    roles: list[str] = []
    if sc.shape == "top":
        b.add_target(TARGET, data)
    elif sc.shape in ("paths", "paths_decoy"):
        b.delegate("targets", "prod", paths=["fw/*"], threshold=dt, nkeys=dt)
        b.add_target(TARGET, data, "prod")
        roles = ["prod"]
        if sc.shape == "paths_decoy":
            # A later role also claims the name with other bytes: it must never win.
            b.delegate("targets", "decoy", paths=["*/*"])
            b.add_target(TARGET, b"decoy bytes", "decoy")
            roles.append("decoy")
    elif sc.shape == "terminating_miss":
        # The first matching role is terminating and lacks the target: the search stops.
        b.delegate("targets", "prod", paths=["fw/*"], terminating=True, threshold=dt, nkeys=dt)
        b.add_target("fw/other.bin", b"other", "prod")
        b.delegate("targets", "late", paths=["fw/*"])
        b.add_target(TARGET, data, "late")
        roles = ["prod", "late"]
    elif sc.shape == "nested":
        b.delegate("targets", "a", paths=["fw/*"], threshold=dt, nkeys=dt)
        b.delegate("a", "b", paths=["fw/image.*"])
        b.add_target(TARGET, data, "b")
        roles = ["a", "b"]
    elif sc.shape == "terminating_child":
        # A terminating role's own delegations are still searched (spec 5.6.7.2.1): the
        # target comes from its child, never from the later sibling.
        b.delegate("targets", "a", paths=["fw/*"], terminating=True, threshold=dt, nkeys=dt)
        b.delegate("a", "b", paths=["fw/*"])
        b.add_target(TARGET, data, "b")
        b.delegate("targets", "late", paths=["fw/*"])
        b.add_target(TARGET, b"from after a terminating role", "late")
        roles = ["a", "b", "late"]
    elif sc.shape == "cycle":
        # a -> b -> a: each role is visited once; the target is in b.
        b.delegate("targets", "a", paths=["fw/*"], threshold=dt, nkeys=dt)
        b.delegate("a", "b", paths=["fw/*"])
        back = b.signers["a"]
        b_md = b.md("b").signed
        assert b_md.delegations is None
        b_md.delegations = Delegations(
            keys={sg.public_key.keyid: sg.public_key for sg in back},
            roles={
                "a": DelegatedRole(
                    "a", [sg.public_key.keyid for sg in back], dt, False, paths=["fw/*"]
                )
            },
        )
        b.add_target(TARGET, data, "b")
        roles = ["a", "b"]
    elif sc.shape == "hash_prefix":
        prefix = sha256(TARGET.encode())[:2]
        b.delegate("targets", "hp", hash_prefixes=[prefix], threshold=dt, nkeys=dt)
        b.add_target(TARGET, data, "hp")
        roles = ["hp"]
    elif sc.shape == "succinct":
        b.delegate_succinct("targets", sc.succinct_bits, "bin")
        role = b.bin_for("targets", TARGET)
        b.add_target(TARGET, data, role)
        roles = [role]
    else:
        raise ValueError(sc.shape)
    b.timestamp.signed.version = b.snapshot.signed.version = sc.start_version
    for name in b.targets_roles():
        b.md(name).signed.version = sc.start_version
    return Built(b, roles)


def _flip_hex(text: str) -> str:
    return ("1" if text[0] != "1" else "2") + text[1:]


def apply_post(sc: Scenario, files: dict[str, bytes], path: str, role: str) -> None:
    m = sc.mutation
    if m == "sig_flip":
        edit_json(
            files,
            path,
            lambda d: d["signatures"][0].update(sig=_flip_hex(d["signatures"][0]["sig"])),
        )
    elif m == "sig_drop":
        edit_json(files, path, lambda d: d["signatures"].pop(0))
    elif m == "sig_dup":
        edit_json(
            files, path, lambda d: d.update(signatures=[d["signatures"][0]] * len(d["signatures"]))
        )
    elif m == "sig_dup_append":
        edit_json(files, path, lambda d: d["signatures"].append(d["signatures"][0]))
    elif m == "junk":
        files[path] = sc.junk
    elif m == "truncated_json":
        files[path] = files[path][: len(files[path]) // 2]
    elif m == "wrong_type_version":
        edit_json(files, path, lambda d: d["signed"].update(version=str(d["signed"]["version"])))
    elif m == "wrong_type_expires":
        edit_json(files, path, lambda d: d["signed"].update(expires=1893456000))
    elif m == "missing_signed":
        edit_json(files, path, lambda d: d.pop("signed"))
    elif m == "wrong_type_field":
        edit_json(files, path, lambda d: d.update(signatures={"keyid": "sig"}))
    elif m == "oversize":
        limit = MAX_LENGTHS.get(role, MAX_LENGTHS["targets"])
        files[path] = files[path] + b" " * (limit + 1 - len(files[path]))
    elif m == "missing_file":
        del files[path]
    elif m == "reserialize":
        # Same signed content in another JSON layout: signatures cover canonical JSON.
        files[path] = json.dumps(json.loads(files[path]), separators=(",", ":")).encode()
    elif m == "unknown_field_unsigned":
        edit_json(files, path, lambda d: d.update(x_unsigned_extra=[1, 2]))
    else:
        raise ValueError(m)


def pre_sign_hook(
    sc: Scenario, b: Repository, role: str
) -> Callable[[str, int, Metadata[Any]], None]:
    m = sc.mutation
    top = role in ("root", "timestamp", "snapshot", "targets")
    if m in DELEGATION_EDITS:
        parent = "root" if top else b.delegator_of(role)
    else:  # whose meta lists the role's version, length and hashes
        parent = {"root": "", "timestamp": "", "snapshot": "timestamp"}.get(role, "snapshot")
    newest_root = b.root_versions[-1][0].version
    past = b.now - timedelta(days=1)

    def hook(name: str, version: int, md: Metadata[Any]) -> None:
        if name == "root" and version != newest_root:
            return
        s = md.signed
        if name == role:
            if m == "version_up":
                s.version += 1
            elif m == "version_down":
                s.version -= 1
            elif m == "expire":
                s.expires = past
            elif m == "spec_version_major":
                s.spec_version = "2.0.0"
            elif m == "unknown_field":
                s.unrecognized_fields["x_extra"] = {"a": [1, "b"]}
            elif m == "wrong_type_role":
                s.unrecognized_fields["_type"] = "timestamp" if role != "timestamp" else "snapshot"
        if name == parent and m in PARENT_EDITS:
            PARENT_EDITS[m](b, s, role)

    return hook


def _meta_of(s: Any, role: str) -> Any:
    if role == "snapshot":
        return s.snapshot_meta
    return s.meta[f"{role}.json"]


def _role_of(b: Repository | None, s: Any, role: str) -> Any:
    """The Role or DelegatedRole entry for ``role`` in its parent payload ``s``."""
    if role in ("root", "timestamp", "snapshot", "targets"):
        return s.roles[role]
    d = s.delegations
    if d.roles:
        return d.roles[role]
    return d.succinct_roles


def _meta_version(delta: int) -> Callable[[Repository, Any, str], None]:
    def edit(b: Repository, s: Any, role: str) -> None:
        if role in ("timestamp", "root"):
            return
        _meta_of(s, role).version += delta

    return edit


def _meta_hash(b: Repository, s: Any, role: str) -> None:
    if role not in ("timestamp", "root"):
        _meta_of(s, role).hashes = {"sha256": "0" * 64}


def _meta_length(b: Repository, s: Any, role: str) -> None:
    if role not in ("timestamp", "root"):
        meta = _meta_of(s, role)
        meta.length = meta.length - 1 if meta.length else 1


def _threshold(value: int | None) -> Callable[[Repository, Any, str], None]:
    def edit(b: Repository, s: Any, role: str) -> None:
        entry = _role_of(b, s, role)
        entry.threshold = len(entry.keyids) + 1 if value is None else value

    return edit


def _paths_away(b: Repository, s: Any, role: str) -> None:
    if role in ("root", "timestamp", "snapshot", "targets"):
        return
    entry = _role_of(b, s, role)
    if hasattr(entry, "paths"):
        entry.paths, entry.path_hash_prefixes = ["elsewhere/*"], None


def _terminating_flip(b: Repository, s: Any, role: str) -> None:
    if role in ("root", "timestamp", "snapshot", "targets"):
        return
    entry = _role_of(b, s, role)
    if hasattr(entry, "terminating"):
        entry.terminating = not entry.terminating


PARENT_EDITS: dict[str, Callable[[Repository, Any, str], None]] = {
    "meta_version_up": _meta_version(1),
    "meta_version_down": _meta_version(-1),
    "meta_hash": _meta_hash,
    "meta_length": _meta_length,
}
# Edits of the delegating role (root for top-level roles).
DELEGATION_EDITS = {
    "threshold_up": _threshold(None),
    "threshold_zero": _threshold(0),
    "paths_away": _paths_away,
    "terminating_flip": _terminating_flip,
}
PARENT_EDITS.update(DELEGATION_EDITS)


@functools.cache
def stranger() -> Signer:
    """A key no repository lists."""
    return generate()


def resolve_role(sc: Scenario, built: Built) -> str:
    """Map the drawn role label onto a role of this repository."""
    if sc.mutation_role.startswith("path") and built.path_roles:
        index = int(sc.mutation_role[-1]) % len(built.path_roles)
        return built.path_roles[index]
    if sc.mutation_role.startswith("path"):
        return "targets"
    return sc.mutation_role


ClientFactory = Callable[[bytes, Path], Client]


def default_clients() -> list[ClientFactory]:
    return [TufClient, VerifierClient]


def _evolve(sc: Scenario, b: Repository, role: str) -> Hooks:
    """Publish-ready second state of the repository: honest changes plus the mutation."""
    m = sc.mutation
    top = role in TOP_ROLES
    versions = {r: b.md(r).signed.version for r in ("timestamp", "snapshot", *b.targets_roles())}
    b.bump("timestamp")
    # The mutated role (and its delegator) gets a new version so that clients fetch it.
    forced = {role} | ({b.delegator_of(role)} if m in DELEGATION_EDITS and not top else set())
    bumped = [r for r in b.targets_roles() if r in sc.bump or r in forced]
    for r in bumped:
        b.bump(r)
    if bumped or "snapshot" in sc.bump or role == "snapshot":
        b.bump("snapshot")

    if m == "key_alias" and not top:
        forced.add(b.delegator_of(role))
        b.bump(b.delegator_of(role))
    old_root_signers = list(b.signers["root"])
    if m == "key_alias" and top:
        _add_alias(b.root.signed, b.signers[role][0].public_key, role)
    if (
        role == "root"
        or m.startswith(("rotate", "root_", "ff_"))
        or sc.rotate
        or (top and m in (*DELEGATION_EDITS, "key_alias"))
    ):
        rotated = sc.rotate or ("root" if m.startswith("rotate") else None)
        if m.startswith("ff_recover_"):
            rotated = m.removeprefix("ff_recover_")
        if rotated:
            b.rotate_keys(rotated, keep=0, add=max(b.root.signed.roles[rotated].threshold, 1))
        b.commit_root()
        if m in ("root_skip_version", "root_chain_break"):
            b.commit_root()
    newest = b.root_versions[-1][0].version
    new_root_signers = list(b.signers["root"])

    def signers(name: str, version: int) -> list[Any] | None:
        if m == "wrong_key" and name == role:
            return [stranger()]
        if name == "root" and version == newest:
            if m == "root_chain_break":  # the last good root must stay trusted
                return [stranger()]
            if m == "rotate_old_keys_only":
                return old_root_signers
            if m == "rotate_new_keys_only":
                return new_root_signers
        return None

    if m == "rollback":
        _rollback(b, role, versions)
    if m.startswith("ff_recover_"):
        # Fast-forward recovery (spec 5.3.11): new keys, version numbering starts over.
        recovered = m.removeprefix("ff_recover_")
        b.timestamp.signed.version = 1 if recovered == "timestamp" else b.timestamp.signed.version
        b.snapshot.signed.version = 1 if recovered == "snapshot" else b.snapshot.signed.version
    hook = pre_sign_hook(sc, b, role) if m in PRE_MUTATIONS else None
    if m == "key_alias" and not top:
        delegator, key = b.delegator_of(role), b.signers[role][0].public_key

        def hook(name: str, version: int, md: Metadata[Any]) -> None:
            if name == delegator:
                _add_alias(md.signed, key, role)

    post_sign = None
    if m == "key_alias":

        def post_sign(name: str, version: int, md: Metadata[Any]) -> None:
            if name == role and (name != "root" or version == newest):
                for keyid, sig in list(md.signatures.items()):
                    alias = alias_keyid(keyid)
                    md.signatures[alias] = Signature(alias, sig.signature)

    edit_signed = None
    if m in SIGNED_EDITS:

        def edit_signed(name: str, version: int, signed: dict[str, Any]) -> None:
            if name == role and (name != "root" or version == newest):
                SIGNED_EDITS[m](signed)

    return Hooks(pre_sign=hook, signers=signers, post_sign=post_sign, edit_signed=edit_signed)


def alias_keyid(keyid: str) -> str:
    return sha256(b"alias of " + keyid.encode())


def _add_alias(delegator: Any, key: Any, role: str) -> None:
    """List ``key`` a second time under another key id and raise the threshold by one."""
    from securesystemslib.signer import SSlibKey

    alias = SSlibKey(alias_keyid(key.keyid), key.keytype, key.scheme, dict(key.keyval))
    entry = _role_of(None, delegator, role)
    if isinstance(entry, SuccinctRoles):
        delegator.add_key(alias)  # one key set for every bin
    else:
        delegator.add_key(alias, role)
    entry.threshold += 1


def run(sc: Scenario, factories: list[ClientFactory] | None = None) -> list[list[Outcome]]:
    """Run the scenario; returns, per step, the outcome of each client."""
    with tempfile.TemporaryDirectory() as tmp:
        built = build(sc)
        b = built.builder
        files = b.tree()
        root = files["metadata/1.root.json"]
        clients = [
            make(root, Path(tmp) / str(i)) for i, make in enumerate(factories or default_clients())
        ]
        steps: list[list[Outcome]] = []
        if sc.preflight:
            steps.append([c.step(files, TARGET) for c in clients])

        for spec in (sc, *sc.then):
            role = resolve_role(spec, built)
            files = b.tree(_evolve(spec, b, role))
            m = spec.mutation
            if m in POST_MUTATIONS:
                apply_post(spec, files, b.metadata_path(role), role)
            elif m == "root_skip_version":
                del files[f"metadata/{b.root_versions[-1][0].version - 1}.root.json"]
            elif m in TARGET_MUTATIONS:
                _mutate_target(m, b, files)
            elif m in LOCAL_MUTATIONS:
                for client in clients:
                    _damage_local(client.metadata_dir, m, spec.junk)
            steps.append([c.step(files, spec.target) for c in clients])
        return steps


def _damage_local(metadata_dir: Path, mutation: str, junk: bytes) -> None:
    action, _, role = mutation.removeprefix("local_").partition("_")
    path = metadata_dir / f"{role}.json"
    if not path.exists():
        return
    if action == "delete":
        path.unlink()
    elif action == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(junk)


def _rollback(b: Repository, role: str, versions: dict[str, int]) -> None:
    if role != "root":
        b.md(role).signed.version = max(versions[role] - 1, 1)


def _mutate_target(m: str, b: Repository, files: dict[str, bytes]) -> None:
    for key, (path, content) in b.target_files.items():
        if path != TARGET or content == b"decoy bytes":
            continue
        if m == "target_flip":
            files[key] = bytes([content[0] ^ 1]) + content[1:]
        elif m == "target_long":
            files[key] = content + b"!"
        elif m == "target_short":
            files[key] = content[:-1]
        elif m == "target_missing":
            del files[key]


__all__ = ["KEY_TYPES", "MUTATIONS", "SHAPES", "Scenario", "run"]


# -- edits of the signed JSON, signed as they are ----------------------------------------------


def _each_meta(d: dict[str, Any]) -> list[dict[str, Any]]:
    return list(d.get("meta", {}).values())


def _each_target(d: dict[str, Any]) -> list[dict[str, Any]]:
    return list(d.get("targets", {}).values())


def _delegation(d: dict[str, Any]) -> dict[str, Any] | None:
    roles = (d.get("delegations") or {}).get("roles") or []
    return roles[0] if roles else None


def _top_role(d: dict[str, Any]) -> dict[str, Any] | None:
    return d.get("roles", {}).get("timestamp")


def _set(
    getter: Callable[[dict[str, Any]], Any], key: str, value: Callable[[Any], Any]
) -> Callable[[dict[str, Any]], None]:
    def edit(d: dict[str, Any]) -> None:
        found = getter(d)
        for entry in found if isinstance(found, list) else [found]:
            if isinstance(entry, dict) and key in entry:
                entry[key] = value(entry[key])

    return edit


def _own(key: str, value: Callable[[Any], Any]) -> Callable[[dict[str, Any]], None]:
    return _set(lambda d: d, key, value)


_UNKNOWN_KEY = {"keytype": "x-unknown", "scheme": "x-unknown", "keyval": {"public": "00"}}
_UNKNOWN_KEYID = "f" * 64


def _add_unknown_key(listed: bool) -> Callable[[dict[str, Any]], None]:
    def edit(d: dict[str, Any]) -> None:
        if "roles" in d and isinstance(d["roles"], dict):  # root
            d["keys"][_UNKNOWN_KEYID] = dict(_UNKNOWN_KEY)
            if listed:
                d["roles"]["timestamp"]["keyids"].append(_UNKNOWN_KEYID)
        elif d.get("delegations") and "keys" in d["delegations"]:
            d["delegations"]["keys"][_UNKNOWN_KEYID] = dict(_UNKNOWN_KEY)
            role = _delegation(d)
            if listed and role is not None:
                role["keyids"].append(_UNKNOWN_KEYID)

    return edit


def _both_paths_and_prefixes(d: dict[str, Any]) -> None:
    role = _delegation(d)
    if role is not None:
        role.setdefault("paths", ["fw/*"])
        role.setdefault("path_hash_prefixes", [sha256(TARGET.encode())[:2]])


def _neither_paths_nor_prefixes(d: dict[str, Any]) -> None:
    role = _delegation(d)
    if role is not None:
        role.pop("paths", None)
        role.pop("path_hash_prefixes", None)


def _meta_key_without_json(d: dict[str, Any]) -> None:
    meta = d.get("meta")
    if isinstance(meta, dict):
        d["meta"] = {k.removesuffix(".json"): v for k, v in meta.items()}


def _extra_meta_entry(d: dict[str, Any]) -> None:
    if isinstance(d.get("meta"), dict):
        d["meta"]["unlisted-role.json"] = {"version": 1}


def _drop_top_role(d: dict[str, Any]) -> None:
    if isinstance(d.get("roles"), dict):
        d["roles"].pop("snapshot", None)


def _extra_top_role(d: dict[str, Any]) -> None:
    if isinstance(d.get("roles"), dict):
        d["roles"]["mirrors"] = {"keyids": [], "threshold": 1}


SIGNED_EDITS: dict[str, Callable[[dict[str, Any]], object]] = {
    "s_version_str": _own("version", str),
    "s_version_zero": _own("version", lambda v: 0),
    "s_version_bool": _own("version", lambda v: True),
    "s_expires_offset": _own("expires", lambda v: v.replace("Z", "+00:00")),
    "s_expires_fraction": _own("expires", lambda v: v.replace("Z", ".000Z")),
    "s_expires_lower_z": _own("expires", lambda v: v.replace("Z", "z")),
    "s_expires_no_zone": _own("expires", lambda v: v.replace("Z", "")),
    "s_expires_space": _own("expires", lambda v: v.replace("T", " ")),
    "s_expires_date_only": _own("expires", lambda v: v[:10]),
    "s_spec_two_parts": _own("spec_version", lambda v: "1.0"),
    "s_spec_minor_ahead": _own("spec_version", lambda v: "1.99.0"),
    "s_spec_major_zero": _own("spec_version", lambda v: "0.9.0"),
    "s_spec_prerelease": _own("spec_version", lambda v: "1.0.31-rc.1"),
    "s_spec_int": _own("spec_version", lambda v: 1),
    "s_type_capitalized": _own("_type", str.capitalize),
    "s_meta_length_zero": lambda d: [m.update(length=0) for m in _each_meta(d)],
    "s_meta_version_str": _set(_each_meta, "version", str),
    "s_meta_hashes_empty": lambda d: [m.update(hashes={}) for m in _each_meta(d)],
    "s_meta_hash_not_hex": lambda d: [m.update(hashes={"sha256": "zz"}) for m in _each_meta(d)],
    "s_meta_length_negative": lambda d: [m.update(length=-1) for m in _each_meta(d)],
    "s_meta_key_without_json": _meta_key_without_json,
    "s_meta_extra_entry": _extra_meta_entry,
    "s_root_consistent_str": _own("consistent_snapshot", lambda v: "true"),
    "s_root_threshold_str": _set(_top_role, "threshold", str),
    "s_root_keyids_duplicated": _set(_top_role, "keyids", lambda v: v + v[:1]),
    "s_root_drop_role": _drop_top_role,
    "s_root_extra_role": _extra_top_role,
    "s_unknown_key_unused": _add_unknown_key(listed=False),
    "s_unknown_key_listed": _add_unknown_key(listed=True),
    "s_target_length_str": _set(_each_target, "length", str),
    "s_target_length_negative": _set(_each_target, "length", lambda v: -1),
    "s_target_hashes_empty": _set(_each_target, "hashes", lambda v: {}),
    "s_target_hash_unknown_alg": _set(_each_target, "hashes", lambda v: {**v, "x-hash": "00"}),
    "s_target_sha512_wrong": _set(_each_target, "hashes", lambda v: {**v, "sha512": "00" * 64}),
    "s_target_custom_list": lambda d: [t.update(custom=[1]) for t in _each_target(d)],
    "s_deleg_both_paths_and_prefixes": _both_paths_and_prefixes,
    "s_deleg_neither_paths_nor_prefixes": _neither_paths_nor_prefixes,
    "s_deleg_terminating_str": _set(_delegation, "terminating", lambda v: "false"),
    "s_deleg_threshold_str": _set(_delegation, "threshold", str),
    "s_deleg_keyids_duplicated": _set(_delegation, "keyids", lambda v: v + v[:1]),
    "s_deleg_paths_empty": _set(_delegation, "paths", lambda v: []),
    "s_deleg_paths_str": _set(_delegation, "paths", lambda v: "fw/*"),
    "s_deleg_name_empty": _set(_delegation, "name", lambda v: ""),
}
SIGNED_EDIT_MUTATIONS = tuple(SIGNED_EDITS)
MUTATIONS = MUTATIONS + SIGNED_EDIT_MUTATIONS
