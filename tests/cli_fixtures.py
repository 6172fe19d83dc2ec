"""The `firmtuf` CLI in-process and a key password in the environment, for the signer-side
test folders (each conftest imports the fixtures it uses from here)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from signer.cli import main

PASSWORD_ENV = "FIRMTUF_TEST_PASSWORD"

Cli = Callable[..., Result]


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh key password, also in the environment variable PASSWORD_ENV."""
    value = secrets.token_urlsafe(12)
    monkeypatch.setenv(PASSWORD_ENV, value)
    return value


@pytest.fixture
def cli() -> Cli:
    """Run `firmtuf ARGS...` in-process; returns click's Result (exit_code, stdout, stderr)."""
    runner = CliRunner()

    def run(*args: str | os.PathLike[str], input: str | None = None) -> Result:
        return runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)

    return run
