"""A device offline during key rotations catches up: firmtuf's verifier and python-tuf's
ngclient as the device.

The client last updated before the timestamp, snapshot, targets and root keys were
rotated (several releases in between); its next refresh must walk the root chain and
accept metadata signed by the new keys.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tuf.api.metadata import Metadata, Root, Timestamp

from tests.signer.keys.conftest import (
    PASSWORD_ENV,
    Cli,
    add_and_sign,
    firmtuf_client,
    keyids,
    make_image,
    ngclient,
)

Device = Callable[[Path, Path], Any]
DEVICES = pytest.mark.parametrize("device", [firmtuf_client, ngclient], ids=["firmtuf", "tuf"])


def _rotate(cli: Cli, repo: Path, role: str) -> None:
    result = cli("key", "rotate", repo, role, keyids(repo, role)[0], "--password-env", PASSWORD_ENV)
    assert result.exit_code == 0, result.output


def _sign_and_publish(cli: Cli, repo: Path, out: Path) -> None:
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    published = cli("publish", repo, out)
    assert published.exit_code == 0, published.output


@DEVICES
def test_client_offline_across_rotations_updates(
    cli: Cli, repo: Path, password: str, tmp_path: Path, device: Device
) -> None:
    out = tmp_path / "out"
    add_and_sign(repo, password, make_image(tmp_path / "fw-1.bin"), "1.0.0")
    _sign_and_publish(cli, repo, out)
    client_dir = tmp_path / "device"
    client = device(out, client_dir)
    client.refresh()
    assert client.get_targetinfo("board-a/1.0.0/fw-1.bin") is not None
    old_timestamp_keys = keyids(repo, "timestamp")

    # While the device is offline: releases, then every online key and a root key rotate.
    add_and_sign(repo, password, make_image(tmp_path / "fw-2.bin"), "1.1.0")
    _sign_and_publish(cli, repo, out)
    _rotate(cli, repo, "timestamp")
    _sign_and_publish(cli, repo, out)
    _rotate(cli, repo, "snapshot")
    _sign_and_publish(cli, repo, out)
    add_and_sign(repo, password, make_image(tmp_path / "fw-3.bin"), "1.2.0")
    _rotate(cli, repo, "targets")
    _rotate(cli, repo, "root")
    _sign_and_publish(cli, repo, out)
    _rotate(cli, repo, "timestamp")
    _sign_and_publish(cli, repo, out)

    published_root = Metadata[Root].from_file(str(out / "metadata" / "root.json")).signed
    assert published_root.version == 6
    assert not set(old_timestamp_keys) & set(published_root.roles["timestamp"].keyids)

    client = device(out, client_dir)
    client.refresh()
    assert client.get_targetinfo("board-a/1.2.0/fw-3.bin") is not None
    trusted_root = Metadata[Root].from_file(str(client_dir / "metadata" / "root.json"))
    assert trusted_root.signed.version == 6
    trusted_ts = Metadata[Timestamp].from_file(str(client_dir / "metadata" / "timestamp.json"))
    published_ts = Metadata[Timestamp].from_file(str(out / "metadata" / "timestamp.json"))
    assert trusted_ts.signed.version == published_ts.signed.version
    assert list(trusted_ts.signatures) == published_root.roles["timestamp"].keyids


@DEVICES
def test_client_that_saw_old_timestamp_accepts_rotated_one(
    cli: Cli, repo: Path, password: str, tmp_path: Path, device: Device
) -> None:
    """Rotation re-issues the timestamp as a new version: no rollback error, no stale key."""
    out = tmp_path / "out"
    _sign_and_publish(cli, repo, out)
    client_dir = tmp_path / "device"
    device(out, client_dir).refresh()
    before = Metadata[Timestamp].from_file(str(client_dir / "metadata" / "timestamp.json"))
    _rotate(cli, repo, "timestamp")
    _sign_and_publish(cli, repo, out)
    device(out, client_dir).refresh()
    after = Metadata[Timestamp].from_file(str(client_dir / "metadata" / "timestamp.json"))
    assert after.signed.version == before.signed.version + 1
    assert set(after.signatures).isdisjoint(before.signatures)
