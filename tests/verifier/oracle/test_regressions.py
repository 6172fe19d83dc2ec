"""Regression tests: one attack per published TUF client vulnerability.

Each test feeds the attack of an advisory against another TUF client to our verifier and
checks the exact refusal. python-tuf runs every test too, as a control that the attack is
built right; where python-tuf itself does not follow the specification, its run is an
``xfail(strict=True)`` that names the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from securesystemslib.signer import Signer, SSlibKey
from tuf.api.metadata import DelegatedRole, Delegations, Metadata

from tests.loopback import serve_dict
from tests.verifier.oracle._clients import Client, Outcome
from tests.verifier.oracle._repo import Hooks, RepoBuilder, sha256

TARGET = "fw/image.bin"
DATA = b"firmware image " * 64
ACCEPTED = (True, "found", True)

ClientMaker = Callable[[bytes], Client]


def kinds(python_tuf_xfail: str) -> pytest.MarkDecorator:
    """Run a test against both clients, python-tuf's run expected to fail for the reason
    given (a documented departure of python-tuf from the spec)."""
    tuf = pytest.param("python-tuf", marks=pytest.mark.xfail(strict=True, reason=python_tuf_xfail))
    return pytest.mark.parametrize("kind", [tuf, "verifier"])


def persisted(client: Client) -> dict[str, bytes]:
    """Every file the client keeps in its metadata directory."""
    return {
        str(p.relative_to(client.metadata_dir)): p.read_bytes()
        for p in client.metadata_dir.rglob("*")
        if p.is_file()
    }


def edit_json(
    files: dict[str, bytes], path: str, edit: Callable[[dict[str, Any]], object]
) -> bytes:
    doc = json.loads(files[path])
    edit(doc)
    files[path] = json.dumps(doc, indent=1).encode()
    return files[path]


def start(new_client: ClientMaker, b: RepoBuilder, target: str = TARGET) -> Client:
    """A client that trusts root v1 of ``b`` and took one honest step."""
    files = b.publish()
    client = new_client(files["metadata/1.root.json"])
    assert client.step(files, target).decision == ACCEPTED
    return client


def refused(client: Client, out: Outcome, error: str = "RepositoryError") -> None:
    assert out.decision != ACCEPTED, out
    assert isinstance(out.error, client.error(error)), (out, repr(out.error))


def bump_for(b: RepoBuilder, role: str) -> None:
    """New version of ``role`` and of what lists it (snapshot, timestamp)."""
    if role not in ("timestamp", "snapshot"):
        b.bump(role)
    if role != "timestamp":
        b.bump("snapshot")
    b.bump("timestamp")


def delegated_repo(**kwargs: Any) -> RepoBuilder:
    b = RepoBuilder(**kwargs)
    b.delegate(
        "targets",
        "prod",
        paths=["fw/*"],
        threshold=kwargs.get("thresholds", {}).get("prod", 1),
        nkeys=2,
    )
    b.add_target("prod", TARGET, DATA)
    return b


# -- CVE-2020-15163 --------------------------------------------------------------------------


def test_cve_2020_15163_root_failing_verification_never_trusted_later(
    new_client: ClientMaker,
) -> None:
    """python-tuf CVE-2020-15163: a new root that failed verification was saved and trusted
    on the next run. The rogue root must be refused, never saved, and a timestamp signed by
    the key it introduced must be refused later."""
    b = RepoBuilder()
    b.add_target("targets", TARGET, DATA)
    client = start(new_client, b)
    b.rotate_keys("root")
    b.rotate_keys("timestamp")
    b.commit_root()
    b.bump("timestamp")
    attacker: list[Signer] = list(b.signers["root"])
    evil = b.publish(Hooks(signers=lambda role, v: attacker if role == "root" and v == 2 else None))

    refused(client, client.step(evil, TARGET), "UnsignedMetadataError")
    assert evil["metadata/2.root.json"] not in persisted(client).values()

    del evil["metadata/2.root.json"]  # next boot: only the attacker's timestamp is served
    refused(client, client.step(evil, TARGET), "UnsignedMetadataError")


# -- CVE-2020-6174, tough CVE-2020-15093, tough CVE-2026-6966, go-tuf GHSA-3633-5h82-39pq ------


@pytest.mark.parametrize("role", ["root", "timestamp", "snapshot", "targets", "prod"])
def test_cve_2020_6174_one_signature_counted_twice(new_client: ClientMaker, role: str) -> None:
    """python-tuf CVE-2020-6174, tough CVE-2020-15093 (and CVE-2026-6966 for delegated
    roles): with a threshold of 2, one key's signature listed twice must not count as two."""
    thresholds = {"root": 2, "timestamp": 2, "snapshot": 2, "targets": 2, "prod": 2}
    b = delegated_repo(thresholds=thresholds)
    client = start(new_client, b)
    if role == "root":
        b.commit_root()
        b.bump("timestamp")
    else:
        bump_for(b, role)
    files = b.publish()
    path = {
        "root": "metadata/2.root.json",
        "timestamp": "metadata/timestamp.json",
        "snapshot": f"metadata/{b.snapshot.version}.snapshot.json",
        "targets": f"metadata/{b.targets['targets'].signed.version}.targets.json",
        "prod": f"metadata/{b.targets['prod'].signed.version}.prod.json",
    }[role]
    edit_json(files, path, lambda d: d.update(signatures=[d["signatures"][0]] * 2))
    refused(client, client.step(files, TARGET))


