"""The attack table: one test per attack, each feeding it to the device and checking the
exact error class and that the trusted state on disk did not change."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import CryptoSigner, SSlibKey

import verifier
from tests.repository import METADATA_URL, TARGETS_URL, Repository, future, tamper
from tests.verifier.conftest import state_of

Action = Callable[[verifier.Updater], object]


def refresh(up: verifier.Updater) -> object:
    up.refresh()
    return None


ORDER = ["root", "timestamp", "snapshot", "targets"]


def attack(
    sim: Repository,
    md: Path,
    error: type[BaseException],
    action: Action = refresh,
    *,
    role: str = "root",
    **kwargs: Any,
) -> BaseException:
    """Run ``action`` on a fresh Updater: it must raise exactly ``error``.

    ``role`` is the attacked role: its trusted file and those of later roles must be
    unchanged on disk. Roles before it may legitimately be updated first (a new valid
    timestamp is stored before a bad snapshot is refused, as the spec orders).
    """
    order = ORDER.index(role) if role in ORDER else len(ORDER)
    may_change = {f"{r}.json" for r in ORDER[:order]}
    up = sim.updater(md, **kwargs)  # a new store gets its layout marker here
    before = state_of(md)
    with pytest.raises(error) as info:
        action(up)
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    after = state_of(md)
    assert {k: v for k, v in after.items() if k not in may_change} == {
        k: v for k, v in before.items() if k not in may_change
    }
    return info.value


@pytest.fixture
def md(sim: Repository, tmp_path: Path) -> Path:
    """A device that has already refreshed once against ``sim``."""
    d = tmp_path / "md"
    sim.updater(d).refresh()
    return d


def ts_url() -> str:
    return METADATA_URL + "timestamp.json"


def sign_dict(signer: Any, signed: dict[str, Any], keyids: list[str] | None = None) -> bytes:
    data = encode_canonical(signed).encode()  # type: ignore[union-attr]
    sig = signer.sign(data).signature
    ids = keyids or [signer.public_key.keyid]
    return json.dumps(
        {"signed": signed, "signatures": [{"keyid": k, "sig": sig} for k in ids]}
    ).encode()


def role_dict(sim: Repository, role: str) -> dict[str, Any]:
    return copy.deepcopy(sim.md(role).signed.to_dict())


def current_url(sim: Repository, role: str) -> str:
    if role == "timestamp":
        return ts_url()
    return f"{METADATA_URL}{sim.md(role).signed.version}.{role}.json"


# -- arbitrary software ----------------------------------------------------------------


def test_tampered_timestamp_bad_signature(sim: Repository, md: Path) -> None:
    sim.update_timestamp()
    data = tamper(sim.files[ts_url()], '"version": 3', '"version": 4')
    sim.override[ts_url()] = data
    attack(sim, md, verifier.UnsignedMetadataError)


def test_targets_signed_by_wrong_key(sim: Repository, md: Path) -> None:
    sim.signers["targets"] = [CryptoSigner.generate_ed25519()]
    sim.add_target("evil", b"evil")
    sim.publish()
    attack(sim, md, verifier.UnsignedMetadataError, role="targets")


def test_targets_under_threshold(tmp_path: Path) -> None:
    sim = Repository()
    sim.add_key("targets")
    sim.root.signed.roles["targets"].threshold = 2
    sim.rotate_root()
    sim.publish()
    md = tmp_path / "md"
    sim.updater(md).refresh()
    sim.signers["targets"].pop()
    sim.publish()
    attack(sim, md, verifier.UnsignedMetadataError, role="targets")


def test_arbitrary_target_bytes(sim: Repository, md: Path, tmp_path: Path) -> None:
    digest = hashlib.sha256(b"firmware one").hexdigest()
    sim.override[f"{TARGETS_URL}gw/1.0.0/{digest}.fw.bin"] = b"firmware 0ne"

    def download(up: verifier.Updater) -> object:
        target = up.get_targetinfo("gw/1.0.0/fw.bin")
        assert target is not None
        return up.download(target, tmp_path / "out.bin")

    attack(sim, md, verifier.LengthOrHashMismatchError, download)
    assert not (tmp_path / "out.bin").exists()
    assert not (tmp_path / "out.bin.part").exists()


# -- rollback ----------------------------------------------------------------------------


def test_timestamp_rollback(sim: Repository, md: Path) -> None:
    old = sim.files[ts_url()]
    sim.update_timestamp()
    sim.updater(md).refresh()
    sim.override[ts_url()] = old
    attack(sim, md, verifier.BadVersionNumberError)


def test_snapshot_rollback(sim: Repository, md: Path) -> None:
    sim.snapshot.signed.version -= 1
    sim.update_timestamp()
    attack(sim, md, verifier.BadVersionNumberError)


def test_targets_rollback(sim: Repository, md: Path) -> None:
    sim.targets.signed.version -= 1
    sim.update_snapshot()
    attack(sim, md, verifier.BadVersionNumberError, role="targets")


def test_snapshot_dropping_a_role_is_rollback(tmp_path: Path) -> None:
    sim = Repository()
    sim.delegate("targets", "team", ["t/*"])
    sim.publish(("targets", "team"))
    md = tmp_path / "md"
    sim.updater(md).refresh()
    del sim.delegated["team"]
    sim.update_snapshot()
    attack(sim, md, verifier.BadVersionNumberError, role="snapshot")


def test_fast_forward_then_key_rotation_recovers(sim: Repository, md: Path) -> None:
    # An attacker with the timestamp key pushes the version far ahead.
    sim.timestamp.signed.version = 1000
    sim.update_timestamp()
    sim.updater(md).refresh()
    sim.timestamp.signed.version = 1
    sim.update_timestamp()
    attack(sim, md, verifier.BadVersionNumberError)
    # The repository rotates the timestamp key: the device recovers.
    old = sim.signers["timestamp"][0]
    sim.root.signed.revoke_key(old.public_key.keyid, "timestamp")
    sim.signers["timestamp"] = []
    sim.add_key("timestamp")
    sim.rotate_root()
    sim.updater(md).refresh()
    assert json.loads((md / "timestamp.json").read_bytes())["signed"]["version"] == 2


def test_snapshot_fast_forward_recovery(sim: Repository, md: Path) -> None:
    sim.snapshot.signed.version = 500
    sim.update_timestamp()
    sim.updater(md).refresh()
    old = sim.signers["snapshot"][0]
    sim.root.signed.revoke_key(old.public_key.keyid, "snapshot")
    sim.signers["snapshot"] = []
    sim.add_key("snapshot")
    sim.rotate_root()
    sim.snapshot.signed.version = 1
    sim.update_snapshot()
    sim.updater(md).refresh()


# -- freeze --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["timestamp", "snapshot", "targets"])
def test_expired_metadata(sim: Repository, md: Path, role: str) -> None:
    sim.md(role).signed.expires = future(-1)
    sim.publish()
    attack(sim, md, verifier.ExpiredMetadataError, role=role)


def test_expired_root(sim: Repository, md: Path) -> None:
    sim.root.signed.expires = future(-1)
    sim.rotate_root()
    attack(sim, md, verifier.ExpiredMetadataError, role="timestamp")


def test_device_clock_past_expiry(sim: Repository, md: Path) -> None:
    up = sim.updater(md, clock=lambda: 4102444800.0)  # 2100-01-01
    before = state_of(md)
    with pytest.raises(verifier.ExpiredMetadataError):
        up.refresh()
    assert state_of(md) == before


# -- endless data ------------------------------------------------------------------------

SMALL = verifier.Config(
    root_max_length=20000,
    timestamp_max_length=5000,
    snapshot_max_length=5000,
    targets_max_length=8000,
)


def pad(data: bytes, size: int) -> bytes:
    return data[:-1] + b" " * size + data[-1:]


@pytest.mark.parametrize("role", ["root", "timestamp", "snapshot", "targets"])
def test_endless_metadata(sim: Repository, md: Path, role: str) -> None:
    sim.publish()
    url = (
        f"{METADATA_URL}{len(sim.signed_roots) + 1}.root.json"
        if role == "root"
        else current_url(sim, role)
    )
    if role == "root":
        sim.rotate_root()
        sim.override[url] = pad(sim.signed_roots[-1], 30000)
    else:
        sim.override[url] = pad(sim.files[url], 30000)
    attack(sim, md, verifier.DownloadLengthMismatchError, config=SMALL, role=role)


def test_endless_delegated_metadata(tmp_path: Path) -> None:
    sim = Repository()
    sim.delegate("targets", "team", ["t/*"])
    sim.publish(("targets", "team"))
    md = tmp_path / "md"
    sim.updater(md).refresh()
    url = current_url(sim, "team")
    sim.override[url] = pad(sim.files[url], 30000)
    attack(
        sim,
        md,
        verifier.DownloadLengthMismatchError,
        lambda up: up.get_targetinfo("t/x"),
        config=SMALL,
        role="team",
    )


def test_endless_snapshot_with_length_in_timestamp(tmp_path: Path) -> None:
    sim = Repository()
    sim.snapshot_hashes = sim.timestamp_hashes = True
    sim.publish()
    md = tmp_path / "md"
    sim.updater(md).refresh()
    sim.publish()
    url = current_url(sim, "snapshot")
    sim.override[url] = pad(sim.files[url], 100)
    attack(sim, md, verifier.DownloadLengthMismatchError, role="snapshot")


@pytest.mark.parametrize("role", ["snapshot", "targets"])
def test_metadata_shorter_than_its_signed_length(tmp_path: Path, role: str) -> None:
    """Issue 9 item 6: a response that ends before the signed length is the transfer's
    fault (DownloadIncompleteError, retry later), not a repository error; the
    truncated bytes are never trusted."""
    sim = Repository()
    sim.snapshot_hashes = sim.timestamp_hashes = True
    sim.publish()
    md = tmp_path / "md"
    sim.updater(md).refresh()
    sim.publish()
    url = current_url(sim, role)
    sim.override[url] = sim.files[url][:-40]
    error = attack(sim, md, verifier.DownloadIncompleteError, role=role)
    assert "the response ended after" in str(error)


def test_short_target(sim: Repository, md: Path, tmp_path: Path) -> None:
    """An image served shorter than signed: DownloadIncompleteError, trusted state
    unchanged, the bytes that came kept as the partial download the next attempt
    resumes."""
    digest = hashlib.sha256(b"firmware one").hexdigest()
    url = f"{TARGETS_URL}gw/1.0.0/{digest}.fw.bin"
    sim.override[url] = b"firmware"
    up = sim.updater(md)
    target = up.get_targetinfo("gw/1.0.0/fw.bin")
    assert target is not None
    before = state_of(md)
    with pytest.raises(verifier.DownloadIncompleteError, match="ended after 8 of the 12 bytes"):
        up.download(target, tmp_path / "out.bin")
    after = state_of(md)
    kept = [k for k in after if k.startswith("firmtuf/partial/")]
    assert [after[k] for k in kept] == [b"firmware"]
    assert {k: v for k, v in after.items() if k not in kept} == before
    assert not (tmp_path / "out.bin").exists()
    sim.override[url] = b"firmware one"
    assert up.download(target, tmp_path / "out.bin").read_bytes() == b"firmware one"


def test_endless_target(sim: Repository, md: Path, tmp_path: Path) -> None:
    digest = hashlib.sha256(b"firmware one").hexdigest()
    sim.override[f"{TARGETS_URL}gw/1.0.0/{digest}.fw.bin"] = b"firmware one" + b"x" * 10**6

    def download(up: verifier.Updater) -> object:
        target = up.get_targetinfo("gw/1.0.0/fw.bin")
        assert target is not None
        return up.download(target, tmp_path / "out.bin")

    attack(sim, md, verifier.DownloadLengthMismatchError, download)
    assert not (tmp_path / "out.bin").exists()


# -- mix and match -------------------------------------------------------------------------


def test_snapshot_version_mismatch(sim: Repository, md: Path) -> None:
    old = sim.files[current_url(sim, "snapshot")]
    sim.publish()
    sim.override[current_url(sim, "snapshot")] = old
    attack(sim, md, verifier.BadVersionNumberError, role="snapshot")


def test_targets_version_mismatch(sim: Repository, md: Path) -> None:
    old = sim.files[current_url(sim, "targets")]
    sim.publish()
    sim.override[current_url(sim, "targets")] = old
    attack(sim, md, verifier.BadVersionNumberError, role="targets")


def test_targets_hash_mismatch(tmp_path: Path) -> None:
    sim = Repository()
    sim.snapshot_hashes = sim.timestamp_hashes = True
    sim.publish()
    md = tmp_path / "md"
    sim.updater(md).refresh()
    sim.publish()
    url = current_url(sim, "targets")
    data = sim.files[url]
    sim.add_target("other", b"o")
    sim.override[url] = sim.sign("targets")[: len(data)].ljust(len(data))
    attack(sim, md, verifier.LengthOrHashMismatchError, role="targets")


def test_malicious_mirror_other_repository(sim: Repository, md: Path) -> None:
    other = Repository()
    other.publish()
    other.publish()
    sim.override[ts_url()] = other.files[ts_url()]
    attack(sim, md, verifier.UnsignedMetadataError)


def test_mirror_serves_garbage(sim: Repository, md: Path) -> None:
    sim.override[ts_url()] = b"<html>hello</html>"
    attack(sim, md, verifier.MetadataFormatError)


# -- firmware policy -----------------------------------------------------------------------


def fw(version: str, *ids: str, counter: int = 0) -> dict[str, object]:
    return {
        "firmtuf": {
            "hardware_ids": list(ids or ["gw"]),
            "version": version,
            "security_counter": counter,
        }
    }


def download_named(name: str, dest: Path) -> Action:
    def action(up: verifier.Updater) -> object:
        target = up.get_targetinfo(name)
        assert target is not None
        return up.download(target, dest)

    return action


def test_wrong_hardware_id(sim: Repository, md: Path, tmp_path: Path) -> None:
    sim.add_target("cam/2.0/fw.bin", b"cam", custom=fw("2.0", "cam"))
    sim.publish()
    sim.updater(md).refresh()
    policy = verifier.DevicePolicy("gw", "1.0.0")
    attack(
        sim,
        md,
        verifier.PolicyError,
        download_named("cam/2.0/fw.bin", tmp_path / "x"),
        policy=policy,
    )
    assert not (tmp_path / "x").exists()


def test_firmware_downgrade(sim: Repository, md: Path, tmp_path: Path) -> None:
    policy = verifier.DevicePolicy("gw", "1.1.0")
    attack(
        sim,
        md,
        verifier.PolicyError,
        download_named("gw/1.0.0/fw.bin", tmp_path / "x"),
        policy=policy,
    )
    assert sim.updater(md, policy=policy).check() is None


def test_security_counter_decrease(sim: Repository, md: Path, tmp_path: Path) -> None:
    sim.add_target("gw/2.0/fw.bin", b"2", custom=fw("2.0", counter=0))
    sim.publish()
    md2 = md.parent / "md2"
    sim.updater(md2).refresh()
    policy = verifier.DevicePolicy("gw", "1.0.0", security_counter=3, unsafe_allow_downgrade=True)
    attack(
        sim,
        md2,
        verifier.PolicyError,
        download_named("gw/2.0/fw.bin", tmp_path / "x"),
        policy=policy,
    )
    assert sim.updater(md2, policy=policy).check() is None


# -- delegation graph ------------------------------------------------------------------------


def test_delegation_loop_terminates(tmp_path: Path) -> None:
    sim = Repository()
    sim.delegate("targets", "a", ["*"])
    sim.delegate("a", "b", ["*"])
    # b delegates back to a: a loop.
    from tuf.api.metadata import DelegatedRole, Delegations

    b = sim.delegated["b"].signed
    b.delegations = Delegations({}, roles={"a": DelegatedRole("a", [], 1, False, ["*"])})
    b.add_key(sim.signers["a"][0].public_key, "a")
    sim.publish(("targets", "a", "b"))
    md = tmp_path / "md"
    up = sim.updater(md)
    assert up.get_targetinfo("missing") is None
    assert sum(1 for r in sim.fetcher.requests if r.endswith(".a.json")) == 1
    policy = verifier.DevicePolicy("gw", "1.0")
    assert sim.updater(md, policy=policy).check() is None


def test_over_deep_delegation_chain(tmp_path: Path) -> None:
    sim = Repository()
    parent = "targets"
    for i in range(40):
        sim.delegate(parent, f"r{i}", ["*"])
        parent = f"r{i}"
    sim.add_target("deep", b"deep", role="r39")
    sim.publish(("targets", *sim.delegated))
    up = sim.updater(tmp_path / "md", config=verifier.Config(max_delegations=8))
    assert up.get_targetinfo("deep") is None
    fetched = [r for r in sim.fetcher.requests if ".r" in r]
    assert len(fetched) <= 9
    with pytest.raises(verifier.RepositoryError, match="enumerate"):
        sim.updater(
            tmp_path / "md2",
            config=verifier.Config(max_enumerated_roles=10),
            policy=verifier.DevicePolicy("gw", "1"),
        ).check()


# -- duplicate JSON keys (issue 9 item 6) ------------------------------------------------------


def _with_duplicate(data: bytes, anchor: bytes, inserted: bytes) -> bytes:
    """``data`` with ``inserted`` (a key and value, then a comma) right after ``anchor``:
    Python's parser keeps the last value (the signed one), other parsers the first."""
    compact = (anchor.replace(b": ", b":"), inserted.replace(b": ", b":").replace(b", ", b","))
    for a, i in ((anchor, inserted), compact):  # python-tuf's layout, or canonical
        if a in data:
            return data.replace(a, a + i, 1)
    raise AssertionError(f"{anchor!r} not in the metadata")


