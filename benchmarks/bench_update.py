"""4. First update of a fresh device, flat and hashed-bin layouts, N targets.

Fresh device = only 1.root.json trusted; the update walks three root rotations, then
timestamp, snapshot, targets and one delegated role (the `firmware` role, or the hash bin of
the looked-up target). One fresh process per run (so RSS is that run's), in-process fetch
(each client's directory fetcher), clients taking turns, medians over the runs.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from benchmarks._util import Context, fmt, median, run_client


def run(ctx: Context) -> dict[str, Any]:
    rows = []
    for layout in ("flat", "bins"):
        for n in ctx.sizes.targets:
            repo = ctx.repo(n, layout)
            repeats = ctx.sizes.big_repeats if n >= 100_000 else ctx.sizes.repeats
            row: dict[str, Any] = {
                "layout": layout,
                "n_targets": n,
                "targets_json_bytes": (repo.metadata / "1.targets.json").stat().st_size,
            }
            args = ["--repo", str(repo.root), "--first-root", str(repo.first_root)]
            args += ["--lookup", repo.lookup]
            jobs = {c: partial(run_client, c, "update", *args) for c in ctx.clients}
            for client, runs in ctx.interleaved(f"update {layout} {n}", jobs, repeats).items():
                if runs:
                    row.update(_summary(client, runs))
            rows.append(row)
            ctx.log(
                f"  update {layout} {n}: "
                + ", ".join(
                    f"{c} {fmt(row.get(f'{c}_update_ms'))} ms / {fmt(row.get(f'{c}_rss_mib'))} MiB"
                    for c in ctx.clients
                )
            )
    return {"rows": rows}


def _summary(client: str, runs: list[dict[str, Any]]) -> dict[str, float]:
    return {
        f"{client}_refresh_ms": median([r["refresh_s"][0] for r in runs]) * 1e3,
        f"{client}_update_ms": median([r["update_s"][0] for r in runs]) * 1e3,
        f"{client}_rss_mib": median([r["maxrss_kib"] for r in runs]) / 1024,
        f"{client}_process_ms": median([r["wall_s"] for r in runs]) * 1e3,
    }
