"""CI keys from environment variables: `envvar:NAME` signer URIs."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from tests.signer.keys.conftest import (
    PASSWORD_ENV,
    Cli,
    key_list,
    keyids,
    make_image,
    ngclient,
    tree_bytes,
)

CI_VAR = "FIRMTUF_TEST_CI_TIMESTAMP_KEY"


def _pem(private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


@pytest.fixture
def ci_key() -> str:
    return _pem(ec.generate_private_key(ec.SECP384R1()))


@pytest.fixture
def ci_repo(cli: Cli, repo: Path, ci_key: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The timestamp key rotated to a key that lives in $FIRMTUF_TEST_CI_TIMESTAMP_KEY."""
    monkeypatch.setenv(CI_VAR, ci_key)
    old = keyids(repo, "timestamp")[0]
    result = cli("key", "rotate", repo, "timestamp", old, "--uri", f"envvar:{CI_VAR}",
                 "--password-env", PASSWORD_ENV)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"envvar:{CI_VAR}" in result.output
    assert "timestamp v2: signed" in result.output
    return repo


def test_ci_key_signs_timestamp(
    cli: Cli, ci_repo: Path, ci_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = [k for k in key_list(cli, ci_repo) if k["role"] == "timestamp"]
    assert [k["signer_uri"] for k in info] == [f"envvar:{CI_VAR}"]
    assert info[0]["scheme"] == "ecdsa-sha2-nistp384"
    image = make_image(tmp_path / "fw.bin")
    assert cli("add", ci_repo, image, "--hardware-id", "b", "--version", "1.0.0").exit_code == 0

    # A laptop without the CI secret signs targets and snapshot; timestamp waits.
    monkeypatch.delenv(CI_VAR)
    laptop = cli("sign", ci_repo, "--password-env", PASSWORD_ENV)
    assert laptop.exit_code == 0, laptop.output
    assert f"environment variable {CI_VAR} is not set" in laptop.output
    assert cli("publish", ci_repo, tmp_path / "out").exit_code == 8

    # The CI job has it.
    monkeypatch.setenv(CI_VAR, ci_key)
    ci = cli("sign", ci_repo, "--password-env", PASSWORD_ENV)
    assert ci.exit_code == 0, ci.output
    assert "Signed timestamp" in ci.output
    out = tmp_path / "out"
    assert cli("publish", ci_repo, out).exit_code == 0
    client = ngclient(out, tmp_path / "device")
    client.refresh()
    assert client.get_targetinfo("b/1.0.0/fw.bin") is not None


def test_variable_holding_another_key(
    cli: Cli, ci_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CI_VAR, _pem(ec.generate_private_key(ec.SECP384R1())))
    before = tree_bytes(ci_repo)
    result = cli("sign", ci_repo, "timestamp", "--password-env", PASSWORD_ENV)
    assert result.exit_code == 5
    assert f"environment variable {CI_VAR} holds another key" in result.stderr
    assert tree_bytes(ci_repo) == before


def test_variable_not_holding_a_key(
    cli: Cli, ci_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CI_VAR, "hunter2")
    before = tree_bytes(ci_repo)
    result = cli("sign", ci_repo, "timestamp", "--password-env", PASSWORD_ENV)
    assert result.exit_code == 5
    assert "does not hold an unencrypted PEM private key" in result.stderr
    assert tree_bytes(ci_repo) == before


def test_ci_key_signs_in_a_signing_event_by_uri(
    cli: Cli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """targets threshold 2: the file key and a CI key; the CI job signs with --uri."""
    monkeypatch.setenv("CI_TARGETS_KEY", _pem(ed25519.Ed25519PrivateKey.generate()))
    added = cli("key", "add", repo, "targets", "--uri", "envvar:CI_TARGETS_KEY",
                "--threshold", "2", "--password-env", PASSWORD_ENV)  # fmt: skip
    assert added.exit_code == 0, added.output
    image = make_image(tmp_path / "fw.bin")
    assert cli("add", repo, image, "--hardware-id", "b", "--version", "3.0.0").exit_code == 0
    assert cli("sign-event", "start", repo, "release").exit_code == 0
    ci = cli("sign-event", "sign", repo, "release", "--uri", "envvar:CI_TARGETS_KEY")
    assert ci.exit_code == 0, ci.output
    assert "needs 1 more" in ci.output
    assert cli("sign-event", "finish", repo, "release").exit_code == 11
    laptop = cli("sign-event", "sign", repo, "release", "--password-env", PASSWORD_ENV)
    assert laptop.exit_code == 0 and "Complete" in laptop.output
    assert cli("sign-event", "finish", repo, "release").exit_code == 0
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    assert cli("publish", repo, tmp_path / "out").exit_code == 0
