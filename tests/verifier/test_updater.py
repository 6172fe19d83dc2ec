"""The client workflow on a well-behaved repository (attacks are in test_attacks.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner

import verifier
from tests.repository import METADATA_URL, Repository, tamper
from tests.verifier.conftest import state_of


def fw(version: str, *ids: str, counter: int = 0, **extra: object) -> dict[str, object]:
    return {
        "firmtuf": {
            "hardware_ids": list(ids or ["gw"]),
            "version": version,
            "security_counter": counter,
            **extra,
        }
    }


def test_refresh_stores_exact_bytes(sim: Repository, device_dir: Path) -> None:
    sim.updater(device_dir).refresh()
    stored = state_of(device_dir)
    assert set(stored) == {
        "root.json",
        "timestamp.json",
        "snapshot.json",
        "targets.json",
        "firmtuf/layout.json",
    }
    assert stored["timestamp.json"] == sim.files[METADATA_URL + "timestamp.json"]
    assert stored["targets.json"] == sim.files[METADATA_URL + "2.targets.json"]


def test_second_refresh_fetches_only_root_and_timestamp(sim: Repository, device_dir: Path) -> None:
    sim.updater(device_dir).refresh()
    sim.fetcher.requests.clear()
    sim.updater(device_dir).refresh()
    assert sim.fetcher.requests == [METADATA_URL + "2.root.json", METADATA_URL + "timestamp.json"]


def test_new_targets_version_is_fetched(sim: Repository, device_dir: Path) -> None:
    up = sim.updater(device_dir)
    up.refresh()
    sim.add_target("gw/2.0.0/fw.bin", b"two", custom=fw("2.0.0"))
    sim.publish()
    up.refresh()
    target = up.get_targetinfo("gw/2.0.0/fw.bin")
    assert target is not None and target.length == 3


def test_refresh_twice_on_one_updater(sim: Repository, device_dir: Path) -> None:
    up = sim.updater(device_dir)
    up.refresh()
    up.refresh()
    assert up.get_targetinfo("gw/1.0.0/fw.bin") is not None


def test_get_targetinfo_refreshes_implicitly(sim: Repository, device_dir: Path) -> None:
    assert sim.updater(device_dir).get_targetinfo("missing") is None


def test_root_rotation_chain(sim: Repository, device_dir: Path) -> None:
    sim.updater(device_dir).refresh()
    for _ in range(3):
        sim.rotate_root([CryptoSigner.generate_ed25519()])
    sim.updater(device_dir).refresh()
    assert (device_dir / "root.json").read_bytes() == sim.signed_roots[-1]


def test_root_rotation_is_capped(sim: Repository, device_dir: Path) -> None:
    for _ in range(4):
        sim.rotate_root()
    up = sim.updater(device_dir, config=verifier.Config(max_root_rotations=2))
    up.refresh()
    assert json.loads((device_dir / "root.json").read_bytes())["signed"]["version"] == 3


def test_bootstrap_is_stored_once(sim: Repository, device_dir: Path) -> None:
    up = verifier.Updater(
        device_dir, METADATA_URL, fetcher=sim.fetcher, bootstrap=sim.signed_roots[0]
    )
    up.refresh()
    assert (device_dir / "root.json").read_bytes() == sim.signed_roots[0]


def test_bootstrap_must_be_self_signed(sim: Repository, device_dir: Path) -> None:
    bad = tamper(sim.signed_roots[0], '"version": 1', '"version": 9')
    with pytest.raises(verifier.UnsignedMetadataError):
        verifier.Updater(device_dir, METADATA_URL, fetcher=sim.fetcher, bootstrap=bad)
    assert not (device_dir / "root.json").exists()


def test_no_trusted_root_is_storage_error(tmp_path: Path, sim: Repository) -> None:
    with pytest.raises(verifier.StorageError):
        verifier.Updater(tmp_path, METADATA_URL, fetcher=sim.fetcher).refresh()
    assert sim.fetcher.requests == []


def test_download_and_cache(sim: Repository, device_dir: Path, tmp_path: Path) -> None:
    up = sim.updater(device_dir)
    target = up.get_targetinfo("gw/1.0.0/fw.bin")
    assert target is not None
    dest = tmp_path / "image.bin"
    assert up.download(target, dest) == dest
    assert dest.read_bytes() == b"firmware one"
    assert not (tmp_path / "image.bin.part").exists()
    assert up.find_cached_target(target, dest) == dest
    sim.fetcher.requests.clear()
    up.download(target, dest)
    assert sim.fetcher.requests == []


def test_download_without_consistent_snapshot(tmp_path: Path) -> None:
    sim = Repository(consistent_snapshot=False)
    sim.add_target("a.bin", b"data")
    sim.publish()
    up = sim.updater(tmp_path / "md")
    target = up.get_targetinfo("a.bin")
    assert target is not None
    up.download(target, tmp_path / "a.bin")
    assert "https://repo.test/targets/a.bin" in sim.fetcher.requests
    assert "https://repo.test/metadata/snapshot.json" in sim.fetcher.requests


def test_delegation_search_order_and_terminating(tmp_path: Path) -> None:
    sim = Repository()
    sim.delegate("targets", "a", ["fw/*"], terminating=True)
    sim.delegate("targets", "b", ["fw/*"])
    sim.add_target("fw/x", b"from b", role="b")
    sim.add_target("fw/y", b"from a", role="a")
    sim.publish(("targets", "a", "b"))
    up = sim.updater(tmp_path)
    assert up.get_targetinfo("fw/y") is not None
    # "a" is terminating for fw/*: "b" is never asked.
    assert up.get_targetinfo("fw/x") is None
    assert not any("b.json" in r for r in sim.fetcher.requests)


def test_roles_searched_is_what_the_search_loads(tmp_path: Path) -> None:
    """The public seam a bundle builder uses: every role the search for a name reads."""
    sim = Repository()
    sim.delegate("targets", "a", ["fw/*"])
    sim.delegate("a", "a1", ["fw/*"])
    sim.delegate("targets", "b", ["fw/*"], terminating=True)
    sim.delegate("targets", "c", ["fw/*"])
    sim.delegate("targets", "other", ["other/*"])
    sim.add_target("fw/x", b"x", role="b")
    sim.add_target("top", b"t")
    sim.publish(("targets", "a", "a1", "b", "c", "other"))
    up = sim.updater(tmp_path)
    # Pre-order: a and its child first, then the terminating b that lists it; never c.
    assert up.roles_searched("fw/x") == ["targets", "a", "a1", "b"]
    assert up.roles_searched("fw/none") == ["targets", "a", "a1", "b"]
    assert up.roles_searched("top") == ["targets"]
    assert up.roles_searched("other/y") == ["targets", "other"]


def test_delegated_role_fetched_only_when_needed(tmp_path: Path) -> None:
    sim = Repository()
    sim.delegate("targets", "apps", ["apps/*"])
    sim.delegate("targets", "other", ["other/*"])
    sim.add_target("apps/x", b"x", role="apps")
    sim.publish(("targets", "apps", "other"))
    up = sim.updater(tmp_path)
    up.refresh()
    assert not any("apps" in r for r in sim.fetcher.requests)
    assert up.get_targetinfo("apps/x") is not None
    assert not any("other" in r for r in sim.fetcher.requests)
    assert (tmp_path / "apps.json").exists()


def test_star_does_not_cross_slash(tmp_path: Path) -> None:
    sim = Repository()
    sim.delegate("targets", "a", ["fw/*"])
    sim.add_target("fw/deep/x", b"x", role="a")
    sim.publish(("targets", "a"))
    assert sim.updater(tmp_path).get_targetinfo("fw/deep/x") is None


def test_hash_prefix_delegation(tmp_path: Path) -> None:
    import hashlib

    sim = Repository()
    prefix = hashlib.sha256(b"bin/x").hexdigest()[:2]
    other = "00" if prefix != "00" else "01"
    sim.delegate("targets", "bin-hit", hash_prefixes=[prefix])
    sim.delegate("targets", "bin-miss", hash_prefixes=[other])
    sim.add_target("bin/x", b"x", role="bin-hit")
    sim.publish(("targets", "bin-hit", "bin-miss"))
    assert sim.updater(tmp_path).get_targetinfo("bin/x") is not None


def test_succinct_hash_bins(tmp_path: Path) -> None:
    from tuf.api.metadata import SuccinctRoles

    sim = Repository()
    sim.delegate_succinct("targets", 4, "bins")
    bin_name = SuccinctRoles([], 1, 4, "bins").get_role_for_target("fw/z")
    sim.add_target("fw/z", b"z", role=bin_name)
    sim.publish(("targets", *sim.delegated))
    up = sim.updater(tmp_path)
    assert up.get_targetinfo("fw/z") is not None
    fetched = [r for r in sim.fetcher.requests if "bins-" in r]
    assert fetched == [f"https://repo.test/metadata/2.{bin_name}.json"]


def test_role_names_are_quoted_on_disk(tmp_path: Path) -> None:
    sim = Repository()
    sim.delegate("targets", "../evil", ["e/*"])
    sim.add_target("e/x", b"x", role="../evil")
    sim.publish(("targets", "../evil"))
    up = sim.updater(tmp_path / "md")
    assert up.get_targetinfo("e/x") is not None
    assert (tmp_path / "md" / "..%2Fevil.json").exists()
    assert not (tmp_path / "evil.json").exists()


@pytest.mark.parametrize(
    "signer",
    [
        lambda: CryptoSigner.generate_ecdsa(),
        lambda: CryptoSigner.generate_ecdsa(scheme="ecdsa-sha2-nistp384"),
        lambda: CryptoSigner.generate_rsa(size=2048),
        lambda: CryptoSigner.generate_ed25519(),
    ],
    ids=["p256", "p384", "rsa-pss", "ed25519"],
)
def test_key_types(tmp_path: Path, signer: object) -> None:
    sim = Repository()
    s = signer()  # type: ignore[operator]
    for role in ("targets", "snapshot", "timestamp"):
        sim.root.signed.roles[role].keyids.clear()
        sim.signers[role] = []
        sim.add_key(role, s)
    sim.rotate_root()
    sim.add_target("k", b"k")
    sim.publish()
    assert sim.updater(tmp_path).get_targetinfo("k") is not None


def test_damaged_stored_root_falls_back_to_bootstrap(sim: Repository, device_dir: Path) -> None:
    sim.rotate_root()
    up = verifier.Updater(
        device_dir, METADATA_URL, fetcher=sim.fetcher, bootstrap=sim.signed_roots[0]
    )
    up.refresh()
    assert (device_dir / "root.json").read_bytes() == sim.signed_roots[1]
    (device_dir / "root.json").write_bytes(b"garbage")
    up.refresh()
    assert (device_dir / "root.json").read_bytes() == sim.signed_roots[1]
    with pytest.raises(verifier.MetadataFormatError):
        (device_dir / "root.json").write_bytes(b"garbage")
        sim.updater(device_dir).refresh()  # no bootstrap: nothing to fall back to


def test_failed_rotation_keeps_last_good_root(sim: Repository, device_dir: Path) -> None:
    sim.rotate_root()
    sim.rotate_root()
    sim.override[METADATA_URL + "3.root.json"] = b"{}"
    with pytest.raises(verifier.MetadataFormatError):
        sim.updater(device_dir).refresh()
    assert (device_dir / "root.json").read_bytes() == sim.signed_roots[1]


@pytest.mark.parametrize(
    ("served", "error", "message"),
    [
        (b"firmware-v1", None, ""),
        (b"firmware-v2", verifier.LengthOrHashMismatchError, "sha256 hash mismatch"),
        (b"firmware-v1+", verifier.DownloadLengthMismatchError, "more than 11 bytes"),
        (b"firmware-", verifier.DownloadIncompleteError, "ended after 9 of the 11 bytes"),
    ],
)
def test_verify_remote_target_checks_without_storing(
    sim: Repository,
    tmp_path: Path,
    served: bytes,
    error: type[Exception] | None,
    message: str,
) -> None:
    """The signing tool's whole-repository check: every image streamed and checked as
    download() checks it, nothing written."""
    sim.add_target("fw/a.bin", b"firmware-v1")
    sim.publish()
    up = sim.updater(tmp_path / "md")
    target = up.get_targetinfo("fw/a.bin")
    assert target is not None
    url = up._url_for(target)
    sim.override[url] = served
    before = sorted(p.name for p in tmp_path.rglob("*"))
    if error is None:
        up.verify_remote_target(target)
    else:
        with pytest.raises(error, match=message):
            up.verify_remote_target(target)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
