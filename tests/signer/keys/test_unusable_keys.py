"""Keys a backend can never sign with (issue 11): `init` and `key add` accepted an `hsm:`
signer URI for an Ed25519 key; afterwards `key rotate`, `key remove` and `key add` of
root all failed ("unsupported scheme ed25519"), so root could never change.

Now such a combination is refused at registration (exit 3), and a repository that
already holds one (made by an older firmtuf) can still remove or rotate it: a key that
cannot sign is skipped with a note when the threshold is met without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner

import signer._keys
from signer import ExternalKey, init_repository
from tests.signer.conftest import public_pem
from tests.signer.keys.conftest import PASSWORD_ENV, PIN_ENV, Cli, keyids, tree_bytes


def _ed25519_pem(path: Path) -> Path:
    key = CryptoSigner.generate_ed25519()
    path.write_bytes(public_pem(key))
    return path


@pytest.mark.parametrize(
    "uri", ["hsm:1?label=yubikey", "awskms:alias/root", "gcpkms:projects/p/k/1", "azurekms:x"]
)
def test_unsupported_combinations_are_refused_at_init(
    cli: Cli, tmp_path: Path, password: str, uri: str
) -> None:
    pub = _ed25519_pem(tmp_path / "ed.pub.pem")
    result = cli(
        "init",
        tmp_path / "repo",
        "--password-env",
        PASSWORD_ENV,
        "--signer",
        "root",
        uri,
        pub,
        "--keys",
        "root=1",
        "--threshold",
        "root=1",
    )
    assert result.exit_code == 3, result.output
    assert "cannot sign with ed25519/ed25519" in result.output
    assert not (tmp_path / "repo").exists()


def test_unsupported_combinations_are_refused_at_key_add(
    cli: Cli, repo: Path, tmp_path: Path
) -> None:
    pub = _ed25519_pem(tmp_path / "ed.pub.pem")
    before = tree_bytes(repo)
    for role in ("root", "targets"):
        result = cli(
            "key",
            "add",
            repo,
            role,
            "--uri",
            "hsm:2?label=yubikey",
            "--public-key",
            pub,
            "--password-env",
            PASSWORD_ENV,
        )
        assert result.exit_code == 3, result.output
        assert "hsm: keys cannot sign with ed25519" in result.output
    delegated = cli(
        "delegate",
        repo,
        "team",
        "--paths",
        "team/*/*",
        "--signer",
        "hsm:3?label=y",
        pub,
        "--password-env",
        PASSWORD_ENV,
    )
    assert delegated.exit_code == 3, delegated.output
    assert tree_bytes(repo) == before
    # an Ed25519 key with a backend that signs Ed25519 (file, envvar, hv) is fine
    ok = cli(
        "key",
        "add",
        repo,
        "targets",
        "--uri",
        "hv:firmtuf-targets/1",
        "--public-key",
        pub,
        "--password-env",
        PASSWORD_ENV,
    )
    assert ok.exit_code == 0, ok.output


@pytest.fixture
def old_repo(tmp_path: Path, password: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Root 2 of 3 by an older firmtuf: two key files and an Ed25519 key under hsm:."""
    stray = CryptoSigner.generate_ed25519().public_key
    path = tmp_path / "repo"
    with monkeypatch.context() as patched:
        patched.setattr(signer._keys, "check_signer_supports", lambda uri, key: None)
        init_repository(
            path,
            password=password,
            keys={"root": 2},
            thresholds={"root": 2},
            external_keys=[ExternalKey("root", "hsm:5?label=gone", stray)],
        )
    return path


def test_a_stored_unusable_key_can_be_removed(cli: Cli, old_repo: Path) -> None:
    root_keys = keyids(old_repo, "root")
    stray = next(
        k["keyid"]
        for k in json.loads(cli("key", "list", old_repo, "--json").stdout)
        if k["signer_uri"] == "hsm:5?label=gone"
    )
    assert stray in root_keys
    removed = cli(
        "key",
        "remove",
        old_repo,
        "root",
        stray[:12],
        "--password-env",
        PASSWORD_ENV,
        "--pin-env",
        PIN_ENV,
    )
    assert removed.exit_code == 0, removed.output
    assert stray not in keyids(old_repo, "root")
    assert "root v2: signed" in removed.output
    assert f"Note: key {stray[:8]} did not sign" in removed.stderr


def test_root_changes_and_other_rotations_work_around_it(
    cli: Cli, old_repo: Path, tmp_path: Path
) -> None:
    old_timestamp = keyids(old_repo, "timestamp")[0]
    rotated = cli(
        "key",
        "rotate",
        old_repo,
        "timestamp",
        old_timestamp[:12],
        "--password-env",
        PASSWORD_ENV,
        "--pin-env",
        PIN_ENV,
    )
    assert rotated.exit_code == 0, rotated.output
    added = cli("key", "add", old_repo, "root", "--password-env", PASSWORD_ENV)
    assert added.exit_code == 0, added.output
    assert cli("sign", old_repo, "--password-env", PASSWORD_ENV).exit_code == 0
    assert cli("publish", old_repo, tmp_path / "out").exit_code == 0
    root = tmp_path / "out" / "metadata" / "1.root.json"
    assert cli("verify", tmp_path / "out", "--root", root).exit_code == 0
