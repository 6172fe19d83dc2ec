"""Every benchmark still runs, once, at its tiny sizes (figures are not checked: no timing
asserts; speed lives in the report). The whole file stays well under a minute."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from benchmarks import __main__ as bench_main
from benchmarks import _report
from benchmarks._repo import LOOKUP_NAME, build_repo

pytestmark = pytest.mark.timeout(240)


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


def test_both_clients_measured_when_the_verifier_is_usable(
    tiny_results: tuple[dict[str, Any], Path],
) -> None:
    res, _ = tiny_results
    expected = ["tuf", "firmtuf"] if bench_main.firmtuf_available() is None else ["tuf"]
    assert res["clients"] == expected
    b = res["benchmarks"]
    for client in expected:
        assert b["update"]["rows"][0][f"{client}_update_ms"] > 0
        assert b["update"]["rows"][0][f"{client}_rss_mib"] > 0
        assert all(r[f"{client}_ms"] > 0 for r in b["poll"]["rows"])
        assert b["download"]["rows"][0][f"{client}_download_ms"] > 0
        assert b["whole"][f"{client}_ms"] > 0
        assert b["import"][client]["modules"] > 0


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
        assert con["callgrind"]["rows"][0]["tuf_update_ir"] > con["callgrind"]["python_pass"]
    else:
        assert con["callgrind"] is None
    if shutil.which("prlimit") and shutil.which("taskset"):
        assert 8 < con["address_space"]["tuf_min_as_mib"] <= 1024
    assert con["sha256"]["default_gib_s"] > 0
    assert con["published"]["estimates"]


def test_report_files_written(tiny_results: tuple[dict[str, Any], Path]) -> None:
    res, out = tiny_results
    [js] = list(out.glob("*-tiny.json"))
    assert json.loads(js.read_text())["profile"] == "tiny"
    md = js.with_suffix(".md").read_text()
    assert "| goal | measured | status |" in md
    assert "## 7. Constrained-device emulation" in md
    assert js.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
    assert [g["goal"] for g in _report.goals(res)]


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