@kinds(
    python_tuf_xfail="python-tuf counts key ids, not distinct keys (spec 5.3.4: "
    "a threshold of distinct keys)"
)
def test_ghsa_3633_5h82_39pq_one_key_under_two_keyids_counted_once(
    new_client: ClientMaker,
) -> None:
    """go-tuf GHSA-3633-5h82-39pq: one public key listed under two key ids in a role with
    threshold 2; its one signature, given under both ids, must count once."""
    b = RepoBuilder()
    b.add_target("targets", TARGET, DATA)
    client = start(new_client, b)
    key = b.signers["timestamp"][0].public_key
    alias_id = sha256(b"alias of " + key.keyid.encode())
    alias = SSlibKey(alias_id, key.keytype, key.scheme, dict(key.keyval))
    b.root.add_key(alias, "timestamp")
    b.root.roles["timestamp"].threshold = 2
    b.commit_root()
    b.bump("timestamp")
    files = b.publish()
    edit_json(
        files,
        "metadata/timestamp.json",
        lambda d: d["signatures"].append({"keyid": alias_id, "sig": d["signatures"][0]["sig"]}),
    )
    refused(client, client.step(files, TARGET), "UnsignedMetadataError")


# -- CVE-2026-23992 --------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0, -1])
@pytest.mark.parametrize("role", ["timestamp", "prod"])
def test_cve_2026_23992_threshold_zero_or_less_never_disables_verification(
    new_client: ClientMaker, role: str, threshold: int
) -> None:
    """go-tuf CVE-2026-23992: a threshold of 0 or less made any (even unsigned) metadata
    pass. Such a delegation must be refused, and the unsigned role never trusted."""
    b = delegated_repo()
    client = start(new_client, b)
    if role == "timestamp":
        b.commit_root()
    bump_for(b, role)

    def pre_sign(name: str, version: int, md: Metadata[Any]) -> None:
        if role == "timestamp" and name == "root" and version == 2:
            md.signed.roles["timestamp"].threshold = threshold
        if role == "prod" and name == "targets":
            md.signed.delegations.roles["prod"].threshold = threshold

    b.add_target(role if role == "prod" else "targets", "fw/evil.bin", b"evil")
    files = b.publish(Hooks(pre_sign=pre_sign, signers=lambda n, v: [] if n == role else None))
    out = client.step(files, "fw/evil.bin")
    refused(client, out)


