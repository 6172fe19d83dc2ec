"""Bad input to `firmtuf key`: one-line error, documented exit code, repository unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.signer.keys.conftest import PASSWORD_ENV, Cli, keyids, tree_bytes


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("add", "{repo}", "targets", "--threshold", "3"), 3,
         "threshold of targets must be between 1 and its 2 key(s), got 3"),
        (("add", "{repo}", "targets", "--threshold", "0"), 3, "must be between 1 and"),
        (("remove", "{repo}", "timestamp", "{timestamp}"), 7,
         "cannot remove the last key of timestamp"),
        (("remove", "{repo}", "root", "{root}"), 7, "cannot remove the last key of root"),
        (("remove", "{repo}", "snapshot", "{timestamp}"), 3, "snapshot has no key"),
        (("remove", "{repo}", "snapshot", "abc"), 3, "give at least 8 hex digits"),
        (("rotate", "{repo}", "targets", "{timestamp}"), 3, "targets has no key"),
        (("add", "{repo}", "nobody"), 3, "unknown role 'nobody'"),
        # the public key is read from KMS; with no AWS configuration that fails in one line
        (("add", "{repo}", "targets", "--uri", "awskms:arn:aws:kms:x"), 5,
         "or give --public-key FILE.pem"),
        (("add", "{repo}", "targets", "--uri", "gcpkms:projects/p/keys/k"), 3,
         "give --public-key FILE.pem"),
        (("add", "{repo}", "targets", "--uri", "no-scheme"), 3, "is not a signer URI"),
        (("add", "{repo}", "targets", "--public-key", "{repo}/x.pem"), 3,
         "--public-key needs --uri"),
        (("add", "{repo}", "targets", "--uri", "envvar:FIRMTUF_UNSET_VAR"), 5,
         "environment variable FIRMTUF_UNSET_VAR is not set"),
        (("add", "{repo}", "targets", "--uri", "envvar:bad-name"), 3,
         "is not an envvar:NAME signer URI"),
        (("add", "{repo}", "targets", "--password-env", "FIRMTUF_UNSET_VAR"), 5,
         "environment variable FIRMTUF_UNSET_VAR is not set"),
        (("add", "{repo}", "targets", "--uri", "hsm:x?label=y"), 3,
         "the HSM key id must be a number"),
    ],
)  # fmt: skip
def test_key_bad_input(
    cli: Cli,
    repo: Path,
    args: tuple[str, ...],
    code: int,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # never the real AWS: a KMS endpoint that refuses at once
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    values = {
        "repo": repo,
        "root": keyids(repo, "root")[0],
        "timestamp": keyids(repo, "timestamp")[0],
    }
    before = tree_bytes(repo)
    argv = [a.format(**values) for a in args]
    if "--password-env" not in argv:
        argv += ["--password-env", PASSWORD_ENV]
    result = cli("key", *argv)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert tree_bytes(repo) == before


def test_adding_a_key_twice_is_refused(cli: Cli, repo: Path, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pem = tmp_path / "k.pem"
    pub = ed25519.Ed25519PrivateKey.generate().public_key()
    pem.write_bytes(pub.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    first = cli("key", "add", repo, "targets", "--uri", "vault:k1", "--public-key", pem,
                "--password-env", PASSWORD_ENV)  # fmt: skip
    assert first.exit_code == 0, first.output
    before = tree_bytes(repo)
    again = cli("key", "add", repo, "targets", "--uri", "vault:k1", "--public-key", pem,
                "--password-env", PASSWORD_ENV)  # fmt: skip
    assert again.exit_code == 7
    assert "targets already trusts key" in again.stderr
    assert tree_bytes(repo) == before


def test_wrong_password_leaves_no_key_file(
    cli: Cli, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new key file is encrypted with the given password; signing with the existing
    root key file then fails on that same wrong password: nothing may stay behind."""
    monkeypatch.setenv("OTHER_PW", "another-password")
    before = tree_bytes(repo)
    result = cli("key", "add", repo, "targets", "--password-env", "OTHER_PW")
    assert result.exit_code == 5
    assert "wrong password" in result.stderr
    assert tree_bytes(repo) == before


def test_not_a_repository(cli: Cli, tmp_path: Path) -> None:
    result = cli("key", "list", tmp_path)
    assert result.exit_code == 4
    assert "not a firmtuf repository" in result.stderr
