"""The guides' commands work: every ```sh block runs, in order, as one shell session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.s3_fixtures import public_bucket
from tests.shell import ROOT, firmtuf_env, run_script, sh_blocks

DOCS = ROOT / "docs"


@pytest.mark.s3
def test_ci_publishing_guide(tmp_path: Path, s3_endpoint: str, s3_client: Any) -> None:
    public_bucket(s3_client, "acme-firmware")
    text = (DOCS / "ci-publishing.md").read_text()
    blocks = sh_blocks(text)
    assert len(blocks) >= 5
    script = "\n".join(blocks).replace(
        "https://acme-firmware.s3.amazonaws.com", f"{s3_endpoint}/acme-firmware"
    )
    work = tmp_path / "work"
    work.mkdir()
    env = firmtuf_env(tmp_path / "bin", {"AWS_ENDPOINT_URL_S3": s3_endpoint})
    proc = run_script(script, work, env)
    assert "OK: " in proc.stdout  # firmtuf verify over HTTP from the bucket
    pruned = json.loads(proc.stdout[proc.stdout.rindex("{\n") :])
    assert pruned["url"] == "s3://acme-firmware/gateway/prod"
    keys = {o["Key"] for o in s3_client.list_objects_v2(Bucket="acme-firmware")["Contents"]}
    assert "gateway/prod/metadata/timestamp.json" in keys
    assert any(k.endswith(".gateway.bin") for k in keys)


def test_offline_updates_guide(tmp_path: Path) -> None:
    blocks = sh_blocks((DOCS / "offline-updates.md").read_text())
    assert len(blocks) >= 2
    work = tmp_path / "work"
    work.mkdir()
    proc = run_script("\n".join(blocks), work, firmtuf_env(tmp_path / "bin"))
    assert "update: acme-gw-r2/1.4.2/gateway.bin 22" in proc.stdout
    bundle = json.loads(proc.stdout[proc.stdout.index("{\n") : proc.stdout.index("\n}") + 2])
    assert bundle["targets"] == ["acme-gw-r2/1.4.2/gateway.bin"]
    assert (work / "device" / "metadata" / "firmtuf" / "time_floor.json").is_file()
