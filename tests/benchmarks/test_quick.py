"""Every benchmark still runs, once, at its tiny sizes (figures are not checked: no timing
asserts; speed lives in the report). The whole file stays well under a minute or two."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from benchmarks import __main__ as bench_main
from benchmarks import _report, _util, floor
from benchmarks._repo import LOOKUP_NAME, build_repo

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("bench-out")
    res = bench_main.run("tiny", None, out, docs=False, log=lambda *a: None)
    return res, out


def test_every_benchmark_ran_without_error(tiny_results: tuple[dict[str, Any], Path]) -> None:
    res, _ = tiny_results
    assert res["errors"] == {}
    assert res["failures"] == []
    assert set(res["benchmarks"]) == set(bench_main.ORDER)
    assert res["load"] is not None and res["seconds"] > 0


def test_both_clients_and_the_floor_measured(tiny_results: tuple[dict[str, Any], Path]) -> None:
    res, _ = tiny_results
    expected = ["tuf", "firmtuf"] if bench_main.firmtuf_available() is None else ["tuf"]
    assert res["clients"] == expected
    b = res["benchmarks"]
    for side in [*expected, "floor"]:
        http = [r for r in b["update"]["rows"] if r["transport"] == "http"]
        assert http and http[0][f"{side}_refresh_ms"] > 0
        assert http[0][f"{side}_rss_mib"] > 0
        assert all(r[f"{side}_ms"] > 0 for r in b["poll"]["rows"])
        assert b["download"]["rows"][0][f"{side}_download_ms"] > 0
        assert b["whole"][f"{side}_ms"] > 0
        assert b["import"][side]["runtime_modules"] > 0
        assert b["constrained"]["address_space"][f"{side}_min_as_mib"] > 8
    assert all(r["floor_verify_ms"] > 0 for r in b["poll"]["rows"])
    assert b["add"]["add_ms"] > 0 and b["add"]["hashcopy_ms"] > 0


def test_every_goal_has_python_tuf_and_floor_figures(
    tiny_results: tuple[dict[str, Any], Path],
) -> None:
    res, _ = tiny_results
    goals = _report.goals(res)
    assert len(goals) == 11
    for g in goals:
        # The signer goal has no python-tuf side; the instruction count of python-tuf is
        # skipped at tiny sizes.
        if not g["goal"].startswith(("signer add", "instructions")):
            assert g["values"]["tuf"] is not None, g["goal"]
        assert g["values"]["floor"] is not None, g["goal"]
        assert g["status"] in ("met", "MISSED", "n/a")


def test_canonical_outputs_are_byte_identical(tiny_results: tuple[dict[str, Any], Path]) -> None:
    res, _ = tiny_results
    for row in res["benchmarks"]["canonical"]["rows"]:
        assert row["json_dumps_identical"] is True
        assert row["firmtuf_identical"] in (True, None)
        if "firmtuf" in res["clients"]:
            assert row["firmtuf_identical"] is True


def test_constrained_emulation_ran(tiny_results: tuple[dict[str, Any], Path]) -> None:
    res, _ = tiny_results
    con = res["benchmarks"]["constrained"]
    if shutil.which("valgrind"):
        row = con["callgrind"]["rows"][0]
        assert row["firmtuf_update_ir"] > con["callgrind"]["python_pass"]
        assert row["floor_update_ir"] > con["callgrind"]["python_pass"]
    else:
        assert con["callgrind"] is None
    if shutil.which("prlimit") and shutil.which("taskset"):
        assert 8 < con["address_space"]["tuf_min_as_mib"] <= 1024
    assert con["sha256"]["default_gib_s"] > 0
    counts = con["published"]["counts"][10]
    # 1 trusted root + 3 rotations x (old and new keys) + timestamp, snapshot, targets and
    # the delegated role; a poll re-verifies root, timestamp, snapshot, targets, role.
    assert counts["update_signatures"] == 11
    assert counts["poll_signatures"] == 5
    assert con["published"]["estimates"]


def test_report_files_written(tiny_results: tuple[dict[str, Any], Path]) -> None:
    _, out = tiny_results
    [js] = list(out.glob("*-tiny.json"))
    assert json.loads(js.read_text())["profile"] == "tiny"
    md = js.with_suffix(".md").read_text()
    assert "| goal | python-tuf | firmtuf | floor |" in md
    assert "## 7. Constrained-device emulation" in md
    assert js.with_suffix(".png").read_bytes().startswith(b"\x89PNG")


def test_repo_builder_layouts_resolve_the_lookup_target(tmp_path: Path) -> None:
    from tuf.ngclient import Updater

    for layout in ("flat", "bins"):
        repo = build_repo(tmp_path / layout, 40, layout)
        state = tmp_path / f"state-{layout}"
        state.mkdir()
        shutil.copyfile(repo.first_root, state / "root.json")
        # Served straight from disk through the same fetcher the benchmarks use.
        from benchmarks._clients import TufClient

        client = TufClient(state, repo.root, None)
        client.refresh()
        assert isinstance(client.up, Updater)
        assert client.lookup(LOOKUP_NAME) is not None
        assert client.up._trusted_set.root.version == 4
        assert client.lookup("acme-gw-r2/9.9.9/nope.bin") is None


def test_floor_refuses_a_tampered_file(tmp_path: Path) -> None:
    # The floor checks signatures (or its figures would not be a floor for a client).
    repo = build_repo(tmp_path / "repo", 5, "flat")
    snapshot = repo.metadata / "1.snapshot.json"
    snapshot.write_bytes(snapshot.read_bytes().replace(b'"version":1', b'"version":2', 1))
    state = tmp_path / "state"
    state.mkdir()
    shutil.copyfile(repo.first_root, state / "root.json")
    from cryptography.exceptions import InvalidSignature

    with pytest.raises(InvalidSignature):
        floor.Floor(str(state), str(repo.root)).refresh()


def test_baseline_tree_is_the_given_commit(tmp_path: Path) -> None:
    head = subprocess.run(
        ["git", "-C", str(_util.PROJECT), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tree = _util.extract_tree(head, tmp_path / "base")
    assert (tree / "verifier" / "__init__.py").is_file()
    assert (tree / "signer" / "__init__.py").is_file()
