"""Issue 9 item 3: a product's key cannot ship firmware to another product.

Delegations carry a hardware-id binding signed by the delegator (``firmtuf_hardware_ids``,
docs/adr/0008): a device accepts a firmware target only when every delegation on the
search path to it admits its hardware id. A malformed firmware entry that is not for the
device does not stop its update.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import verifier
from tests.repository import Repository
from tests.verifier.conftest import state_of
from verifier._internal.metadata import HARDWARE_BINDING_FIELD


def fw(version: str, *ids: str, counter: int = 0) -> dict[str, object]:
    return {"firmtuf": {"hardware_ids": list(ids), "version": version, "security_counter": counter}}


def bind(sim: Repository, delegator: str, role: str, *patterns: str) -> None:
    delegations = sim.md(delegator).signed.delegations
    assert delegations is not None and delegations.roles is not None
    delegations.roles[role].unrecognized_fields[HARDWARE_BINDING_FIELD] = list(patterns)


@pytest.fixture
def fleet() -> Repository:
    """acme-gw firmware at the top; product-a's team holds the key of ``product-a/*``."""
    sim = Repository()
    sim.add_target("acme-gw/1.1/fw.bin", b"gw 1.1", custom=fw("1.1", "acme-gw"))
    sim.delegate("targets", "product-a", ["product-a/*/*"])
    bind(sim, "targets", "product-a", "product-a", "product-a-r*")
    sim.add_target("product-a/1.0/a.bin", b"a 1.0", "product-a", custom=fw("1.0", "product-a"))
    sim.publish(roles=("targets", "product-a"))
    return sim


def device(sim: Repository, md: Path, hardware_id: str) -> verifier.Updater:
    return sim.updater(md, policy=verifier.DevicePolicy(hardware_id, "1.0"))


def test_delegation_cannot_ship_to_another_product(fleet: Repository, tmp_path: Path) -> None:
    md = tmp_path / "gw"
    up = device(fleet, md, "acme-gw")
    current = up.check()
    assert current is not None and current.path == "acme-gw/1.1/fw.bin"
    up.mark_installed(current)
    # The attack: product-a's key lists, under its own paths, a newer image for acme-gw.
    fleet.add_target(
        "product-a/9.9/evil.bin", b"evil", "product-a", custom=fw("9.9", "acme-gw", counter=99)
    )
    fleet.publish(roles=("product-a",))
    device_state = (md / "firmtuf" / "components" / "acme-gw.json").read_bytes()
    up = fleet.updater(md, policy=verifier.DevicePolicy.from_metadata_dir(md, "acme-gw", "1.0"))
    assert up.check() is None  # not offered
    evil = up.get_targetinfo("product-a/9.9/evil.bin")
    assert evil is not None  # trusted metadata lists it: only the binding refuses it
    with pytest.raises(verifier.PolicyError, match="may not ship to hardware 'acme-gw'"):
        up.verify_policy(evil)
    with pytest.raises(verifier.PolicyError, match="may not ship"):
        up.download(evil, tmp_path / "evil.bin")
    assert not list(tmp_path.glob("evil.bin*"))
    assert (md / "firmtuf" / "components" / "acme-gw.json").read_bytes() == device_state


def test_binding_admits_its_own_hardware_by_pattern(fleet: Repository, tmp_path: Path) -> None:
    fleet.add_target("product-a/2.0/a.bin", b"a 2.0", "product-a", custom=fw("2.0", "product-a-r2"))
    fleet.publish(roles=("product-a",))
    up = device(fleet, tmp_path / "a", "product-a-r2")
    target = up.check()
    assert target is not None and target.path == "product-a/2.0/a.bin"
    up.verify_policy(target)
    assert up.download(target, tmp_path / "a.bin").read_bytes() == b"a 2.0"


def test_every_delegation_on_the_path_must_admit(tmp_path: Path) -> None:
    """A sub-delegation without a binding of its own inherits its delegator's."""
    sim = Repository()
    sim.delegate("targets", "product-a", ["product-a/*/*"])
    bind(sim, "targets", "product-a", "product-a")
    sim.delegate("product-a", "product-a-ci", ["product-a/*/*"])  # unbound
    sim.add_target("product-a/5.0/x.bin", b"x", "product-a-ci", custom=fw("5.0", "acme-gw"))
    sim.publish(roles=("targets", "product-a", "product-a-ci"))
    up = device(sim, tmp_path / "gw", "acme-gw")
    assert up.check() is None
    target = up.get_targetinfo("product-a/5.0/x.bin")
    assert target is not None
    with pytest.raises(verifier.PolicyError, match="'product-a'"):
        up.verify_policy(target)


