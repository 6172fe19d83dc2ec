"""4. First update of a fresh device, flat and hashed-bin layouts, N targets.

Fresh device = only 1.root.json trusted; the update walks three root rotations, then
timestamp, snapshot, targets and one delegated role (the `firmware` role, or the hash bin of
the looked-up target). One fresh process per run (so RSS is that run's), clients and the
floor (benchmarks/floor.py) taking turns, medians over the runs.

Transports: `http` is each client's default fetcher against 127.0.0.1 (the device's path,
the headline); `local` reads the repository directory through each client's directory
fetcher (in-process: no transport cost at all).

Each process does two first updates (into two fresh metadata directories): the first is
`cold` (it pays the imports a client defers to first use, e.g. the verifier imports
`cryptography` lazily), the second `warm` (the refresh work alone, imports done). The goal
on refresh time compares warm refreshes; whole-process cost is the `whole` benchmark.

The device's metadata directory is on tmpfs (/dev/shm, `storage: tmpfs`) for the headline
rows: fsync costs nothing there, so the figures compare the work of the clients (on this
shared VM the disk's fsync latency swings several-fold with other users' I/O, and
python-tuf does not fsync at all). The flat layout over HTTP up to 10,000 targets is
repeated with it on the disk (`storage: disk`): the difference is what durable writes
cost there (the verifier and the floor fsync what they persist).
"""

from __future__ import annotations

import contextlib
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks._util import FLOOR, Context, env_for_clients, fmt, http_server, median, run_client

TMPFS = Path("/dev/shm")


def cases(ctx: Context) -> list[tuple[str, str, int, str]]:
    """(transport, layout, targets, storage) of every row, headline rows first (a quick
    run has the secondary rows at its largest size only)."""
    sizes = ctx.sizes.targets
    small = [n for n in sizes if n <= 10_000]
    others = small if ctx.sizes.name == "full" else small[-1:]
    fast = "tmpfs" if TMPFS.is_dir() else "disk"
    out = [("http", "flat", n, fast) for n in sizes]
    if fast == "tmpfs":
        out += [("http", "flat", n, "disk") for n in others]
    out += [("local", "flat", n, fast) for n in others]
    out += [("local", "bins", n, fast) for n in (sizes if ctx.sizes.name == "full" else others)]
    return out


def run(ctx: Context) -> dict[str, Any]:
    rows = []
    for transport, layout, n, storage in cases(ctx):
        repo = ctx.repo(n, layout)
        repeats = ctx.sizes.big_repeats if n >= 100_000 else ctx.sizes.repeats
        row: dict[str, Any] = {
            "transport": transport,
            "layout": layout,
            "n_targets": n,
            "storage": storage,
            "targets_json_bytes": (repo.metadata / "1.targets.json").stat().st_size,
        }
        # The runner makes the device's metadata directory under TMPDIR.
        env = env_for_clients({"TMPDIR": str(TMPFS if storage == "tmpfs" else ctx.work)})
        # The floor knows path delegations only (the flat layout).
        names = [*ctx.clients, *([FLOOR] if layout == "flat" else [])]
        with contextlib.ExitStack() as stack:
            if transport == "http":
                source = ["--url", stack.enter_context(http_server(repo.root))]
            else:
                source = ["--repo", str(repo.root)]
            args = [*source, "--first-root", str(repo.first_root), "--lookup", repo.lookup]
            args += ["--repeat", "2"]
            jobs = {c: partial(run_client, c, "update", *args, env=env) for c in names}
            label = f"update {transport} {layout} {n} {storage}"
            for client, runs in ctx.interleaved(label, jobs, repeats).items():
                if runs:
                    row.update(_summary(client, runs))
        rows.append(row)
        ctx.log(
            f"  update {transport} {layout} {n} {storage}: "
            + ", ".join(
                f"{c} {fmt(row.get(f'{c}_refresh_ms'))} ms / {fmt(row.get(f'{c}_rss_mib'))} MiB"
                for c in names
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
