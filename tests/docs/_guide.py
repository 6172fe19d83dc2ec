"""Running a guide's shell blocks as a user would, with the few edits a test must make
(a password from the environment instead of a prompt, local paths and a loopback URL for
example hosts). Every edit must match the guide's text: when the guide changes, the test
fails and names the edit, instead of silently running something else."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.shell import ROOT, firmtuf_env, run_script, sh_blocks

DOCS = ROOT / "docs"
Edit = tuple[int, str, str]  # (block index, text in the guide, text run instead)


def guide_blocks(page: str, edits: list[Edit], *, expect_blocks: int) -> list[str]:
    """The page's ```sh blocks in order, with ``edits`` applied (each must match)."""
    blocks = sh_blocks((DOCS / page).read_text())
    assert len(blocks) == expect_blocks, f"{page}: {len(blocks)} sh blocks; update the test"
    for index, old, new in edits:
        assert old in blocks[index], f"{page} block {index} no longer contains {old!r}"
        blocks[index] = blocks[index].replace(old, new)
    return blocks


def guide_script(page: str, edits: list[Edit], *, expect_blocks: int) -> str:
    """The page's ```sh blocks joined in order, with ``edits`` applied (each must match)."""
    return "\n".join(guide_blocks(page, edits, expect_blocks=expect_blocks))


def python_blocks(page: str) -> list[str]:
    """The page's ```python blocks, in order."""
    return re.findall(r"^```python\n(.*?)^```", (DOCS / page).read_text(), re.M | re.S)


def user_env(tmp: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """PATH with `firmtuf`, `python3` and `pip` of this checkout's test interpreter."""
    # The suite's cheap key-file KDF (tests/conftest.py), or every key costs half a second.
    kdf = {"FIRMTUF_KDF_ROUNDS": os.environ.get("FIRMTUF_KDF_ROUNDS", "1")}
    env = firmtuf_env(tmp / "bin", {**kdf, **(extra or {})})
    pip = tmp / "bin" / "pip"
    pip.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pip "$@"\n')
    pip.chmod(0o755)
    return env


def run_guide(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_script(script, cwd, env)
