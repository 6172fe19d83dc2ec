"""Keys by signer URI: external keys at init, keys not at hand, root re-issue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata

from signer import SIGNER_URI_FIELD, FirmwareFields, add_firmware
from signer._keys import Keyring, generate_key
from signer._repository import FirmwareRepository
from signer._targets import ProgressCallback
from tests.signer.conftest import PASSWORD_ENV, Cli, make_image, public_pem


def _external_key(tmp_path: Path) -> tuple[str, Path, CryptoSigner]:
    signer = CryptoSigner.generate_ecdsa()
    key_file = tmp_path / "ci-key.pem"
    key_file.write_bytes(signer.private_bytes)
    pub = tmp_path / "ci-key.pub.pem"
    pub.write_bytes(public_pem(signer))
    return f"file2:{key_file}", pub, signer


def test_external_signer_uri_at_init(cli: Cli, tmp_path: Path, password: str) -> None:
    uri, pub, signer = _external_key(tmp_path)
    repo, out = tmp_path / "repo", tmp_path / "out"
    r = cli("init", repo, "--password-env", PASSWORD_ENV, "--signer", "targets", uri, pub)
    assert r.exit_code == 0, r.output
    root = Metadata.from_file(str(repo / "metadata" / "root.json")).signed
    (keyid,) = root.roles["targets"].keyids
    assert keyid == signer.public_key.keyid
    assert root.keys[keyid].unrecognized_fields[SIGNER_URI_FIELD] == uri
    assert not list((repo / "keys").glob("targets-*.pem"))  # none generated for targets
    cli("add", repo, make_image(tmp_path / "a.bin"), "--hardware-id", "b", "--version", "1")
    r = cli("sign", repo, "--password-env", PASSWORD_ENV, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["signed"]["targets"] == [keyid]
    assert cli("publish", repo, out).exit_code == 0
    assert cli("verify", out, "--root", out / "metadata" / "1.root.json").exit_code == 0


def test_unknown_scheme_is_not_at_hand(cli: Cli, tmp_path: Path, password: str) -> None:
    _, pub, _ = _external_key(tmp_path)
    repo = tmp_path / "repo"
    r = cli(
        "init",
        repo,
        "--password-env",
        PASSWORD_ENV,
        "--signer",
        "targets",
        "nosuchkms:projects/x/keys/y",
        pub,
    )
    assert r.exit_code == 0, r.output
    r = cli("status", repo)
    assert r.exit_code == 10
    assert "targets: under-signed: 0/1" in r.stderr
    r = cli("sign", repo, "targets", "--password-env", PASSWORD_ENV)
    assert r.exit_code == 5
    assert "unsupported signer URI scheme 'nosuchkms'" in r.stderr


def test_bad_public_key_file(cli: Cli, tmp_path: Path, password: str) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    r = cli(
        "init",
        tmp_path / "repo",
        "--password-env",
        PASSWORD_ENV,
        "--signer",
        "targets",
        "file2:/x",
        bad,
    )
    assert r.exit_code == 3
    assert "not a PEM public key" in r.stderr
    assert not (tmp_path / "repo").exists()


def test_key_file_holding_another_key(signed_repo: Path, password: str) -> None:
    from signer import KeyProblemError
    from signer._keys import static_secret, write_key_file

    target_key = next((signed_repo / "keys").glob("targets-*.pem"))
    write_key_file(generate_key("ed25519"), target_key, password)
    r = FirmwareRepository(signed_repo, secrets_handler=static_secret(password))
    with pytest.raises(KeyProblemError, match="holds another key"):
        r.sign("targets")


def test_keyring_resolves_relative_file_uris(tmp_path: Path) -> None:
    ring = Keyring(tmp_path)
    assert ring.resolve_uri("file:keys/a.pem?encrypted=true") == (
        f"file:{(tmp_path / 'keys' / 'a.pem').as_posix()}?encrypted=true"
    )
    assert ring.resolve_uri("hsm:?label=x") == "hsm:?label=x"


def test_root_reissue_publishes_new_root(cli: Cli, signed_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli("publish", signed_repo, out).exit_code == 0
    r = cli("sign", signed_repo, "root", "--password-env", PASSWORD_ENV, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["new_versions"] == {"root": 2}
    assert (signed_repo / "metadata" / "root_history" / "2.root.json").is_file()
    r = cli("publish", signed_repo, out, "--json")
    assert r.exit_code == 0, r.output
    assert "metadata/2.root.json" in json.loads(r.stdout)["written"]
    r = cli("verify", out, "--root", out / "metadata" / "1.root.json", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["versions"]["root"] == 2


def test_progress_callback_counts_every_byte(repo: Path, tmp_path: Path) -> None:
    seen: list[int] = []
    progress: ProgressCallback = seen.append
    image = make_image(tmp_path / "big.bin", 3 * (1 << 20) + 17)
    add_firmware(FirmwareRepository(repo), [image], FirmwareFields(("b",), "1"), progress=progress)
    assert sum(seen) == image.stat().st_size
    assert len(seen) == 4


def test_add_shows_progress_for_large_images(cli: Cli, repo: Path, tmp_path: Path) -> None:
    image = make_image(tmp_path / "big.bin", 9 << 20)
    r = cli("add", repo, image, "--hardware-id", "b", "--version", "1")
    assert r.exit_code == 0, r.output
    assert "Hashing and storing" in r.stderr
