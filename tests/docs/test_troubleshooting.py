"""docs/troubleshooting.md is true: its ```sh blocks run, in order, as one shell session
(firmtuf on PATH, a fresh directory), every expected failure checked for its exit code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.shell import ROOT, firmtuf_env, run_script, sh_blocks


def test_troubleshooting_page_runs(tmp_path: Path) -> None:
    if shutil.which("flock") is None or shutil.which("git") is None:
        pytest.fail("the page uses flock(1) and git, which every Debian system has")
    blocks = sh_blocks((ROOT / "docs" / "troubleshooting.md").read_text())
    assert len(blocks) >= 7
    work = tmp_path / "work"
    work.mkdir()
    # one KDF round: the page unlocks many key files; the default cost is tested elsewhere
    env = firmtuf_env(tmp_path / "bin", {"FIRMTUF_KDF_ROUNDS": "1"})
    proc = run_script("\n".join(blocks), work, env)
    assert "OK: out verifies" in proc.stdout
    root = json.loads((work / "out" / "metadata" / "root.json").read_bytes())
    assert root["signed"]["version"] == 2  # the root without Carol's key
    assert not (work / "repo" / "sign-events").exists() or not any(
        (work / "repo" / "sign-events").iterdir()
    )