def test_succinct_bins_carry_a_binding(tmp_path: Path) -> None:
    sim = Repository()
    sim.delegate_succinct("targets", 2, "bins")
    succinct = sim.md("targets").signed.delegations.succinct_roles  # type: ignore[union-attr]
    assert succinct is not None
    succinct.unrecognized_fields[HARDWARE_BINDING_FIELD] = ["cam-*"]
    name = "x/1.0/fw.bin"
    bin_name = succinct.get_role_for_target(name)
    sim.add_target(name, b"x", bin_name, custom=fw("2.0", "acme-gw", "cam-1"))
    sim.publish(roles=("targets", bin_name))
    assert device(sim, tmp_path / "gw", "acme-gw").check() is None
    cam = device(sim, tmp_path / "cam", "cam-1").check()
    assert cam is not None and cam.path == name


def test_unbound_delegation_admits_every_hardware_id(tmp_path: Path) -> None:
    """Repositories made before the binding keep working (ADR 0008: absent = any)."""
    sim = Repository()
    sim.delegate("targets", "team", ["t/*/*"])
    sim.add_target("t/2.0/fw.bin", b"x", "team", custom=fw("2.0", "acme-gw"))
    sim.publish(roles=("targets", "team"))
    assert device(sim, tmp_path / "gw", "acme-gw").check() is not None


@pytest.mark.parametrize("value", [[], "acme-gw", [""], [1], ["a b"], ["tab\there"]])
def test_malformed_binding_is_a_format_error(tmp_path: Path, value: object) -> None:
    sim = Repository()
    sim.delegate("targets", "team", ["t/*/*"])
    delegations = sim.md("targets").signed.delegations
    assert delegations is not None and delegations.roles is not None
    delegations.roles["team"].unrecognized_fields[HARDWARE_BINDING_FIELD] = value
    sim.publish(roles=("targets", "team"))
    md = tmp_path / "md"
    up = sim.updater(md)
    before = state_of(md)
    with pytest.raises(verifier.MetadataFormatError, match=HARDWARE_BINDING_FIELD):
        up.refresh()
    assert {
        k: v for k, v in state_of(md).items() if k != "timestamp.json" and k != "snapshot.json"
    } == {k: v for k, v in before.items() if k != "timestamp.json" and k != "snapshot.json"}


def test_malformed_entry_for_another_product_does_not_stop_this_device(
    fleet: Repository, tmp_path: Path
) -> None:
    bad = {"firmtuf": {"hardware_ids": ["product-a"], "version": "not a version"}}
    fleet.add_target("product-a/1.1/a.bin", b"bad", "product-a", custom=bad)
    fleet.add_target("acme-gw/1.2/fw.bin", b"gw 1.2", custom=fw("1.2", "acme-gw"))
    fleet.publish(roles=("targets", "product-a"))
    gw = device(fleet, tmp_path / "gw", "acme-gw").check()
    assert gw is not None and gw.path == "acme-gw/1.2/fw.bin"
    # For the device it names, it stays an error.
    with pytest.raises(verifier.MetadataFormatError, match="version"):
        device(fleet, tmp_path / "a", "product-a").check()


def test_malformed_entry_of_unknown_hardware_is_reported_not_fatal(tmp_path: Path) -> None:
    sim = Repository()
    sim.add_target("x/fw.bin", b"x", custom={"firmtuf": {"version": "1.0"}})  # no hardware_ids
    sim.add_target("gw/2.0/fw.bin", b"gw", custom=fw("2.0", "acme-gw"))
    sim.publish()
    target = device(sim, tmp_path / "gw", "acme-gw").check()
    assert target is not None and target.path == "gw/2.0/fw.bin"


def test_verify_policy_refuses_a_target_the_search_does_not_find(
    fleet: Repository, tmp_path: Path
) -> None:
    up = device(fleet, tmp_path / "gw", "acme-gw")
    forged = verifier.TargetFile(
        "acme-gw/7.0/fw.bin",
        {"length": 1, "hashes": {"sha256": "00"}, "custom": fw("7.0", "acme-gw")},
    )
    with pytest.raises(verifier.PolicyError, match="not the trusted target"):
        up.verify_policy(forged)
