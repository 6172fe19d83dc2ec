"""`firmtuf publish --to s3://... --dashboard`: the page lands beside the published tree,
served as HTML and not cached as if it were an immutable release file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from signer._dashboard import DASHBOARD_FILE
from tests.signer.publish.test_cli import firmtuf, release


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    firmtuf("init", path, "--password-env", "FIRMTUF_TEST_PW")
    return path


@pytest.mark.s3
def test_publish_to_s3_with_dashboard(
    repo: Path, tmp_path: Path, s3_endpoint: str, bucket: str, s3_client: Any
) -> None:
    dest = f"s3://{bucket}/fleet/prod"
    name = release(repo, tmp_path, "1.0.0", b"one")
    plain = firmtuf("publish", repo, "--to", dest, "--endpoint-url", s3_endpoint, "--json")
    assert "dashboard" not in json.loads(plain.stdout)
    keys = {o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert f"fleet/prod/{DASHBOARD_FILE}" not in keys  # opt-in

    out = firmtuf("publish", repo, "--to", dest, "--endpoint-url", s3_endpoint,
                  "--dashboard", "--json")  # fmt: skip
    assert json.loads(out.stdout)["dashboard"] == f"{dest}/{DASHBOARD_FILE}"
    obj = s3_client.get_object(Bucket=bucket, Key=f"fleet/prod/{DASHBOARD_FILE}")
    assert obj["ContentType"].startswith("text/html")
    assert "immutable" not in obj.get("CacheControl", "")
    assert name in obj["Body"].read().decode()
    # The page is not part of the tree: a later publish and prune leave it alone.
    release(repo, tmp_path, "1.1.0", b"two")
    firmtuf("publish", repo, "--to", dest, "--endpoint-url", s3_endpoint)
    firmtuf("prune", dest, "--keep", "1", "--endpoint-url", s3_endpoint)
    keys = {o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert f"fleet/prod/{DASHBOARD_FILE}" in keys