# -- CVE-2021-41131, tough GHSA-r56q-vv3c-6g9c ------------------------------------------------

ESCAPING_ROLE = "../../../escaped-role"
ESCAPING_TARGET = "../../../escaped.bin"


def escaping_repo() -> RepoBuilder:
    b = RepoBuilder()
    b.delegate("targets", ESCAPING_ROLE, paths=["*/*/*/*", "fw/*"])
    b.add_target(ESCAPING_ROLE, ESCAPING_TARGET, b"escaped")
    b.add_target(ESCAPING_ROLE, TARGET, DATA)
    return b


def files_outside(root: Path, inside: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and inside not in p.parents]


def test_cve_2021_41131_names_never_escape_directories_updater(kind: str, tmp_path: Path) -> None:
    """python-tuf CVE-2021-41131, tough GHSA-r56q-vv3c-6g9c: role and target names with
    ``../`` wrote files outside the metadata and target directories."""
    from tests.verifier.oracle._clients import TufClient, VerifierClient

    workdir = tmp_path / "a" / "b" / "c" / "client"
    files = escaping_repo().publish()
    root = files["metadata/1.root.json"]
    client: Client = (TufClient if kind == "python-tuf" else VerifierClient)(root, workdir)
    client.step(files, TARGET)  # walks the delegation: stores the role's metadata
    up: Any = client.updater(files)
    try:
        up.refresh()
        info = up.get_targetinfo(ESCAPING_TARGET)
        if info is not None and kind == "python-tuf":
            up.download_target(info)  # file name chosen by the client from the target name
        elif info is not None:
            up.download(info, workdir / "targets" / "image")
    except Exception as e:
        assert isinstance(e, client.error("RepositoryError")), repr(e)
    assert files_outside(tmp_path, workdir) == []


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    return subprocess.run(
        [sys.executable, "-m", "verifier.client", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )


def test_cve_2021_41131_names_never_escape_directories_conformance_cli(tmp_path: Path) -> None:
    """CVE-2021-41131 through our conformance CLI (``python -m verifier.client``), where the
    target file name comes from the target name."""
    files = escaping_repo().publish()
    workdir = tmp_path / "a" / "b" / "c" / "client"
    metadata_dir, target_dir = workdir / "metadata", workdir / "targets"
    metadata_dir.mkdir(parents=True)
    target_dir.mkdir()
    trusted = workdir / "trusted-root.json"
    trusted.write_bytes(files["metadata/1.root.json"])
    with serve_dict(files) as url:
        init = _cli("--metadata-dir", str(metadata_dir), "init", str(trusted), cwd=workdir)
        assert init.returncode == 0, init.stderr
        download = _cli(
            "--metadata-dir",
            str(metadata_dir),
            "--metadata-url",
            url + "metadata/",
            "--target-name",
            ESCAPING_TARGET,
            "--target-base-url",
            url + "targets/",
            "--target-dir",
            str(target_dir),
            "download",
            cwd=workdir,
        )
    assert "Traceback" not in download.stderr
    assert files_outside(tmp_path, workdir) == []
    if download.returncode == 0:  # stored under one quoted file name inside --target-dir
        assert [p.parent for p in target_dir.rglob("*") if p.is_file()] == [target_dir]


# -- go-tuf CVE-2022-29173, tough CVE-2025-2888 ------------------------------------------------


def _expired(role: str) -> Callable[[str, int, Metadata[Any]], None]:
    def pre_sign(name: str, version: int, md: Metadata[Any]) -> None:
        if name == role:
            md.signed.expires = md.signed.expires.replace(year=2000)

    return pre_sign


# An expired new root may be persisted: spec 5.3.8 stores each verified root before the
# freeze check on the final root (5.3.10).
PERSIST_CASES = [
    "expired_timestamp",
    "snapshot_hash",
    "expired_prod",
    "prod_bad_signature",
    "root_bad_signature",
]


@pytest.mark.parametrize("case", PERSIST_CASES)
def test_cve_2022_29173_nothing_persisted_before_all_checks(
    new_client: ClientMaker, kind: str, case: str
) -> None:
    """go-tuf CVE-2022-29173 and tough CVE-2025-2888: metadata was saved to the trusted
    store before every check passed. Refused bytes must never be in the client's store."""
    b = delegated_repo(timestamp_hashes=True)
    client = start(new_client, b)
    hooks = Hooks()
    if case == "expired_timestamp":
        bump_for(b, "timestamp")
        hooks.pre_sign, path = _expired("timestamp"), "metadata/timestamp.json"
    elif case == "snapshot_hash":
        bump_for(b, "snapshot")
        path = f"metadata/{b.snapshot.version}.snapshot.json"
    elif case in ("expired_prod", "prod_bad_signature"):
        bump_for(b, "prod")
        path = f"metadata/{b.targets['prod'].signed.version}.prod.json"
        if case == "expired_prod":
            hooks.pre_sign = _expired("prod")
    else:
        b.rotate_keys("root")
        b.commit_root()
        bump_for(b, "timestamp")
        path = "metadata/2.root.json"
    files = b.publish(hooks)
    if case == "snapshot_hash":
        # Same length and signed content (key order only), so only the hash differs.
        doc = json.loads(files[path])
        swapped = {"signed": doc["signed"], "signatures": doc["signatures"]}
        files[path] = json.dumps(swapped, separators=(",", ":")).encode()
        assert len(files[path]) == len(b.publish()[path]) and files[path] != b.publish()[path]
    elif case.endswith("bad_signature"):
        edit_json(
            files,
            path,
            lambda d: [
                s.update(sig=("0" if s["sig"][0] != "0" else "1") + s["sig"][1:])
                for s in d["signatures"]
            ],
        )
    before = persisted(client)
    refused(client, client.step(files, TARGET))
    after = persisted(client)
    assert files[path] not in after.values()
    assert set(after.values()) <= set(before.values()) | set(files.values())


# -- tough CVE-2025-2885, CVE-2025-2886, CVE-2025-2887 ----------------------------------------


def test_cve_2025_2885_delegated_role_rollback_refused(new_client: ClientMaker) -> None:
    """tough CVE-2025-2885: a delegated role could be rolled back to an older, validly
    signed version listed by a new snapshot."""
    b = delegated_repo()
    b.targets["prod"].signed.version = 3
    client = start(new_client, b)
    b.targets["prod"].signed.version = 2
    b.bump("snapshot")
    b.bump("timestamp")
    out = client.step(b.publish(), TARGET)
    refused(client, out, "BadVersionNumberError")


def test_cve_2025_2886_terminating_delegation_stops_the_search(new_client: ClientMaker) -> None:
    """tough CVE-2025-2886: a terminating delegation that does not list the target must end
    the search; a later role that lists it must not be consulted."""
    b = RepoBuilder()
    b.delegate("targets", "prod", paths=["fw/*"], terminating=True)
    b.add_target("prod", "fw/other.bin", b"other")
    b.delegate("targets", "late", paths=["fw/*"])
    b.add_target("late", TARGET, b"from the role after a terminating one")
    files = b.publish()
    client = new_client(files["metadata/1.root.json"])
    assert client.step(files, TARGET).decision == (True, "none", None)
    assert client.step(files, "fw/other.bin").decision == ACCEPTED


def test_cve_2025_2887_root_versions_must_be_sequential(new_client: ClientMaker) -> None:
    """tough CVE-2025-2887: the file N+1.root.json must hold exactly version N+1."""
    b = RepoBuilder()
    b.add_target("targets", TARGET, DATA)
    client = start(new_client, b)
    b.commit_root()
    b.bump("timestamp")

    def pre_sign(name: str, version: int, md: Metadata[Any]) -> None:
        if name == "root" and version == 2:
            md.signed.version = 3

    files = b.publish(Hooks(pre_sign=pre_sign))
    refused(client, client.step(files, TARGET), "BadVersionNumberError")


# -- go-tuf CVE-2024-47534 -----------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["sibling_first", "child_before_sibling"])
def test_cve_2024_47534_delegations_walked_in_preorder(
    new_client: ClientMaker, layout: str
) -> None:
    """go-tuf CVE-2024-47534: targets delegates to A then B, B to C: the search must visit
    A, B, C in that order (pre-order depth first, spec 5.6.7.2). The first role in that
    order that lists the target decides its bytes."""
    b = RepoBuilder()
    b.delegate("targets", "A", paths=["fw/*"])
    b.delegate("targets", "B", paths=["fw/*"])
    if layout == "sibling_first":
        b.delegate("B", "C", paths=["fw/*"])
        b.add_target("A", TARGET, b"from A")
        b.add_target("C", TARGET, b"from C, reached through B")
        expected = b"from A"
    else:
        b.delegate("A", "A1", paths=["fw/*"])
        b.add_target("A1", TARGET, b"from A1, the child of A")
        b.add_target("B", TARGET, b"from B, the second sibling")
        expected = b"from A1, the child of A"
    files = b.publish()
    client = new_client(files["metadata/1.root.json"])
    up = client.updater(files)
    up.refresh()
    info = up.get_targetinfo(TARGET)
    assert info is not None
    assert info.length == len(expected)
    assert info.hashes["sha256"] == sha256(expected)


# -- tough CVE-2026-6967 --------------------------------------------------------------------------


@pytest.mark.parametrize("check", ["expiry", "hash", "length"])
def test_cve_2026_6967_delegated_metadata_expiry_hash_and_length_checked(
    new_client: ClientMaker, check: str
) -> None:
    """tough CVE-2026-6967: delegated targets metadata skipped the expiry, hash and length
    checks that top-level targets metadata gets."""
    b = delegated_repo(snapshot_hashes=True)
    client = start(new_client, b)
    bump_for(b, "prod")

    def pre_sign(name: str, version: int, md: Metadata[Any]) -> None:
        if check == "expiry" and name == "prod":
            md.signed.expires = md.signed.expires.replace(year=2000)
        meta = md.signed.meta["prod.json"] if name == "snapshot" else None
        if meta is not None and check == "hash":
            meta.hashes = {"sha256": sha256(b"other bytes")}
        if meta is not None and check == "length":
            meta.length -= 1

    out = client.step(b.publish(Hooks(pre_sign=pre_sign)), TARGET)
    assert out.decision != ACCEPTED
    expected = {
        "expiry": ("ExpiredMetadataError",),
        "hash": ("LengthOrHashMismatchError",),
        # Shorter than announced: a download limited to the announced length fails.
        "length": ("LengthOrHashMismatchError", "DownloadLengthMismatchError"),
    }[check]
    assert isinstance(out.error, tuple(client.error(e) for e in expected)), repr(out.error)


# -- go-tuf CVE-2026-23991 -------------------------------------------------------------------------

_DEEP = 5_000  # deeper than Python's recursion limit, within every length limit
MALFORMED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "null": lambda d: None,
    "list": lambda d: [],
    "string": lambda d: "metadata",
    "empty_object": lambda d: {},
    "signed_is_list": lambda d: {**d, "signed": []},
    "signatures_not_list": lambda d: {**d, "signatures": {"k": "s"}},
    "signature_entry_not_object": lambda d: {**d, "signatures": [1, None]},
    "signature_fields_wrong_types": lambda d: {**d, "signatures": [{"keyid": 1, "sig": None}]},
    "no_type": lambda d: {**d, "signed": {k: v for k, v in d["signed"].items() if k != "_type"}},
    "version_float": lambda d: {**d, "signed": {**d["signed"], "version": 2.5}},
    "version_negative": lambda d: {**d, "signed": {**d["signed"], "version": -3}},
    "version_bool": lambda d: {**d, "signed": {**d["signed"], "version": True}},
    "version_huge": lambda d: {**d, "signed": {**d["signed"], "version": 10**400}},
    "expires_not_a_date": lambda d: {**d, "signed": {**d["signed"], "expires": "tomorrow"}},
    "spec_version_int": lambda d: {**d, "signed": {**d["signed"], "spec_version": 1}},
    "every_field_null": lambda d: {**d, "signed": dict.fromkeys(d["signed"])},
    "every_field_list": lambda d: {**d, "signed": {k: [] for k in d["signed"]}},
}


