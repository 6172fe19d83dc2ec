"""AWS KMS keys end to end against moto's KMS API (issue 11: KMS keys were stored but
never exercised): `key add --uri awskms:...`, `sign`, publish, a device verifies; and each
KMS failure (unknown or disabled key, access denied, endpoint down) is one line, exit 5.

moto signs ``MessageType=DIGEST`` wrongly; the tests run with the narrow correction of
tests/signer/keys/moto_kms.py, and test_moto_still_double_hashes_digests shows why.
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import load_der_public_key

from signer import init_repository
from tests.signer.keys.conftest import (
    PASSWORD_ENV,
    Cli,
    key_list,
    keyids,
    make_image,
    ngclient,
    tree_bytes,
)
from tests.signer.keys.moto_kms import correct_moto_kms_sign, environment, moto_server


@pytest.fixture(scope="module")
def kms_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def kms(kms_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A KMS client of the moto server, the AWS environment pointing at it."""
    import boto3

    for name, value in environment(kms_url).items():
        monkeypatch.setenv(name, value)
    return boto3.client("kms")


@pytest.fixture
def corrected() -> Iterator[None]:
    with correct_moto_kms_sign():
        yield


def _signing_key(kms: Any, spec: str = "ECC_NIST_P256") -> str:
    return str(kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"])


def test_moto_still_double_hashes_digests(kms: Any) -> None:
    """Without the correction, moto's DIGEST signature is over SHA-256(digest)."""
    key_id = _signing_key(kms)
    public = load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(public, ec.EllipticCurvePublicKey)
    digest = hashlib.sha256(b"payload").digest()
    signature = kms.sign(
        KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256"
    )["Signature"]
    with pytest.raises(InvalidSignature):
        public.verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    public.verify(signature, digest, ec.ECDSA(hashes.SHA256()))  # SHA-256 of the digest


@pytest.fixture
def repo(tmp_path: Path, password: str) -> Path:
    path = tmp_path / "repo"
    init_repository(path, password=password)
    return path


def _release(cli: Cli, repo: Path, tmp_path: Path, version: str) -> None:
    image = make_image(tmp_path / f"fw-{version}.bin")
    result = cli("add", repo, image, "--hardware-id", "gw", "--version", version)
    assert result.exit_code == 0, result.output


def test_kms_keys_sign_and_a_device_verifies(
    cli: Cli, repo: Path, tmp_path: Path, kms: Any, corrected: None
) -> None:
    snapshot_kms = _signing_key(kms)
    timestamp_kms = _signing_key(kms, "ECC_NIST_P384")
    kms.create_alias(AliasName="alias/firmtuf-timestamp", TargetKeyId=timestamp_kms)
    old_snapshot = keyids(repo, "snapshot")[0]
    old_timestamp = keyids(repo, "timestamp")[0]

    # the public key is read from KMS: no --public-key needed
    added = cli(
        "key",
        "rotate",
        repo,
        "snapshot",
        old_snapshot[:12],
        "--uri",
        f"awskms:{snapshot_kms}",
        "--password-env",
        PASSWORD_ENV,
        "--json",
    )
    assert added.exit_code == 0, added.output
    info = json.loads(added.stdout)["added"][0]
    assert info["signer_uri"] == f"awskms:{snapshot_kms}"
    assert info["scheme"] == "ecdsa-sha2-nistp256"
    der = kms.get_public_key(KeyId=snapshot_kms)["PublicKey"]
    digest = hashlib.sha256(der).hexdigest()
    assert info["fingerprint"] == " ".join(digest[i : i + 4] for i in range(0, 64, 4))
    rotated = cli(
        "key",
        "rotate",
        repo,
        "timestamp",
        old_timestamp[:12],
        "--uri",
        "awskms:alias/firmtuf-timestamp",
        "--password-env",
        PASSWORD_ENV,
    )
    assert rotated.exit_code == 0, rotated.output

    _release(cli, repo, tmp_path, "1.0.0")
    signed = cli("sign", repo, "--password-env", PASSWORD_ENV, "--json")
    assert signed.exit_code == 0, signed.output
    result = json.loads(signed.stdout)
    assert result["incomplete"] == {}
    by_uri = {k["signer_uri"]: k["keyid"] for k in key_list(cli, repo)}
    assert result["signed"]["snapshot"] == [by_uri[f"awskms:{snapshot_kms}"]]
    assert result["signed"]["timestamp"] == [by_uri["awskms:alias/firmtuf-timestamp"]]

    out = tmp_path / "published"
    assert cli("publish", repo, out).exit_code == 0
    root = out / "metadata" / "1.root.json"
    verified = cli("verify", out, "--root", root)
    assert verified.exit_code == 0, verified.output
    # python-tuf's client agrees (the oracle)
    client = ngclient(out, tmp_path / "client")
    client.refresh()
    assert client.get_targetinfo("gw/1.0.0/fw-1.0.0.bin") is not None


def test_kms_failures_are_one_line_key_problems(
    cli: Cli,
    repo: Path,
    tmp_path: Path,
    kms: Any,
    corrected: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unknown = cli(
        "key",
        "add",
        repo,
        "snapshot",
        "--uri",
        "awskms:0b1d5e2f-0000-4000-8000-000000000000",
    )
    assert unknown.exit_code == 5
    assert "NotFoundException" in unknown.output
    encrypt = kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")
    not_signing = cli(
        "key",
        "add",
        repo,
        "snapshot",
        "--uri",
        f"awskms:{encrypt['KeyMetadata']['KeyId']}",
    )
    assert not_signing.exit_code == 3, not_signing.output
    assert "not a signing key" in not_signing.output

    key_id = _signing_key(kms)
    old = keyids(repo, "snapshot")[0]
    assert (
        cli(
            "key",
            "rotate",
            repo,
            "snapshot",
            old[:12],
            "--uri",
            f"awskms:{key_id}",
            "--password-env",
            PASSWORD_ENV,
        ).exit_code
        == 0
    )
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    _release(cli, repo, tmp_path, "1.0.0")
    assert cli("sign", repo, "targets", "--password-env", PASSWORD_ENV).exit_code == 0
    before = tree_bytes(repo)

    kms.disable_key(KeyId=key_id)
    disabled = cli("sign", repo, "--password-env", PASSWORD_ENV)
    assert disabled.exit_code == 5, disabled.output
    assert "DisabledException" in disabled.output
    assert "Traceback" not in disabled.output
    assert tree_bytes(repo) == before
    kms.enable_key(KeyId=key_id)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", f"http://127.0.0.1:{closed}")
    down = cli("sign", repo, "--password-env", PASSWORD_ENV)
    assert down.exit_code == 5, down.output
    assert "unreachable" in down.output
    assert tree_bytes(repo) == before


def test_access_denied_is_a_key_problem(
    cli: Cli,
    repo: Path,
    tmp_path: Path,
    kms: Any,
    kms_url: str,
    corrected: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A CI role allowed to read the key but not to sign with it (moto's IAM enforcement)."""
    import boto3

    key_id = _signing_key(kms)
    old = keyids(repo, "snapshot")[0]
    assert (
        cli(
            "key",
            "rotate",
            repo,
            "snapshot",
            old[:12],
            "--uri",
            f"awskms:{key_id}",
            "--password-env",
            PASSWORD_ENV,
        ).exit_code
        == 0
    )
    _release(cli, repo, tmp_path, "1.0.0")
    assert cli("sign", repo, "targets", "--password-env", PASSWORD_ENV).exit_code == 0
    iam = boto3.client("iam")
    iam.create_user(UserName="reader")
    policy = {"Effect": "Allow", "Action": "kms:GetPublicKey", "Resource": "*"}
    iam.put_user_policy(
        UserName="reader",
        PolicyName="read-only",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [policy]}),
    )
    access = iam.create_access_key(UserName="reader")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", access["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    before = tree_bytes(repo)
    assert requests.post(f"{kms_url}/moto-api/reset-auth", data=b"0", timeout=10).ok
    try:
        denied = cli("sign", repo, "--password-env", PASSWORD_ENV)
    finally:
        requests.post(f"{kms_url}/moto-api/reset-auth", data=b"inf", timeout=10)
    assert denied.exit_code == 5, denied.output
    assert "AccessDenied" in denied.output and "kms:Sign" in denied.output
    assert tree_bytes(repo) == before
