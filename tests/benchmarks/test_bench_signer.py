"""The signer benchmark runs and measures what it claims (small sizes; no timing asserts)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_signer import auto_bins, report, run


def test_benchmark_rows(tmp_path: Path) -> None:
    rows = run([300], None, tmp_path)
    flat, binned = rows
    assert flat["layout"] == "flat" and binned["layout"] == "16 bins"
    assert flat["rewritten"] == ["snapshot.json", "targets.json", "timestamp.json"]
    bin_file = binned["rewritten"][0]
    assert bin_file.startswith("bins-")
    assert binned["rewritten"] == [bin_file, "snapshot.json", "timestamp.json"]
    assert binned["device_metadata_bytes"] < flat["device_metadata_bytes"]
    assert set(binned["device_metadata_by_role"]) == {
        "root",
        "timestamp",
        "snapshot",
        "targets",
        binned_role(binned),
        "total",
    }
    assert "| 300 | 16 bins |" in report(rows)
    assert [auto_bins(n) for n in (1000, 10_000, 100_000)] == [16, 128, 1024]


def binned_role(row: dict[str, object]) -> str:
    roles = row["device_metadata_by_role"]
    assert isinstance(roles, dict)
    return next(r for r in roles if r.startswith("bins-"))
