"""Running documented shell commands as a user (or CI) would: `firmtuf` on PATH."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def firmtuf_env(bin_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """An environment whose PATH has `firmtuf` (this checkout's signer) and `python3`
    (the test interpreter, with this checkout on its path)."""
    bin_dir.mkdir(exist_ok=True)
    for name, command in (("firmtuf", "-m signer "), ("python3", "")):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" {command}"$@"\n')
        shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "LANG", "LC_", "HOME"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


def sh_blocks(markdown: str) -> list[str]:
    """The fenced ```sh blocks of a document, in order."""
    return [m.group(1) for m in _FENCE.finditer(markdown)]


def run_script(
    script: str, cwd: Path, env: dict[str, str], code: int = 0
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == code, (script, proc.stdout, proc.stderr)
    return proc
