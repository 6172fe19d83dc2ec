"""Fixtures for delegation and scale tests: repositories made at run time, CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from signer import init_repository
from signer._lock import LOCK_FILE
from tests.cli_fixtures import PASSWORD_ENV as PASSWORD_ENV  # re-exported for the tests
from tests.cli_fixtures import Cli as Cli


@pytest.fixture
def repo(tmp_path: Path, password: str) -> Path:
    """A fresh repository (one ed25519 key per role, threshold 1)."""
    path = tmp_path / "repo"
    init_repository(path, password=password)
    return path


def make_image(path: Path, size: int = 2048) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


def tree_bytes(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` with its bytes (to assert nothing changed)."""
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != LOCK_FILE  # the lock's note names its last holder
    }
