"""Firmware selection (ADR 0001): Updater.check, verify_policy, mark_installed."""

from __future__ import annotations

from pathlib import Path

import pytest

import verifier
from tests.repository import Repository


def fw(version: str, *ids: str, counter: int = 0, **extra: object) -> dict[str, object]:
    return {
        "firmtuf": {
            "hardware_ids": list(ids or ["gw"]),
            "version": version,
            "security_counter": counter,
            **extra,
        }
    }


@pytest.fixture
def repo() -> Repository:
    sim = Repository()
    sim.add_target("gw/1.0.0/fw.bin", b"1", custom=fw("1.0.0", counter=1))
    sim.add_target("gw/1.10.0/fw.bin", b"110", custom=fw("1.10.0", counter=2))
    sim.add_target("gw/1.9.0/fw.bin", b"19", custom=fw("1.9.0", counter=2))
    sim.add_target("cam/9.0.0/fw.bin", b"cam", custom=fw("9.0.0", "cam"))
    sim.add_target("manifest.json", b"{}")
    sim.publish()
    return sim


def policy(version: str, counter: int = 0, **kw: bool) -> verifier.DevicePolicy:
    return verifier.DevicePolicy("gw", version, counter, **kw)


def test_check_picks_highest_version(repo: Repository, tmp_path: Path) -> None:
    up = repo.updater(tmp_path, policy=policy("1.0.0"))
    target = up.check()
    assert target is not None and target.path == "gw/1.10.0/fw.bin"
    assert target.firmware is not None and target.firmware.security_counter == 2


def test_check_none_when_up_to_date(repo: Repository, tmp_path: Path) -> None:
    assert repo.updater(tmp_path, policy=policy("1.10")).check() is None


def test_check_other_hardware(repo: Repository, tmp_path: Path) -> None:
    up = repo.updater(tmp_path, policy=verifier.DevicePolicy("cam", "1.0"))
    target = up.check()
    assert target is not None and target.path == "cam/9.0.0/fw.bin"
    assert repo.updater(tmp_path, policy=verifier.DevicePolicy("none", "0.1")).check() is None


def test_check_respects_security_counter(repo: Repository, tmp_path: Path) -> None:
    repo.add_target("gw/2.0.0/fw.bin", b"2", custom=fw("2.0.0", counter=0))
    repo.publish()
    target = repo.updater(tmp_path, policy=policy("1.0.0", counter=1)).check()
    assert target is not None and target.path == "gw/1.10.0/fw.bin"


def test_check_min_version(repo: Repository, tmp_path: Path) -> None:
    repo.add_target("gw/3.0.0/fw.bin", b"3", custom=fw("3.0.0", counter=2, min_version="1.9"))
    repo.publish()
    target = repo.updater(tmp_path / "a", policy=policy("1.0.0")).check()
    assert target is not None and target.path == "gw/1.10.0/fw.bin"
    target = repo.updater(tmp_path / "b", policy=policy("1.9.0")).check()
    assert target is not None and target.path == "gw/3.0.0/fw.bin"


def test_check_tie_break(tmp_path: Path) -> None:
    sim = Repository()
    sim.add_target("b", b"b", custom=fw("2.0", counter=1))
    sim.add_target("a", b"a", custom=fw("2.0.0", counter=1))
    sim.add_target("c", b"c", custom=fw("2.0", counter=0))
    sim.publish()
    target = sim.updater(tmp_path, policy=policy("1")).check()
    assert target is not None and target.path == "a"


def test_unsafe_allow_downgrade(repo: Repository, tmp_path: Path) -> None:
    up = repo.updater(tmp_path, policy=policy("5.0", counter=2, unsafe_allow_downgrade=True))
    target = up.check()
    assert target is not None and target.path == "gw/1.10.0/fw.bin"


def test_check_resolves_names_through_delegation(tmp_path: Path) -> None:
    sim = Repository()
    sim.delegate("targets", "gw-team", ["gw/*/*"])
    sim.delegate("targets", "rogue", ["rogue/*"])
    sim.add_target("gw/1.0/fw.bin", b"ok", role="gw-team", custom=fw("1.0"))
    # "rogue" lists a gw name it is not trusted for: it must not count.
    sim.add_target("gw/9.0/fw.bin", b"evil", role="rogue", custom=fw("9.0"))
    sim.publish(("targets", "gw-team", "rogue"))
    target = sim.updater(tmp_path, policy=policy("0.1")).check()
    assert target is not None and target.path == "gw/1.0/fw.bin"


