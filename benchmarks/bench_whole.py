"""Whole process: start the interpreter, import, first update at N targets, download an image.

This is what a device pays per update when the updater is its own process. Measured as the
wall time of a fresh `python benchmarks/_run_client.py CLIENT update ...` over HTTP on
127.0.0.1, against a floor measured the same way: a fresh interpreter that downloads the
image with urllib and hashes it while streaming (no TUF at all).
"""

from __future__ import annotations

from typing import Any

from benchmarks._util import Context, fmt, http_server, median, run_client


def run(ctx: Context) -> dict[str, Any]:
    n, size = ctx.sizes.whole_targets, ctx.sizes.whole_image
    repo = ctx.repo(n, "flat", size)
    dest = ctx.work / "downloads"
    dest.mkdir(exist_ok=True)
    image_file = next((repo.root / "targets").glob("acme-gw-r2/2.0.1/*.image.bin"))
    rel = image_file.relative_to(repo.root).as_posix()
    repeats = ctx.sizes.big_repeats if ctx.sizes.name == "full" else ctx.sizes.repeats
    out: dict[str, Any] = {"n_targets": n, "image_mib": size / (1 << 20)}
    with http_server(repo.root) as url:
        args = ["--url", url, "--first-root", str(repo.first_root), "--lookup", repo.lookup]
        for client in ctx.clients:
            with ctx.guard(f"whole process {client}"):
                runs = [
                    run_client(client, "update", *args, "--image", repo.image, "--dest", str(dest))
                    for _ in range(repeats)
                ]
                out[f"{client}_ms"] = median([r["wall_s"] for r in runs]) * 1e3
                out[f"{client}_rss_mib"] = median([r["maxrss_kib"] for r in runs]) / 1024
        runs = [
            run_client("rawhash", "transfer", "--url", url + rel, "--dest", str(dest))
            for _ in range(repeats)
        ]
        out["floor_ms"] = median([r["wall_s"] for r in runs]) * 1e3
    ctx.log(
        "  whole process: "
        + ", ".join(f"{c} {fmt(out.get(f'{c}_ms'), '.0f')} ms" for c in ctx.clients)
        + f", floor {out['floor_ms']:.0f} ms"
    )
    return out
