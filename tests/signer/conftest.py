"""Fixtures for the signing tool tests: repositories with keys generated at run time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)
from securesystemslib.signer import CryptoSigner

from signer import FirmwareFields, FirmwareRepository, add_firmware, init_repository
from signer._keys import static_secret
from signer._lock import LOCK_FILE
from tests.cli_fixtures import PASSWORD_ENV as PASSWORD_ENV  # re-exported for the tests
from tests.cli_fixtures import Cli as Cli
from tests.loopback import serve_directory


@pytest.fixture
def repo(tmp_path: Path, password: str) -> Path:
    """A fresh repository (one ed25519 key per role, threshold 1)."""
    path = tmp_path / "repo"
    init_repository(path, password=password)
    return path


def public_pem(signer: CryptoSigner) -> bytes:
    """The PEM (SubjectPublicKeyInfo) public key file of ``signer``, the form ``--signer``
    takes, through public API only (``CryptoSigner.private_bytes``, then pyca)."""
    private = load_pem_private_key(signer.private_bytes, password=None)
    return private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def make_image(path: Path, size: int = 4096, seed: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (seed + os.urandom(size))[:size]
    path.write_bytes(data)
    return path


def add_and_sign(
    repo: Path, password: str, image: Path, hardware_id: str = "board-a", version: str = "1.0.0"
) -> None:
    add_firmware(FirmwareRepository(repo), [image], FirmwareFields((hardware_id,), version))
    r = FirmwareRepository(repo, secrets_handler=static_secret(password))
    r.sign()
    r.save()


@pytest.fixture
def signed_repo(repo: Path, password: str, tmp_path: Path) -> Path:
    """A repository with one signed firmware target ``board-a/1.0.0/fw.bin``."""
    add_and_sign(repo, password, make_image(tmp_path / "images" / "fw.bin", 10_000))
    return repo


def tree_bytes(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` with its bytes (to assert a directory is unchanged)."""
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != LOCK_FILE  # the lock's note names its last holder
    }


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP on 127.0.0.1 (ephemeral port): (dir, base URL)."""
    served = tmp_path / "www"
    served.mkdir()
    with serve_directory(served) as base:
        yield served, base
