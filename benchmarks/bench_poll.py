"""3. Poll with nothing new: the device is up to date and checks again.

Two cases: nothing changed at all, and only timestamp.json changed (new version, same
snapshot). Each poll is a new Updater + refresh() + lookup of the device's target (what a
device that wakes up does), timed in one process after an untimed first update; in-process
(each client's directory fetcher) and over HTTP on 127.0.0.1.
"""

from __future__ import annotations

from typing import Any

from benchmarks._util import Context, fmt, http_server, median, run_client


def run(ctx: Context) -> dict[str, Any]:
    rows = []
    for n in ctx.sizes.poll_targets:
        repo = ctx.repo(n, "flat")
        bumped = repo.with_new_timestamp(ctx.work / f"poll-ts-{n}")
        # Small polls take milliseconds and swing with the machine: many per process.
        polls = ctx.sizes.repeats * (6 if n <= 1_000 else 2) if ctx.sizes.name != "tiny" else 1
        polls = str(polls)
        for transport in ("local", "http"):
            for change, target_repo in (("nothing", repo.root), ("timestamp", bumped)):
                row: dict[str, Any] = {"n_targets": n, "transport": transport, "change": change}
                for client in ctx.clients:
                    with ctx.guard(f"poll {n} {transport} {change} {client}"):
                        row[f"{client}_ms"] = _poll(client, repo, target_repo, transport, polls)
                rows.append(row)
                ctx.log(
                    f"  poll {n} {transport} {change}: "
                    + ", ".join(f"{c} {fmt(row.get(f'{c}_ms'), '.2f')} ms" for c in ctx.clients)
                )
    return {"rows": rows}


def _poll(client: str, repo: Any, target_repo: Any, transport: str, polls: str) -> float:
    """Median ms of `polls` polls by `client` in one process."""
    common = ["--first-root", str(repo.first_root), "--lookup", repo.lookup, "--repeat", polls]
    if transport == "local":
        res = run_client(
            client, "poll", "--warm", str(repo.root), "--repo", str(target_repo), *common
        )
    else:
        with http_server(repo.root) as warm_url, http_server(target_repo) as url:
            res = run_client(client, "poll", "--warm-url", warm_url, "--url", url, *common)
    return float(median(res["poll_s"]) * 1e3)
