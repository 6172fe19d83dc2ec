"""`firmtuf support set|list|remove` and the support periods `status` reports (ADR 0009)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from signer import FirmwareRepository
from signer._firmware import SupportDeclaration
from signer._lock import LOCK_FILE
from signer._status import repository_status
from signer._support import list_support, set_support
from tests.signer.conftest import PASSWORD_ENV, Cli, make_image, tree_bytes

PW = ("--password-env", PASSWORD_ENV)
NAME = "board-a/support/period.json"


def _targets(repo: Path, role: str = "targets") -> dict[str, Any]:
    data = json.loads((repo / "metadata" / f"{role}.json").read_bytes())
    return data["signed"]["targets"]  # type: ignore[no-any-return]


def _days(n: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=n)).isoformat()


def test_set_declares_a_signed_target(cli: Cli, signed_repo: Path) -> None:
    result = cli("support", "set", signed_repo, "board-a", "--until", "2031-12-31",
                 "--url", "https://acme.example/support")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Declared support for board-a until 2031-12-31 in targets" in result.stdout
    assert "Next: firmtuf sign" in result.stdout
    entry = _targets(signed_repo)[NAME]
    declared = entry["custom"]["firmtuf_support"]
    assert declared["hardware_id"] == "board-a"
    assert declared["support_until"] == "2031-12-31"
    assert declared["url"] == "https://acme.example/support"
    assert "history" not in declared
    assert "firmtuf" not in entry["custom"]  # not firmware: check() never offers it
    # The content is the declaration itself, for TUF clients that know nothing of firmtuf.
    stored = signed_repo / "targets" / f"{entry['hashes']['sha256']}.period.json"
    assert json.loads(stored.read_bytes()) == declared
    assert len(stored.read_bytes()) == entry["length"]
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == entry["hashes"]["sha256"]

    assert cli("sign", signed_repo, *PW).exit_code == 0
    listed = cli("support", "list", signed_repo, "--json")
    assert listed.exit_code == 0
    [item] = json.loads(listed.stdout)
    assert item["support_until"] == "2031-12-31"
    assert item["ends_at"] == "2032-01-01T00:00:00Z"
    assert item["role"] == "targets" and item["signed"] is True
    assert item["shortened_from"] is None
    text = cli("support", "list", signed_repo)
    assert "board-a: until 2031-12-31  https://acme.example/support  (targets)" in text.stdout


def test_extend_keeps_history_and_url(cli: Cli, signed_repo: Path) -> None:
    first = cli("support", "set", signed_repo, "board-a", "--until", "2030-06-30",
                "--url", "https://acme.example/p")  # fmt: skip
    assert first.exit_code == 0
    again = cli("support", "set", signed_repo, "board-a", "--until", "2030-06-30")
    assert again.exit_code == 0 and "Unchanged" in again.stdout
    extended = cli("support", "set", signed_repo, "board-a", "--until", "2032-01-31", "--json")
    assert extended.exit_code == 0
    change = json.loads(extended.stdout)
    assert change["change"] == "extended" and change["previous_until"] == "2030-06-30"
    assert change["url"] == "https://acme.example/p"  # kept
    assert [h["support_until"] for h in change["history"]] == ["2030-06-30"]
    listed = cli("support", "list", signed_repo)
    assert "earlier: until 2030-06-30" in listed.stdout
    assert "SHORTENED" not in listed.stdout


def test_shortening_needs_the_option_and_shows(cli: Cli, signed_repo: Path) -> None:
    assert cli("support", "set", signed_repo, "board-a", "--until", _days(400)).exit_code == 0
    assert cli("sign", signed_repo, *PW).exit_code == 0
    before = tree_bytes(signed_repo)
    refused = cli("support", "set", signed_repo, "board-a", "--until", _days(200))
    assert refused.exit_code == 7
    assert "would shorten" in refused.stderr and "--shorten" in refused.stderr
    assert tree_bytes(signed_repo) == before

    done = cli("support", "set", signed_repo, "board-a", "--until", _days(200), "--shorten")
    assert done.exit_code == 0 and "SHORTENED" in done.stdout
    assert cli("sign", signed_repo, *PW).exit_code == 0
    status = cli("status", signed_repo, "--no-images")
    assert status.exit_code == 0, status.output  # 200 days away: not ending soon
    assert f"SHORTENED from {_days(400)}" in status.stdout
    report = json.loads(cli("status", signed_repo, "--no-images", "--json").stdout)
    [item] = report["support"]
    assert item["shortened_from"] == _days(400) and item["support_until"] == _days(200)
    # The declaration's own history is the signed changelog of the period.
    declared = _targets(signed_repo)[NAME]["custom"]["firmtuf_support"]
    assert [h["support_until"] for h in declared["history"]] == [_days(400)]
    # Extending again is allowed without the option; the shortening stays in the history.
    assert cli("support", "set", signed_repo, "board-a", "--until", _days(300)).exit_code == 0
    declared = _targets(signed_repo)[NAME]["custom"]["firmtuf_support"]
    assert [h["support_until"] for h in declared["history"]] == [_days(400), _days(200)]


def test_status_warns_within_the_refresh_window(cli: Cli, signed_repo: Path) -> None:
    # targets is valid 91 days by default: its refresh window is half that.
    assert cli("support", "set", signed_repo, "board-a", "--until", _days(60)).exit_code == 0
    assert cli("sign", signed_repo, *PW).exit_code == 0
    calm = cli("status", signed_repo, "--no-images")
    assert calm.exit_code == 0, calm.output
    wide = cli("status", signed_repo, "--no-images", "--warn", "90d")
    assert wide.exit_code == 10
    assert "support for 'board-a' ends after" in wide.stdout
    assert "support for 'board-a'" in wide.stderr  # the one-line reason

    assert cli("support", "set", signed_repo, "board-a", "--until", _days(20),
               "--shorten").exit_code == 0  # fmt: skip
    assert cli("sign", signed_repo, *PW).exit_code == 0
    soon = cli("status", signed_repo, "--no-images", "--json")
    assert soon.exit_code == 10
    report = json.loads(soon.stdout)
    targets = next(r for r in report["roles"] if r["role"] == "targets")
    assert any("in 20 days" in w for w in targets["warnings"])


def test_ended_support_is_listed_not_a_warning(cli: Cli, signed_repo: Path) -> None:
    result = cli("support", "set", signed_repo, "board-a", "--until", "2020-01-31")
    assert result.exit_code == 0
    assert "is past: devices show support as ended" in result.stderr
    assert cli("sign", signed_repo, *PW).exit_code == 0
    status = cli("status", signed_repo, "--no-images")
    assert status.exit_code == 0, status.output
    assert "board-a: ENDED 2020-01-31" in status.stdout


BAD = [
    (["--until", "2031-13-01"], "not a calendar date"),
    (["--until", "20311231"], "YYYY-MM-DD"),
    (["--until", "tomorrow"], "YYYY-MM-DD"),
    (["--until", "2031-12-31", "--url", "ftp://acme.example/p"], "not an http(s) URL"),
    (["--until", "2031-12-31", "--url", "javascript:alert(1)"], "not an http(s) URL"),
    (["--until", "2031-12-31", "--url", "https://a.example/x y"], "whitespace"),
    (["--until", "2031-12-31", "--url", "https://a.example/\u202e"], "format characters"),
    (["--until", "2031-12-31", "--url", "https://a.example/" + "x" * 2048], "longer than"),
    (["--until", "2031-12-31", "--role", "nosuchrole"], "unknown role"),
]


@pytest.mark.parametrize(("extra", "why"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_values_are_refused(cli: Cli, signed_repo: Path, extra: list[str], why: str) -> None:
    before = tree_bytes(signed_repo)
    result = cli("support", "set", signed_repo, "board-a", *extra)
    assert result.exit_code == 3, result.output
    assert why in result.stderr
    assert tree_bytes(signed_repo) == before


@pytest.mark.parametrize("hwid", ["acme gw", " gw", "gw\x00", ""])
def test_bad_hardware_ids_are_refused(cli: Cli, signed_repo: Path, hwid: str) -> None:
    result = cli("support", "set", signed_repo, hwid, "--until", "2031-12-31")
    assert result.exit_code == 3, result.output
    assert "hardware id" in result.stderr


def test_the_name_of_a_declaration_taken_by_firmware(
    cli: Cli, signed_repo: Path, tmp_path: Path
) -> None:
    image = make_image(tmp_path / "x.bin")
    r = cli("add", signed_repo, image, "--hardware-id", "board-a", "--version", "2.0.0",
            "--name", NAME)  # fmt: skip
    assert r.exit_code == 0
    result = cli("support", "set", signed_repo, "board-a", "--until", "2031-12-31")
    assert result.exit_code == 7 and "not a support declaration" in result.stderr


def test_remove_and_withdraw(cli: Cli, signed_repo: Path) -> None:
    assert cli("support", "set", signed_repo, "board-a", "--until", "2031-12-31").exit_code == 0
    plain = cli("remove", signed_repo, NAME)
    assert plain.exit_code == 7 and "firmtuf support remove" in plain.stderr
    unconfirmed = cli("support", "remove", signed_repo, "board-a")
    assert unconfirmed.exit_code == 3 and "--withdraw" in unconfirmed.stderr
    assert NAME in _targets(signed_repo)
    done = cli("support", "remove", signed_repo, "board-a", "--withdraw")
    assert done.exit_code == 0 and "was until 2031-12-31" in done.stdout
    assert NAME not in _targets(signed_repo)
    none = cli("support", "remove", signed_repo, "board-a", "--withdraw")
    assert none.exit_code == 7 and "no support declaration" in none.stderr
    assert "No support period declared" in cli("support", "list", signed_repo).stdout


def test_declaration_follows_the_role_responsible_for_the_hardware(
    cli: Cli, signed_repo: Path
) -> None:
    r = cli("delegate", signed_repo, "team-b", "--paths", "board-b/*/*", *PW)
    assert r.exit_code == 0, r.output
    assert cli("sign", signed_repo, *PW).exit_code == 0
    declared = cli("support", "set", signed_repo, "board-b", "--until", "2031-12-31", "--json")
    assert declared.exit_code == 0, declared.output
    assert json.loads(declared.stdout)["role"] == "team-b"
    assert "board-b/support/period.json" in _targets(signed_repo, "team-b")
    assert "board-b/support/period.json" not in _targets(signed_repo)
    # --role must be a role a device's search reaches for the name.
    other = cli("delegate", signed_repo, "team-c", "--paths", "board-c/*/*", *PW)
    assert other.exit_code == 0
    wrong = cli("support", "set", signed_repo, "board-b", "--until", "2032-12-31",
                "--role", "team-c")  # fmt: skip
    assert wrong.exit_code == 7 and "in role team-b" in wrong.stderr
    fresh = cli("support", "set", signed_repo, "board-d", "--until", "2031-12-31",
                "--role", "team-c")  # fmt: skip
    assert fresh.exit_code == 3 and "not delegated" in fresh.stderr
    assert cli("sign", signed_repo, *PW).exit_code == 0
    assert cli("status", signed_repo).exit_code == 0
    [item] = json.loads(cli("support", "list", signed_repo, "--json").stdout)
    assert (item["hardware_id"], item["role"], item["signed"]) == ("board-b", "team-b", True)


def test_declaration_is_refused_where_the_delegation_may_not_ship(
    cli: Cli, signed_repo: Path
) -> None:
    """A broad product role bound to its own hardware cannot declare another's support."""
    r = cli("delegate", signed_repo, "team-b", "--paths", "*/support/*",
            "--hardware-id", "board-b*", *PW)  # fmt: skip
    assert r.exit_code == 0, r.output
    before = tree_bytes(signed_repo)
    wrong = cli("support", "set", signed_repo, "board-a", "--until", "2031-12-31")
    assert wrong.exit_code == 3, wrong.output
    assert "'team-b' may only ship to board-b*" in wrong.stderr
    assert tree_bytes(signed_repo) == before
    right = cli("support", "set", signed_repo, "board-b2", "--until", "2031-12-31", "--json")
    assert right.exit_code == 0, right.output
    assert json.loads(right.stdout)["role"] == "team-b"