def _malformed_bytes(doc: dict[str, Any], name: str) -> bytes:
    if name == "deep_nesting":
        return b"[" * _DEEP + b"]" * _DEEP
    if name == "not_utf8":
        return b"\xff\xfe{}"
    return json.dumps(MALFORMED[name](doc)).encode()


@pytest.mark.parametrize("name", [*MALFORMED, "deep_nesting", "not_utf8"])
@pytest.mark.parametrize("role", ["root", "timestamp", "snapshot", "targets", "prod"])
def test_cve_2026_23991_malformed_metadata_is_an_error_not_a_crash(
    new_client: ClientMaker, role: str, name: str
) -> None:
    """go-tuf CVE-2026-23991: well-formed JSON that is not TUF metadata crashed the client
    before any signature check. It must be a RepositoryError, nothing else."""
    b = delegated_repo()
    client = start(new_client, b)
    if role == "root":
        b.commit_root()
    bump_for(b, role if role != "root" else "timestamp")
    files = b.publish()
    path = {
        "root": "metadata/2.root.json",
        "timestamp": "metadata/timestamp.json",
        "snapshot": f"metadata/{b.snapshot.version}.snapshot.json",
        "targets": f"metadata/{b.targets['targets'].signed.version}.targets.json",
        "prod": f"metadata/{b.targets['prod'].signed.version}.prod.json",
    }[role]
    files[path] = _malformed_bytes(json.loads(files[path]), name)
    refused(client, client.step(files, TARGET))


# -- a delegated role reached through two delegators ---------------------------------------


def test_delegated_role_reverified_for_each_delegator(new_client: ClientMaker) -> None:
    """A role delegated by A (key a) and by B (key b) but signed only with key a: found
    through A it is trusted, but reached through B it must be verified again with B's keys
    (python-tuf keys its cache by (role, delegator) for this), not taken from the cache."""
    b = RepoBuilder()
    b.delegate("targets", "A", paths=["a/*"])
    b.delegate("targets", "B", paths=["fw/*"])
    b.delegate("A", "shared", paths=["a/*", "fw/*"])
    b.add_target("shared", "a/tool.bin", b"tool")
    b.add_target("shared", TARGET, b"firmware that only A's key vouches for")
    # B delegates the same role name to another key.
    other = b.keys.take("ed25519")
    b.targets["B"].signed.delegations = Delegations(
        keys={other.public_key.keyid: other.public_key},
        roles={
            "shared": DelegatedRole("shared", [other.public_key.keyid], 1, False, paths=["fw/*"])
        },
    )
    files = b.publish()
    client = new_client(files["metadata/1.root.json"])
    up = client.updater(files)
    up.refresh()
    assert up.get_targetinfo("a/tool.bin") is not None  # "shared" trusted through A
    # Reached through B: key b never signed it.
    with pytest.raises(client.error("UnsignedMetadataError")):
        up.get_targetinfo(TARGET)


