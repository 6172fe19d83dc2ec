"""Hardware keys through PKCS#11: a real SoftHSM2 token, made and removed by each test.

The token is created with ``softhsm2-util --init-token`` in a temp token directory
(SOFTHSM2_CONF), the EC key pairs with PKCS#11 C_GenerateKeyPair (python-pkcs11), as
docs/key-management.md shows. Skipped only when softhsm2 is not installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Targets

from tests.signer.keys.conftest import (
    PASSWORD_ENV,
    PIN_ENV,
    Cli,
    SoftHsmToken,
    key_list,
    keyids,
    make_image,
    ngclient,
    tree_bytes,
)


def _uri(token: SoftHsmToken, hsm_keyid: int) -> str:
    return f"hsm:{hsm_keyid}?label={token.label}"


@pytest.fixture
def hsm_targets_repo(cli: Cli, repo: Path, softhsm: SoftHsmToken) -> Path:
    """targets' key rotated to key 1 (P-256) on the SoftHSM2 token."""
    softhsm.generate_ec_key(1)
    old = keyids(repo, "targets")[0]
    result = cli("key", "rotate", repo, "targets", old, "--uri", _uri(softhsm, 1),
                 "--pin-env", PIN_ENV, "--password-env", PASSWORD_ENV)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "targets v2: signed" in result.output
    return repo


def test_hsm_key_signs_and_device_accepts(
    cli: Cli, hsm_targets_repo: Path, softhsm: SoftHsmToken, tmp_path: Path
) -> None:
    repo = hsm_targets_repo
    (info,) = [k for k in key_list(cli, repo) if k["role"] == "targets"]
    assert info["signer_uri"] == _uri(softhsm, 1)
    assert info["scheme"] == "ecdsa-sha2-nistp256"
    image = make_image(tmp_path / "fw.bin")
    assert cli("add", repo, image, "--hardware-id", "b", "--version", "1.0.0").exit_code == 0
    signed = cli("sign", repo, "--password-env", PASSWORD_ENV, "--pin-env", PIN_ENV)
    assert signed.exit_code == 0, signed.output
    targets = Metadata[Targets].from_file(str(repo / "metadata" / "targets.json"))
    assert list(targets.signatures) == [info["keyid"]]
    out = tmp_path / "out"
    assert cli("publish", repo, out).exit_code == 0
    client = ngclient(out, tmp_path / "device")
    client.refresh()
    assert client.get_targetinfo("b/1.0.0/fw.bin") is not None


