"""Issue 10 items 1 and 2: per-component device state and the two-phase install.

Several Updaters (one per component) share one trust store; ``stage`` / ``confirm`` /
``mark_failed`` with ``confirm`` offline; ``check_report`` explains refusals as data.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

import verifier
from tests.repository import Repository
from verifier._fetcher import Deadline
from verifier._internal import storage


def fw(version: str, hwid: str = "gw", counter: int = 0, **extra: object) -> dict[str, object]:
    return {
        "firmtuf": {
            "hardware_ids": [hwid],
            "version": version,
            "security_counter": counter,
            **extra,
        }
    }


@pytest.fixture
def repo() -> Repository:
    sim = Repository()
    sim.add_target("gw/2.0/fw.bin", b"gw two", custom=fw("2.0", counter=1))
    sim.add_target("mcu/5.0.0/fw.bin", b"mcu five", custom=fw("5.0.0", "mcu", counter=7))
    sim.add_target("manifest.json", b"{}")
    sim.publish()
    return sim


class Offline(verifier.Fetcher):
    """A fetcher for a device with no network: every request fails the test."""

    def _fetch(self, url: str, offset: int, deadline: Deadline) -> object:  # type: ignore[override]
        raise AssertionError(f"network used offline: {url}")


def updater(repo: Repository, md: Path, hwid: str, version: str, **kw: object) -> verifier.Updater:
    policy = verifier.DevicePolicy.from_metadata_dir(md, hwid, version)
    return repo.updater(md, policy=policy, **kw)


def components(md: Path) -> dict[str, dict[str, object]]:
    return {
        p.name: json.loads(p.read_bytes())
        for p in sorted((md / "firmtuf" / "components").iterdir())
    }


# -- item 1: per-component state ---------------------------------------------------------


def test_two_components_keep_their_own_state(repo: Repository, tmp_path: Path) -> None:
    """The issue's failure: after the MCU installed 5.0.0, the gateway's check() returned
    None for ever (one shared installed version and counter)."""
    gw = updater(repo, tmp_path, "gw", "1.0")
    mcu = updater(repo, tmp_path, "mcu", "4.0")
    mcu_target = mcu.check()
    assert mcu_target is not None
    mcu.mark_installed(mcu_target)
    target = gw.check()
    assert target is not None and target.path == "gw/2.0/fw.bin"
    # A fresh start reads each component's own record.
    assert verifier.DevicePolicy.from_metadata_dir(tmp_path, "gw", "1.0") == (
        verifier.DevicePolicy("gw", "1.0", 0)
    )
    assert verifier.DevicePolicy.from_metadata_dir(tmp_path, "mcu", "4.0") == (
        verifier.DevicePolicy("mcu", "5.0.0", 7)
    )
    gw.mark_installed(target)
    state = components(tmp_path)
    assert sorted(state) == ["gw.json", "mcu.json"]
    assert state["gw.json"]["installed"] == {
        "target": "gw/2.0/fw.bin",
        "version": "2.0",
        "security_counter": 1,
    }
    assert state["mcu.json"]["installed"]["security_counter"] == 7  # type: ignore[index]


def test_mark_installed_refuses_another_hardware_id(repo: Repository, tmp_path: Path) -> None:
    gw = updater(repo, tmp_path, "gw", "1.0")
    mcu_target = gw.get_targetinfo("mcu/5.0.0/fw.bin")
    assert mcu_target is not None
    with pytest.raises(verifier.PolicyError, match="not for hardware 'gw'"):
        gw.mark_installed(mcu_target)
    with pytest.raises(verifier.PolicyError):
        gw.stage(mcu_target)
    with pytest.raises(verifier.PolicyError):
        gw.mark_failed(mcu_target)
    assert not (tmp_path / "firmtuf" / "components").exists()


def test_stored_security_counter_is_a_floor(repo: Repository, tmp_path: Path) -> None:
    """An agent building its DevicePolicy by hand (counter 0) cannot lower the counter
    the device recorded."""
    mcu = updater(repo, tmp_path, "mcu", "4.0")
    target = mcu.check()
    assert target is not None
    mcu.mark_installed(target)  # counter 7 recorded
    repo.add_target("mcu/6.0.0/fw.bin", b"mcu six", custom=fw("6.0.0", "mcu", counter=3))
    repo.publish()
    by_hand = repo.updater(tmp_path, policy=verifier.DevicePolicy("mcu", "5.0.0", 0))
    report = by_hand.check_report()
    assert report.target is None
    [refusal] = [r for r in report.refused if r.target.path == "mcu/6.0.0/fw.bin"]
    assert refusal.reason is verifier.RefusalReason.SECURITY_COUNTER
    assert "below the device's 7" in refusal.message
    with pytest.raises(verifier.PolicyError, match="security counter"):
        by_hand.verify_policy(refusal.target)


def test_layout_2_device_state_is_adopted_by_the_first_component(
    repo: Repository, tmp_path: Path
) -> None:
    md = tmp_path
    (md / "firmtuf").mkdir()
    (md / "firmtuf" / "layout.json").write_text('{"layout": 2}')
    legacy = {"name": "gw/1.5/fw.bin", "version": "1.5", "security_counter": 4}
    (md / "firmtuf" / "device.json").write_text(json.dumps(legacy))
    up = updater(repo, md, "gw", "1.0")
    assert up.policy == verifier.DevicePolicy("gw", "1.5", 4)
    assert json.loads((md / "firmtuf" / "layout.json").read_bytes()) == {"layout": 3}
    assert not (md / "firmtuf" / "device.json").exists()
    assert components(md)["gw.json"]["installed"] == {
        "target": "gw/1.5/fw.bin",
        "version": "1.5",
        "security_counter": 4,
    }
    # The other component starts from its factory state; the adopted one keeps its own.
    assert verifier.DevicePolicy.from_metadata_dir(md, "mcu", "4.0").installed_version == (
        verifier.FirmwareVersion("4.0")
    )
    assert verifier.DevicePolicy.from_metadata_dir(md, "gw", "1.0").security_counter == 4


def test_interrupted_adoption_belongs_to_its_owner(tmp_path: Path) -> None:
    """A power cut after the first adoption step (the record names its owner, still in
    device.json): another component reading first does not take it."""
    (tmp_path / "firmtuf").mkdir()
    named = {
        "hardware_id": "gw",
        "installed": {"target": None, "version": "1.5", "security_counter": 4},
        "pending": None,
        "rejected": [],
    }
    (tmp_path / "firmtuf" / "device.json").write_text(json.dumps(named))
    assert verifier.DevicePolicy.from_metadata_dir(tmp_path, "mcu", "4.0") == (
        verifier.DevicePolicy("mcu", "4.0", 0)
    )
    assert verifier.DevicePolicy.from_metadata_dir(tmp_path, "gw", "1.0") == (
        verifier.DevicePolicy("gw", "1.5", 4)
    )
    assert not (tmp_path / "firmtuf" / "device.json").exists()


@pytest.mark.parametrize("err", [errno.EROFS, errno.ENOSPC])
def test_a_layout_2_record_that_cannot_be_adopted_is_nobodys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, err: int
) -> None:
    """A read-only or full store cannot name the owner of layout 2's record. Read as it
    is, the MCU took the gateway's installed 1.5 and counter as its own (so an MCU image
    older than its factory 4.0 looked newer): now no component reads it until the store
    can be written, and the first one then adopts it as usual."""
    (tmp_path / "firmtuf").mkdir()
    legacy = {"name": "gw/1.5/fw.bin", "version": "1.5", "security_counter": 4}
    (tmp_path / "firmtuf" / "device.json").write_text(json.dumps(legacy))
    real = storage.atomic_write

    def failing(path: Path, data: bytes, **kw: object) -> None:
        raise verifier.StorageError(f"cannot write {path}") from OSError(err, os.strerror(err))

    monkeypatch.setattr(storage, "atomic_write", failing)
    for hwid, factory in (("mcu", "4.0"), ("gw", "1.0")):
        with pytest.raises(verifier.StorageError, match="names no component") as info:
            verifier.DevicePolicy.from_metadata_dir(tmp_path, hwid, factory)
        assert info.value.errno == err
    monkeypatch.setattr(storage, "atomic_write", real)
    assert verifier.DevicePolicy.from_metadata_dir(tmp_path, "gw", "1.0") == (
        verifier.DevicePolicy("gw", "1.5", 4)
    )
    assert verifier.DevicePolicy.from_metadata_dir(tmp_path, "mcu", "4.0") == (
        verifier.DevicePolicy("mcu", "4.0", 0)
    )


@pytest.mark.parametrize(
    "record",
    [
        "{broken",
        "[]",
        {"hardware_id": "gw", "installed": {"version": 1, "security_counter": 0}},
        {"hardware_id": "gw", "installed": {"version": "1", "security_counter": -1}},
        {"hardware_id": "gw", "installed": None, "pending": {"target": "x", "entry": {}}},
        {"hardware_id": "gw", "installed": None, "rejected": [{"target": "x"}]},
        {"hardware_id": "other", "installed": None},
    ],
)
def test_malformed_component_state_is_a_storage_error(tmp_path: Path, record: object) -> None:
    """Never a silent reset to the factory state (which would offer downgrades)."""
    path = tmp_path / "firmtuf" / "components" / "gw.json"
    path.parent.mkdir(parents=True)
    path.write_text(record if isinstance(record, str) else json.dumps(record))
    with pytest.raises(verifier.StorageError):
        verifier.DevicePolicy.from_metadata_dir(tmp_path, "gw", "1.0")


def test_hardware_ids_are_quoted_into_one_file_name(tmp_path: Path) -> None:
    sim = Repository()
    sim.add_target("x/fw.bin", b"x", custom=fw("2.0", "../acme/gw"))
    sim.publish()
    up = updater(sim, tmp_path, "../acme/gw", "1.0")
    target = up.check()
    assert target is not None
    up.mark_installed(target)
    assert list(components(tmp_path)) == ["..%2Facme%2Fgw.json"]


# -- item 2: two-phase install -----------------------------------------------------------


def test_stage_then_confirm_offline_after_a_reboot(repo: Repository, tmp_path: Path) -> None:
    md = tmp_path / "md"
    up = updater(repo, md, "gw", "1.0")
    target = up.check()
    assert target is not None
    image = up.download(target, tmp_path / "slot-b.bin")
    up.stage(target, image)
    pending = up.pending()
    assert pending is not None and pending.target == target and pending.image == str(image)
    # Staged: not offered again while it waits for the reboot.
    report = up.check_report()
    assert report.target is None
    assert [(r.target.path, r.reason) for r in report.refused] == [
        ("gw/2.0/fw.bin", verifier.RefusalReason.PENDING)
    ]
    # Reboot: a new process, no network at all.
    booted = verifier.Updater(
        md,
        "https://nowhere.invalid/metadata/",
        policy=verifier.DevicePolicy.from_metadata_dir(md, "gw", "1.0"),
        fetcher=Offline(),
    )
    assert booted.pending() is not None
    policy = booted.confirm()
    assert policy == verifier.DevicePolicy("gw", "2.0", 1) == booted.policy
    assert booted.pending() is None
    assert verifier.DevicePolicy.from_metadata_dir(md, "gw", "1.0") == policy
    with pytest.raises(ValueError, match="no install is staged"):
        booted.confirm()


@pytest.mark.parametrize("now", [0.0, 4102444800.0], ids=["rtc-reset-to-1970", "year-2100"])
def test_a_lying_clock_after_the_reboot_does_not_block_confirm(
    repo: Repository, tmp_path: Path, now: float
) -> None:
    """A real-time clock that came back from the reboot at 1970, or far past every
    expiry: confirm (and mark_failed) judge the recorded install, never the clock, so
    the new image is neither rolled back nor left unconfirmed for it."""
    md = tmp_path / "md"
    up = updater(repo, md, "gw", "1.0")
    target = up.check()
    assert target is not None
    up.stage(target, up.download(target, tmp_path / "slot-b.bin"))

    def booted() -> verifier.Updater:
        policy = verifier.DevicePolicy.from_metadata_dir(md, "gw", "1.0")
        return verifier.Updater(
            md, "https://nowhere.invalid/metadata/", policy=policy, fetcher=Offline(),
            clock=lambda: now,
        )  # fmt: skip

    assert booted().confirm() == verifier.DevicePolicy("gw", "2.0", 1)
    # A later release fails its boot under the same lying clock: recorded all the same.
    repo.add_target("gw/3.0/fw.bin", b"gw three", custom=fw("3.0", counter=2))
    repo.publish()
    up = updater(repo, md, "gw", "1.0")
    newer = up.check()
    assert newer is not None and newer.path == "gw/3.0/fw.bin"
    up.stage(newer)
    booted().mark_failed(reason="did not boot")
    assert updater(repo, md, "gw", "1.0").check() is None
    assert components(md)["gw.json"]["rejected"][0]["target"] == "gw/3.0/fw.bin"  # type: ignore[index]


def test_withdrawn_release_is_confirmed_offline(repo: Repository, tmp_path: Path) -> None:
    """Staged, then the release is withdrawn and another component's refresh replaces
    the stored metadata before the reboot: confirm() still records what runs."""
    up = updater(repo, tmp_path, "gw", "1.0")
    target = up.check()
    assert target is not None
    up.stage(target)
    del repo.targets.signed.targets["gw/2.0/fw.bin"]
    repo.publish()
    mcu = updater(repo, tmp_path, "mcu", "4.0")
    mcu.refresh()
    assert mcu.get_targetinfo("gw/2.0/fw.bin") is None
    booted = verifier.Updater(
        tmp_path,
        "https://nowhere.invalid/metadata/",
        policy=verifier.DevicePolicy.from_metadata_dir(tmp_path, "gw", "1.0"),
        fetcher=Offline(),
    )
    assert booted.confirm() == verifier.DevicePolicy("gw", "2.0", 1)


def test_failed_boot_is_not_offered_again_until_a_newer_one(
    repo: Repository, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    up = updater(repo, tmp_path, "gw", "1.0")
    target = up.check()
    assert target is not None
    up.stage(target)
    up.mark_failed(reason="watchdog reset in the new slot")
    assert up.pending() is None
    with caplog.at_level("DEBUG", logger="verifier"):
        report = up.check_report()
    assert report.target is None
    [refusal] = report.refused
    assert refusal.reason is verifier.RefusalReason.MARKED_FAILED
    assert "watchdog reset" in refusal.message
    [line] = [r for r in caplog.records if r.message.startswith("check gw")]
    assert line.levelname == "WARNING"
    # A fresh Updater (after the rollback reboot) skips it too.
    assert updater(repo, tmp_path, "gw", "1.0").check() is None
    repo.add_target("gw/2.1/fw.bin", b"gw two one", custom=fw("2.1", counter=1))
    repo.publish()
    newer = updater(repo, tmp_path, "gw", "1.0").check()
    assert newer is not None and newer.path == "gw/2.1/fw.bin"


def test_a_rebuilt_image_under_the_same_name_is_a_new_candidate(
    repo: Repository, tmp_path: Path
) -> None:
    up = updater(repo, tmp_path, "gw", "1.0")
    target = up.check()
    assert target is not None
    up.mark_failed(target, reason="bricked")
    repo.add_target("gw/2.0/fw.bin", b"gw two, fixed", custom=fw("2.0", counter=1))
    repo.publish()
    again = updater(repo, tmp_path, "gw", "1.0").check()
    assert again is not None and again.hashes != target.hashes


def test_confirm_and_mark_failed_need_a_staged_install(repo: Repository, tmp_path: Path) -> None:
    up = updater(repo, tmp_path, "gw", "1.0")
    with pytest.raises(ValueError, match="no install is staged"):
        up.confirm()
    with pytest.raises(ValueError, match="no install is staged"):
        up.mark_failed()
    with pytest.raises(ValueError, match="DevicePolicy"):
        repo.updater(tmp_path).pending()


def test_stage_checks_policy_and_image(repo: Repository, tmp_path: Path) -> None:
    up = updater(repo, tmp_path / "md", "gw", "2.0")
    target = up.get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    with pytest.raises(verifier.PolicyError, match="not newer"):
        up.stage(target)
    up = updater(repo, tmp_path / "md", "gw", "1.0")
    wrong = tmp_path / "slot.bin"
    wrong.write_bytes(b"not the image")
    with pytest.raises(verifier.StorageError, match="does not hold"):
        up.stage(target, wrong)
    assert up.pending() is None


def test_mark_installed_clears_a_staged_install(repo: Repository, tmp_path: Path) -> None:
    up = updater(repo, tmp_path, "gw", "1.0")
    target = up.check()
    assert target is not None
    up.stage(target)
    assert up.mark_installed(target) == verifier.DevicePolicy("gw", "2.0", 1)
    assert up.pending() is None


def test_check_report_explains_each_refusal(tmp_path: Path) -> None:
    sim = Repository()
    sim.add_target("gw/1.0/fw.bin", b"1", custom=fw("1.0", counter=2))
    sim.add_target("gw/3.0/fw.bin", b"3", custom=fw("3.0", counter=1))
    sim.add_target("gw/4.0/fw.bin", b"4", custom=fw("4.0", counter=2, min_version="3.5"))
    sim.add_target("gw/2.5/fw.bin", b"25", custom=fw("2.5", counter=2))
    sim.add_target("mcu/9.0/fw.bin", b"9", custom=fw("9.0", "mcu"))
    sim.publish()
    up = sim.updater(tmp_path, policy=verifier.DevicePolicy("gw", "2.0", 2))
    report = up.check_report()
    assert report.target is not None and report.target.path == "gw/2.5/fw.bin"
    reasons = {r.target.path: r.reason for r in report.refused}
    assert reasons == {
        "gw/1.0/fw.bin": verifier.RefusalReason.NOT_NEWER,
        "gw/3.0/fw.bin": verifier.RefusalReason.SECURITY_COUNTER,
        "gw/4.0/fw.bin": verifier.RefusalReason.MIN_VERSION,
    }


def test_refusals_are_logged_at_their_level(
    repo: Repository, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's other failure: a newer version with a lower security counter gave
    None as if up to date, silently."""
    repo.add_target("gw/3.0/fw.bin", b"3", custom=fw("3.0", counter=0))
    repo.add_target("gw/0.9/fw.bin", b"09", custom=fw("0.9", counter=5))
    repo.add_target("gw/0.5/fw.bin", b"05", custom=fw("0.5", counter=0))
    repo.publish()
    up = repo.updater(tmp_path, policy=verifier.DevicePolicy("gw", "2.0", 1))
    with caplog.at_level("DEBUG", logger="verifier"):
        assert up.check() is None
    lines = {r.message.split(" not offered")[0]: r.levelname for r in caplog.records}
    assert lines["check gw: gw/3.0/fw.bin"] == "WARNING"
    assert lines["check gw: gw/0.9/fw.bin"] == "DEBUG"
    assert lines["check gw: gw/2.0/fw.bin"] == "DEBUG"
    # An old release with an old counter is what every poll after an update sees.
    assert lines["check gw: gw/0.5/fw.bin"] == "DEBUG"
    reasons = {r.target.path: r.reason for r in up.check_report().refused}
    assert reasons["gw/0.5/fw.bin"] is verifier.RefusalReason.NOT_NEWER
    assert reasons["gw/3.0/fw.bin"] is verifier.RefusalReason.SECURITY_COUNTER


def test_check_report_names_a_delegation_that_may_not_ship_here(tmp_path: Path) -> None:
    """ADR 0008's refusal as data: a newer image for this hardware under a delegation
    bound to another product is refused with ``RefusalReason.DELEGATION`` (a warning)."""
    from verifier._internal.metadata import HARDWARE_BINDING_FIELD

    sim = Repository()
    sim.delegate("targets", "product-a", ["product-a/*/*"])
    delegations = sim.targets.signed.delegations
    assert delegations is not None and delegations.roles is not None
    delegations.roles["product-a"].unrecognized_fields[HARDWARE_BINDING_FIELD] = ["product-a"]
    sim.add_target("product-a/9.9/evil.bin", b"evil", "product-a", custom=fw("9.9"))
    sim.publish(roles=("targets", "product-a"))
    report = sim.updater(tmp_path, policy=verifier.DevicePolicy("gw", "1.0")).check_report()
    assert report.target is None
    [refusal] = report.refused
    assert refusal.reason is verifier.RefusalReason.DELEGATION
    assert "may not ship to hardware 'gw'" in refusal.message