@pytest.mark.parametrize("key", [b'"version"', b'"vers\\u0069on"'], ids=["plain", "escaped"])
def test_duplicate_key_in_signed_timestamp_is_refused(
    sim: Repository, md: Path, key: bytes
) -> None:
    """Attack: a validly signed timestamp with an unsigned first "version" smuggled in
    (written plainly, or with an escape: text with a backslash takes the exact parse).
    The signature still verifies over the last-wins reading; the document is refused."""
    sim.update_timestamp()
    data = _with_duplicate(sim.files[ts_url()], b'"signed": {', key + b": 99, ")
    sim.override[ts_url()] = data
    error = attack(sim, md, verifier.MetadataFormatError, role="timestamp")
    assert "duplicate key" in str(error)


def test_duplicate_hash_in_signed_targets_is_refused(sim: Repository, md: Path) -> None:
    """Attack: a first-wins reader would check another image's hash than the one signed."""
    sim.publish()
    data = sim.files[current_url(sim, "targets")]
    evil = b'"sha256": "' + hashlib.sha256(b"evil").hexdigest().encode() + b'", '
    sim.override[current_url(sim, "targets")] = _with_duplicate(data, b'"hashes": {', evil)
    error = attack(sim, md, verifier.MetadataFormatError, role="targets")
    assert "duplicate key" in str(error)


