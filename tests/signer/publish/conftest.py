"""Fixtures for publishing tests (the S3 server and buckets: tests/s3_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.signer.publish._repo import RepoBuilder


@pytest.fixture
def repo(tmp_path: Path) -> RepoBuilder:
    return RepoBuilder(tmp_path / "signing")
