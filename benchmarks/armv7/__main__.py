"""The verifier and python-tuf on a 32-bit ARM (armhf) Linux userland under qemu-user.

    python -m benchmarks.armv7 [--fetch-tools] [--profile full|quick|tiny] [options]
    python -m benchmarks --only armv7        # the same, full profile, --fetch-tools

Builds (once, cached outside git) a Debian armhf userland with debootstrap --foreign and
dpkg-deb -x, installs firmtuf (a wheel of this checkout) and python-tuf into it with the
armv7l cryptography wheel, serves benchmark repositories on 127.0.0.1 from the host, and
runs the device scenarios in the guest through `qemu-arm-static -cpu cortex-a7 -L ROOTFS`,
started explicitly: nothing is registered with binfmt_misc, no host-wide setting changes.
Writes benchmarks/results/<date>-armv7[-PROFILE].{json,md} and, for a full run, the
"32-bit ARM" section of docs/benchmarks.md. Run as root (debootstrap needs it).

Exit codes: 0 done; 1 some measurements failed (reported); 2 bad arguments; 3 a
prerequisite is missing (qemu-arm-static, debootstrap, root): nothing was changed;
4 a setup step failed (download, debootstrap, pip).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._util import PROJECT, machine

CPUS = ["cortex-a7", "cortex-a8", "cortex-a9", "cortex-a15"]
EXIT_FAILURES, EXIT_USAGE, EXIT_MISSING, EXIT_SETUP = 1, 2, 3, 4


def parser() -> argparse.ArgumentParser:
    from benchmarks.armv7._setup import MIRROR, default_cache

    p = argparse.ArgumentParser(
        prog="python -m benchmarks.armv7",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit codes: 0 done, 1 measurements failed, 2 bad arguments, "
        "3 prerequisite missing, 4 setup failed.",
    )
    p.add_argument(
        "--profile",
        choices=["full", "quick", "tiny"],
        default="full",
        help="sizes and repeats (default: full; quick and tiny are for trying it)",
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=default_cache(),
        help="tools, userland and wheels (default: %(default)s; or FIRMTUF_ARMV7_CACHE)",
    )
    p.add_argument(
        "--fetch-tools",
        action="store_true",
        help="apt-get download + dpkg-deb -x qemu-user-static, qemu-user and "
        "debootstrap into the cache when they are not found (never installed)",
    )
    p.add_argument(
        "--check", action="store_true", help="only report whether the tools are there (exit 0 or 3)"
    )
    p.add_argument(
        "--prepare-only",
        action="store_true",
        help="build the userland and install the clients, measure nothing",
    )
    p.add_argument("--rebuild-rootfs", action="store_true", help="debootstrap again")
    p.add_argument("--mirror", default=MIRROR, help="Debian mirror (default: %(default)s)")
    p.add_argument(
        "--cpu", choices=CPUS, default="cortex-a7", help="emulated CPU (default: %(default)s)"
    )
    p.add_argument(
        "--nice",
        type=int,
        default=10,
        metavar="N",
        help="run the emulator under nice -n N (0-19, default: %(default)s)",
    )
    p.add_argument(
        "--no-insns", action="store_true", help="skip the instruction counts (TCG plugin runs)"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=PROJECT / "benchmarks" / "results",
        help="results directory (default: benchmarks/results)",
    )
    p.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="measure nothing: rewrite the report (and, for a full run, the docs section) "
        "from a results file of an earlier run",
    )
    p.add_argument(
        "--no-docs",
        action="store_true",
        help="do not rewrite the 32-bit ARM section of docs/benchmarks.md",
    )
    return p


def validate(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not 0 <= args.nice <= 19:
        p.error("--nice must be between 0 and 19")
    if args.cache.exists() and not args.cache.is_dir():
        p.error(f"--cache {args.cache} exists and is not a directory")
    if args.out.exists() and not args.out.is_dir():
        p.error(f"--out {args.out} exists and is not a directory")
    if args.check and (args.prepare_only or args.fetch_tools):
        p.error("--check only looks; it cannot be combined with --prepare-only/--fetch-tools")


def _refuse(code: int, message: str) -> int:
    print(f"benchmarks.armv7: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None, log: Any = print) -> int:
    from benchmarks.armv7 import _setup

    p = parser()
    args = p.parse_args(argv)
    validate(p, args)
    if args.render:
        return render(args, log)
    cache: Path = args.cache
    tools, missing = _setup.find_tools(cache)
    if tools is None and args.fetch_tools and not args.check:
        try:
            cache.mkdir(parents=True, exist_ok=True)
            _setup.fetch_tools(cache, log)
        except (_setup.SetupError, OSError, subprocess.CalledProcessError) as e:
            return _refuse(EXIT_SETUP, f"fetching the tools failed: {e}")
        tools, missing = _setup.find_tools(cache)
    if tools is None:
        return _refuse(
            EXIT_MISSING,
            "cannot emulate the armhf device: not found: " + "; ".join(missing) + ". "
            f"Looked in {cache / 'tools'} and on PATH. Run again with --fetch-tools to "
            "unpack them from Debian's packages into the cache (apt-get download + "
            "dpkg-deb -x, nothing installed, no binfmt_misc registration).",
        )
    if args.nice and shutil.which("nice") is None:
        return _refuse(EXIT_MISSING, "`nice` (coreutils) not found; run with --nice 0")
    if args.check:
        log(f"qemu-arm-static: {tools.qemu_static}")
        log(f"debootstrap: {tools.debootstrap}")
        log(f"instruction counts: {tools.qemu_plugin or 'no (' + tools.plugin_why_not + ')'}")
        return 0
    if os.geteuid() != 0 and not _setup.rootfs_marker(cache / "rootfs").exists():
        return _refuse(EXIT_MISSING, "building the armhf userland needs root (debootstrap)")
    try:
        rootfs = _setup.build_rootfs(tools, cache, args.mirror, args.rebuild_rootfs, log)
        sites = _setup.install_clients(rootfs, cache, log)
    except (_setup.SetupError, OSError, subprocess.CalledProcessError) as e:
        return _refuse(EXIT_SETUP, f"setting up the armhf userland failed: {e}")
    if args.prepare_only:
        log(f"ready: {rootfs}")
        return 0
    plugin = None if args.no_insns else _setup.build_plugin(tools, cache)
    results = measure(args, tools, rootfs, sites, plugin, log)
    write(results, args, log)
    return EXIT_FAILURES if results["failures"] else 0


def _qemu_version(qemu: Path) -> str:
    out = subprocess.run([str(qemu), "--version"], capture_output=True, text=True).stdout
    first = out.splitlines()[0] if out else "qemu"
    return first.replace("qemu-arm version ", "")


def measure(
    args: argparse.Namespace,
    tools: Any,
    rootfs: Path,
    sites: dict[str, dict[str, str]],
    plugin: Path | None,
    log: Any,
) -> dict[str, Any]:
    from benchmarks.armv7 import _measure, _report, _setup

    plan = _measure.PLANS[args.profile]
    date = datetime.datetime.now(datetime.UTC)
    packages = _setup.rootfs_packages(rootfs)
    notes: list[str] = []
    why_not = tools.plugin_why_not
    if args.no_insns:
        why_not = "skipped (--no-insns)"
    with tempfile.TemporaryDirectory(prefix="firmtuf-armv7-") as tmp:
        work = Path(tmp)
        guest = _measure.Guest(tools, rootfs, work, args.cpu, args.nice, plugin, log)
        session = _measure.Session(plan, guest, work, log)
        res = _measure.run_all(session)
        metadata_bytes = {
            n: sum(f.stat().st_size for f in repo.metadata.glob("*.json"))
            for (n, layout, img), repo in session.repos.items()
            if layout == "flat" and img == 0
        }
        res["failures"] = session.failures
    version = _qemu_version(tools.qemu_static)
    res.update(
        profile=args.profile,
        date=date.strftime("%Y-%m-%d %H:%M UTC"),
        stem=date.strftime("%Y-%m-%d"),
        machine=machine(),
        qemu=f"qemu-arm-static {version}",
        qemu_version=version,
        cpu=args.cpu,
        nice=args.nice,
        polls=plan.polls,
        repeats=plan.repeats,
        warm_runs=plan.warm_runs,
        sample_ms=plan.sample_ms,
        instructions={"available": plugin is not None, "why_not": why_not},
        guest={
            "suite": _setup.SUITE,
            "python": packages.get("python3.11"),
            "cffi_backend": packages.get("python3-cffi-backend"),
            "libssl3": packages.get("libssl3"),
            "sites": sites,
        },
        flash=_measure.flash_footprint(rootfs),
        estimates=_report.estimates(metadata_bytes, plan.image_mib << 20),
        notes=notes,
    )
    return res


def render(args: argparse.Namespace, log: Any) -> int:
    try:
        res = json.loads(args.render.read_text())
        profile = res["profile"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return _refuse(EXIT_USAGE, f"--render {args.render}: not a results file ({e})")
    args.profile = profile
    try:
        write(res, args, log)
    except (KeyError, TypeError, ValueError) as e:
        return _refuse(EXIT_USAGE, f"--render {args.render}: incomplete results ({e!r})")
    return 0


def write(res: dict[str, Any], args: argparse.Namespace, log: Any) -> None:
    from benchmarks.armv7 import _report

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{res['stem']}-armv7" + ("" if args.profile == "full" else f"-{args.profile}")
    (out / f"{stem}.json").write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    text = _report.section(res)
    (out / f"{stem}.md").write_text(text)
    if args.profile == "full" and not args.no_docs:
        _report.update_docs(PROJECT / "docs" / "benchmarks.md", text)
        log("updated docs/benchmarks.md (32-bit ARM)")
    log(f"wrote {out / stem}.{{json,md}} in {res['duration_s'] / 60:.1f} min")


if __name__ == "__main__":
    sys.exit(main())
