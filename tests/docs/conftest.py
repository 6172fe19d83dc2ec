"""Fixtures of the docs tests: the guides' examples run against a repository `firmtuf init`
made, the signer tests' `repo`."""

from __future__ import annotations

from tests.signer.conftest import repo as repo
