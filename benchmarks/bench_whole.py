"""Whole process: start the interpreter, import, first update at N targets, download an image.

This is what a device pays per update when the updater is its own process: the wall time of
a fresh `python benchmarks/_first_update.py CLIENT ...` (a script that imports nothing of
its own) over HTTP on 127.0.0.1, against two floors (benchmarks/floor.py) run the same way:
`floor`, a fresh interpreter that downloads the image alone on http.client with the hash
overlapped (no TUF at all: the goal's "clever floor"), and `floor_tuf`, one that also does
the floor's metadata work (fetch, verify, parse and store every metadata file). All take
turns. The device's metadata directory and the image are on tmpfs (see Context.scratch).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from benchmarks._util import FLOOR, Context, fmt, http_server, median, run_first_update


def run(ctx: Context) -> dict[str, Any]:
    n, size = ctx.sizes.whole_targets, ctx.sizes.whole_image
    repo = ctx.repo(n, "flat", size)
    scratch, _ = ctx.scratch("whole")
    out: dict[str, Any] = {"n_targets": n, "image_mib": size / (1 << 20)}
    with http_server(repo.root) as url:
        names = {c: c for c in ctx.clients}
        names.update({FLOOR: "floor-image", "floor_tuf": FLOOR})
        jobs = {
            name: partial(run_first_update, client, url, repo, scratch)
            for name, client in names.items()
        }
        results = ctx.interleaved("whole process", jobs, ctx.sizes.repeats)
    for name, runs in results.items():
        if runs:
            out[f"{name}_ms"] = median([r["wall_s"] for r in runs]) * 1e3
            out[f"{name}_rss_mib"] = median([r["maxrss_kib"] for r in runs]) / 1024
    ctx.log(
        "  whole process: "
        + ", ".join(f"{c} {fmt(out.get(f'{c}_ms'), '.0f')} ms" for c in [*ctx.clients, FLOOR])
        + f", floor with metadata {fmt(out.get('floor_tuf_ms'), '.0f')} ms"
    )
    return out