def test_hand_edited_declaration_is_refused(cli: Cli, signed_repo: Path) -> None:
    """Editing a signed declaration without the key: the repository refuses to load it."""
    assert cli("support", "set", signed_repo, "board-a", "--until", "2027-01-31").exit_code == 0
    assert cli("sign", signed_repo, *PW).exit_code == 0
    path = signed_repo / "metadata" / "targets.json"
    md = json.loads(path.read_bytes())
    md["signed"]["targets"][NAME]["custom"]["firmtuf_support"]["support_until"] = "2040-01-31"
    path.write_text(json.dumps(md, indent=1))
    for args in (("support", "list", signed_repo), ("status", signed_repo)):
        result = cli(*args)
        assert result.exit_code == 6, result.output
        assert "edited by hand" in result.stderr


def test_malformed_declaration_is_never_signed(cli: Cli, signed_repo: Path) -> None:
    assert cli("support", "set", signed_repo, "board-a", "--until", "2031-12-31").exit_code == 0
    path = signed_repo / "metadata" / "targets.json"
    md = json.loads(path.read_bytes())
    md["signed"]["targets"][NAME]["custom"]["firmtuf_support"]["hardware_id"] = "board-z"
    path.write_text(json.dumps(md, indent=1))
    result = cli("sign", signed_repo, *PW)
    assert result.exit_code == 6 and "not the one its name declares for" in result.stderr
    status = cli("status", signed_repo, "--no-images")
    assert status.exit_code == 10 and "malformed custom.firmtuf_support" in status.stdout
    assert cli("support", "list", signed_repo).exit_code == 6


