"""5. Download and verify of an image over HTTP on 127.0.0.1 (sparse zero-filled files).

Per image size: each client's first update + download (fresh process, so peak RSS is that
of the run) and the floor's (benchmarks/floor.py: one http.client connection, SHA-256 in a
second thread overlapped with the transfer, fsync, rename), timed the same way. The goal
compares each client's download with the floor's. Two more references, measured the same
way: sha256 of the file alone (hashlib, 1 MiB reads) and a raw urllib transfer of it to
disk (no hashing); their sum was the limit of a download that hashes after each read. All
take turns. Images and temporary files go to tmpfs (see Context.scratch), so fsync of the
image is free here.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from benchmarks._util import FLOOR, Context, MiB, fmt, http_server, median, run_client


def run(ctx: Context) -> dict[str, Any]:
    rows = []
    dest, env = ctx.scratch("download")
    for size in ctx.sizes.images:
        repo = ctx.repo(10, "flat", size)
        repeats = ctx.sizes.big_repeats if size >= 256 * MiB else ctx.sizes.repeats
        image_file = next((repo.root / "targets").glob("acme-gw-r2/2.0.1/*.image.bin"))
        rel = image_file.relative_to(repo.root).as_posix()
        row: dict[str, Any] = {"image_mib": size / MiB}
        names = [*ctx.clients, FLOOR]
        with http_server(repo.root) as url:
            args = ["--url", url, "--first-root", str(repo.first_root), "--lookup", repo.lookup]
            args += ["--image", repo.image, "--dest", str(dest)]
            jobs = {c: partial(run_client, c, "update", *args, env=env) for c in names}
            jobs["hashlib"] = partial(
                run_client, "hashlib", "transfer", "--file", str(image_file), env=env
            )
            jobs["raw"] = partial(
                run_client, "raw", "transfer", "--url", url + rel, "--dest", str(dest), env=env
            )
            results = ctx.interleaved(f"download {size // MiB} MiB", jobs, repeats)
        for client in names:
            runs = results[client]
            if runs and all(r["image_bytes"] == size for r in runs):
                row[f"{client}_download_ms"] = median([r["download_s"][0] for r in runs]) * 1e3
                row[f"{client}_rss_mib"] = median([r["maxrss_kib"] for r in runs]) / 1024
            elif runs:
                ctx.failures.append(f"download {size // MiB} MiB {client}: wrong file size")
        for ref in ("hashlib", "raw"):
            runs = results[ref]
            if runs:
                row[f"{ref}_ms"] = median([r["transfer_s"][0] for r in runs]) * 1e3
                row[f"{ref}_rss_mib"] = median([r["maxrss_kib"] for r in runs]) / 1024
        rows.append(row)
        ctx.log(
            f"  download {size // MiB} MiB: "
            + ", ".join(
                f"{c} {fmt(row.get(f'{c}_download_ms'), '.0f')} ms / "
                f"{fmt(row.get(f'{c}_rss_mib'))} MiB"
                for c in names
            )
            + f"; hashlib {fmt(row.get('hashlib_ms'), '.0f')} ms, "
            f"raw {fmt(row.get('raw_ms'), '.0f')} ms"
        )
    return {"rows": rows}
