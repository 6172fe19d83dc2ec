"""4. First update of a fresh device, flat and hashed-bin layouts, N targets.

Fresh device = only 1.root.json trusted; the update walks three root rotations, then
timestamp, snapshot, targets and one delegated role (the `firmware` role, or the hash bin of
the looked-up target). One fresh process per run (so RSS is that run's), in-process fetch
(each client's directory fetcher), medians over the runs.
"""

from __future__ import annotations

from typing import Any

from benchmarks._util import Context, median, run_client


def run(ctx: Context) -> dict[str, Any]:
    rows = []
    for layout in ("flat", "bins"):
        for n in ctx.sizes.targets:
            repo = ctx.repo(n, layout)
            repeats = ctx.sizes.big_repeats if n >= 100_000 else ctx.sizes.repeats
            row: dict[str, Any] = {
                "layout": layout,
                "n_targets": n,
                "targets_json_bytes": _targets_size(repo),
            }
            for client in ctx.clients:
                runs = [
                    run_client(
                        client,
                        "update",
                        "--repo",
                        str(repo.root),
                        "--first-root",
                        str(repo.first_root),
                        "--lookup",
                        repo.lookup,
                    )
                    for _ in range(repeats)
                ]
                row[f"{client}_refresh_ms"] = median([r["refresh_s"][0] for r in runs]) * 1e3
                row[f"{client}_update_ms"] = median([r["update_s"][0] for r in runs]) * 1e3
                row[f"{client}_rss_mib"] = median([r["maxrss_kib"] for r in runs]) / 1024
                row[f"{client}_process_ms"] = median([r["wall_s"] for r in runs]) * 1e3
            rows.append(row)
            ctx.log(
                f"  update {layout} {n}: "
                + ", ".join(
                    f"{c} {row[f'{c}_update_ms']:.1f} ms / {row[f'{c}_rss_mib']:.1f} MiB"
                    for c in ctx.clients
                )
            )
    return {"rows": rows}


def _targets_size(repo: Any) -> int:
    return (repo.metadata / "1.targets.json").stat().st_size
