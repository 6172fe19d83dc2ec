"""5. Download and verify of an image over HTTP on 127.0.0.1 (sparse zero-filled files).

Per image size: each client's first update + download (fresh process, so peak RSS is that
of the run), against two limits measured the same way: sha256 of the file alone (hashlib,
1 MiB reads) and a raw HTTP transfer of it to disk (urllib, no hashing). The goal compares
the client's download time with hashlib + raw transfer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks._util import Context, MiB, fmt, http_server, median, run_client


def run(ctx: Context) -> dict[str, Any]:
    rows = []
    dest = ctx.work / "downloads"
    dest.mkdir(exist_ok=True)
    for size in ctx.sizes.images:
        repo = ctx.repo(10, "flat", size)
        repeats = ctx.sizes.big_repeats if size >= 256 * MiB else ctx.sizes.repeats
        image_file = next((repo.root / "targets").glob("acme-gw-r2/2.0.1/*.image.bin"))
        rel = image_file.relative_to(repo.root).as_posix()
        row: dict[str, Any] = {"image_mib": size / MiB}
        with http_server(repo.root) as url:
            for client in ctx.clients:
                with ctx.guard(f"download {size // MiB} MiB {client}"):
                    row.update(_client(client, repo, url, dest, size, repeats))
            for ref, args in (
                ("hashlib", ["--file", str(image_file)]),
                ("raw", ["--url", url + rel, "--dest", str(dest)]),
            ):
                runs = [run_client(ref, "transfer", *args) for _ in range(repeats)]
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


def _client(
    client: str, repo: Any, url: str, dest: Path, size: int, repeats: int
) -> dict[str, float]:
    args = ["--url", url, "--first-root", str(repo.first_root), "--lookup", repo.lookup]
    runs = [
        run_client(client, "update", *args, "--image", repo.image, "--dest", str(dest))
        for _ in range(repeats)
    ]
    if any(r["image_bytes"] != size for r in runs):
        raise RuntimeError(f"{client} wrote a file of the wrong size")
    return {
        f"{client}_download_ms": median([r["download_s"][0] for r in runs]) * 1e3,
        f"{client}_rss_mib": median([r["maxrss_kib"] for r in runs]) / 1024,
    }
