"""`firmtuf demo`: the README's first command works with no arguments and cleans up."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from tests.signer.conftest import Cli

ROOT = Path(__file__).resolve().parents[2]


def test_demo_without_arguments(cli: Cli) -> None:
    threads_before = threading.active_count()
    r = cli("demo")
    assert r.exit_code == 0, r.output
    assert "ACCEPTED" in r.stdout
    assert "REFUSED: LengthOrHashMismatchError" in r.stdout
    assert "127.0.0.1" in r.stdout
    assert "now removed" in r.stdout
    assert threading.active_count() == threads_before  # no server left running


def test_demo_keeps_files_in_given_dir(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    r = cli("demo", out)
    assert r.exit_code == 0, r.output
    assert (out / "published" / "metadata" / "timestamp.json").is_file()
    r = cli("verify", out / "published", "--root", out / "published" / "metadata" / "1.root.json")
    assert r.exit_code == 0, r.output
    r = cli("status", out / "repo")
    assert r.exit_code == 0, r.output


def test_demo_refuses_non_empty_dir(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    r = cli("demo", tmp_path)
    assert r.exit_code == 4
    assert "not an empty directory" in r.stderr


def test_demo_as_a_process(tmp_path: Path) -> None:
    """As the README runs it: a separate process that exits 0 on its own."""
    proc = subprocess.run(
        [sys.executable, "-m", "signer", "demo"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "REFUSED" in proc.stdout
    assert list(tmp_path.iterdir()) == []  # nothing left in the working directory
