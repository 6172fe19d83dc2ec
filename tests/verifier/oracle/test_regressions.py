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
from typing import Any, NamedTuple

import pytest
from securesystemslib.signer import Signer, SSlibKey
from tuf.api.metadata import DelegatedRole, Delegations, Metadata

from tests.loopback import serve_dict
from tests.repository import Hooks, Repository, edit_json, oracle_repository, sha256
from tests.verifier.oracle._clients import (
    METADATA_URL,
    TARGETS_URL,
    Client,
    Outcome,
    memory_fetcher,
)

TARGET = "fw/image.bin"
DATA = b"firmware image " * 64
ACCEPTED = (True, "found", True)

ClientMaker = Callable[[bytes], Client]


def kinds(python_tuf_xfail: str) -> pytest.MarkDecorator:
    """Run a test against both clients, python-tuf's run expected to fail for the reason
    given (a documented departure of python-tuf from the spec)."""
    tuf = pytest.param("python-tuf", marks=pytest.mark.xfail(strict=True, reason=python_tuf_xfail))
    return pytest.mark.parametrize("kind", [tuf, "verifier"])


class PythonTuf(NamedTuple):
    """What python-tuf does with one case of a table, where the table's default is not it."""

    raises: str = "DeserializationError"
    departs: str = ""  # how python-tuf departs from the spec there: its run is an xfail


def for_both(case_id: str, *values: Any, python_tuf: PythonTuf | None = None) -> list[Any]:
    """One case of a table as a param for each client (``kind`` first, then ``values``)."""
    python_tuf = python_tuf or PythonTuf()
    xfail = pytest.mark.xfail(strict=True, reason=f"python-tuf {python_tuf.departs}")
    return [
        pytest.param("python-tuf", *values, id=f"python-tuf-{case_id}", marks=xfail)
        if python_tuf.departs
        else pytest.param("python-tuf", *values, id=f"python-tuf-{case_id}"),
        pytest.param("verifier", *values, id=f"verifier-{case_id}"),
    ]


def persisted(client: Client) -> dict[str, bytes]:
    """Every file the client keeps in its metadata directory."""
    return {
        str(p.relative_to(client.metadata_dir)): p.read_bytes()
        for p in client.metadata_dir.rglob("*")
        if p.is_file()
    }


def start(new_client: ClientMaker, b: Repository, target: str = TARGET) -> Client:
    """A client that trusts root v1 of ``b`` and took one honest step."""
    files = b.tree()
    client = new_client(files["metadata/1.root.json"])
    assert client.step(files, target).decision == ACCEPTED
    return client


def refused(client: Client, out: Outcome, error: str = "RepositoryError") -> None:
    assert out.decision != ACCEPTED, out
    assert isinstance(out.error, client.error(error)), (out, repr(out.error))


ORDER = ["root", "timestamp", "snapshot", "targets"]  # the order the spec updates them in


def _kept(stored: dict[str, bytes], role: str) -> dict[str, bytes]:
    """The stored files an attack on ``role`` must leave as they were: those of ``role``,
    of the roles updated after it and of delegated roles (``root_history/1.root.json``
    and ``prod.json`` belong to "root" and "prod")."""
    earlier = ORDER[: ORDER.index(role)] if role in ORDER else ORDER
    return {
        path: data
        for path, data in stored.items()
        if Path(path).name.removesuffix(".json").rsplit(".", 1)[-1] not in earlier
    }


def attacked(
    client: Client,
    files: dict[str, bytes],
    error: str,
    *,
    python_tuf: str | None = None,
    role: str = "root",
    target: str = TARGET,
) -> Outcome:
    """One step of ``client`` on the attacker's ``files``: refused with exactly the class
    ``error`` names (``"RepositoryError"``: any of that family), and the trusted files of
    ``role`` and of the roles after it unchanged (earlier ones may be updated first: a new
    valid timestamp is stored before a bad snapshot is refused).

    ``python_tuf`` names python-tuf's class where it differs: python-tuf has no
    MetadataFormatError (a malformed document is its DeserializationError).
    """
    name = python_tuf if python_tuf is not None and client.name == "python-tuf" else error
    before = persisted(client)
    out = client.step(files, target)
    assert out.decision != ACCEPTED, out
    assert isinstance(out.error, client.error(name)), (out, repr(out.error))
    if name != "RepositoryError":  # the family: any member will do
        assert type(out.error) is client.error(name), (out, repr(out.error))
    assert _kept(persisted(client), role) == _kept(before, role)
    return out


