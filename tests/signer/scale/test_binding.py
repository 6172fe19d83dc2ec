"""Issue 9 items 2 and 3, signer side: reserved role names, and delegations bound to
hardware ids (`delegate`/`bins --hardware-id`, `status`, `add` refusing what devices would)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import verifier
from signer import FirmwareRepository
from signer._client import LOCAL_BASE_URL, DirectoryFetcher
from tests.signer.scale.conftest import PASSWORD_ENV, Cli, make_image, tree_bytes

PW = ("--password-env", PASSWORD_ENV)


@pytest.mark.parametrize(
    "name", ["firmtuf", "time_floor", "Time_Floor", "Root", "TARGETS", "snapshot", "a/b", ".."]
)
def test_reserved_or_unstorable_role_names_exit_3(cli: Cli, repo: Path, name: str) -> None:
    before = tree_bytes(repo)
    r = cli("delegate", repo, name, "--paths", "x/*/*", *PW)
    assert r.exit_code == 3, r.output
    assert "Traceback" not in r.output
    assert tree_bytes(repo) == before


def test_delegate_writes_and_status_shows_the_binding(cli: Cli, repo: Path) -> None:
    r = cli(
        "delegate", repo, "product-a", "--paths", "product-a/*/*",
        "--hardware-id", "product-a", "--hardware-id", "product-a-r*", *PW, "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["hardware_ids"] == ["product-a", "product-a-r*"]
    targets = FirmwareRepository(repo).metadata("targets").signed
    assert targets.delegations is not None and targets.delegations.roles is not None
    entry = targets.delegations.roles["product-a"]
    assert entry.unrecognized_fields[verifier.HARDWARE_BINDING_FIELD] == [
        "product-a",
        "product-a-r*",
    ]
    assert cli("sign", repo, *PW).exit_code == 0
    r = cli("status", repo, "--no-images", "--json")
    roles = {role["role"]: role for role in json.loads(r.output)["roles"]}
    assert roles["product-a"]["hardware_ids"] == ["product-a", "product-a-r*"]
    assert "hardware_ids" not in roles["targets"]
    r = cli("status", repo, "--no-images")
    assert "ships to product-a, product-a-r*" in r.output


def test_unbound_delegation_shows_any(cli: Cli, repo: Path) -> None:
    assert cli("delegate", repo, "team", "--paths", "t/*/*", *PW).exit_code == 0
    assert cli("sign", repo, *PW).exit_code == 0
    r = cli("status", repo, "--no-images", "--json")
    roles = {role["role"]: role for role in json.loads(r.output)["roles"]}
    assert roles["team"]["hardware_ids"] is None


@pytest.mark.parametrize("pattern", ["", "a b", "gw\n", "x" * 200, "é"])
def test_bad_hardware_pattern_exit_3(cli: Cli, repo: Path, pattern: str) -> None:
    before = tree_bytes(repo)
    r = cli("delegate", repo, "p", "--paths", "p/*/*", "--hardware-id", pattern, *PW)
    assert r.exit_code == 3, r.output
    assert tree_bytes(repo) == before


def test_add_refuses_a_target_its_role_may_not_ship(cli: Cli, repo: Path, tmp_path: Path) -> None:
    r = cli(
        "delegate", repo, "product-a", "--paths", "product-a/*/*",
        "--hardware-id", "product-a", *PW,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    image = make_image(tmp_path / "fw.bin")
    before = tree_bytes(repo)
    r = cli(
        "add", repo, image, "--hardware-id", "acme-gw", "--version", "9.0",
        "--name", "product-a/9.0/fw.bin",
    )  # fmt: skip
    assert r.exit_code == 3, r.output
    assert "may only ship to product-a" in r.output
    assert tree_bytes(repo) == before
    # Its own hardware is fine, and a device of it installs it.
    r = cli("add", repo, image, "--hardware-id", "product-a", "--version", "2.0", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)[0]["role"] == "product-a"
    assert cli("sign", repo, *PW).exit_code == 0
    out = tmp_path / "out"
    assert cli("publish", repo, out).exit_code == 0, r.output
    root = (out / "metadata" / "1.root.json").read_bytes()
    dest = tmp_path / "dev.bin"
    updater = verifier.Updater(
        tmp_path / "dev",
        LOCAL_BASE_URL + "metadata/",
        LOCAL_BASE_URL + "targets/",
        fetcher=DirectoryFetcher(out),
        bootstrap=root,
        policy=verifier.DevicePolicy("product-a", "1.0"),
    )
    target = updater.check()
    assert target is not None and target.path == "product-a/2.0/fw.bin"
    updater.download(target, dest)
    assert dest.read_bytes() == image.read_bytes()


def test_bins_write_the_binding_and_refuse_targets_outside_it(
    cli: Cli, repo: Path, tmp_path: Path
) -> None:
    image = make_image(tmp_path / "fw.bin")
    assert cli("add", repo, image, "--hardware-id", "cam-1", "--version", "1.0").exit_code == 0
    before = tree_bytes(repo)
    r = cli("bins", repo, "4", "--hardware-id", "gw-*", *PW)
    assert r.exit_code == 3, r.output  # the cam-1 target could not stay in the bins
    assert tree_bytes(repo) == before
    r = cli("bins", repo, "4", "--hardware-id", "cam-*", *PW, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["hardware_ids"] == ["cam-*"]
    targets = FirmwareRepository(repo).metadata("targets").signed
    assert targets.delegations is not None and targets.delegations.succinct_roles is not None
    succinct = targets.delegations.succinct_roles
    assert succinct.unrecognized_fields[verifier.HARDWARE_BINDING_FIELD] == ["cam-*"]
    other = make_image(tmp_path / "gw.bin", size=100)
    r = cli("add", repo, other, "--hardware-id", "gw-2", "--version", "1.0")
    assert r.exit_code == 3, r.output
    assert "may only ship to cam-*" in r.output


def test_sub_delegation_inherits_and_status_says_so(cli: Cli, repo: Path, tmp_path: Path) -> None:
    r = cli(
        "delegate", repo, "product-a", "--paths", "product-a/*/*",
        "--hardware-id", "product-a*", *PW,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    r = cli(
        "delegate", repo, "product-a-beta", "--paths", "product-a/*-beta/*",
        "--parent", "product-a", *PW,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    # Unbound itself, the beta role still cannot ship beyond what product-a admits.
    image = make_image(tmp_path / "fw.bin")
    before = tree_bytes(repo)
    r = cli(
        "add", repo, image, "--hardware-id", "acme-gw", "--version", "2.0-beta",
        "--name", "product-a/2.0-beta/fw.bin",
    )  # fmt: skip
    assert r.exit_code == 3, r.output
    assert "delegation 'product-a' may only ship to product-a*" in r.output
    assert tree_bytes(repo) == before
    assert cli("sign", repo, *PW).exit_code == 0
    r = cli("status", repo, "--no-images", "--json")
    roles = {role["role"]: role for role in json.loads(r.output)["roles"]}
    assert roles["product-a-beta"]["hardware_ids"] is None
    assert roles["product-a-beta"]["hardware_ids_within"] == {"product-a": ["product-a*"]}
    assert roles["product-a"]["hardware_ids_within"] == {}
    r = cli("status", repo, "--no-images")
    assert "ships to any hardware id, within product-a: product-a*" in r.output


def test_status_shows_the_binding_of_bins(cli: Cli, repo: Path) -> None:
    r = cli("bins", repo, "4", "--hardware-id", "cam-*", *PW)
    assert r.exit_code == 0, r.output
    assert "ships to cam-*" in r.output
    assert cli("sign", repo, *PW).exit_code == 0
    r = cli("status", repo, "--no-images", "--json")
    roles = {role["role"]: role for role in json.loads(r.output)["roles"]}
    assert [roles[f"bins-{i}"]["hardware_ids"] for i in range(4)] == [["cam-*"]] * 4
    r = cli("status", repo, "--no-images")
    assert r.output.count("ships to cam-*") == 4
