"""7. Constrained-device emulation.

(a) Instructions (valgrind callgrind, PYTHONHASHSEED=0, deterministic) of one whole process:
    a poll with nothing new (from a saved up-to-date state) and a full first update with a
    1 MiB image, in-process fetch. Interpreter start-up is included (a device pays it too);
    `python -c pass` and the benchmark runner's own start-up (`harness`, the same for both
    clients) are reported, and `net` = whole process - harness.
(b) The smallest address-space limit (prlimit --as, bisected) under which a full update of a
    64 MiB image over HTTP still succeeds, and the wall time of the same run pinned to one
    core (taskset -c 0).
(c) SHA-256 throughput with and without the CPU's SHA extensions (OPENSSL_ia32cap masks
    them), and published cycle counts of embedded chips turned into estimated seconds per
    update check (ESTIMATES, crypto only).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import _published
from benchmarks._util import Context, MiB, env_for_clients, fmt, http_server, median, run_client

SHA_EXT_MASK = ":~0x20000000"  # CPUID.7.EBX bit 29 (SHA) off for OpenSSL


def have_valgrind() -> bool:
    return shutil.which("valgrind") is not None


def _callgrind(argv: list[str]) -> int:
    """Instructions executed (Ir) by `argv` under callgrind."""
    with tempfile.TemporaryDirectory(prefix="bench-cg-") as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
            capture_output=True,
            text=True,
            env=env_for_clients(),
            timeout=1800,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"callgrind {argv} failed:\n{proc.stderr[-2000:]}")
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("no callgrind summary")


def _runner(client: str, scenario: str, *args: str) -> list[str]:
    from benchmarks._util import RUNNER

    return [sys.executable, str(RUNNER), client, scenario, *args]


def callgrind(ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {
        "python_pass": _callgrind([sys.executable, "-c", "pass"]),
        # The runner's own start-up (argparse, json, tempfile, ...), charged to both clients
        # alike; `net` figures subtract it.
        "harness": _callgrind(_runner("none", "import")),
        "rows": [],
    }
    for n in ctx.sizes.callgrind_targets:
        repo = ctx.repo(n, "flat", MiB)
        row: dict[str, Any] = {"n_targets": n}
        for client in ctx.clients:
            with ctx.guard(f"callgrind {n} {client}"):
                row.update(_callgrind_client(ctx, client, repo, n))
        out["rows"].append(row)
        ctx.log(
            f"  callgrind {n}: "
            + ", ".join(
                f"{c} poll {fmt(row.get(f'{c}_poll_ir', 0) / 1e6, '.0f')}M "
                f"update {fmt(row.get(f'{c}_update_ir', 0) / 1e6, '.0f')}M"
                for c in ctx.clients
            )
        )
    return out


def _callgrind_client(ctx: Context, client: str, repo: Any, n: int) -> dict[str, int]:
    row: dict[str, int] = {}
    state = ctx.work / f"cg-state-{client}-{n}"
    if state.exists():
        shutil.rmtree(state)
    base = [
        "--repo",
        str(repo.root),
        "--first-root",
        str(repo.first_root),
        "--lookup",
        repo.lookup,
    ]
    run_client(client, "update", *base, "--keep-state", str(state))
    if ctx.sizes.callgrind_poll:
        row[f"{client}_poll_ir"] = _callgrind(
            _runner(client, "poll", *base, "--template", str(state))
        )
    row[f"{client}_update_ir"] = _callgrind(
        _runner(client, "update", *base, "--image", repo.image, "--dest", str(ctx.work))
    )
    return row


def _succeeds(client: str, args: list[str], limit_mib: int) -> bool:
    res = run_client(
        client,
        "update",
        *args,
        prefix=["prlimit", f"--as={limit_mib * MiB}", "--"],
        check=False,
        timeout=600,
    )
    return bool(res["ok"])


def address_space(ctx: Context) -> dict[str, Any]:
    n, size = ctx.sizes.constrained_targets, ctx.sizes.constrained_image
    repo = ctx.repo(n, "flat", size)
    dest = ctx.work / "downloads"
    dest.mkdir(exist_ok=True)
    resolution = {"full": 2, "quick": 8}.get(ctx.sizes.name, 32)
    out: dict[str, Any] = {"n_targets": n, "image_mib": size / MiB, "resolution_mib": resolution}
    with http_server(repo.root) as url:
        args = [
            "--url",
            url,
            "--first-root",
            str(repo.first_root),
            "--lookup",
            repo.lookup,
            "--image",
            repo.image,
            "--dest",
            str(dest),
        ]
        for client in ctx.clients:
            with ctx.guard(f"address space {client}"):
                out.update(_bisect(ctx, client, args, resolution))
    return out


def _bisect(ctx: Context, client: str, args: list[str], resolution: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lo, hi = 8, 256
    while not _succeeds(client, args, hi):
        lo, hi = hi, hi * 2
        if hi > 4096:
            raise RuntimeError("fails even with 4 GiB of address space")
    while hi - lo > resolution:
        mid = (lo + hi) // 2
        if _succeeds(client, args, mid):
            hi = mid
        else:
            lo = mid
    out[f"{client}_min_as_mib"] = hi
    runs = [
        run_client(client, "update", *args, prefix=["taskset", "-c", "0"])
        for _ in range(ctx.sizes.repeats)
    ]
    out[f"{client}_one_core_ms"] = median([r["wall_s"] for r in runs]) * 1e3
    ctx.log(f"  address space {client}: {hi} MiB; one core {out[f'{client}_one_core_ms']:.0f} ms")
    return out


def sha_throughput(ctx: Context) -> dict[str, Any]:
    mib = 256 if ctx.sizes.name == "full" else 16
    code = (
        "import hashlib, time\n"
        f"b = bytearray({mib} << 20)\n"
        "b[::4096] = b'x' * len(b[::4096])\n"  # touch every page before timing
        "ts = []\n"
        "for _ in range(3):\n"
        "    t = time.perf_counter()\n"
        "    hashlib.sha256(b).digest()\n"
        "    ts.append(time.perf_counter() - t)\n"
        f"print({mib} / 1024 / sorted(ts)[1])\n"
    )
    out: dict[str, Any] = {}
    for label, extra in (("default", {}), ("no_sha_ext", {"OPENSSL_ia32cap": SHA_EXT_MASK})):
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env_for_clients(extra),
            check=True,
        )
        out[f"{label}_gib_s"] = float(proc.stdout.strip())
    ctx.log(
        f"  sha256: {out['default_gib_s']:.2f} GiB/s, without SHA extensions "
        f"{out['no_sha_ext_gib_s']:.2f} GiB/s"
    )
    return out


def estimates(ctx: Context) -> dict[str, Any]:
    rows = []
    for n in sorted({10, ctx.sizes.constrained_targets}):
        repo = ctx.repo(n, "flat")
        meta = repo.metadata
        ts_bytes = (meta / "timestamp.json").stat().st_size
        full_bytes = sum(
            (meta / f).stat().st_size
            for f in (
                "2.root.json",
                "3.root.json",
                "4.root.json",
                "timestamp.json",
                "1.snapshot.json",
                "1.targets.json",
                "1.firmware.json",
            )
        )
        # 3 rotations x (old + new root key) + timestamp, snapshot, targets, delegated role.
        cases = [
            ("poll, new timestamp", 1, ts_bytes, 0),
            (f"first update, {n} targets", 10, full_bytes, 0),
            (f"first update, {n} targets + 64 MiB image", 10, full_bytes, 64 * MiB),
        ]
        for case, sigs, mbytes, ibytes in cases:
            if case.startswith("poll") and n != 10:
                continue
            for est in _published.estimate(sigs, mbytes, ibytes):
                rows.append(
                    {
                        "case": case,
                        "signatures": sigs,
                        "metadata_bytes": mbytes,
                        "image_bytes": ibytes,
                        **est,
                    }
                )
    return {"published": _published.PUBLISHED, "estimates": rows}


def run(ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if have_valgrind():
        out["callgrind"] = callgrind(ctx)
    else:
        out["callgrind"] = None
        ctx.notes.append("valgrind not installed: callgrind instruction counts skipped")
    if shutil.which("prlimit") and shutil.which("taskset") and os.name == "posix":
        out["address_space"] = address_space(ctx)
    else:
        out["address_space"] = None
        ctx.notes.append("prlimit/taskset not installed: address-space bisection skipped")
    out["sha256"] = sha_throughput(ctx)
    out["published"] = estimates(ctx)
    return out
