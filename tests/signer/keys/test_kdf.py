"""Key files under a strong, tunable KDF (issue 11: PBKDF2 at 2,048 iterations).

Old firmtuf wrote PKCS#8 with OpenSSL's default PBKDF2 (2,048 iterations of SHA-256): a
copied root key file fell to a password search quickly. New files are OpenSSH keys under
bcrypt-pbkdf (DEFAULT_KDF_ROUNDS, about 0.5 s per unlock); old files are still read, and
`firmtuf key reencrypt` rewrites them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
)

from signer import init_repository
from signer._keyfile import DEFAULT_KDF_ROUNDS, KDF_ROUNDS_ENV, describe, load_private_key
from tests.signer.keys.conftest import PASSWORD_ENV, Cli, make_image, tree_bytes


def key_files(repo: Path) -> list[Path]:
    return sorted((repo / "keys").glob("*.pem"))


def to_old_format(path: Path, password: str) -> None:
    """Rewrite a key file as firmtuf wrote it before: PKCS#8, OpenSSL's default PBKDF2."""
    private = load_private_key(path.read_bytes(), password, str(path))
    old = private.private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(password.encode())
    )
    path.write_bytes(old)
    assert describe(old) is not None and describe(old).name == "pkcs8-pbes2"  # type: ignore[union-attr]


