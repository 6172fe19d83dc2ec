"""3. Poll with nothing new: the device is up to date and checks again.

Two cases: nothing changed at all, and only timestamp.json changed (new version, same
snapshot). Each poll is a new Updater + refresh() + lookup of the device's target (what a
device that wakes up does), timed in one process after an untimed first update; in-process
(each client's directory fetcher) and over HTTP on 127.0.0.1. Each client's process runs
several times, clients taking turns; the figure is the median over all polls.

The floor (benchmarks/floor.py) is measured the same way in two parts: its two requests on
a new connection (the next root, 404, and timestamp.json: what a poll has to ask) and the
re-verification of the stored root, timestamp, snapshot, targets and delegated role that a
new Updater has to do before it trusts them again.
"""

from __future__ import annotations

import contextlib
from functools import partial
from typing import Any

from benchmarks._util import FLOOR, Context, fmt, http_server, median, run_client


def run(ctx: Context) -> dict[str, Any]:
    rows = []
    tiny = ctx.sizes.name == "tiny"
    for n in ctx.sizes.poll_targets:
        repo = ctx.repo(n, "flat")
        bumped = repo.with_new_timestamp(ctx.work / f"poll-ts-{n}")
        # Small polls take milliseconds and swing with the machine: many per process.
        polls = "1" if tiny else str(ctx.sizes.repeats * (4 if n <= 1_000 else 1))
        rounds = 1 if tiny else (3 if n <= 1_000 and ctx.sizes.name == "full" else 2)
        for transport in ("local", "http"):
            for change, target_repo in (("nothing", repo.root), ("timestamp", bumped)):
                row: dict[str, Any] = {"n_targets": n, "transport": transport, "change": change}
                with contextlib.ExitStack() as stack:
                    if transport == "local":
                        warm = ["--warm", str(repo.root)]
                        source = ["--repo", str(target_repo)]
                    else:
                        warm = ["--warm-url", stack.enter_context(http_server(repo.root))]
                        source = ["--url", stack.enter_context(http_server(target_repo))]
                    args = [*warm, *source, "--first-root", str(repo.first_root)]
                    args += ["--lookup", repo.lookup, "--repeat", polls]
                    names = [*ctx.clients, FLOOR]
                    jobs = {c: partial(run_client, c, "poll", *args) for c in names}
                    label = f"poll {n} {transport} {change}"
                    for client, runs in ctx.interleaved(label, jobs, rounds).items():
                        if runs:
                            row[f"{client}_ms"] = (
                                median([t for r in runs for t in r["poll_s"]]) * 1e3
                            )
                        if runs and client == FLOOR:
                            verify = [t for r in runs for t in r["verify_s"]]
                            row["floor_verify_ms"] = median(verify) * 1e3
                rows.append(row)
                ctx.log(
                    f"  poll {n} {transport} {change}: "
                    + ", ".join(f"{c} {fmt(row.get(f'{c}_ms'), '.2f')} ms" for c in names)
                    + f" (+ verify {fmt(row.get('floor_verify_ms'), '.2f')} ms)"
                )
    return {"rows": rows}