def test_malformed_firmware_is_repository_error(tmp_path: Path) -> None:
    sim = Repository()
    sim.add_target("gw/x", b"x", custom={"firmtuf": {"hardware_ids": "gw", "version": "1"}})
    sim.publish()
    with pytest.raises(verifier.MetadataFormatError):
        sim.updater(tmp_path, policy=policy("0.1")).check()


@pytest.mark.parametrize(
    "firmtuf",
    [
        {"hardware_ids": [], "version": "1"},
        {"hardware_ids": ["gw", "gw"], "version": "1"},
        {"hardware_ids": ["gw"], "version": "1.0+build"},
        {"hardware_ids": ["gw"], "version": 1},
        {"hardware_ids": ["gw"], "version": "1", "security_counter": -1},
        {"hardware_ids": ["gw"], "version": "1", "security_counter": True},
        {"hardware_ids": ["gw"], "version": "1", "min_version": "x"},
        {"hardware_ids": ["gw"], "version": "1", "notes": 5},
        "not an object",
    ],
)
def test_firmware_field_validation(tmp_path: Path, firmtuf: object) -> None:
    sim = Repository()
    sim.add_target("gw/x", b"x", custom={"firmtuf": firmtuf})
    sim.publish()
    target = sim.updater(tmp_path).get_targetinfo("gw/x")
    assert target is not None
    with pytest.raises(verifier.MetadataFormatError):
        _ = target.firmware


def test_check_needs_policy(repo: Repository, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DevicePolicy"):
        repo.updater(tmp_path).check()


def test_mark_installed_persists(repo: Repository, tmp_path: Path) -> None:
    up = repo.updater(tmp_path, policy=policy("1.0.0", counter=1))
    target = up.check()
    assert target is not None
    new_policy = up.mark_installed(target)
    assert new_policy is not None and str(new_policy.installed_version) == "1.10.0"
    assert new_policy.security_counter == 2
    loaded = verifier.DevicePolicy.from_metadata_dir(tmp_path, "gw", "0.0.1")
    assert loaded == new_policy
    assert not [
        p
        for p in tmp_path.iterdir()
        if p.suffix == ".json" and p.stem not in ("root", "timestamp", "snapshot", "targets")
    ]
    assert up.check() is None


def test_mark_installed_counter_never_decreases(repo: Repository, tmp_path: Path) -> None:
    up = repo.updater(tmp_path, policy=policy("0.1", counter=5, unsafe_allow_downgrade=True))
    target = up.get_targetinfo("gw/1.0.0/fw.bin")
    assert target is not None
    up.mark_installed(target)
    assert verifier.DevicePolicy.from_metadata_dir(tmp_path, "gw", "0").security_counter == 5


def test_policy_from_dir_without_state(tmp_path: Path) -> None:
    p = verifier.DevicePolicy.from_metadata_dir(tmp_path, "gw", "1.2")
    assert p == verifier.DevicePolicy("gw", "1.2", 0)


def test_policy_bad_state_is_storage_error(tmp_path: Path) -> None:
    (tmp_path / "firmtuf").mkdir()
    (tmp_path / "firmtuf" / "device.json").write_text('{"version": 1}')
    with pytest.raises(verifier.StorageError):
        verifier.DevicePolicy.from_metadata_dir(tmp_path, "gw", "1.2")


def test_mark_installed_needs_firmware(repo: Repository, tmp_path: Path) -> None:
    up = repo.updater(tmp_path)
    target = up.get_targetinfo("manifest.json")
    assert target is not None
    with pytest.raises(verifier.PolicyError):
        up.mark_installed(target)


def test_config_validation_and_replace() -> None:
    with pytest.raises(ValueError, match="max_root_rotations"):
        verifier.Config(max_root_rotations=0)
    c = verifier.Config().replace(read_timeout=1.0)
    assert c.read_timeout == 1.0 and c.max_delegations == 32
    with pytest.raises(AttributeError):
        c.read_timeout = 2.0  # type: ignore[misc]


def test_non_firmware_download_with_policy(repo: Repository, tmp_path: Path) -> None:
    up = repo.updater(tmp_path / "md", policy=policy("1.0.0"))
    target = up.get_targetinfo("manifest.json")
    assert target is not None
    assert up.download(target, tmp_path / "m.json").read_bytes() == b"{}"
    with pytest.raises(verifier.PolicyError):
        up.verify_policy(target)
