"""Interoperability proof: python-tuf's ngclient Updater, over a real HTTP server on
127.0.0.1, refreshes and downloads firmware published by `firmtuf publish`, and refuses
it once a byte of the image or a field of the metadata is changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tuf.api import exceptions
from tuf.ngclient import Updater

from signer._client import ClientRefusal, device_update
from tests.signer.conftest import PASSWORD_ENV, Cli, make_image

NAME = "acme-gw-r2/1.4.2/gateway.bin"


@pytest.fixture
def published(cli: Cli, tmp_path: Path, repo: Path, http_root: tuple[Path, str]) -> Path:
    """`firmtuf publish` output under the HTTP server's directory, as www/good/."""
    served, _ = http_root
    image = make_image(tmp_path / "gateway.bin", 300_000)
    r = cli(
        "add",
        repo,
        image,
        "--hardware-id",
        "acme-gw-r2",
        "--version",
        "1.4.2",
        "--security-counter",
        "7",
    )
    assert r.exit_code == 0, r.output
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    r = cli("publish", repo, served / "good")
    assert r.exit_code == 0, r.output
    return served / "good"


def _updater(tmp_path: Path, base: str, tree: str, root: bytes) -> Updater:
    client_dir = tmp_path / f"client-{tree}"
    client_dir.mkdir()
    return Updater(
        str(client_dir),
        f"{base}{tree}/metadata/",
        str(client_dir / "dl"),
        f"{base}{tree}/targets/",
        bootstrap=root,
    )


def test_ngclient_downloads_published_firmware(
    published: Path, tmp_path: Path, http_root: tuple[Path, str]
) -> None:
    _, base = http_root
    root = (published / "metadata" / "1.root.json").read_bytes()
    updater = _updater(tmp_path, base, "good", root)
    updater.refresh()
    info = updater.get_targetinfo(NAME)
    assert info is not None
    assert info.length == 300_000
    assert info.custom["firmtuf"]["security_counter"] == 7
    path = updater.download_target(info)
    stored = next((published / "targets").rglob("*.gateway.bin"))
    assert Path(path).read_bytes() == stored.read_bytes()


def test_ngclient_refuses_flipped_image_byte(
    published: Path, tmp_path: Path, http_root: tuple[Path, str]
) -> None:
    served, base = http_root
    shutil.copytree(published, served / "bad")
    image = next((served / "bad" / "targets").rglob("*.gateway.bin"))
    data = bytearray(image.read_bytes())
    data[12345] ^= 0x80
    image.write_bytes(bytes(data))
    root = (published / "metadata" / "1.root.json").read_bytes()
    updater = _updater(tmp_path, base, "bad", root)
    updater.refresh()
    info = updater.get_targetinfo(NAME)
    assert info is not None
    with pytest.raises(exceptions.LengthOrHashMismatchError):
        updater.download_target(info)


@pytest.mark.parametrize(
    ("field", "edit"),
    [
        ("length", lambda t: t.__setitem__("length", t["length"] - 1)),
        ("hash", lambda t: t["hashes"].__setitem__("sha256", "0" * 64)),
        ("version", lambda t: t["custom"]["firmtuf"].__setitem__("version", "9.9.9")),
        ("hardware id", lambda t: t["custom"]["firmtuf"]["hardware_ids"].append("other")),
    ],
)
def test_ngclient_refuses_edited_targets_metadata(
    published: Path, tmp_path: Path, http_root: tuple[Path, str], field: str, edit: object
) -> None:
    served, base = http_root
    shutil.copytree(published, served / "bad")
    path = served / "bad" / "metadata" / "2.targets.json"
    data = json.loads(path.read_bytes())
    edit(data["signed"]["targets"][NAME])  # type: ignore[operator]
    path.write_text(json.dumps(data))
    root = (published / "metadata" / "1.root.json").read_bytes()
    updater = _updater(tmp_path, base, "bad", root)
    with pytest.raises(exceptions.UnsignedMetadataError):
        updater.refresh()


def test_ngclient_refuses_edited_timestamp(
    published: Path, tmp_path: Path, http_root: tuple[Path, str]
) -> None:
    served, base = http_root
    shutil.copytree(published, served / "bad")
    path = served / "bad" / "metadata" / "timestamp.json"
    data = json.loads(path.read_bytes())
    data["signed"]["expires"] = "2099-01-01T00:00:00Z"
    path.write_text(json.dumps(data))
    root = (published / "metadata" / "1.root.json").read_bytes()
    with pytest.raises(exceptions.UnsignedMetadataError):
        _updater(tmp_path, base, "bad", root).refresh()


def test_firmtuf_verify_over_http(cli: Cli, published: Path, http_root: tuple[Path, str]) -> None:
    served, base = http_root
    root = published / "metadata" / "1.root.json"
    r = cli("verify", f"{base}good", "--root", root)
    assert r.exit_code == 0, r.output
    assert "1 target(s) downloaded and checked" in r.stdout
    shutil.copytree(published, served / "bad")
    image = next((served / "bad" / "targets").rglob("*.gateway.bin"))
    image.write_bytes(image.read_bytes()[:-1] + b"\x00")
    r = cli("verify", f"{base}bad/", "--root", root)
    assert r.exit_code == 9
    assert "LengthOrHashMismatchError" in r.stderr


def test_device_update_runs_the_firmware_policy(
    published: Path, tmp_path: Path, http_root: tuple[Path, str]
) -> None:
    """The signing tool's device (demo, verify) is firmtuf's verifier with its policy."""
    _, base = http_root
    root = (published / "metadata" / "1.root.json").read_bytes()
    urls = (f"{base}good/metadata/", f"{base}good/targets/", root, NAME)
    got = device_update(*urls, tmp_path / "fw.bin", hardware_id="acme-gw-r2")
    assert got.stat().st_size == 300_000
    with pytest.raises(ClientRefusal, match="picked nothing"):
        device_update(*urls, tmp_path / "other.bin", hardware_id="acme-gw-r3")
    with pytest.raises(ClientRefusal, match="picked nothing"):
        device_update(
            *urls, tmp_path / "same.bin", hardware_id="acme-gw-r2", installed_version="1.4.2"
        )
    assert not (tmp_path / "other.bin").exists()
    assert not (tmp_path / "same.bin").exists()
