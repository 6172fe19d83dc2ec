"""`firmtuf key list|add|remove|rotate` through the CLI, for every top-level role."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)
from securesystemslib.signer import Key
from tuf.api.metadata import Metadata, Root

from signer import FirmwareRepository
from signer._client import verify_published
from tests.signer.keys.conftest import (
    PASSWORD_ENV,
    Cli,
    add_and_sign,
    key_list,
    keyids,
    make_image,
    ngclient,
)


def _root(repo: Path, version: int | None = None) -> Metadata[Root]:
    name = f"root_history/{version}.root.json" if version else "root.json"
    return Metadata[Root].from_file(str(repo / "metadata" / name))


def _spki_der(key: Key) -> bytes:
    """The key's SubjectPublicKeyInfo, decoded from its published keyval by pyca (an
    oracle independent of the signer's own fingerprint code)."""
    public = key.keyval["public"]
    loaded = (
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public))
        if key.keytype == "ed25519"
        else load_pem_public_key(public.encode())
    )
    return loaded.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def test_list_shows_id_fingerprint_and_uri(cli: Cli, repo: Path) -> None:
    keys = key_list(cli, repo)
    assert [k["role"] for k in keys] == ["root", "targets", "snapshot", "timestamp"]
    root = _root(repo).signed
    for info in keys:
        key = root.get_key(info["keyid"])
        digest = hashlib.sha256(_spki_der(key)).hexdigest()
        assert info["fingerprint"].replace(" ", "") == digest
        assert len(info["fingerprint"].split(" ")) == 16
        assert info["signer_uri"].startswith("file:keys/")
    text = cli("key", "list", repo)
    assert text.exit_code == 0
    assert keys[0]["fingerprint"] in text.output


@pytest.mark.parametrize("role", ["root", "targets", "snapshot", "timestamp"])
def test_add_then_remove_key(cli: Cli, repo: Path, password: str, role: str) -> None:
    before = keyids(repo, role)
    added = cli("key", "add", repo, role, "--password-env", PASSWORD_ENV, "--threshold", "2")
    assert added.exit_code == 0, added.output
    assert "fingerprint" in added.output and "Compare the fingerprint" in added.output
    after = keyids(repo, role)
    assert len(after) == 2 and after[0] == before[0]
    new = after[1]
    assert (repo / "keys" / f"{role}-{new[:12]}.pem").is_file()
    assert _root(repo).signed.roles[role].threshold == 2
    assert _root(repo).signed.version == 2
    # status counts against the role's new threshold (for root: its own, not version 1's)
    state = FirmwareRepository(repo).signature_state(role)
    assert (state.threshold, state.missing, len(state.signed)) == (2, 0, 2)

    removed = cli("key", "remove", repo, role, before[0][:10], "--threshold", "1",
                  "--password-env", PASSWORD_ENV)  # fmt: skip
    assert removed.exit_code == 0, removed.output
    assert keyids(repo, role) == [new]
    # Signed by keys at hand: the repository publishes and a client accepts it.
    signed = cli("sign", repo, "--password-env", PASSWORD_ENV)
    assert signed.exit_code == 0, signed.output
    out = repo.parent / "out"
    published = cli("publish", repo, out)
    assert published.exit_code == 0, published.output
    verify_published(str(out), (out / "metadata" / "1.root.json").read_bytes())


def test_rotate_root_signed_by_old_and_new_keys(cli: Cli, repo: Path, password: str) -> None:
    old = keyids(repo, "root")[0]
    result = cli("key", "rotate", repo, "root", old[:8], "--password-env", PASSWORD_ENV, "--json")
    assert result.exit_code == 0, result.output
    change = json.loads(result.stdout)
    new = change["added"][0]["keyid"]
    assert change["removed"] == [old]
    assert change["versions"] == {"root": 2}
    assert change["incomplete"] == {}
    v1, v2 = _root(repo, 1), _root(repo, 2)
    assert v2.signed.roles["root"].keyids == [new]
    assert set(v2.signatures) == {old, new}
    v1.signed.verify_delegate("root", v2.signed_bytes, v2.signatures)
    v2.signed.verify_delegate("root", v2.signed_bytes, v2.signatures)
    assert (repo / "metadata" / "root.json").read_bytes() == (
        repo / "metadata" / "root_history" / "2.root.json"
    ).read_bytes()


@pytest.mark.parametrize("role", ["targets", "snapshot", "timestamp"])
def test_rotate_online_role_reissues_its_metadata(
    cli: Cli, repo: Path, password: str, tmp_path: Path, role: str
) -> None:
    add_and_sign(repo, password, make_image(tmp_path / "fw.bin"), "1.0.0")
    out = tmp_path / "out"
    assert cli("publish", repo, out).exit_code == 0
    before = Metadata.from_file(str(repo / "metadata" / f"{role}.json"))
    old = keyids(repo, role)[0]
    result = cli("key", "rotate", repo, role, old, "--password-env", PASSWORD_ENV,
                 "--key-type", "ecdsa-p256")  # fmt: skip
    assert result.exit_code == 0, result.output
    new = keyids(repo, role)[0]
    assert new != old
    after = Metadata.from_file(str(repo / "metadata" / f"{role}.json"))
    assert after.signed.version == before.signed.version + 1
    assert list(after.signatures) == [new]
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    assert cli("publish", repo, out).exit_code == 0, "rotated repository must publish"
    client = ngclient(out, tmp_path / "client")
    client.refresh()
    assert client.get_targetinfo("board-a/1.0.0/fw.bin") is not None


def test_add_external_kms_key_is_stored_and_shown(
    cli: Cli, repo: Path, password: str, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    pems = []
    for name in ("aws", "gcp"):
        pub = ec.generate_private_key(ec.SECP256R1()).public_key()
        pems.append(tmp_path / f"{name}.pub.pem")
        pems[-1].write_bytes(pub.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    uri = "awskms:arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    gcp = "gcpkms:projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"
    for role, u, pem in (("targets", uri, pems[0]), ("root", gcp, pems[1])):
        result = cli(
            "key",
            "add",
            repo,
            role,
            "--uri",
            u,
            "--public-key",
            pem,
            "--password-env",
            PASSWORD_ENV,
        )
        assert result.exit_code == 0, result.output
        assert u in result.output
    infos = {(k["role"], k["signer_uri"]) for k in key_list(cli, repo)}
    assert ("targets", uri) in infos
    assert ("root", gcp) in infos
    # The same public key under another signer URI would silently re-route a role.
    clash = cli("key", "add", repo, "snapshot", "--uri", "vault:other", "--public-key", pems[0])
    assert clash.exit_code == 7
    assert "already used by another role" in clash.stderr
    status = cli("status", repo)
    assert uri in status.output
    # The KMS key is not at hand here, the file key is: targets stays signed (threshold 1).
    assert _root(repo).signed.roles["targets"].threshold == 1


def test_add_prompts_for_passwords(cli: Cli, repo: Path, password: str) -> None:
    """Without --password-env: the new key file password twice, then the root key's."""
    result = cli("key", "add", repo, "snapshot", input=f"{password}\n{password}\n{password}\n")
    assert result.exit_code == 0, result.output
    assert "Password for the new key file" in result.stderr
    assert "Key file password" in result.stderr
    assert len(keyids(repo, "snapshot")) == 2
