"""8. `firmtuf add` of a large image (the signing side's one data-sized step).

A release engineer's `firmtuf add REPO IMAGE --hardware-id ... --version ...` as a fresh
process (start-up, imports, hashing and storing the image in the content store with
fsync, the targets metadata update), against the floor of the same work measured the same
way: a fresh interpreter that reads the image once, computes SHA-256, writes the copy and
fsyncs it (`_run_client.py hashcopy transfer`). With a baseline, the signer of that
commit is measured too (`add_base`). Images are sparse zero-filled files; image,
repository and copy are on tmpfs (the goal compares CPU work: on the shared VM disk,
write-back made such figures swing by 5x). Turns are taken; medians.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks._util import Context, MiB, env_for_clients, median, run_client

PASSWORD = "bench-password"  # noqa: S105 - throwaway keys generated for the run


def _template(ctx: Context, scratch: Path) -> Path:
    from signer import init_repository

    template = scratch / "template"
    init_repository(template, password=PASSWORD)
    return template


def _add(
    template: Path, scratch: Path, image: Path, n: list[int], client: str = "firmtuf"
) -> dict[str, Any]:
    n[0] += 1
    repo = scratch / f"repo-{n[0]}"
    shutil.copytree(template, repo)
    cmd = [
        sys.executable,
        "-c",
        "from signer._entry import main; main()",
        "add",
        str(repo),
        str(image),
        "--hardware-id",
        "acme-gw-r2",
        "--version",
        "2.0.0",
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=env_for_clients(client=client), cwd=scratch
    )
    wall = time.perf_counter() - t0
    shutil.rmtree(repo)
    if proc.returncode != 0:
        raise RuntimeError(f"firmtuf add failed: {proc.stderr[-2000:]}")
    return {"wall_s": wall, "stderr": proc.stderr}


def run(ctx: Context) -> dict[str, Any]:
    size = ctx.sizes.add_image
    scratch, env = ctx.scratch("add")
    image = scratch / "fw.bin"
    with open(image, "wb") as f:
        f.truncate(size)
    template = _template(ctx, scratch)
    counter = [0]
    jobs = {
        "add": partial(_add, template, scratch, image, counter),
        **(
            {"add_base": partial(_add, template, scratch, image, counter, "base")}
            if "base" in ctx.clients
            else {}
        ),
        "hashcopy": partial(
            run_client,
            "hashcopy",
            "transfer",
            "--file",
            str(image),
            "--dest",
            str(scratch),
            env=env,
        ),
        "hashlib": partial(run_client, "hashlib", "transfer", "--file", str(image), env=env),
    }
    results = ctx.interleaved(f"add {size // MiB} MiB", jobs, ctx.sizes.repeats)
    out: dict[str, Any] = {"image_mib": size / MiB}
    for name, runs in results.items():
        if runs:
            out[f"{name}_ms"] = median([r["wall_s"] for r in runs]) * 1e3
    if results["add"]:
        out["progress_lines"] = results["add"][-1]["stderr"].count("\n")
    ctx.log(
        f"  add {size // MiB} MiB: firmtuf add {out.get('add_ms', 0):.0f} ms, "
        f"hash + copy {out.get('hashcopy_ms', 0):.0f} ms, hash alone "
        f"{out.get('hashlib_ms', 0):.0f} ms (whole processes)"
    )
    return out