def test_library_api(signed_repo: Path) -> None:
    repo = FirmwareRepository(signed_repo)
    at = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    change = set_support(repo, "board-a", date(2030, 12, 31), now=at)
    assert change.kind == "declared" and change.info.role == "targets"
    later = set_support(FirmwareRepository(signed_repo), "board-a", date(2029, 1, 31),
                        shorten=True, now=at + timedelta(days=1))  # fmt: skip
    assert later.kind == "shortened"
    [item] = list_support(FirmwareRepository(signed_repo))
    assert item.declaration.shortened_from == date(2030, 12, 31)
    assert item.declaration.ends_at == datetime(2029, 2, 1, tzinfo=UTC)
    info = FirmwareRepository(signed_repo).metadata("targets").signed.targets[NAME]
    parsed = SupportDeclaration.from_target(NAME, info)
    assert parsed == item.declaration
    assert parsed is not None and parsed.history[0].declared == at
    report = repository_status(
        FirmwareRepository(signed_repo), now=datetime(2029, 1, 1, tzinfo=UTC)
    )
    targets = next(r for r in report.roles if r.role == "targets")
    assert any("in 31 days" in w for w in targets.warnings)


def test_support_commands_take_the_lock(cli: Cli, signed_repo: Path) -> None:
    import fcntl

    with open(signed_repo / LOCK_FILE, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        busy = cli("--lock-wait", "0", "support", "set", signed_repo, "board-a",
                   "--until", "2031-12-31")  # fmt: skip
        assert busy.exit_code == 7
        reading = cli("--lock-wait", "0", "support", "list", signed_repo)
        assert reading.exit_code == 7
    assert NAME not in _targets(signed_repo)
