"""Fixtures of the oracle tests (python-tuf is the reference client)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.oracle._clients import Client, TufClient, VerifierClient


def _have_verifier() -> bool:
    try:
        import verifier
    except ImportError:
        return False
    return hasattr(verifier, "Updater")


@pytest.fixture(autouse=True)
def _needs_verifier(request: pytest.FixtureRequest) -> None:
    # Only while the verifier branch is not merged: most tests compare against it.
    if _have_verifier() or os.environ.get("ORACLE_SELF_TEST") == "1":
        return
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("kind") == "python-tuf":
        return
    pytest.skip("verifier.Updater not available yet (verifier branch not merged)")


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
