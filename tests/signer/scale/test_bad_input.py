"""Bad delegation input: one-line error, documented exit code, repository unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.signer.scale.conftest import PASSWORD_ENV, Cli, tree_bytes

PW = ("--password-env", PASSWORD_ENV)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ("delegate", "{repo}", "a", "--paths", "a/*", "--threshold", "2"),
            3,
            "threshold must be between 1 and the role's 1 key(s), got 2",
        ),
        (
            ("delegate", "{repo}", "a", "--paths", "a/*", "--threshold", "0"),
            3,
            "threshold must be between 1",
        ),
        (("delegate", "{repo}", "a", "--paths", "../a/*"), 3, "escapes"),
        (("delegate", "{repo}", "a", "--paths", "a/../../b"), 3, "escapes"),
        (("delegate", "{repo}", "a", "--paths", "/etc/*"), 3, "must be relative"),
        (("delegate", "{repo}", "a", "--paths", "a\\b"), 3, "backslash"),
        (("delegate", "{repo}", "a", "--paths", "a//b"), 3, "empty"),
        (("delegate", "{repo}", "targets", "--paths", "a/*"), 3, "is a top-level role"),
        (("delegate", "{repo}", "a/b", "--paths", "a/*"), 3, "role name 'a/b'"),
        (("delegate", "{repo}", "..", "--paths", "a/*"), 3, "role name '..'"),
        (
            ("delegate", "{repo}", "a", "--paths", "a/*", "--parent", "nope"),
            3,
            "unknown parent role 'nope'",
        ),
        (("delegate", "{repo}", "a", "--paths", "a/*", "--keys", "-1"), 3, "negative"),
        (("bins", "{repo}", "3"), 3, "power of two between 2 and 65536, got 3"),
        (("bins", "{repo}", "1"), 3, "got 1"),
        (("bins", "{repo}", "0"), 3, "got 0"),
        (("bins", "{repo}", "131072"), 3, "got 131072"),
        (("bins", "{repo}", "4", "--threshold", "3"), 3, "threshold must be between"),
        (("bins", "{repo}", "4", "--role", "nope"), 3, "unknown parent role"),
    ],
)
def test_bad_delegation_input(
    cli: Cli, repo: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    before = tree_bytes(repo)
    r = cli(*[a.replace("{repo}", str(repo)) for a in args], *PW)
    assert r.exit_code == code, r.output
    assert message in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert "Traceback" not in r.output
    assert tree_bytes(repo) == before


def test_overlapping_role_names(cli: Cli, repo: Path) -> None:
    assert cli("delegate", repo, "team", "--paths", "team/*", *PW).exit_code == 0
    before = tree_bytes(repo)
    r = cli("delegate", repo, "team", "--paths", "other/*", *PW)
    assert r.exit_code == 7
    assert "a role named 'team' already exists" in r.output
    # a role whose name a bin of `team` would take
    r = cli("delegate", repo, "team-bins-1", "--paths", "x/*", *PW)
    assert r.exit_code == 0, r.output
    before = tree_bytes(repo)
    r = cli("bins", repo, "4", "--role", "team", *PW)
    assert r.exit_code == 7
    assert "role 'team-bins-1' is named like a bin of team" in r.output
    assert tree_bytes(repo) == before
    # targets already has path delegations: no bins next to them
    r = cli("bins", repo, "4", *PW)
    assert r.exit_code == 7
    assert "targets already delegates to other roles" in r.output
    assert tree_bytes(repo) == before


def test_no_path_delegation_from_a_role_with_bins(cli: Cli, repo: Path) -> None:
    assert cli("bins", repo, "4", *PW).exit_code == 0
    before = tree_bytes(repo)
    r = cli("delegate", repo, "team", "--paths", "team/*", *PW)
    assert r.exit_code == 7
    assert "targets delegates to hash bins" in r.output
    r = cli("delegate", repo, "bins-2", "--paths", "team/*", *PW)
    assert r.exit_code == 7
    assert "a role named 'bins-2' already exists" in r.output
    r = cli("delegate", repo, "team", "--paths", "team/*", "--parent", "bins-1", *PW)
    assert r.exit_code == 7
    assert "bins-1 is a hash bin" in r.output
    r = cli("bins", repo, "8", *PW)
    assert r.exit_code == 7
    assert "targets already delegates to hash bins" in r.output
    assert tree_bytes(repo) == before


def test_missing_password_for_new_keys(cli: Cli, repo: Path) -> None:
    before = tree_bytes(repo)
    r = cli("delegate", repo, "a", "--paths", "a/*", "--password-env", "FIRMTUF_UNSET_VAR")
    assert r.exit_code == 5
    assert "FIRMTUF_UNSET_VAR is not set" in r.output
    assert tree_bytes(repo) == before


def test_unreadable_public_key(cli: Cli, repo: Path, tmp_path: Path) -> None:
    before = tree_bytes(repo)
    r = cli("delegate", repo, "a", "--paths", "a/*", "--signer", "file:x", tmp_path / "no.pem")
    assert r.exit_code == 3
    assert "cannot read public key" in r.output
    assert tree_bytes(repo) == before