def test_new_key_files_use_bcrypt_at_the_default_cost(
    tmp_path: Path, password: str, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    monkeypatch.delenv(KDF_ROUNDS_ENV)  # the suite runs at 1 round; this is the real default
    repo = tmp_path / "repo"
    init_repository(repo, password=password, keys={"root": 1, "targets": 1})
    files = key_files(repo)
    assert len(files) == 4
    for path in files:
        info = describe(path.read_bytes())
        assert info is not None
        assert (info.name, info.encrypted, info.rounds) == ("openssh-bcrypt", True, 48)
        assert info.strong
        assert path.read_bytes().startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
        assert path.stat().st_mode & 0o777 == 0o600
    assert DEFAULT_KDF_ROUNDS == 48
    cli("add", repo, make_image(tmp_path / "fw.bin"), "--hardware-id", "hw", "--version", "1")
    result = cli("sign", repo, "--password-env", PASSWORD_ENV)
    assert result.exit_code == 0, result.output


def test_rounds_are_tunable(tmp_path: Path, password: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KDF_ROUNDS_ENV, "3")
    repo = tmp_path / "repo"
    init_repository(repo, password=password)
    assert {describe(p.read_bytes()).rounds for p in key_files(repo)} == {3}  # type: ignore[union-attr]


def test_bad_rounds_variable_is_bad_input(
    cli: Cli, tmp_path: Path, password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KDF_ROUNDS_ENV, "lots")
    result = cli("init", tmp_path / "repo", "--password-env", PASSWORD_ENV)
    assert result.exit_code == 3
    assert KDF_ROUNDS_ENV in result.output
    assert not (tmp_path / "repo").exists()


def test_ssh_keygen_reads_the_new_files(tmp_path: Path, password: str) -> None:
    """The format is OpenSSH's own: ssh-keygen (installed by tests/run.sh) opens it."""
    ssh_keygen = shutil.which("ssh-keygen")
    assert ssh_keygen is not None, "tests/run.sh installs openssh-client"
    repo = tmp_path / "repo"
    init_repository(repo, password=password)
    path = key_files(repo)[0]
    out = subprocess.run(
        [ssh_keygen, "-y", "-P", password, "-f", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("ssh-ed25519 ")
    wrong = subprocess.run(
        [ssh_keygen, "-y", "-P", password + "x", "-f", str(path)], capture_output=True
    )
    assert wrong.returncode != 0


def test_old_pkcs8_files_still_sign(tmp_path: Path, password: str, cli: Cli) -> None:
    repo = tmp_path / "repo"
    init_repository(repo, password=password)
    for path in key_files(repo):
        to_old_format(path, password)
    cli("add", repo, make_image(tmp_path / "fw.bin"), "--hardware-id", "hw", "--version", "1")
    result = cli("sign", repo, "--password-env", PASSWORD_ENV)
    assert result.exit_code == 0, result.output
    wrong = cli("sign", repo, "targets", "--password-env", "WRONG_PW")
    assert wrong.exit_code == 5


def test_reencrypt_rewrites_old_files(
    tmp_path: Path, password: str, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    repo = tmp_path / "repo"
    init_repository(repo, password=password)
    for path in key_files(repo):
        to_old_format(path, password)
    before = {p: load_private_key(p.read_bytes(), password, "x") for p in key_files(repo)}
    monkeypatch.setenv(KDF_ROUNDS_ENV, "4")
    result = cli("key", "reencrypt", repo, "--password-env", PASSWORD_ENV, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [r["action"] for r in report] == ["rewritten"] * 4
    assert {r["before"] for r in report} == {"pkcs8-pbes2"}
    assert {r["after"] for r in report} == {"openssh-bcrypt, 4 rounds"}
    for path, old in before.items():
        new = load_private_key(path.read_bytes(), password, "x")
        assert new.private_bytes_raw() == old.private_bytes_raw()
        assert path.stat().st_mode & 0o777 == 0o600
    # nothing to do the second time
    again = cli("key", "reencrypt", repo, "--password-env", PASSWORD_ENV, "--json")
    assert [r["action"] for r in json.loads(again.stdout)] == ["already strong"] * 4
    cli("add", repo, make_image(tmp_path / "fw.bin"), "--hardware-id", "hw", "--version", "1")
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0


def test_reencrypt_with_a_wrong_password_changes_nothing(
    tmp_path: Path, password: str, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    repo = tmp_path / "repo"
    init_repository(repo, password=password)
    paths = key_files(repo)
    to_old_format(paths[0], password)
    to_old_format(paths[1], password)
    # one file under another password: the run must stop before writing any file
    other = load_private_key(paths[2].read_bytes(), password, "x")
    paths[2].write_bytes(
        other.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"other"))
    )
    snapshot = tree_bytes(repo)
    result = cli("key", "reencrypt", repo, "--password-env", PASSWORD_ENV, "--force")
    assert result.exit_code == 5
    assert "wrong password" in result.output
    assert tree_bytes(repo) == snapshot


def test_reencrypt_changes_the_password(
    tmp_path: Path, password: str, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    repo = tmp_path / "repo"
    init_repository(repo, password=password)
    monkeypatch.setenv("NEW_PW", "a new and longer password")
    result = cli(
        "key", "reencrypt", repo, "--password-env", PASSWORD_ENV, "--new-password-env", "NEW_PW"
    )
    assert result.exit_code == 0, result.output
    assert "4 key file(s) rewritten" in result.output
    cli("add", repo, make_image(tmp_path / "fw.bin"), "--hardware-id", "hw", "--version", "1")
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 5
    assert cli("sign", repo, "--password-env", "NEW_PW").exit_code == 0


def test_reencrypt_a_holders_own_copy(tmp_path: Path, password: str, cli: Cli) -> None:
    """--key-file: a key file the repository does not name (a holder's copy) is rewritten
    when it holds a key of the repository, refused otherwise."""
    repo = tmp_path / "repo"
    init_repository(repo, password=password)
    copy = tmp_path / "usb" / "root.pem"
    copy.parent.mkdir()
    shutil.copy(next(p for p in key_files(repo) if p.name.startswith("root-")), copy)
    to_old_format(copy, password)
    result = cli("key", "reencrypt", repo, "--key-file", copy, "--password-env", PASSWORD_ENV)
    assert result.exit_code == 0, result.output
    assert describe(copy.read_bytes()).name == "openssh-bcrypt"  # type: ignore[union-attr]
    foreign_repo = tmp_path / "other"
    init_repository(foreign_repo, password=password)
    foreign = key_files(foreign_repo)[0]
    to_old_format(foreign, password)
    before = foreign.read_bytes()
    refused = cli("key", "reencrypt", repo, "--key-file", foreign, "--password-env", PASSWORD_ENV)
    assert refused.exit_code == 5
    assert "holds no key of this repository" in refused.output
    assert foreign.read_bytes() == before


def test_reencrypt_reports_keys_not_at_hand(tmp_path: Path, password: str, cli: Cli) -> None:
    repo = tmp_path / "repo"
    init_repository(repo, password=password)
    moved = next(p for p in key_files(repo) if p.name.startswith("root-"))
    moved.rename(tmp_path / moved.name)
    result = cli("key", "reencrypt", repo, "--password-env", PASSWORD_ENV, "--json")
    assert result.exit_code == 0
    actions = {r["roles"][0]: r["action"] for r in json.loads(result.stdout)}
    assert actions["root"] == "not at hand"
