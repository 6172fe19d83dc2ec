"""Fixtures for the key management tests: repositories, a CLI runner, a SoftHSM2 token."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata
from tuf.ngclient import Updater

import verifier
from signer import FirmwareFields, FirmwareRepository, add_firmware, init_repository
from signer._client import DirectoryFetcher
from signer._keys import static_secret
from signer._lock import LOCK_FILE
from tests.cli_fixtures import PASSWORD_ENV as PASSWORD_ENV  # re-exported for the tests
from tests.cli_fixtures import Cli as Cli
from tests.tuf_fetcher import LOCAL_BASE_URL, TufDirectoryFetcher

PIN_ENV = "FIRMTUF_KEYS_TEST_PIN"
PROJECT_ROOT = Path(__file__).resolve().parents[3]
SOFTHSM_LIB_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


def run_process(
    *args: str | os.PathLike[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run `python -m signer ARGS...` as a separate process (another key holder)."""
    full_env = {**os.environ, **env, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "signer", *(str(a) for a in args)],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def repo(tmp_path: Path, password: str) -> Path:
    """A fresh repository (one ed25519 key per role, threshold 1), published nowhere yet."""
    path = tmp_path / "repo"
    init_repository(path, password=password)
    return path


def add_and_sign(repo: Path, password: str, image: Path, version: str) -> None:
    add_firmware(FirmwareRepository(repo), [image], FirmwareFields(("board-a",), version))
    r = FirmwareRepository(repo, secrets_handler=static_secret(password))
    r.sign()
    r.save()


def make_image(path: Path, size: int = 2048) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


def tree_bytes(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` with its bytes (to assert a directory is unchanged)."""
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != LOCK_FILE  # the lock's note names its last holder
    }


def keyids(repo: Path, role: str) -> list[str]:
    root = Metadata.from_file(str(repo / "metadata" / "root.json")).signed
    return list(root.roles[role].keyids)  # type: ignore[attr-defined]


def key_list(cli: Cli, repo: Path) -> list[dict[str, str]]:
    result = cli("key", "list", repo, "--json")
    assert result.exit_code == 0, result.output
    data: list[dict[str, str]] = json.loads(result.stdout)
    return data


def ngclient(published: Path, client_dir: Path) -> Updater:
    """python-tuf's ngclient reading ``published`` offline, with its state in client_dir."""
    metadata_dir = client_dir / "metadata"
    if not metadata_dir.exists():
        metadata_dir.mkdir(parents=True)
        shutil.copy(published / "metadata" / "1.root.json", metadata_dir / "root.json")
    (client_dir / "downloads").mkdir(exist_ok=True)
    return Updater(
        str(metadata_dir),
        LOCAL_BASE_URL + "metadata/",
        str(client_dir / "downloads"),
        LOCAL_BASE_URL + "targets/",
        fetcher=TufDirectoryFetcher(published),
        bootstrap=None,
    )


def firmtuf_client(published: Path, client_dir: Path) -> verifier.Updater:
    """firmtuf's verifier as a device reading ``published`` offline (state in client_dir)."""
    metadata_dir = client_dir / "metadata"
    if not metadata_dir.exists():
        metadata_dir.mkdir(parents=True)
        shutil.copy(published / "metadata" / "1.root.json", metadata_dir / "root.json")
    return verifier.Updater(
        metadata_dir,
        LOCAL_BASE_URL + "metadata/",
        LOCAL_BASE_URL + "targets/",
        fetcher=DirectoryFetcher(published),
    )


@dataclass
class SoftHsmToken:
    """A SoftHSM2 token made for one test: label, PINs, module path, key ids on it."""

    label: str
    pin: str
    so_pin: str
    module: str
    conf: Path

    def generate_ec_key(self, hsm_keyid: int, curve: str = "secp256r1") -> None:
        """Generate an EC key pair on the token (PKCS#11 C_GenerateKeyPair)."""
        import pkcs11
        from pkcs11 import Attribute, KeyType
        from pkcs11.util.ec import encode_named_curve_parameters

        token = pkcs11.lib(self.module).get_token(token_label=self.label)
        with token.open(user_pin=self.pin, rw=True) as session:
            params = session.create_domain_parameters(
                KeyType.EC,
                {Attribute.EC_PARAMS: encode_named_curve_parameters(curve)},
                local=True,
            )
            key_id = bytes([hsm_keyid])
            params.generate_keypair(
                store=True,
                label=f"firmtuf-{hsm_keyid}",
                public_template={Attribute.ID: key_id},
                private_template={Attribute.ID: key_id, Attribute.SIGN: True},
            )

    def unplug(self) -> None:
        """Delete the token, as pulling a YubiKey would make it absent."""
        subprocess.run(
            ["softhsm2-util", "--delete-token", "--token", self.label],
            check=True,
            capture_output=True,
            env={**os.environ, "SOFTHSM2_CONF": str(self.conf)},
        )
        _reload_module(self.module)


def softhsm_module() -> str | None:
    if shutil.which("softhsm2-util") is None:
        return None
    return next((p for p in SOFTHSM_LIB_CANDIDATES if Path(p).is_file()), None)


@pytest.fixture
def softhsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SoftHsmToken]:
    """A fresh SoftHSM2 token in a temp token directory; removed after the test."""
    module = softhsm_module()
    if module is None:
        pytest.skip("softhsm2 is not installed (softhsm2-util / libsofthsm2.so not found)")
    token_dir = tmp_path / "softhsm-tokens"
    token_dir.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {token_dir}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    monkeypatch.setenv("PYKCS11LIB", module)
    token = SoftHsmToken(
        label=f"firmtuf-{secrets.token_hex(4)}",
        pin=secrets.token_hex(4),
        so_pin=secrets.token_hex(4),
        module=module,
        conf=conf,
    )
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            token.label,
            "--pin",
            token.pin,
            "--so-pin",
            token.so_pin,
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )
    monkeypatch.setenv(PIN_ENV, token.pin)
    _reload_module(module)  # SoftHSM reads SOFTHSM2_CONF when the module is initialized
    yield token
    monkeypatch.undo()
    _reload_module(module)
    shutil.rmtree(token_dir, ignore_errors=True)


def _reload_module(module: str) -> None:
    import pkcs11

    pkcs11.lib(module).reinitialize()
