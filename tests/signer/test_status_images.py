"""`firmtuf status` and the stored images (issue 11: status said all was well while a stored
image was corrupt; verify and publish caught it)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.signer.conftest import Cli


def _stored(repo: Path) -> Path:
    return next(p for p in (repo / "targets").iterdir() if p.is_file())


def test_corrupt_stored_image_needs_attention(cli: Cli, signed_repo: Path) -> None:
    assert cli("status", signed_repo).exit_code == 0
    image = _stored(signed_repo)
    data = bytearray(image.read_bytes())
    data[100] ^= 0x01  # same length: only a hash check sees it
    image.write_bytes(bytes(data))
    result = cli("status", signed_repo)
    assert result.exit_code == 10
    assert "board-a/1.0.0/fw.bin" in result.output and "corrupt" in result.output
    report = json.loads(cli("status", signed_repo, "--json").stdout)
    assert report["ok"] is False
    assert report["images"] == {
        "checked": True,
        "images": 1,
        "missing": [],
        "corrupt": ["board-a/1.0.0/fw.bin"],
    }
    targets = next(r for r in report["roles"] if r["role"] == "targets")
    assert any("corrupt" in p for p in targets["problems"])
    # publish refuses it too: the two agree
    assert cli("publish", signed_repo, signed_repo.parent / "out").exit_code == 8


def test_no_images_says_it_did_not_check(cli: Cli, signed_repo: Path) -> None:
    image = _stored(signed_repo)
    image.write_bytes(b"\0" * image.stat().st_size)
    result = cli("status", signed_repo, "--no-images")
    assert result.exit_code == 0
    assert "not checked (--no-images)" in result.output
    report = json.loads(cli("status", signed_repo, "--no-images", "--json").stdout)
    assert report["images"]["checked"] is False


def test_image_absent_locally_is_reported_not_failed(cli: Cli, signed_repo: Path) -> None:
    """A CI checkout keeps images out of git: absent is normal, publish fetches them."""
    _stored(signed_repo).unlink()
    result = cli("status", signed_repo)
    assert result.exit_code == 0, result.output
    assert "1 not in the local store" in result.output
    report = json.loads(cli("status", signed_repo, "--json").stdout)
    assert report["images"]["missing"] == ["board-a/1.0.0/fw.bin"]
