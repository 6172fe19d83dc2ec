"""`firmtuf delegate` and routing of `add` to path-delegated roles, end to end."""

from __future__ import annotations

import json
from pathlib import Path

from securesystemslib.signer import CryptoSigner

from signer import FirmwareRepository, verify_published
from signer._client import LOCAL_BASE_URL, DirectoryFetcher, check_repository
from signer._keys import write_key_file
from tests.signer.conftest import public_pem
from tests.signer.scale.conftest import PASSWORD_ENV, Cli, make_image, tree_bytes

PW = ("--password-env", PASSWORD_ENV)


def _delegate_products(cli: Cli, repo: Path) -> None:
    for product in ("product-a", "product-b"):
        r = cli("delegate", repo, product, "--paths", f"{product}/*/*", *PW)
        assert r.exit_code == 0, r.output
        assert f"to {product}" in r.output


def test_delegate_add_sign_publish_and_device_finds_target(
    cli: Cli, repo: Path, tmp_path: Path
) -> None:
    _delegate_products(cli, repo)
    fresh = FirmwareRepository(repo)
    assert fresh.targets_roles() == ["targets", "product-a", "product-b"]
    # the new roles are signed by their new keys, the parent waits for `sign`
    assert fresh.is_complete("product-a")
    assert not fresh.is_complete("targets")

    image = make_image(tmp_path / "fw.bin")
    r = cli("add", repo, image, "--hardware-id", "product-b", "--version", "2.0.0", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)[0]["role"] == "product-b"
    other = make_image(tmp_path / "other.bin")
    r = cli("add", repo, other, "--hardware-id", "misc", "--version", "1.0.0", "--json")
    assert json.loads(r.output)[0]["role"] == "targets"
    r = cli("sign", repo, *PW)
    assert r.exit_code == 0, r.output
    assert cli("status", repo).exit_code == 0

    out = tmp_path / "out"
    r = cli("publish", repo, out)
    assert r.exit_code == 0, r.output
    assert (out / "metadata" / "2.product-b.json").is_file()
    root = (out / "metadata" / "1.root.json").read_bytes()
    report = verify_published(str(out), root)
    assert report.targets == {"product-b/2.0.0/fw.bin": 2048, "misc/1.0.0/other.bin": 2048}
    assert report.versions["product-b"] == 2
    # python-tuf's ngclient, a device looking for the one image through the delegation
    seen = check_repository(
        LOCAL_BASE_URL + "metadata/",
        LOCAL_BASE_URL + "targets/",
        root,
        fetcher=DirectoryFetcher(out),
    )
    assert "product-b/2.0.0/fw.bin" in seen.targets


def test_add_to_named_role_must_match_its_paths(cli: Cli, repo: Path, tmp_path: Path) -> None:
    _delegate_products(cli, repo)
    image = make_image(tmp_path / "fw.bin")
    before = tree_bytes(repo)
    r = cli(
        "add",
        repo,
        image,
        "--hardware-id",
        "product-b",
        "--version",
        "1.0.0",
        "--role",
        "product-a",
    )
    assert r.exit_code == 3
    assert "role 'product-a' is not delegated target 'product-b/1.0.0/fw.bin'" in r.output
    assert tree_bytes(repo) == before
    r = cli("add", repo, image, "--hardware-id", "x", "--version", "1.0.0", "--role", "nope")
    assert r.exit_code == 3
    assert "unknown role 'nope'" in r.output
    assert tree_bytes(repo) == before
    # `--role targets` is always on the search path: the top-level role may hold it
    r = cli(
        "add",
        repo,
        image,
        "--hardware-id",
        "product-a",
        "--version",
        "1.0.0",
        "--role",
        "targets",
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)[0]["role"] == "targets"


def test_terminating_delegation_stops_the_search(cli: Cli, repo: Path, tmp_path: Path) -> None:
    r = cli("delegate", repo, "team-x", "--paths", "shared/*/*", "--terminating", *PW)
    assert r.exit_code == 0, r.output
    r = cli("delegate", repo, "team-y", "--paths", "shared/*/*", "--paths", "y/*/*", *PW)
    assert r.exit_code == 0, r.output
    repository = FirmwareRepository(repo)
    assert repository.graph.search("shared/1/fw.bin") == ["targets", "team-x"]
    assert repository.graph.search("y/1/fw.bin") == ["targets", "team-y"]
    assert repository.graph.route("shared/1/fw.bin") == "team-x"
    image = make_image(tmp_path / "fw.bin")
    before = tree_bytes(repo)
    r = cli("add", repo, image, "--hardware-id", "shared", "--version", "1.0.0", "--role", "team-y")
    assert r.exit_code == 3
    assert "not delegated" in r.output
    assert tree_bytes(repo) == before


def test_nested_delegation_routes_to_deepest_role(cli: Cli, repo: Path, tmp_path: Path) -> None:
    _delegate_products(cli, repo)
    r = cli(
        "delegate",
        repo,
        "product-a-beta",
        "--parent",
        "product-a",
        "--paths",
        "product-a/*-beta*/*",
        *PW,
    )
    assert r.exit_code == 0, r.output
    image = make_image(tmp_path / "fw.bin")
    r = cli("add", repo, image, "--hardware-id", "product-a", "--version", "3.0.0-beta1", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)[0]["role"] == "product-a-beta"
    r = cli("sign", repo, *PW)
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    assert cli("publish", repo, out).exit_code == 0
    report = verify_published(str(out), (out / "metadata" / "1.root.json").read_bytes())
    assert "product-a/3.0.0-beta1/fw.bin" in report.targets


def test_delegate_with_existing_key_and_threshold(
    cli: Cli, repo: Path, tmp_path: Path, password: str
) -> None:
    keys = []
    for i in range(2):
        signer = CryptoSigner.generate_ed25519()
        key_path = tmp_path / "hsm" / f"k{i}.pem"
        write_key_file(signer, key_path, password)
        pub = tmp_path / f"k{i}.pub.pem"
        pub.write_bytes(public_pem(signer))
        keys += ["--signer", f"file:{key_path}?encrypted=true", str(pub)]
    r = cli("delegate", repo, "team", "--paths", "team/*", *keys, "--threshold", "2", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["threshold"] == 2 and len(data["keyids"]) == 2 and data["key_files"] == []
    repository = FirmwareRepository(repo)
    assert not repository.is_complete("team")  # no key generated: signed by `sign`
    r = cli("sign", repo, *PW)
    assert r.exit_code == 0, r.output
    assert FirmwareRepository(repo).signature_state("team").signed == sorted(data["keyids"])


def test_remove_from_delegated_role(cli: Cli, repo: Path, tmp_path: Path) -> None:
    _delegate_products(cli, repo)
    image = make_image(tmp_path / "fw.bin")
    assert (
        cli("add", repo, image, "--hardware-id", "product-a", "--version", "1.0.0").exit_code == 0
    )
    assert cli("sign", repo, *PW).exit_code == 0
    r = cli("remove", repo, "product-a/1.0.0/fw.bin")
    assert r.exit_code == 0, r.output
    repository = FirmwareRepository(repo)
    assert repository.metadata("product-a").signed.targets == {}
    assert not repository.is_complete("product-a")
    assert not list((repo / "targets").glob("*.fw.bin"))
    # an older version is accepted again once the newer one is gone
    r = cli("add", repo, image, "--hardware-id", "product-a", "--version", "0.9.0")
    assert r.exit_code == 0, r.output
