"""``--pin-env`` on `firmtuf init` and `firmtuf refresh`: the HSM PIN comes from the named
variable, never from a prompt (the CLI runner's standard input is closed, so a prompt
would fail with exit 5), on a real SoftHSM2 token.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Timestamp

from signer._signers import import_hsm_key
from tests.signer.keys.conftest import (
    PASSWORD_ENV,
    PIN_ENV,
    Cli,
    SoftHsmToken,
    firmtuf_client,
    keyids,
    tree_bytes,
)


def _uri(token: SoftHsmToken, hsm_keyid: int) -> str:
    return f"hsm:{hsm_keyid}?label={token.label}"


def _timestamp(repo: Path) -> Metadata[Timestamp]:
    return Metadata[Timestamp].from_file(str(repo / "metadata" / "timestamp.json"))


@pytest.fixture
def hsm_public_pem(softhsm: SoftHsmToken, tmp_path: Path) -> Path:
    """Key 1 (P-256) made on the token; its public key as a PEM file for ``--signer``."""
    softhsm.generate_ec_key(1)
    _uri_read, key = import_hsm_key(_uri(softhsm, 1), lambda _secret: softhsm.pin)
    pem = tmp_path / "hsm-1.pub.pem"
    pem.write_text(key.keyval["public"])
    return pem


@pytest.mark.usefixtures("password")
def test_init_signs_with_an_hsm_key_whose_pin_is_in_a_variable(
    cli: Cli, softhsm: SoftHsmToken, hsm_public_pem: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    result = cli("init", repo, "--signer", "timestamp", _uri(softhsm, 1), hsm_public_pem,
                 "--pin-env", PIN_ENV, "--password-env", PASSWORD_ENV)  # fmt: skip
    assert result.exit_code == 0, result.output
    (hsm_keyid,) = keyids(repo, "timestamp")
    assert list(_timestamp(repo).signatures) == [hsm_keyid]
    out = tmp_path / "out"
    assert cli("publish", repo, out).exit_code == 0
    firmtuf_client(out, tmp_path / "device").refresh()  # the device accepts the HSM's signature


@pytest.mark.usefixtures("password")
def test_init_with_a_wrong_pin_in_the_variable_writes_nothing(
    cli: Cli,
    softhsm: SoftHsmToken,
    hsm_public_pem: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WRONG_PIN", "99999999" if softhsm.pin != "99999999" else "11111111")
    parent = tmp_path / "work"
    parent.mkdir()
    signer = ("--signer", "timestamp", _uri(softhsm, 1), hsm_public_pem)
    result = cli("init", parent / "repo", *signer, "--pin-env", "WRONG_PIN",
                 "--password-env", PASSWORD_ENV)  # fmt: skip
    assert result.exit_code == 5, result.output
    assert "wrong PIN" in result.stderr
    assert list(parent.iterdir()) == []  # no repository, no staging directory left behind


@pytest.fixture
def hsm_timestamp_repo(cli: Cli, repo: Path, softhsm: SoftHsmToken) -> Path:
    """A repository whose timestamp key is key 1 on the token."""
    softhsm.generate_ec_key(1)
    old = keyids(repo, "timestamp")[0]
    result = cli("key", "rotate", repo, "timestamp", old, "--uri", _uri(softhsm, 1),
                 "--pin-env", PIN_ENV, "--password-env", PASSWORD_ENV)  # fmt: skip
    assert result.exit_code == 0, result.output
    return repo


def test_refresh_renews_timestamp_with_the_pin_from_a_variable(
    cli: Cli, hsm_timestamp_repo: Path
) -> None:
    repo = hsm_timestamp_repo
    before = _timestamp(repo).signed.version
    result = cli("refresh", repo, "--force", "--pin-env", PIN_ENV, "--password-env", PASSWORD_ENV)
    assert result.exit_code == 0, result.output
    renewed = _timestamp(repo)
    assert renewed.signed.version == before + 1
    assert list(renewed.signatures) == keyids(repo, "timestamp")


def test_refresh_with_the_pin_variable_unset_changes_nothing(
    cli: Cli, hsm_timestamp_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = hsm_timestamp_repo
    monkeypatch.delenv("FIRMTUF_UNSET_PIN", raising=False)
    before = tree_bytes(repo)
    result = cli("refresh", repo, "--force", "--pin-env", "FIRMTUF_UNSET_PIN",
                 "--password-env", PASSWORD_ENV)  # fmt: skip
    assert result.exit_code == 5, result.output
    assert "FIRMTUF_UNSET_PIN is not set" in result.stderr
    assert tree_bytes(repo) == before
