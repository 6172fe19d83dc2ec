"""Devices against published delegated and binned repositories: real HTTP on 127.0.0.1,
python-tuf's ngclient; tampering with a bin is refused by the signer and by devices."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.bench_signer import PASSWORD, build_repository
from signer import FirmwareRepository, init_repository
from signer._client import ClientRefusal, device_update
from signer._delegations import convert_to_bins, delegate_role
from tests.loopback import serve_directory
from tests.signer.scale.conftest import PASSWORD_ENV, Cli, make_image, tree_bytes

PW = ("--password-env", PASSWORD_ENV)


@pytest.fixture
def published(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(working repo, published tree): 500 targets in 8 bins under product role `fleet`."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    repo = tmp_path / "repo"
    build_repository(repo, 500, bins=8, products=5, with_images=True)
    image = make_image(tmp_path / "fw.bin", 3000)
    r = cli("add", repo, image, "--hardware-id", "product-2", "--version", "9.0.0", "--json")
    assert r.exit_code == 0, r.output
    assert cli("sign", repo, *PW).exit_code == 0
    out = tmp_path / "www" / "repo"
    r = cli("publish", repo, out)
    assert r.exit_code == 0, r.output
    return repo, out


def test_device_over_http_finds_binned_target(published: tuple[Path, Path], tmp_path: Path) -> None:
    _repo, out = published
    root = (out / "metadata" / "1.root.json").read_bytes()
    with serve_directory(out.parent) as base:
        got = device_update(
            f"{base}repo/metadata/",
            f"{base}repo/targets/",
            root,
            "product-2/9.0.0/fw.bin",
            tmp_path / "device" / "fw.bin",
        )
        assert got.read_bytes() == (tmp_path / "fw.bin").read_bytes()
        got = device_update(
            f"{base}repo/metadata/",
            f"{base}repo/targets/",
            root,
            "product-0/1.7.0/fw.bin",
            tmp_path / "device" / "old.bin",
        )
        assert got.read_bytes() == b"product-0/1.7.0/fw.bin"


def test_tampered_published_bin_is_refused(published: tuple[Path, Path], tmp_path: Path) -> None:
    repo, out = published
    role = FirmwareRepository(repo).graph.route("product-2/9.0.0/fw.bin")
    version = FirmwareRepository(repo).metadata(role).signed.version
    path = out / "metadata" / f"{version}.{role}.json"
    data = json.loads(path.read_bytes())
    data["signed"]["targets"]["product-2/9.0.0/fw.bin"]["length"] = 1
    path.write_text(json.dumps(data))
    root = (out / "metadata" / "1.root.json").read_bytes()
    with (
        serve_directory(out.parent) as base,
        pytest.raises(ClientRefusal, match=r"UnsignedMetadataError: bins-.* 0 valid signatures"),
    ):
        device_update(
            f"{base}repo/metadata/",
            f"{base}repo/targets/",
            root,
            "product-2/9.0.0/fw.bin",
            tmp_path / "device" / "fw.bin",
        )


def test_hand_edited_bin_is_refused_by_publish(
    cli: Cli, published: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, out = published
    role = FirmwareRepository(repo).graph.route("product-2/9.0.0/fw.bin")
    path = repo / "metadata" / f"{role}.json"
    # same version, altered content: `sign` trusts the snapshot for unread bins, but the
    # full checks of status and publish read every bin
    path.write_bytes(re.sub(rb'"length": ?3000', b'"length":3001', path.read_bytes(), count=1))
    shutil.rmtree(out)
    before = tree_bytes(repo)
    r = cli("publish", repo, out)
    assert r.exit_code == 6
    assert f"{role}.json: signature of key" in r.output and "does not verify" in r.output
    assert cli("status", repo).exit_code == 6
    assert tree_bytes(repo) == before
    assert not out.exists()


_SEGMENT = st.text(alphabet="abcxyz019-_.", min_size=1, max_size=6).filter(
    lambda s: s not in (".", "..")
)


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """targets -> a (a/*/*, terminating) -> a-bins-*; targets -> b (*/*) -> bb (b*/*)."""
    path = tmp_path_factory.mktemp("route") / "repo"
    init_repository(path, password=PASSWORD)
    delegate_role(FirmwareRepository(path), "a", ["a/*/*"], terminating=True, password=PASSWORD)
    convert_to_bins(FirmwareRepository(path), 4, role="a", password=PASSWORD)
    delegate_role(FirmwareRepository(path), "b", ["*/*"], password=PASSWORD)
    delegate_role(FirmwareRepository(path), "bb", ["b*/*"], parent="b", password=PASSWORD)
    return path


@given(name=st.lists(_SEGMENT, min_size=1, max_size=4).map("/".join))
def test_routed_role_is_where_the_client_looks(layout: Path, name: str) -> None:
    repo = FirmwareRepository(layout)
    role = repo.graph.route(name)
    order = repo.graph.search(name)
    assert role in order
    # the chosen role is the last on the first branch: no matching child below it
    delegations = repo.metadata(role).signed.delegations
    assert delegations is None or not list(delegations.get_roles_for_target(name))
    if name.startswith("a/") and name.count("/") == 2:
        assert role.startswith("a-bins-") and "b" not in order  # terminating
