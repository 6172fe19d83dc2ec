"""5. Download and verify of an image over HTTP on 127.0.0.1 (sparse zero-filled files).

Per image size: each client's first update + download (fresh process, so peak RSS is that
of the run), against two limits measured the same way: sha256 of the file alone (hashlib,
1 MiB reads) and a raw HTTP transfer of it to disk (urllib, no hashing). The goal compares
the client's download time with hashlib + raw transfer. All four take turns. Images and
temporary files go to tmpfs (see Context.scratch), so fsync of the image is free here.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from benchmarks._util import Context, MiB, fmt, http_server, median, run_client


def run(ctx: Context) -> dict[str, Any]:
    rows = []
    dest, env = ctx.scratch("download")
    for size in ctx.sizes.images:
        repo = ctx.repo(10, "flat", size)
        repeats = ctx.sizes.big_repeats if size >= 256 * MiB else ctx.sizes.repeats
        image_file = next((repo.root / "targets").glob("acme-gw-r2/2.0.1/*.image.bin"))
        rel = image_file.relative_to(repo.root).as_posix()
        row: dict[str, Any] = {"image_mib": size / MiB}
        with http_server(repo.root) as url:
            args = ["--url", url, "--first-root", str(repo.first_root), "--lookup", repo.lookup]
            args += ["--image", repo.image, "--dest", str(dest)]
            jobs = {c: partial(run_client, c, "update", *args, env=env) for c in ctx.clients}
            jobs["hashlib"] = partial(
                run_client, "hashlib", "transfer", "--file", str(image_file), env=env
            )
            jobs["raw"] = partial(
                run_client, "raw", "transfer", "--url", url + rel, "--dest", str(dest), env=env
            )
            results = ctx.interleaved(f"download {size // MiB} MiB", jobs, repeats)
        for client in ctx.clients:
            runs = results[client]
            if runs and all(r["image_bytes"] == size for r in runs):
                row[f"{client}_download_ms"] = median([r["download_s"][0] for r in runs]) * 1e3
                row[f"{client}_rss_mib"] = median([r["maxrss_kib"] for r in runs]) / 1024
            elif runs:
                ctx.failures.append(f"download {size // MiB} MiB {client}: wrong file size")
        for ref in ("hashlib", "raw"):
            runs = results[ref]
            row[f"{ref}_ms"] = median([r["transfer_s"][0] for r in runs]) * 1e3
            row[f"{ref}_rss_mib"] = median([r["maxrss_kib"] for r in runs]) / 1024
        row["limit_ms"] = row["hashlib_ms"] + row["raw_ms"]
        rows.append(row)
        ctx.log(
            f"  download {size // MiB} MiB: "
            + ", ".join(
                f"{c} {fmt(row.get(f'{c}_download_ms'), '.0f')} ms / "
                f"{fmt(row.get(f'{c}_rss_mib'))} MiB"
                for c in ctx.clients
            )
            + f"; hashlib {row['hashlib_ms']:.0f} ms, raw {row['raw_ms']:.0f} ms"
        )
    return {"rows": rows}