def bump_for(b: Repository, role: str) -> None:
    """New version of ``role`` and of what lists it (snapshot, timestamp)."""
    if role not in ("timestamp", "snapshot"):
        b.bump(role)
    if role != "timestamp":
        b.bump("snapshot")
    b.bump("timestamp")


def delegated_repo(**kwargs: Any) -> Repository:
    b = oracle_repository(**kwargs)
    b.delegate(
        "targets",
        "prod",
        paths=["fw/*"],
        threshold=kwargs.get("thresholds", {}).get("prod", 1),
        nkeys=2,
    )
    b.add_target(TARGET, DATA, "prod")
    return b


# -- CVE-2020-15163 --------------------------------------------------------------------------


def test_cve_2020_15163_root_failing_verification_never_trusted_later(
    new_client: ClientMaker,
) -> None:
    """python-tuf CVE-2020-15163: a new root that failed verification was saved and trusted
    on the next run. The rogue root must be refused, never saved, and a timestamp signed by
    the key it introduced must be refused later."""
    b = oracle_repository()
    b.add_target(TARGET, DATA)
    client = start(new_client, b)
    b.rotate_keys("root")
    b.rotate_keys("timestamp")
    b.commit_root()
    b.bump("timestamp")
    attacker: list[Signer] = list(b.signers["root"])
    evil = b.tree(Hooks(signers=lambda role, v: attacker if role == "root" and v == 2 else None))

    refused(client, client.step(evil, TARGET), "UnsignedMetadataError")
    assert evil["metadata/2.root.json"] not in persisted(client).values()

    del evil["metadata/2.root.json"]  # next boot: only the attacker's timestamp is served
    refused(client, client.step(evil, TARGET), "UnsignedMetadataError")


# -- CVE-2020-6174, tough CVE-2020-15093, tough CVE-2026-6966, go-tuf GHSA-3633-5h82-39pq ------


ROLES = ["root", "timestamp", "snapshot", "targets", "prod"]


@pytest.mark.parametrize("threshold", [1, 2])
@pytest.mark.parametrize("role", ROLES)
def test_cve_2020_6174_one_signature_counted_twice(
    new_client: ClientMaker, role: str, threshold: int
) -> None:
    """python-tuf CVE-2020-6174, tough CVE-2020-15093 (and CVE-2026-6966 for delegated
    roles): one key's signature listed twice must not count as two. A signature list that
    names a key id twice is malformed, even when one copy alone meets the threshold."""
    b = delegated_repo(thresholds=dict.fromkeys(ROLES, threshold))
    client = start(new_client, b)
    if role == "root":
        b.commit_root()
        b.bump("timestamp")
    else:
        bump_for(b, role)
    files = b.tree()
    edit_json(files, b.metadata_path(role), lambda d: d.update(signatures=[d["signatures"][0]] * 2))
    attacked(client, files, "MetadataFormatError", python_tuf="DeserializationError", role=role)