def test_duplicate_key_in_the_envelope_is_refused(sim: Repository, md: Path) -> None:
    sim.update_timestamp()
    data = sim.files[ts_url()]
    sim.override[ts_url()] = _with_duplicate(data, b"{", b'"signatures": [], ')
    error = attack(sim, md, verifier.MetadataFormatError, role="timestamp")
    assert "duplicate key" in str(error)


# -- key types ---------------------------------------------------------------------------------


WEIRD = {"keytype": "x-pq-sig", "scheme": "x-pq-sig-v1", "keyval": {"pk": "a", "params": 3}}


def test_unknown_key_type_in_root_is_kept_and_never_verifies(sim: Repository, md: Path) -> None:
    """Issue 9 item 6: a root listing a key of a type the verifier does not know loads
    (spec 4.2: adopters define key types); the known keys meet the threshold."""
    signed = role_dict(sim, "root")
    signed["version"] = 2
    signed["keys"]["weird"] = WEIRD
    signed["roles"]["targets"]["keyids"].append("weird")
    signed["roles"]["root"]["keyids"].append("weird")
    sim.override[f"{METADATA_URL}2.root.json"] = sign_dict(sim.signers["root"][0], signed)
    up = sim.updater(md)
    up.refresh()
    assert up.trusted_versions()["root"] == 2
    assert up.get_targetinfo("gw/1.0.0/fw.bin") is not None


