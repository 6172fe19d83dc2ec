"""Fixtures of the oracle tests (python-tuf is the reference client)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.verifier.oracle._clients import Client, TufClient, VerifierClient


@pytest.fixture(params=["python-tuf", "verifier"])
def kind(request: pytest.FixtureRequest) -> str:
    """Which client a regression test attacks: ours, and python-tuf as a control."""
    return str(request.param)


@pytest.fixture
def new_client(kind: str, tmp_path: Path) -> Callable[[bytes], Client]:
    """Make a client of ``kind`` trusting the given root, in its own directory."""
    counter = itertools.count()

    def make(root: bytes) -> Client:
        workdir = tmp_path / f"client{next(counter)}"
        if kind == "python-tuf":
            return TufClient(root, workdir)
        return VerifierClient(root, workdir)

    return make