@kinds(
    python_tuf_xfail="python-tuf counts key ids, not distinct keys (spec 5.3.4: "
    "a threshold of distinct keys)"
)
def test_ghsa_3633_5h82_39pq_one_key_under_two_keyids_counted_once(
    new_client: ClientMaker,
) -> None:
    """go-tuf GHSA-3633-5h82-39pq: one public key listed under two key ids in a role with
    threshold 2; its one signature, given under both ids, must count once."""
    b = oracle_repository()
    b.add_target(TARGET, DATA)
    client = start(new_client, b)
    key = b.signers["timestamp"][0].public_key
    alias_id = sha256(b"alias of " + key.keyid.encode())
    alias = SSlibKey(alias_id, key.keytype, key.scheme, dict(key.keyval))
    b.root.signed.add_key(alias, "timestamp")
    b.root.signed.roles["timestamp"].threshold = 2
    b.commit_root()
    b.bump("timestamp")
    files = b.tree()
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
    pass. The root or targets metadata that sets it is malformed: refused, and the unsigned
    role never trusted."""
    b = delegated_repo()
    client = start(new_client, b)
    if role == "timestamp":
        b.commit_root()  # root version 2 sets the threshold
        bump_for(b, "timestamp")
    else:
        b.bump("prod")
        bump_for(b, "targets")  # a new targets sets the delegation's threshold

    def pre_sign(name: str, version: int, md: Metadata[Any]) -> None:
        if role == "timestamp" and name == "root" and version == 2:
            md.signed.roles["timestamp"].threshold = threshold
        if role == "prod" and name == "targets":
            md.signed.delegations.roles["prod"].threshold = threshold

    b.add_target("fw/evil.bin", b"evil", role if role == "prod" else "targets")
    files = b.tree(Hooks(pre_sign=pre_sign, signers=lambda n, v: [] if n == role else None))
    attacked(
        client,
        files,
        "MetadataFormatError",
        python_tuf="DeserializationError",
        role="root" if role == "timestamp" else "targets",  # the role that names the threshold
        target="fw/evil.bin",
    )


# -- CVE-2021-41131, tough GHSA-r56q-vv3c-6g9c ------------------------------------------------

ESCAPING_ROLE = "../../../escaped-role"
ESCAPING_TARGET = "../../../escaped.bin"
FIRMWARE = {"firmtuf": {"hardware_ids": ["gw"], "version": "9.0", "security_counter": 0}}
# Beyond "..": names that escape the folder or hide or reorder text, which firmtuf's one
# name rule (verifier.check_target_name, the signer's too; ADR 0001) refuses.
UNSAFE_NAMES = [
    ESCAPING_TARGET,
    "../../etc/passwd",
    "/abs/fw.bin",
    "gw\\fw.bin",
    "gw/./fw.bin",
    "gw//fw.bin",
    "gw/fw\x00.bin",
    "gw/fw\x85.bin",  # C1: NEL
    "gw/fw\x9b2J.bin",  # C1: CSI, a terminal escape
    "gw/fw\u202enib.exe",  # bidi override: shows as gw/fwexe.bin
    "gw/\u2067fw.bin",  # bidi isolate
    "gw/fw\u200b.bin",  # zero-width space: poses as gw/fw.bin
    "gw/" + "x" * 1030,
]


def escaping_repo(unsafe: str = ESCAPING_TARGET) -> Repository:
    """A role named to escape, listing ``ESCAPING_TARGET``; an ``unsafe`` name other than
    that is listed by the top-level targets role."""
    b = oracle_repository()
    b.delegate("targets", ESCAPING_ROLE, paths=["*/*/*/*", "fw/*"])
    b.add_target(ESCAPING_TARGET, b"escaped", ESCAPING_ROLE, custom=FIRMWARE)
    b.add_target(TARGET, DATA, ESCAPING_ROLE)
    if unsafe != ESCAPING_TARGET:
        b.add_target(unsafe, b"unsafe", custom=FIRMWARE)
    return b


def files_outside(root: Path, inside: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and inside not in p.parents]


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        param
        for n in UNSAFE_NAMES
        for param in for_both(
            repr(n)[:40],
            n,
            python_tuf=PythonTuf(
                departs="names the file after the whole quoted target name: longer than the "
                "file system allows, an OSError, not a RepositoryError"
            )
            if len(n) > 255
            else None,
        )
    ],
)
def test_cve_2021_41131_names_never_escape_directories_updater(
    kind: str, tmp_path: Path, name: str
) -> None:
    """python-tuf CVE-2021-41131, tough GHSA-r56q-vv3c-6g9c: role and target names with
    ``../`` wrote files outside the metadata and target directories. python-tuf quotes a
    target name into one file name inside its target directory; our verifier refuses a
    target whose name breaks the name rule (UnsafeTargetNameError) before downloading or
    choosing it, and the trust store stays as it was."""
    from tests.verifier.oracle._clients import TufClient, VerifierClient

    workdir = tmp_path / "a" / "b" / "c" / "client"
    files = escaping_repo(name).tree()
    root = files["metadata/1.root.json"]
    client: Client = (TufClient if kind == "python-tuf" else VerifierClient)(root, workdir)
    # Walks the delegation (stores the role's metadata); a safe name stays served.
    assert client.step(files, TARGET).decision == ACCEPTED
    trusted = persisted(client)
    up: Any = client.updater(files)
    up.refresh()
    info = up.get_targetinfo(name)
    assert info is not None
    if kind == "python-tuf":
        up.download_target(info)  # file name chosen by the client from the target name
        assert [p.parent for p in workdir.joinpath("targets").rglob("*")] == [workdir / "targets"]
    else:
        import verifier

        workdir.joinpath("targets").mkdir()
        with pytest.raises(verifier.UnsafeTargetNameError) as e:
            up.download(info, workdir / "targets" / "image")
        assert type(e.value) is verifier.UnsafeTargetNameError
        policy = verifier.DevicePolicy("gw", "1.0")
        chooser = verifier.Updater(
            client.metadata_dir,
            METADATA_URL,
            TARGETS_URL,
            fetcher=memory_fetcher(files),
            policy=policy,
        )
        with pytest.raises(verifier.UnsafeTargetNameError) as e:
            chooser.check()
        assert type(e.value) is verifier.UnsafeTargetNameError
        assert list(workdir.joinpath("targets").iterdir()) == []
    assert persisted(client) == trusted
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
    files = escaping_repo().tree()
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
        path = f"metadata/{b.snapshot.signed.version}.snapshot.json"
    elif case in ("expired_prod", "prod_bad_signature"):
        bump_for(b, "prod")
        path = f"metadata/{b.md('prod').signed.version}.prod.json"
        if case == "expired_prod":
            hooks.pre_sign = _expired("prod")
    else:
        b.rotate_keys("root")
        b.commit_root()
        bump_for(b, "timestamp")
        path = "metadata/2.root.json"
    files = b.tree(hooks)
    if case == "snapshot_hash":
        # Same length and signed content (key order only), so only the hash differs.
        doc = json.loads(files[path])
        swapped = {"signed": doc["signed"], "signatures": doc["signatures"]}
        files[path] = json.dumps(swapped, separators=(",", ":")).encode()
        assert len(files[path]) == len(b.tree()[path]) and files[path] != b.tree()[path]
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
    b.md("prod").signed.version = 3
    client = start(new_client, b)
    b.md("prod").signed.version = 2
    b.bump("snapshot")
    b.bump("timestamp")
    out = client.step(b.tree(), TARGET)
    refused(client, out, "BadVersionNumberError")


def test_cve_2025_2886_terminating_delegation_stops_the_search(new_client: ClientMaker) -> None:
    """tough CVE-2025-2886: a terminating delegation that does not list the target must end
    the search; a later role that lists it must not be consulted."""
    b = oracle_repository()
    b.delegate("targets", "prod", paths=["fw/*"], terminating=True)
    b.add_target("fw/other.bin", b"other", "prod")
    b.delegate("targets", "late", paths=["fw/*"])
    b.add_target(TARGET, b"from the role after a terminating one", "late")
    files = b.tree()
    client = new_client(files["metadata/1.root.json"])
    assert client.step(files, TARGET).decision == (True, "none", None)
    assert client.step(files, "fw/other.bin").decision == ACCEPTED


def test_cve_2025_2887_root_versions_must_be_sequential(new_client: ClientMaker) -> None:
    """tough CVE-2025-2887: the file N+1.root.json must hold exactly version N+1."""
    b = oracle_repository()
    b.add_target(TARGET, DATA)
    client = start(new_client, b)
    b.commit_root()
    b.bump("timestamp")

    def pre_sign(name: str, version: int, md: Metadata[Any]) -> None:
        if name == "root" and version == 2:
            md.signed.version = 3

    files = b.tree(Hooks(pre_sign=pre_sign))
    refused(client, client.step(files, TARGET), "BadVersionNumberError")


# -- go-tuf CVE-2024-47534 -----------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["sibling_first", "child_before_sibling"])
def test_cve_2024_47534_delegations_walked_in_preorder(
    new_client: ClientMaker, layout: str
) -> None:
    """go-tuf CVE-2024-47534: targets delegates to A then B, B to C: the search must visit
    A, B, C in that order (pre-order depth first, spec 5.6.7.2). The first role in that
    order that lists the target decides its bytes."""
    b = oracle_repository()
    b.delegate("targets", "A", paths=["fw/*"])
    b.delegate("targets", "B", paths=["fw/*"])
    if layout == "sibling_first":
        b.delegate("B", "C", paths=["fw/*"])
        b.add_target(TARGET, b"from A", "A")
        b.add_target(TARGET, b"from C, reached through B", "C")
        expected = b"from A"
    else:
        b.delegate("A", "A1", paths=["fw/*"])
        b.add_target(TARGET, b"from A1, the child of A", "A1")
        b.add_target(TARGET, b"from B, the second sibling", "B")
        expected = b"from A1, the child of A"
    files = b.tree()
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

    out = client.step(b.tree(Hooks(pre_sign=pre_sign)), TARGET)
    assert out.decision != ACCEPTED
    expected = {
        "expiry": ("ExpiredMetadataError",),
        "hash": ("LengthOrHashMismatchError",),
        # Shorter than announced: a download limited to the announced length fails.
        "length": ("LengthOrHashMismatchError", "DownloadLengthMismatchError"),
    }[check]
    assert isinstance(out.error, tuple(client.error(e) for e in expected)), repr(out.error)


# -- go-tuf CVE-2026-23991 -------------------------------------------------------------------------

# Documents that are not TUF metadata, served in place of a role's (no valid signature).
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


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(signed: dict[str, Any]) -> None:
        *parents, last = path.split("|")
        node: Any = signed
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if value is _DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


_DELETE = object()

# Validly signed documents with one field of a wrong type or value, (role, field path,
# value[, what python-tuf does]): refused by the parser, past the signature check.
SIGNED_MUTATIONS: list[tuple[Any, ...]] = [
    ("timestamp", "version", "7"),
    ("timestamp", "version", 0),
    (
        "timestamp",
        "version",
        True,
        PythonTuf(departs="reads JSON true as the version 1, a bool being an int in Python"),
    ),
    ("timestamp", "expires", 5),
    ("timestamp", "expires", "2030-13-01T00:00:00Z"),
    ("timestamp", "expires", "2030-02-30T00:00:00Z"),
    ("timestamp", "expires", "tomorrow"),
    ("timestamp", "spec_version", "2.0.0"),
    ("timestamp", "spec_version", "1"),
    ("timestamp", "spec_version", 1),
    ("timestamp", "_type", "snapshot", PythonTuf(raises="RepositoryError")),
    ("timestamp", "meta", _DELETE),
    ("timestamp", "meta", []),
    ("timestamp", "meta|snapshot.json", "x"),
    ("timestamp", "meta|snapshot.json|version", -1),
    ("timestamp", "meta|snapshot.json|length", "1"),
    ("timestamp", "meta|snapshot.json|hashes", {}),
    ("timestamp", "meta|snapshot.json|hashes", {"sha256": 1}),
    ("snapshot", "meta", "x"),
    ("snapshot", "meta|targets.json", None),
    ("snapshot", "meta|targets.json|version", "1"),
    ("targets", "targets", []),
    ("targets", "targets|fw/top.bin", 3),
    ("targets", "targets|fw/top.bin|length", "12"),
    ("targets", "targets|fw/top.bin|length", -1),
    ("targets", "targets|fw/top.bin|hashes", {}),
    ("targets", "targets|fw/top.bin|hashes", ["sha256"]),
    ("targets", "targets|fw/top.bin|hashes|sha256", None),
    (
        "targets",
        "targets|fw/top.bin|custom",
        "x",
        PythonTuf(departs="keeps custom unchecked (spec: an object)"),
    ),
    ("targets", "delegations", []),
    ("targets", "delegations", {"keys": {}, "roles": "x"}),
    ("targets", "delegations", {"keys": [], "roles": []}),
    ("targets", "delegations", {"keys": {}}),
    ("targets", "delegations", {"keys": {}, "roles": [{"name": "a"}]}),
    (
        "targets",
        "delegations",
        {
            "keys": {},
            "roles": [{"name": 1, "keyids": [], "threshold": 1, "terminating": False, "paths": []}],
        },
        PythonTuf(departs="does not check the type of a delegated role's name"),
    ),
    (
        "targets",
        "delegations",
        {
            "keys": {},
            "roles": [
                {"name": "a", "keyids": [], "threshold": 1, "terminating": "no", "paths": []}
            ],
        },
        PythonTuf(departs="does not check that terminating is a boolean"),
    ),
    (
        "targets",
        "delegations",
        {
            "keys": {},
            "roles": [
                {"name": "a", "keyids": [], "threshold": 1, "terminating": False, "paths": "a/*"}
            ],
        },
        PythonTuf(departs="takes a string of path patterns for a list"),
    ),
    (
        "targets",
        "delegations",
        {
            "keys": {},
            "roles": [
                {
                    "name": "a",
                    "keyids": [],
                    "threshold": 1,
                    "terminating": False,
                    "paths": [],
                    "path_hash_prefixes": [],
                }
            ],
        },
    ),
    (
        "targets",
        "delegations",
        {
            "keys": {},
            "roles": [
                {
                    "name": "a",
                    "keyids": ["k", "k"],
                    "threshold": 1,
                    "terminating": False,
                    "paths": [],
                }
            ],
        },
    ),
    (
        "targets",
        "delegations",
        {
            "keys": {},
            "roles": [
                {"name": "a", "keyids": [], "threshold": 1, "terminating": False, "paths": []},
                {"name": "a", "keyids": [], "threshold": 1, "terminating": False, "paths": []},
            ],
        },
    ),
    (
        "targets",
        "delegations",
        {
            "keys": {},
            "roles": [
                {
                    "name": "snapshot",
                    "keyids": [],
                    "threshold": 1,
                    "terminating": False,
                    "paths": [],
                }
            ],
        },
    ),
    (
        "targets",
        "delegations",
        {
            "keys": {},
            "succinct_roles": {"keyids": [], "threshold": 1, "bit_length": 33, "name_prefix": "b"},
        },
    ),
    ("targets", "delegations", {"keys": {"k": {"keytype": "ed25519"}}, "roles": []}),
]


ROOT_MUTATIONS: list[tuple[Any, ...]] = [
    ("root", "roles|snapshot", _DELETE),
    ("root", "roles|mirror", {"keyids": [], "threshold": 1}),
    ("root", "roles|targets|threshold", 0),
    ("root", "roles|targets|threshold", "1"),
    (
        "root",
        "roles|targets|keyids",
        "k",
        PythonTuf(departs="takes a string of key ids for a list"),
    ),
    ("root", "keys", []),
    (
        "root",
        "consistent_snapshot",
        "yes",
        PythonTuf(departs="does not check that consistent_snapshot is a boolean"),
    ),
    ("root", "version", "2"),
    ("root", "expires", None),
]


UNSIGNED = [*MALFORMED, "deep_nesting", "not_utf8"]


def _malformed_cases() -> list[Any]:
    cases: list[Any] = []
    for role in ROLES:
        for name in UNSIGNED:
            # Never signed: refused by the parser or by the signature check, either is right.
            cases += for_both(f"{role}-{name}", role, name, None, "RepositoryError")
    for role, path, value, *note in [*SIGNED_MUTATIONS, *ROOT_MUTATIONS]:
        python_tuf = note[0] if note else PythonTuf()
        case_id = f"signed-{role}:{path}={value!r}"[:60]
        cases += for_both(case_id, role, path, value, python_tuf.raises, python_tuf=python_tuf)
    return cases


@pytest.mark.parametrize(("kind", "role", "name", "value", "python_tuf"), _malformed_cases())
def test_cve_2026_23991_malformed_metadata_is_an_error_not_a_crash(
    new_client: ClientMaker, role: str, name: str, value: Any, python_tuf: str
) -> None:
    """go-tuf CVE-2026-23991: well-formed JSON that is not TUF metadata crashed the client
    before any signature check. Served in place of a role's metadata it must be a
    RepositoryError, nothing else; signed validly with one field of a wrong type or value,
    exactly the parser's error (our MetadataFormatError). The role's trusted file stays as
    it was."""
    b = delegated_repo()
    b.add_target("fw/top.bin", DATA, custom=FIRMWARE)
    client = start(new_client, b)
    if role == "root":
        b.commit_root()
    bump_for(b, role if role != "root" else "timestamp")
    if name in UNSIGNED:
        files = b.tree()
        path = b.metadata_path(role)
        files[path] = _malformed_bytes(json.loads(files[path]), name)
        attacked(client, files, "RepositoryError", role=role)
        return

    def edit_signed(r: str, version: int, signed: dict[str, Any]) -> None:
        if r == role and (r != "root" or version == 2):
            _set(name, value)(signed)

    files = b.tree(Hooks(edit_signed=edit_signed))
    attacked(client, files, "MetadataFormatError", python_tuf=python_tuf, role=role)


# -- a delegated role reached through two delegators ---------------------------------------


def test_delegated_role_reverified_for_each_delegator(new_client: ClientMaker) -> None:
    """A role delegated by A (key a) and by B (key b) but signed only with key a: found
    through A it is trusted, but reached through B it must be verified again with B's keys
    (python-tuf keys its cache by (role, delegator) for this), not taken from the cache."""
    b = oracle_repository()
    b.delegate("targets", "A", paths=["a/*"])
    b.delegate("targets", "B", paths=["fw/*"])
    b.delegate("A", "shared", paths=["a/*", "fw/*"])
    b.add_target("a/tool.bin", b"tool", "shared")
    b.add_target(TARGET, b"firmware that only A's key vouches for", "shared")
    # B delegates the same role name to another key.
    other = b.keys.take("ed25519")
    b.md("B").signed.delegations = Delegations(
        keys={other.public_key.keyid: other.public_key},
        roles={
            "shared": DelegatedRole("shared", [other.public_key.keyid], 1, False, paths=["fw/*"])
        },
    )
    files = b.tree()
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
    b = oracle_repository()
    b.add_target(TARGET, DATA)
    client = start(new_client, b)
    b.delegate("targets", "evil", paths=["evil/*"])
    b.add_target("evil/image.bin", b"evil", "evil")
    bump_for(b, "targets")

    def rename(role: str, version: int, md: Metadata[Any]) -> None:
        # The builder keeps top-level and delegated roles apart by name: the delegation
        # takes the top-level name as it is signed (python-tuf's name check bypassed).
        if role == "targets":
            roles = md.signed.delegations.roles
            roles[name] = roles.pop("evil")
            roles[name].name = name
        elif role == "snapshot":
            md.signed.meta[f"{name}.json"] = md.signed.meta.pop("evil.json")

    files = b.tree(Hooks(pre_sign=rename))
    files[f"metadata/1.{name}.json"] = files.pop("metadata/1.evil.json")
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
    old = b.tree()  # timestamp, snapshot and targets at version 1
    client = new_client(old["metadata/1.root.json"])
    for r in ("prod", "targets"):
        b.bump(r)
    bump_for(b, "snapshot")
    assert client.step(b.tree(), TARGET).decision == ACCEPTED  # trusts version 2
    b.root.signed.roles[role].threshold = 1
    b.commit_root()
    current = b.tree()
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
    b = oracle_repository()
    b.add_target(TARGET, DATA)
    files = b.tree()
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
