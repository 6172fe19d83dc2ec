"""4. First update of a fresh device, flat and hashed-bin layouts, N targets.

Fresh device = only 1.root.json trusted; the update walks three root rotations, then
timestamp, snapshot, targets and one delegated role (the `firmware` role, or the hash bin of
the looked-up target). One fresh process per run (so RSS is that run's), in-process fetch
(each client's directory fetcher), clients taking turns, medians over the runs.

Each process does two first updates (into two fresh metadata directories): the first is
`cold` (it pays the imports a client defers to first use, e.g. the verifier imports
`cryptography` lazily), the second `warm` (the refresh work alone, imports done). The goal
on refresh time compares warm refreshes; whole-process cost is the `whole` benchmark.

The device's metadata directory is on the disk (`storage: disk`, what a device has). For
the flat layout up to 10,000 targets the same runs are repeated with it on tmpfs
(/dev/shm, `storage: tmpfs`), where fsync costs nothing: the difference is what durable
writes cost (the verifier fsyncs what it persists; python-tuf does not).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from benchmarks._util import Context, env_for_clients, fmt, median, run_client

TMPFS = Path("/dev/shm")


def run(ctx: Context) -> dict[str, Any]:
    rows = []
    cases = [("flat", n, "disk") for n in ctx.sizes.targets]
    cases += [("bins", n, "disk") for n in ctx.sizes.targets]
    if TMPFS.is_dir():
        cases += [("flat", n, "tmpfs") for n in ctx.sizes.targets if n <= 10_000]
    for layout, n, storage in cases:
        repo = ctx.repo(n, layout)
        repeats = ctx.sizes.big_repeats if n >= 100_000 else ctx.sizes.repeats
        row: dict[str, Any] = {
            "layout": layout,
            "n_targets": n,
            "storage": storage,
            "targets_json_bytes": (repo.metadata / "1.targets.json").stat().st_size,
        }
        args = ["--repo", str(repo.root), "--first-root", str(repo.first_root)]
        args += ["--lookup", repo.lookup, "--repeat", "2"]
        env = env_for_clients({"TMPDIR": str(TMPFS)} if storage == "tmpfs" else None)
        jobs = {c: partial(run_client, c, "update", *args, env=env) for c in ctx.clients}
        label = f"update {layout} {n} {storage}"
        for client, runs in ctx.interleaved(label, jobs, repeats).items():
            if runs:
                row.update(_summary(client, runs))
        rows.append(row)
        ctx.log(
            f"  update {layout} {n} {storage}: "
            + ", ".join(
                f"{c} {fmt(row.get(f'{c}_update_ms'))} ms / {fmt(row.get(f'{c}_rss_mib'))} MiB"
                for c in ctx.clients
            )
        )
    return {"rows": rows}


def _summary(client: str, runs: list[dict[str, Any]]) -> dict[str, float]:
    return {
        f"{client}_refresh_ms": median([r["refresh_s"][-1] for r in runs]) * 1e3,
        f"{client}_update_ms": median([r["update_s"][-1] for r in runs]) * 1e3,
        f"{client}_cold_update_ms": median([r["update_s"][0] for r in runs]) * 1e3,
        f"{client}_rss_mib": median([r["maxrss_kib"] for r in runs]) / 1024,
    }
