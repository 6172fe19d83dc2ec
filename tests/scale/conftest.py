"""Fixtures for delegation and scale tests: repositories made at run time, CLI runner."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from signer import init_repository
from signer.cli import main

PASSWORD_ENV = "FIRMTUF_SCALE_PASSWORD"

Cli = Callable[..., Result]


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> str:
    value = secrets.token_urlsafe(12)
    monkeypatch.setenv(PASSWORD_ENV, value)
    return value


@pytest.fixture
def cli() -> Cli:
    """Run `firmtuf ARGS...` in-process; returns click's Result."""
    runner = CliRunner()

    def run(*args: str | os.PathLike[str], input: str | None = None) -> Result:
        return runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)

    return run


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
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }
