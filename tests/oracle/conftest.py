"""Fixtures of the oracle tests (python-tuf is the reference client)."""

from __future__ import annotations

import os

import pytest


def _have_verifier() -> bool:
    try:
        import verifier
    except ImportError:
        return False
    return hasattr(verifier, "Updater")


@pytest.fixture(autouse=True)
def _needs_verifier() -> None:
    # Only while the verifier branch is not merged: these tests compare against it.
    if not _have_verifier() and os.environ.get("ORACLE_SELF_TEST") != "1":
        pytest.skip("verifier.Updater not available yet (verifier branch not merged)")