def test_threshold_needing_an_unknown_key_type_is_refused(sim: Repository, md: Path) -> None:
    """Attack: a "signature" by a key of an unknown type never counts, so a threshold
    that only it could complete is not met (UnsignedMetadataError); state unchanged."""
    signed = role_dict(sim, "root")
    signed["version"] = 2
    signed["keys"]["weird"] = WEIRD
    signed["roles"]["root"]["keyids"].append("weird")
    signed["roles"]["root"]["threshold"] = 2
    data = json.loads(sign_dict(sim.signers["root"][0], signed))
    data["signatures"].append({"keyid": "weird", "sig": "00" * 64})
    sim.override[f"{METADATA_URL}2.root.json"] = json.dumps(data).encode()
    error = attack(sim, md, verifier.UnsignedMetadataError)
    assert "cannot check: x-pq-sig/x-pq-sig-v1" in str(error)


def test_unknown_key_type_in_delegations_is_kept(tmp_path: Path) -> None:
    sim = Repository()
    sim.delegate("targets", "a", ["fw/*"])
    sim.add_target("fw/x", b"x", role="a")
    sim.publish(("targets", "a"))
    signed = role_dict(sim, "targets")
    signed["delegations"]["keys"]["weird"] = WEIRD
    signed["delegations"]["roles"][0]["keyids"].append("weird")
    sim.override[current_url(sim, "targets")] = sign_dict(sim.signers["targets"][0], signed)
    up = sim.updater(tmp_path / "md")
    assert up.get_targetinfo("fw/x") is not None


