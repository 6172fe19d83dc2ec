"""TrustedMetadataSet in isolation: order of updates and the one reference time."""

from __future__ import annotations

import time

import pytest

import verifier
from tests.repository import METADATA_URL, Repository, future, tamper
from verifier._internal.trusted_set import TrustedMetadataSet


def files(sim: Repository) -> dict[str, bytes]:
    return {
        "timestamp": sim.files[METADATA_URL + "timestamp.json"],
        "snapshot": sim.files[f"{METADATA_URL}{sim.snapshot.signed.version}.snapshot.json"],
        "targets": sim.files[f"{METADATA_URL}{sim.targets.signed.version}.targets.json"],
    }


def test_full_sequence(sim: Repository) -> None:
    f = files(sim)
    ts = TrustedMetadataSet(sim.signed_roots[0], time.time())
    ts.update_timestamp(f["timestamp"])
    ts.update_snapshot(f["snapshot"])
    targets = ts.update_targets(f["targets"])
    assert targets.get("gw/1.0.0/fw.bin") is not None
    assert ts.top_targets() is targets


def test_out_of_order_is_a_programming_error(sim: Repository) -> None:
    f = files(sim)
    ts = TrustedMetadataSet(sim.signed_roots[0], time.time())
    with pytest.raises(RuntimeError):
        ts.update_snapshot(f["snapshot"])
    with pytest.raises(RuntimeError):
        ts.update_targets(f["targets"])
    ts.update_timestamp(f["timestamp"])
    ts.update_snapshot(f["snapshot"])
    with pytest.raises(RuntimeError):
        ts.update_timestamp(f["timestamp"])
    with pytest.raises(RuntimeError):
        ts.update_root(sim.signed_roots[0])


def test_equal_timestamp_version(sim: Repository) -> None:
    f = files(sim)
    ts = TrustedMetadataSet(sim.signed_roots[0], time.time())
    ts.update_timestamp(f["timestamp"])
    with pytest.raises(verifier.EqualVersionNumberError):
        ts.update_timestamp(f["timestamp"])


def test_reference_time_is_fixed(sim: Repository) -> None:
    sim.timestamp.signed.expires = future(1)
    sim.update_timestamp()
    f = files(sim)
    later = time.time() + 2 * 86400
    ts = TrustedMetadataSet(sim.signed_roots[0], later)
    with pytest.raises(verifier.ExpiredMetadataError):
        ts.update_timestamp(f["timestamp"])
    # The expired timestamp is still kept for rollback protection of the next one.
    assert ts.timestamp is not None


def test_root_version_must_be_next(sim: Repository) -> None:
    sim.rotate_root()
    sim.rotate_root()
    ts = TrustedMetadataSet(sim.signed_roots[0], time.time())
    with pytest.raises(verifier.BadVersionNumberError):
        ts.update_root(sim.signed_roots[2])
    ts.update_root(sim.signed_roots[1])
    with pytest.raises(verifier.BadVersionNumberError):
        ts.update_root(sim.signed_roots[1])
    assert ts.root.version == 2


def test_new_root_must_be_signed_by_old_and_new(sim: Repository) -> None:
    from securesystemslib.signer import CryptoSigner

    new = CryptoSigner.generate_ed25519()
    old = sim.signers["root"][0]
    sim.root.signed.revoke_key(old.public_key.keyid, "root")
    sim.root.signed.add_key(new.public_key, "root")
    sim.root.signed.version += 1
    sim.root.signatures.clear()
    sim.root.sign(new)  # only the new key: the old root does not vouch for it
    from tuf.api.serialization.json import JSONSerializer

    only_new = sim.root.to_bytes(JSONSerializer())
    sim.root.signatures.clear()
    sim.root.sign(old)  # only the old key: the new root does not vouch for itself
    only_old = sim.root.to_bytes(JSONSerializer())
    for data in (only_new, only_old):
        ts = TrustedMetadataSet(sim.signed_roots[0], time.time())
        with pytest.raises(verifier.UnsignedMetadataError):
            ts.update_root(data)


def test_untrusted_root_refused(sim: Repository) -> None:
    with pytest.raises(verifier.MetadataFormatError):
        TrustedMetadataSet(b"{}", time.time())
    with pytest.raises(verifier.UnsignedMetadataError):
        TrustedMetadataSet(tamper(sim.signed_roots[0], '"version": 1', '"version": 7'), 0)
