"""7. Constrained-device emulation.

(a) Instructions (valgrind callgrind, PYTHONHASHSEED=0, deterministic) of whole processes
    (`_first_update.py`, which imports nothing of its own) over HTTP on 127.0.0.1: a full
    first update with a 1 MiB image, and a poll with nothing new from a saved up-to-date
    state. Whole-process figures, nothing subtracted: the interpreter's start-up and every
    import are part of what a device pays (`python -c pass` is shown for reference). The
    floor (benchmarks/floor.py) runs the same way. Instruction counts do not depend on the
    machine's load, so two callgrind runs go at once.
(b) The smallest address-space limit (prlimit --as, bisected) under which a full update of
    a 64 MiB image over HTTP still succeeds, and the wall time of the same run pinned to
    one core (taskset -c 0); the floor too.
(c) SHA-256 and SHA-512 throughput, SHA-256 with and without the CPU's SHA extensions
    (OPENSSL_ia32cap masks them), and published cycle counts of embedded cores turned into
    ESTIMATES per update: signatures counted (by the floor, which checks what the TUF
    workflow checks) x verify cycles, Ed25519's SHA-512 over each signed message, SHA-256
    of the image, plus an interpreter term (this run's whole-process instruction count at
    an assumed one instruction per cycle) on the Linux-class cores; Cortex-M rows show
    only the verify primitives, which is all a C verifier on a microcontroller would run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import _published
from benchmarks._util import (
    FLOOR,
    Context,
    MiB,
    env_for_clients,
    first_update_argv,
    fmt,
    http_server,
    interpreter,
    median,
    run_first_update,
)

SHA_EXT_MASK = ":~0x20000000"  # CPUID.7.EBX bit 29 (SHA) off for OpenSSL


def have_valgrind() -> bool:
    return shutil.which("valgrind") is not None


def _callgrind(argv: list[str], client: str | None = None, cwd: Path | None = None) -> int:
    """Instructions executed (Ir) by `argv` (run on the client interpreter) under callgrind."""
    with tempfile.TemporaryDirectory(prefix="bench-cg-") as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", interpreter(), *argv],
            capture_output=True,
            text=True,
            env=env_for_clients({"BENCH_EMULATED": "1"}, client=client),
            timeout=1800,
            cwd=cwd or tmp,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"callgrind {argv} failed:\n{proc.stderr[-2000:]}")
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("no callgrind summary")


def callgrind(ctx: Context) -> dict[str, Any]:
    names = [c for c in [*ctx.clients, FLOOR] if c != "tuf" or ctx.sizes.callgrind_tuf]
    if not ctx.sizes.callgrind_tuf:
        ctx.notes.append(
            "python-tuf's instruction count is not measured in a quick run (a callgrind run "
            "of it takes ~20 s): the full run has it"
        )
    jobs: dict[tuple[str, ...], Any] = {("python_pass",): (["-c", "pass"], None, None)}
    servers = []
    work = ctx.work / "callgrind"
    work.mkdir(exist_ok=True)
    out: dict[str, Any] = {"rows": []}
    try:
        for n in ctx.sizes.callgrind_targets:
            repo = ctx.repo(n, "flat", MiB)
            server = http_server(repo.root)
            url = server.__enter__()
            servers.append(server)
            for client in names:
                run_dir = work / f"{client}-{n}-update"
                run_dir.mkdir()
                jobs[(client, str(n), "update")] = (
                    first_update_argv(client, url, repo, run_dir),
                    client,
                    run_dir,
                )
                if ctx.sizes.callgrind_poll:
                    poll_dir = work / f"{client}-{n}-poll"
                    _up_to_date_state(client, url, repo, poll_dir)
                    argv = first_update_argv(client, url, repo, poll_dir)
                    argv[3] = "-"  # FIRST_ROOT "-": a poll of the state in poll_dir
                    jobs[(client, str(n), "poll")] = (argv, client, poll_dir)
        # Counts do not depend on load: two at a time on the two cores.
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {key: pool.submit(_callgrind, *job) for key, job in jobs.items()}
            counts: dict[tuple[str, ...], int | None] = {}
            for key, fut in futures.items():
                try:
                    counts[key] = fut.result()
                except Exception as e:
                    ctx.fail(f"callgrind {' '.join(key)}", e)
                    counts[key] = None
    finally:
        for server in servers:
            server.__exit__(None, None, None)
    out["python_pass"] = counts.pop(("python_pass",))
    for n in ctx.sizes.callgrind_targets:
        row: dict[str, Any] = {"n_targets": n}
        for (client, size, what), value in counts.items():
            if size == str(n) and value is not None:
                row[f"{client}_{what}_ir"] = value
        out["rows"].append(row)
        ctx.log(
            f"  callgrind {n}: "
            + ", ".join(
                f"{c} poll {fmt((row.get(f'{c}_poll_ir') or 0) / 1e6, '.0f')}M "
                f"update {fmt((row.get(f'{c}_update_ir') or 0) / 1e6, '.0f')}M"
                for c in names
            )
        )
    return out


def _up_to_date_state(client: str, url: str, repo: Any, run_dir: Path) -> None:
    """`run_dir/state`: the device state after a first update by `client` (for polls)."""
    run_dir.mkdir()
    tmp = run_dir / "first"
    tmp.mkdir()
    argv = first_update_argv(client, url, repo, tmp)
    argv[5] = ""  # no image
    subprocess.run(
        [interpreter(), *argv],
        check=True,
        capture_output=True,
        env=env_for_clients(client=client),
        cwd=tmp,
    )
    shutil.move(tmp / "state", run_dir / "state")
    shutil.rmtree(tmp)


def address_space(ctx: Context) -> dict[str, Any]:
    n, size = ctx.sizes.constrained_targets, ctx.sizes.constrained_image
    repo = ctx.repo(n, "flat", size)
    scratch, _ = ctx.scratch("address-space")
    resolution = {"full": 2, "quick": 16}.get(ctx.sizes.name, 32)
    out: dict[str, Any] = {"n_targets": n, "image_mib": size / MiB, "resolution_mib": resolution}
    with http_server(repo.root) as url:
        for client in [*ctx.clients, FLOOR]:
            with ctx.guard(f"address space {client}"):
                out.update(_bisect(ctx, client, url, repo, scratch, resolution))
    return out


def _bisect(
    ctx: Context, client: str, url: str, repo: Any, scratch: Path, resolution: int
) -> dict[str, Any]:
    def succeeds(limit_mib: int) -> bool:
        prefix = ["prlimit", f"--as={limit_mib * MiB}", "--"]
        res = run_first_update(client, url, repo, scratch, prefix=prefix, check=False)
        return bool(res["ok"])

    out: dict[str, Any] = {}
    lo, hi = 8, 256
    while not succeeds(hi):
        lo, hi = hi, hi * 2
        if hi > 4096:
            raise RuntimeError("fails even with 4 GiB of address space")
    while hi - lo > resolution:
        mid = (lo + hi) // 2
        if succeeds(mid):
            hi = mid
        else:
            lo = mid
    out[f"{client}_min_as_mib"] = hi
    prefix = ["taskset", "-c", "0"]
    runs = [
        run_first_update(client, url, repo, scratch, prefix=prefix)
        for _ in range(ctx.sizes.repeats if ctx.sizes.name == "full" else 1)
    ]
    out[f"{client}_one_core_ms"] = median([r["wall_s"] for r in runs]) * 1e3
    out[f"{client}_rss_mib"] = median([r["maxrss_kib"] for r in runs]) / 1024
    ctx.log(f"  address space {client}: {hi} MiB; one core {out[f'{client}_one_core_ms']:.0f} ms")
    return out


def sha_throughput(ctx: Context) -> dict[str, Any]:
    mib = 256 if ctx.sizes.name == "full" else 16
    code = (
        "import hashlib, sys, time\n"
        f"b = bytearray({mib} << 20)\n"
        "b[::4096] = b'x' * len(b[::4096])\n"  # touch every page before timing
        "ts = []\n"
        "for _ in range(3):\n"
        "    t = time.perf_counter()\n"
        "    hashlib.new(sys.argv[1], b).digest()\n"
        "    ts.append(time.perf_counter() - t)\n"
        f"print({mib} / 1024 / sorted(ts)[1])\n"
    )
    out: dict[str, Any] = {}
    cases = (
        ("default", "sha256", {}),
        ("no_sha_ext", "sha256", {"OPENSSL_ia32cap": SHA_EXT_MASK}),
        ("sha512", "sha512", {}),
    )
    for label, algo, extra in cases:
        proc = subprocess.run(
            [sys.executable, "-c", code, algo],
            capture_output=True,
            text=True,
            env=env_for_clients(extra),
            check=True,
        )
        out[f"{label}_gib_s"] = float(proc.stdout.strip())
    ctx.log(
        f"  sha256: {out['default_gib_s']:.2f} GiB/s, without SHA extensions "
        f"{out['no_sha_ext_gib_s']:.2f} GiB/s; sha512 {out['sha512_gib_s']:.2f} GiB/s"
    )
    return out


def signature_counts(ctx: Context, n: int) -> dict[str, int]:
    """Signatures a first update and a poll check, and the bytes they cover, counted by
    running the floor (which checks what the TUF workflow checks) on the repository."""
    from benchmarks import floor

    repo = ctx.repo(n, "flat")
    state = Path(tempfile.mkdtemp(prefix="bench-count-", dir=ctx.work))
    shutil.copyfile(repo.first_root, state / "root.json")
    floor.COUNTS.update(signatures=0, signed_bytes=0)
    fl = floor.Floor(str(state), str(repo.root))
    fl.refresh()
    fl.lookup(repo.lookup)
    update = dict(floor.COUNTS)
    floor.COUNTS.update(signatures=0, signed_bytes=0)
    floor.verify_stored(str(state), ["firmware"])
    poll = dict(floor.COUNTS)
    ts = (repo.metadata / "timestamp.json").stat().st_size
    shutil.rmtree(state)
    return {
        "update_signatures": update["signatures"],
        "update_signed_bytes": update["signed_bytes"],
        "poll_signatures": poll["signatures"],
        "poll_signed_bytes": poll["signed_bytes"],
        "timestamp_bytes": ts,
    }


def estimates(ctx: Context, cg: dict[str, Any] | None) -> dict[str, Any]:
    rows = []
    counts = {}
    instructions = {}
    for r in (cg or {}).get("rows", []):
        instructions[r["n_targets"]] = r
    for n in sorted({10, ctx.sizes.constrained_targets}):
        c = counts[n] = signature_counts(ctx, n)
        ir = instructions.get(n, {})
        cases = [
            (
                f"first update, {n:,} targets",
                "update",
                c["update_signatures"],
                c["update_signed_bytes"],
                0,
            ),
            (
                f"first update, {n:,} targets + 64 MiB image",
                "update",
                c["update_signatures"],
                c["update_signed_bytes"],
                64 * MiB,
            ),
            (
                f"poll, nothing new, {n:,} targets",
                "poll",
                c["poll_signatures"],
                c["poll_signed_bytes"],
                0,
            ),
            (
                f"poll, new timestamp, {n:,} targets",
                "poll",
                c["poll_signatures"] + 1,
                c["poll_signed_bytes"] + c["timestamp_bytes"],
                0,
            ),
        ]
        for case, kind, sigs, signed, image in cases:
            for client in ("firmtuf", "tuf"):
                est = _published.estimate(sigs, signed, image, ir.get(f"{client}_{kind}_ir"))
                for e in est:
                    if e["interpreter_s"] is None and client == "tuf":
                        continue  # the microcontroller rows are client-independent
                    rows.append(
                        {
                            "case": case,
                            "client": client if e["interpreter_s"] is not None else "C verifier",
                            "signatures": sigs,
                            "signed_bytes": signed,
                            "image_bytes": image,
                            **e,
                        }
                    )
    return {"published": _published.PUBLISHED, "counts": counts, "estimates": rows}


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
    out["published"] = estimates(ctx, out["callgrind"])
    return out