def test_delegation_signed_only_by_an_unknown_key_type_is_refused(tmp_path: Path) -> None:
    sim = Repository()
    sim.delegate("targets", "a", ["fw/*"])
    sim.add_target("fw/x", b"x", role="a")
    sim.publish(("targets", "a"))
    signed = role_dict(sim, "targets")
    signed["delegations"]["keys"]["weird"] = WEIRD
    signed["delegations"]["roles"][0]["keyids"] = ["weird"]
    sim.override[current_url(sim, "targets")] = sign_dict(sim.signers["targets"][0], signed)
    up = sim.updater(tmp_path / "md")
    up.refresh()
    before = state_of(tmp_path / "md")
    with pytest.raises(verifier.UnsignedMetadataError, match="cannot check: x-pq-sig"):
        up.get_targetinfo("fw/x")
    assert state_of(tmp_path / "md") == before


def test_invalid_public_key_value(sim: Repository, md: Path) -> None:
    signer = sim.signers["targets"][0]
    keyid = signer.public_key.keyid
    sim.root.signed.keys[keyid] = SSlibKey(keyid, "ed25519", "ed25519", {"public": "zz"})
    sim.rotate_root()
    sim.publish()
    attack(sim, md, verifier.MetadataFormatError, role="targets")


# -- malformed metadata at every level (the rest: oracle/test_regressions.py) -------------


