"""Fixtures for publishing tests (the S3 server and buckets: tests/s3_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.repository import PublishedRepository


@pytest.fixture
def repo(tmp_path: Path) -> PublishedRepository:
    return PublishedRepository(tmp_path / "signing")