# -- delegated role names that collide with stored top-level metadata ---------------------------


@pytest.mark.parametrize("name", ["root", "timestamp", "snapshot"])
def test_delegated_role_named_like_a_top_level_role_never_replaces_it(
    new_client: ClientMaker, name: str
) -> None:
    """The CVE-2021-41131 family: a delegated role's name chooses a file name in the trusted
    store. A delegation to "root" or "timestamp" must never overwrite the trusted top-level
    file (a delegated key holder could otherwise brick every device)."""
    b = RepoBuilder()
    b.add_target("targets", TARGET, DATA)
    client = start(new_client, b)
    b.delegate("targets", name, paths=["evil/*"])  # bypasses python-tuf's name check
    b.add_target(name, "evil/image.bin", b"evil")
    bump_for(b, "targets")
    files = b.publish()
    out = client.step(files, "evil/image.bin")
    stored = persisted(client)
    for top in ("root", "timestamp", "snapshot"):
        if f"{top}.json" in stored:
            assert json.loads(stored[f"{top}.json"])["signed"]["_type"] == top, out
    if out.decision != ACCEPTED:
        assert isinstance(out.error, client.error("RepositoryError")), repr(out.error)


# -- spec 5.3.11 done too eagerly: rollback protection lost --------------------------------------