def test_float_in_new_root(sim: Repository, md: Path) -> None:
    signed = role_dict(sim, "root")
    signed["version"] = 2
    data = tamper(sign_dict(sim.signers["root"][0], signed), '"version": 2', '"version": 2.0')
    sim.override[f"{METADATA_URL}2.root.json"] = data
    attack(sim, md, verifier.MetadataFormatError)


@pytest.mark.parametrize(
    "doc",
    [
        b"[]",
        b'{"signed": []}',
        b'{"signed": {}, "signatures": {}}',
        b'{"signed": {"_type": "timestamp"}, "signatures": [{"keyid": 1, "sig": "00"}]}',
        b'{"signed": {"_type": "timestamp"}, "signatures": [[]]}',
        b'{"signatures": []}',
        b"\xff",
        b"",
        b'{"signed": {"_type": "timestamp", "version": 1.0}, "signatures": []}',
    ],
)
def test_malformed_envelope(sim: Repository, md: Path, doc: bytes) -> None:
    sim.override[ts_url()] = doc
    attack(sim, md, verifier.MetadataFormatError)


def test_timestamp_meta_listing_more_than_snapshot(sim: Repository, md: Path) -> None:
    sim.publish()
    signed = role_dict(sim, "timestamp")
    signed["meta"]["targets.json"] = {"version": 1}
    sim.override[ts_url()] = sign_dict(sim.signers["timestamp"][0], signed)
    attack(sim, md, verifier.MetadataFormatError)
