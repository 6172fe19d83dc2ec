"""`firmtuf refresh`: cron-safe snapshot/timestamp renewal with online keys."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from signer import FirmwareRepository
from signer._keys import static_secret
from signer._refresh import refresh
from signer._repository import utcnow
from tests.signer.scale.conftest import PASSWORD_ENV, Cli, make_image, tree_bytes

PW = ("--password-env", PASSWORD_ENV)


def _versions(repo: Path) -> tuple[int, int]:
    r = FirmwareRepository(repo)
    return r.metadata("snapshot").signed.version, r.metadata("timestamp").signed.version


def test_nothing_due_writes_nothing(cli: Cli, repo: Path) -> None:
    before = tree_bytes(repo)
    for _ in range(3):  # cron, every few minutes
        r = cli("refresh", repo, *PW, "--json")
        assert r.exit_code == 0, r.output
        data = json.loads(r.output)
        assert data["changed"] is False and data["new_versions"] == {}
    assert tree_bytes(repo) == before
    r = cli("refresh", repo, *PW)
    assert r.output.startswith("Nothing due.")
    # nothing due: no key is needed at all
    r = cli("refresh", repo, "--password-env", "FIRMTUF_UNSET_VAR")
    assert r.exit_code == 0, r.output


def test_force_bumps_both_then_quiet(cli: Cli, repo: Path) -> None:
    r = cli("refresh", repo, "--force", *PW, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["new_versions"] == {"snapshot": 2, "timestamp": 2}
    assert data["reasons"] == {"snapshot": "forced", "timestamp": "forced"}
    assert _versions(repo) == (2, 2)
    assert cli("status", repo).exit_code == 0
    assert json.loads(cli("refresh", repo, *PW, "--json").output)["changed"] is False


def test_timestamp_near_expiry_renews_timestamp_only(cli: Cli, repo: Path) -> None:
    # default validity: timestamp 1 day, snapshot 7 days; a 2-day window catches only one
    r = cli("refresh", repo, "--within", "2d", *PW, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["new_versions"] == {"timestamp": 2}
    assert data["reasons"]["timestamp"].startswith("expires ")
    assert _versions(repo) == (1, 2)
    r = cli("refresh", repo, "--within", "8d", *PW, "--json")
    assert json.loads(r.output)["new_versions"] == {"snapshot": 2, "timestamp": 3}


def test_expired_roles_are_renewed(repo: Path, password: str) -> None:
    later = utcnow() + timedelta(days=8)
    r = FirmwareRepository(repo, secrets_handler=static_secret(password))
    result = refresh(r, now=later)
    assert result.reasons["snapshot"].startswith("expired ")
    assert result.reasons["timestamp"] == "snapshot renewed"
    assert _versions(repo) == (2, 2)


def test_signed_targets_change_is_snapshotted(cli: Cli, repo: Path, tmp_path: Path) -> None:
    image = make_image(tmp_path / "fw.bin")
    assert cli("add", repo, image, "--hardware-id", "hw", "--version", "1.0.0").exit_code == 0
    # a draft is not published by refresh: the snapshot keeps the last signed targets
    r = cli("refresh", repo, "--force", *PW, "--json")
    data = json.loads(r.output)
    assert data["waiting"] == ["targets"]
    snapshot = FirmwareRepository(repo).metadata("snapshot").signed
    assert snapshot.meta["targets.json"].version == 1
    # the release engineer signs only targets; refresh makes snapshot + timestamp
    assert cli("sign", repo, "targets", *PW).exit_code == 0
    r = cli("refresh", repo, *PW, "--json")
    data = json.loads(r.output)
    assert data["waiting"] == []
    assert data["reasons"]["snapshot"].startswith("targets changed: lists targets.json v1")
    assert data["reasons"]["timestamp"] == "snapshot renewed"
    assert FirmwareRepository(repo).metadata("snapshot").signed.meta["targets.json"].version == 2
    assert cli("status", repo).exit_code == 0


def test_keys_not_at_hand_change_nothing(cli: Cli, repo: Path) -> None:
    before = tree_bytes(repo)
    r = cli("refresh", repo, "--force", "--password-env", "FIRMTUF_UNSET_VAR")
    assert r.exit_code == 5
    assert "FIRMTUF_UNSET_VAR" in r.output
    (repo / "keys" / next(p.name for p in (repo / "keys").glob("timestamp-*.pem"))).unlink()
    before = tree_bytes(repo)
    r = cli("refresh", repo, "--force", *PW)
    assert r.exit_code == 5
    assert "timestamp is due (forced) but only 0 of 1 signature(s) could be made" in r.output
    assert tree_bytes(repo) == before


def test_wrong_password(cli: Cli, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRMTUF_WRONG_PW", "not-the-password")
    before = tree_bytes(repo)
    r = cli("refresh", repo, "--force", "--password-env", "FIRMTUF_WRONG_PW")
    assert r.exit_code == 5
    assert "wrong password" in r.output
    assert tree_bytes(repo) == before
