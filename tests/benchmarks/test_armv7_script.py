"""The 32-bit ARM harness (benchmarks/armv7): argument handling and clear refusals.

The emulation itself (a Debian armhf userland under qemu-user, ~an hour) is not run here;
these tests drive the script the way a user does and check what it refuses, and the pure
parts it is built from (the guest's requirement set, the docs section it rewrites).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks._util import PROJECT
from benchmarks.armv7 import _report, _setup

pytestmark = pytest.mark.timeout(120)


def _script(args: list[str], path: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": path,
        "PYTHONPATH": str(PROJECT),
        "HOME": str(tmp_path),
        "FIRMTUF_ARMV7_CACHE": str(tmp_path / "cache"),
    }
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.armv7", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT,
        timeout=60,
    )


def _fake_tool(bindir: Path, name: str) -> None:
    bindir.mkdir(exist_ok=True)
    tool = bindir / name
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)


def test_help_names_the_options_and_the_no_binfmt_rule(tmp_path: Path) -> None:
    res = _script(["--help"], str(tmp_path), tmp_path)
    assert res.returncode == 0
    for option in ("--fetch-tools", "--profile", "--cache", "--check", "--nice", "--cpu"):
        assert option in res.stdout
    assert "binfmt_misc" in res.stdout


@pytest.mark.parametrize(
    "args, why",
    [
        (["--profile", "huge"], "invalid choice: 'huge'"),
        (["--nice", "40"], "--nice must be between 0 and 19"),
        (["--nice", "ten"], "invalid int value"),
        (["--cpu", "cortex-m4"], "invalid choice: 'cortex-m4'"),
        (["--check", "--fetch-tools"], "--check only looks"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments_exit_2_with_the_reason(args: list[str], why: str, tmp_path: Path) -> None:
    res = _script(args, str(tmp_path), tmp_path)
    assert res.returncode == 2
    assert why in res.stderr
    assert "Traceback" not in res.stderr


def test_a_cache_that_is_a_file_is_refused(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    res = _script(["--cache", str(afile)], str(tmp_path), tmp_path)
    assert res.returncode == 2
    assert "is not a directory" in res.stderr


def test_refuses_clearly_without_qemu_and_debootstrap(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    res = _script([], str(empty), tmp_path)
    assert res.returncode == 3
    assert "qemu-arm-static (Debian package qemu-user-static)" in res.stderr
    assert "debootstrap (Debian package debootstrap)" in res.stderr
    assert "--fetch-tools" in res.stderr
    assert "Traceback" not in res.stderr
    # Refusing changes nothing: no cache, no userland.
    assert not (tmp_path / "cache").exists()


def test_names_only_the_tool_that_is_missing(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    _fake_tool(bindir, "qemu-arm-static")
    res = _script(["--check"], str(bindir), tmp_path)
    assert res.returncode == 3
    assert "debootstrap" in res.stderr
    assert "qemu-arm-static" not in res.stderr.split("not found:", 1)[1].split(".")[0]

    bindir2 = tmp_path / "bin2"
    _fake_tool(bindir2, "debootstrap")
    res = _script(["--check"], str(bindir2), tmp_path)
    assert res.returncode == 3
    missing = res.stderr.split("not found:", 1)[1].split(". ")[0]
    assert "qemu-arm-static" in missing
    assert "debootstrap" not in missing


def test_check_reports_the_tools_it_found(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    for name in ("qemu-arm-static", "debootstrap"):
        _fake_tool(bindir, name)
    # This PATH has no `nice` either: refused as a missing tool, unless not asked for.
    res = _script(["--check"], str(bindir), tmp_path)
    assert res.returncode == 3
    assert "`nice` (coreutils) not found; run with --nice 0" in res.stderr
    res = _script(["--check", "--nice", "0"], str(bindir), tmp_path)
    assert res.returncode == 0, res.stderr
    assert f"qemu-arm-static: {bindir / 'qemu-arm-static'}" in res.stdout
    assert f"debootstrap: {bindir / 'debootstrap'}" in res.stdout
    # No qemu-arm with plugin support on this PATH: said, not hidden.
    assert "instruction counts: no (qemu-arm" in res.stdout


def test_benchmarks_entry_point_knows_armv7_and_refuses_unknown_names() -> None:
    env = dict(os.environ, PYTHONPATH=str(PROJECT))
    res = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT,
    )
    assert res.returncode == 0
    assert "armv7" in res.stdout
    res = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "armv8"],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT,
    )
    assert res.returncode == 2
    assert "unknown benchmark(s): armv8" in res.stderr


def test_guest_requirements_are_the_device_set_without_cffi() -> None:
    closure = _setup._requirement_closure(_setup.firmtuf_roots())
    assert "cryptography" in closure
    # The default transport is the standard library's: requests is the `requests` extra.
    assert not {"requests", "urllib3", "certifi", "idna"} & set(closure)
    # cffi has no armv7l wheel: Debian's _cffi_backend stands in; never resolved from PyPI.
    assert "cffi" not in closure and "pycparser" not in closure
    # The device install has no extras: no orjson (accel), no tuf/click (signer).
    assert not {"orjson", "tuf", "click", "securesystemslib"} & set(closure)
    tuf = _setup._requirement_closure(_setup.CLIENT_ROOTS["tuf"])
    assert {"tuf", "securesystemslib", "cryptography"} <= set(tuf)


def test_docs_section_is_replaced_in_place_and_survives_the_x86_rewrite(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\n## Latest results\n\nx86 figures\n")
    _report.update_docs(docs, "## 32-bit ARM (run 1)\n\nold figures\n")
    _report.update_docs(docs, "## 32-bit ARM (run 2)\n\nnew figures\n")
    text = docs.read_text()
    assert text.count("## 32-bit ARM") == 1
    assert "new figures" in text and "old figures" not in text
    assert text.startswith("# Benchmarks\n\n## Latest results\n\nx86 figures\n")
    rewritten = _report.keep_section(text, "# Benchmarks\n\n## Latest results\n\nnew x86\n")
    assert "new x86" in rewritten and "## 32-bit ARM (run 2)\n\nnew figures" in rewritten


def _results() -> dict[str, Any]:
    def client(**kw: float) -> dict[str, float]:
        return {"warm_s": 1.0, "cold_s": 2.0, "wall_s": 3.0, "heap_kib": 2048, **kw}

    return {
        "profile": "tiny",
        "date": "2026-01-01 00:00 UTC",
        "machine": {"nproc": 2, "cpu": "test"},
        "guest": {"suite": "bookworm", "sites": {"firmtuf": {}, "tuf": {}}},
        "qemu": "qemu-arm-static 7.2",
        "qemu_version": "7.2",
        "cpu": "cortex-a7",
        "nice": 10,
        "processes": 4,
        "duration_s": 60,
        "sample_ms": 10,
        "polls": 1,
        "instructions": {"available": False, "why_not": "qemu-arm not found"},
        "cases": [
            {
                "scenario": "harness",
                "layout": None,
                "n_targets": 0,
                "image_mib": 0,
                "clients": {"none": client()},
            },
            {
                "scenario": "update",
                "layout": "flat",
                "n_targets": 10,
                "image_mib": 0,
                "clients": {"tuf": client(warm_s=3.0), "firmtuf": client()},
            },
        ],
        "estimates": [],
        "stem": "2026-01-01",
    }


def test_report_says_when_there_are_no_instruction_counts() -> None:
    text = _report.section(_results())
    assert text.startswith("## 32-bit ARM")
    assert "Not measured: qemu-arm not found" in text
    assert "| python-tuf | firmtuf | ratio |" not in text
    assert "| first update, flat, 10 targets | 3.00x | 1.00x | 1.00x |" in text


def test_render_rewrites_the_report_from_a_results_file(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps(_results()))
    out = tmp_path / "out"
    res = _script(["--render", str(results), "--out", str(out)], str(tmp_path), tmp_path)
    assert res.returncode == 0, res.stderr
    md = (out / "2026-01-01-armv7-tiny.md").read_text()
    assert md.startswith("## 32-bit ARM (armv7, emulated: tiny run, 2026-01-01 00:00 UTC)")
    # A tiny run never touches docs/benchmarks.md; a broken file is refused, not traced.
    results.write_text("{not json")
    res = _script(["--render", str(results), "--out", str(out)], str(tmp_path), tmp_path)
    assert res.returncode == 2
    assert "not a results file" in res.stderr
    assert "Traceback" not in res.stderr
    results.write_text(json.dumps({"profile": "tiny"}))
    res = _script(["--render", str(results), "--out", str(out)], str(tmp_path), tmp_path)
    assert res.returncode == 2
    assert "incomplete results" in res.stderr


def test_estimates_render_for_every_case() -> None:
    rows = _report.estimates({10: 4_000, 10_000: 2_200_000}, 64 << 20)
    assert {r["case"] for r in rows} == {
        "first update, 10 targets",
        "first update, 10 targets + 64 MiB image",
        "first update, 10,000 targets",
        "first update, 10,000 targets + 64 MiB image",
    }
    assert all(r["signatures"] == 11 for r in rows)
    big = [r for r in rows if r["case"] == "first update, 10,000 targets + 64 MiB image"]
    small = [r for r in rows if r["case"] == "first update, 10 targets"]
    assert big and small
    assert sum(float(r["crypto_s"]) for r in big) > sum(float(r["crypto_s"]) for r in small)
