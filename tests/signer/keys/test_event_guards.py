"""Signing events that must not go stale silently (issue 11): `sign` re-signed a role an
open event covered (every holder then had to sign again), a second event could freeze
the same draft, `cancel` could not remove an event whose event.json was lost, and one
tampered signature file failed `finish` even when the valid ones met the threshold."""

from __future__ import annotations

import json
from pathlib import Path

from signer import init_repository
from tests.signer.keys.conftest import PASSWORD_ENV, Cli, keyids, make_image, tree_bytes


def _draft(cli: Cli, repo: Path, tmp_path: Path) -> None:
    image = make_image(tmp_path / "fw.bin")
    assert cli("add", repo, image, "--hardware-id", "b", "--version", "1.0.0").exit_code == 0


def test_sign_refuses_a_role_an_open_event_covers(cli: Cli, repo: Path, tmp_path: Path) -> None:
    _draft(cli, repo, tmp_path)
    assert cli("sign-event", "start", repo, "ev").exit_code == 0
    before = tree_bytes(repo)
    refused = cli("sign", repo, "--password-env", PASSWORD_ENV)
    assert refused.exit_code == 7
    assert "signing event 'ev' is open on targets" in refused.stderr
    assert tree_bytes(repo) == before
    # the same holds for any other change to it
    other = make_image(tmp_path / "other.bin")
    added = cli("add", repo, other, "--hardware-id", "c", "--version", "1.0.0")
    assert added.exit_code == 7
    assert tree_bytes(repo) == before
    # --force signs anyway and says the event is stale now
    forced = cli("sign", repo, "--password-env", PASSWORD_ENV, "--force")
    assert forced.exit_code == 0, forced.output
    assert "signing event 'ev' is now stale" in forced.stderr
    status = cli("sign-event", "status", repo, "ev")
    assert status.exit_code == 7 and "changed since signing event 'ev' started" in status.stderr
    assert cli("sign-event", "cancel", repo, "ev").exit_code == 0


def test_finishing_the_event_is_not_blocked_by_itself(cli: Cli, repo: Path, tmp_path: Path) -> None:
    _draft(cli, repo, tmp_path)
    assert cli("sign-event", "start", repo, "ev").exit_code == 0
    assert cli("sign-event", "sign", repo, "ev", "--password-env", PASSWORD_ENV).exit_code == 0
    finished = cli("sign-event", "finish", repo, "ev")
    assert finished.exit_code == 0, finished.output
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0


def test_a_second_event_on_the_same_draft_is_refused(cli: Cli, repo: Path, tmp_path: Path) -> None:
    _draft(cli, repo, tmp_path)
    assert cli("sign-event", "start", repo, "first").exit_code == 0
    before = tree_bytes(repo)
    second = cli("sign-event", "start", repo, "second")
    assert second.exit_code == 7
    assert "signing event 'first' already collects signatures for targets" in second.stderr
    assert tree_bytes(repo) == before


def test_cancel_an_event_that_lost_its_event_json(cli: Cli, repo: Path, tmp_path: Path) -> None:
    _draft(cli, repo, tmp_path)
    assert cli("sign-event", "start", repo, "ev").exit_code == 0
    (repo / "sign-events" / "ev" / "event.json").unlink()
    listed = cli("sign-event", "list", repo)
    assert "ev (broken: no readable event.json" in listed.output
    cancelled = cli("sign-event", "cancel", repo, "ev")
    assert cancelled.exit_code == 0, cancelled.output
    assert not (repo / "sign-events" / "ev").exists()
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    missing = cli("sign-event", "cancel", repo, "ev")
    assert missing.exit_code == 3


def test_a_tampered_signature_is_skipped_when_the_others_meet_the_threshold(
    cli: Cli, tmp_path: Path, password: str
) -> None:
    """Root 2 of 3, all three holders sign a root change, one file is then damaged:
    finish succeeds with the two valid signatures and names the damaged file."""
    repo = tmp_path / "repo"
    init_repository(repo, password=password, keys={"root": 3}, thresholds={"root": 2})
    holders = tmp_path / "holders"
    holders.mkdir()
    moved = []
    for path in sorted((repo / "keys").glob("root-*.pem")):
        moved.append(path.rename(holders / path.name))
    old = keyids(repo, "timestamp")[0]
    rotated = cli("key", "rotate", repo, "timestamp", old[:12], "--password-env", PASSWORD_ENV)
    assert rotated.exit_code == 0, rotated.output
    assert cli("sign-event", "start", repo, "ev").exit_code == 0
    for path in moved:
        result = cli("sign-event", "sign", repo, "ev", "--key-file", path,
                     "--password-env", PASSWORD_ENV)  # fmt: skip
        assert result.exit_code == 0, result.output
    damaged = sorted((repo / "sign-events" / "ev" / "signatures" / "root").glob("*.json"))[0]
    sig = json.loads(damaged.read_bytes())
    sig["sig"] = ("00" if sig["sig"][:2] != "00" else "11") + sig["sig"][2:]
    damaged.write_text(json.dumps(sig))
    status = cli("sign-event", "status", repo, "ev", "--json")
    report = json.loads(status.stdout)
    assert report["rejected"] == {str(damaged): "signature does not verify"}
    assert report["complete"] is True
    finished = cli("sign-event", "finish", repo, "ev")
    assert finished.exit_code == 0, finished.output
    assert f"Note: {damaged} did not count: signature does not verify" in finished.stderr
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    assert cli("publish", repo, tmp_path / "out").exit_code == 0