def test_wrong_pin_changes_nothing(
    cli: Cli,
    hsm_targets_repo: Path,
    softhsm: SoftHsmToken,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = hsm_targets_repo
    image = make_image(tmp_path / "fw.bin")
    assert cli("add", repo, image, "--hardware-id", "b", "--version", "1.0.0").exit_code == 0
    monkeypatch.setenv("WRONG_PIN", "99999999" if softhsm.pin != "99999999" else "11111111")
    before = tree_bytes(repo)
    result = cli("sign", repo, "--password-env", PASSWORD_ENV, "--pin-env", "WRONG_PIN")
    assert result.exit_code == 5
    assert (
        f"wrong PIN for key {keyids(repo, 'targets')[0][:8]} ({_uri(softhsm, 1)})" in result.stderr
    )
    assert len(result.stderr.strip().splitlines()) == 1
    assert tree_bytes(repo) == before


def test_absent_token_changes_nothing(
    cli: Cli, hsm_targets_repo: Path, softhsm: SoftHsmToken, tmp_path: Path
) -> None:
    repo = hsm_targets_repo
    image = make_image(tmp_path / "fw.bin")
    assert cli("add", repo, image, "--hardware-id", "b", "--version", "1.0.0").exit_code == 0
    softhsm.unplug()
    before = tree_bytes(repo)
    result = cli("sign", repo, "--password-env", PASSWORD_ENV, "--pin-env", PIN_ENV)
    assert result.exit_code == 5
    assert "HSM token of key" in result.stderr and "is absent" in result.stderr
    assert tree_bytes(repo) == before
    added = cli("key", "add", repo, "snapshot", "--uri", _uri(softhsm, 1), "--pin-env", PIN_ENV,
                "--password-env", PASSWORD_ENV)  # fmt: skip
    assert added.exit_code == 5
    assert "is absent" in added.stderr
    assert tree_bytes(repo) == before


def test_missing_key_on_token(cli: Cli, repo: Path, softhsm: SoftHsmToken) -> None:
    before = tree_bytes(repo)
    result = cli("key", "add", repo, "targets", "--uri", _uri(softhsm, 7), "--pin-env", PIN_ENV,
                 "--password-env", PASSWORD_ENV)  # fmt: skip
    assert result.exit_code == 5
    assert "could not find ECDSA key" in result.stderr
    assert tree_bytes(repo) == before


def test_root_key_on_hsm_in_a_signing_event(
    cli: Cli, repo: Path, softhsm: SoftHsmToken, tmp_path: Path
) -> None:
    """Root gets a P-384 HSM key (threshold 2); the file key holder signs elsewhere."""
    softhsm.generate_ec_key(2, curve="secp384r1")
    holder = tmp_path / "holder"
    holder.mkdir()
    file_key = next((repo / "keys").glob("root-*.pem"))
    file_key.rename(holder / "root.pem")
    added = cli("key", "add", repo, "root", "--uri", _uri(softhsm, 2), "--threshold", "2",
                "--pin-env", PIN_ENV, "--password-env", PASSWORD_ENV, "--json")  # fmt: skip
    assert added.exit_code == 0, added.output
    change = json.loads(added.stdout)
    assert change["added"][0]["scheme"] == "ecdsa-sha2-nistp384"
    assert "root" in change["incomplete"]  # the HSM signed; the old root's key has not
    assert cli("sign-event", "start", repo, "hsm-root").exit_code == 0
    again = cli("sign-event", "sign", repo, "hsm-root", "--uri", _uri(softhsm, 2),
                "--pin-env", PIN_ENV)  # fmt: skip
    assert again.exit_code == 0 and "already signed" in again.output
    by_file = cli("sign-event", "sign", repo, "hsm-root", "--key-file", holder / "root.pem",
                  "--password-env", PASSWORD_ENV)  # fmt: skip
    assert by_file.exit_code == 0, by_file.output
    assert "Complete" in by_file.output
    assert cli("sign-event", "finish", repo, "hsm-root").exit_code == 0
    out = tmp_path / "out"
    assert cli("publish", repo, out).exit_code == 0
    ngclient(out, tmp_path / "device").refresh()


def test_hsm_signs_in_a_signing_event_and_wrong_pin_there(
    cli: Cli, repo: Path, softhsm: SoftHsmToken, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    softhsm.generate_ec_key(3)
    holder = tmp_path / "holder"
    holder.mkdir()
    next((repo / "keys").glob("targets-*.pem")).rename(holder / "targets.pem")
    added = cli("key", "add", repo, "targets", "--uri", _uri(softhsm, 3), "--threshold", "2",
                "--pin-env", PIN_ENV, "--password-env", PASSWORD_ENV)  # fmt: skip
    assert added.exit_code == 0, added.output
    image = make_image(tmp_path / "fw.bin")
    assert cli("add", repo, image, "--hardware-id", "b", "--version", "2.0.0").exit_code == 0
    assert cli("sign-event", "start", repo, "release").exit_code == 0
    monkeypatch.setenv("WRONG_PIN", "99999999" if softhsm.pin != "99999999" else "11111111")
    before = tree_bytes(repo)
    wrong = cli("sign-event", "sign", repo, "release", "--uri", _uri(softhsm, 3),
                "--pin-env", "WRONG_PIN")  # fmt: skip
    assert wrong.exit_code == 5 and "wrong PIN" in wrong.stderr
    assert tree_bytes(repo) == before
    ok = cli("sign-event", "sign", repo, "release", "--uri", _uri(softhsm, 3), "--pin-env", PIN_ENV)
    assert ok.exit_code == 0, ok.output
    assert "needs 1 more" in ok.output
    done = cli("sign-event", "sign", repo, "release", "--key-file", holder / "targets.pem",
               "--password-env", PASSWORD_ENV)  # fmt: skip
    assert done.exit_code == 0 and "Complete" in done.output
    assert cli("sign-event", "finish", repo, "release").exit_code == 0
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    out = tmp_path / "out"
    assert cli("publish", repo, out).exit_code == 0
    client = ngclient(out, tmp_path / "device")
    client.refresh()
    assert client.get_targetinfo("b/2.0.0/fw.bin") is not None