@pytest.mark.parametrize("role", ["timestamp", "snapshot"])
def test_threshold_change_alone_keeps_rollback_protection(
    new_client: ClientMaker, role: str
) -> None:
    """Spec 5.3.11 deletes the trusted timestamp and snapshot only when their keys were
    rotated (fast-forward recovery). A new root that only lowers a threshold (same keys)
    must not: the old, still validly signed timestamp and snapshot could then be replayed
    to roll the device back to old targets. (Found by the differential tests; fixed in the
    verifier, which had counted a threshold change as a key rotation.)"""
    b = delegated_repo(thresholds={"timestamp": 2, "snapshot": 2})
    old = b.publish()  # timestamp, snapshot and targets at version 1
    client = new_client(old["metadata/1.root.json"])
    for r in ("prod", "targets"):
        b.bump(r)
    bump_for(b, "snapshot")
    assert client.step(b.publish(), TARGET).decision == ACCEPTED  # trusts version 2
    b.root.roles[role].threshold = 1
    b.commit_root()
    current = b.publish()
    replay = {**old, "metadata/2.root.json": current["metadata/2.root.json"]}
    refused(client, client.step(replay, TARGET), "BadVersionNumberError")


@pytest.mark.parametrize("attack", ["flipped_byte", "longer", "shorter"])
def test_cve_2022_29173_target_never_left_on_disk_before_verified(
    new_client: ClientMaker, tmp_path: Path, attack: str
) -> None:
    """The CVE-2022-29173 family for target files: a download whose bytes fail the length
    or hash check must never leave a file at the destination. Only our resume file
    (``dest`` + ".part", documented in ``Updater.download``) may stay, and only after a
    transport error (more bytes than the length: DownloadLengthMismatchError)."""
    b = RepoBuilder()
    b.add_target("targets", TARGET, DATA)
    files = b.publish()
    path = next(p for p in files if p.startswith("targets/"))
    files[path] = {
        "flipped_byte": bytes([DATA[0] ^ 1]) + DATA[1:],
        "longer": DATA + b"!",
        "shorter": DATA[:-1],
    }[attack]
    client = new_client(files["metadata/1.root.json"])
    up = client.updater(files)
    up.refresh()
    info = up.get_targetinfo(TARGET)
    dest_dir = tmp_path / "dest"
    dest_dir.mkdir()
    with pytest.raises((client.error("RepositoryError"), client.error("DownloadError"))) as e:
        client.download(up, info, dest_dir / "image.bin")
    left = [p.name for p in dest_dir.iterdir()]
    if isinstance(e.value, client.error("DownloadError")) and client.name == "verifier":
        assert left in ([], ["image.bin.part"])
    else:
        assert left == []
