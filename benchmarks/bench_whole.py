"""Whole process: start the interpreter, import, first update at N targets, download an image.

This is what a device pays per update when the updater is its own process. Measured as the
wall time of a fresh `python benchmarks/_run_client.py CLIENT update ...` over HTTP on
127.0.0.1, against a floor measured the same way: a fresh interpreter that downloads the
image with urllib and hashes it while streaming (no TUF at all). All take turns. The
device's metadata directory and the image are on tmpfs (see Context.scratch).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from benchmarks._util import Context, fmt, http_server, median, run_client


def run(ctx: Context) -> dict[str, Any]:
    n, size = ctx.sizes.whole_targets, ctx.sizes.whole_image
    repo = ctx.repo(n, "flat", size)
    dest, env = ctx.scratch("whole")
    image_file = next((repo.root / "targets").glob("acme-gw-r2/2.0.1/*.image.bin"))
    rel = image_file.relative_to(repo.root).as_posix()
    repeats = ctx.sizes.repeats
    out: dict[str, Any] = {"n_targets": n, "image_mib": size / (1 << 20)}
    with http_server(repo.root) as url:
        args = ["--url", url, "--first-root", str(repo.first_root), "--lookup", repo.lookup]
        args += ["--image", repo.image, "--dest", str(dest)]
        jobs = {c: partial(run_client, c, "update", *args, env=env) for c in ctx.clients}
        jobs["floor"] = partial(
            run_client, "rawhash", "transfer", "--url", url + rel, "--dest", str(dest), env=env
        )
        results = ctx.interleaved("whole process", jobs, repeats)
    for name, runs in results.items():
        if runs:
            out[f"{name}_ms"] = median([r["wall_s"] for r in runs]) * 1e3
            out[f"{name}_rss_mib"] = median([r["maxrss_kib"] for r in runs]) / 1024
    ctx.log(
        "  whole process: "
        + ", ".join(f"{c} {fmt(out.get(f'{c}_ms'), '.0f')} ms" for c in ctx.clients)
        + f", floor {fmt(out.get('floor_ms'), '.0f')} ms"
    )
    return out
