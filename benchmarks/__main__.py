"""Run every benchmark: `python -m benchmarks [--quick] [--only NAME,...] [--baseline REF]`.

Writes benchmarks/results/<date>.json, <date>.md and <date>.png (quick runs: <date>-quick.*)
and, for a full run, docs/benchmarks.md. See docs/benchmarks.md for what each benchmark does.
`--baseline REF` also measures the verifier of git commit REF ("before") in the same run.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks import _report
from benchmarks._util import (
    FLOOR,
    PROFILES,
    PROJECT,
    Context,
    env_for_clients,
    machine,
    prepare,
    run_client,
)
from benchmarks.armv7 import _report as armv7_report

ORDER = [
    "signatures",
    "canonical",
    "poll",
    "update",
    "download",
    "whole",
    "import",
    "constrained",
    "add",
]
# Run only when named in --only: the emulated 32-bit ARM device (benchmarks/armv7), which
# builds a Debian armhf userland and takes 20-40 min; its figures go to their own section.
OPTIONAL = ["armv7"]


def firmtuf_available(client: str = "firmtuf") -> str | None:
    """None when verifier.Updater can be imported, else the reason."""
    proc = subprocess.run(
        [sys.executable, "-c", "import verifier; verifier.Updater; verifier.DirectoryFetcher"],
        capture_output=True,
        text=True,
        env=env_for_clients(client=client),
        cwd=tempfile.gettempdir(),  # not the project root: `-c` puts the cwd on sys.path
    )
    return None if proc.returncode == 0 else proc.stderr.strip().splitlines()[-1]


def run(
    profile: str,
    only: list[str] | None,
    out_dir: Path,
    docs: bool,
    clients: list[str] | None = None,
    log: Any = print,
    baseline: str | None = None,
) -> dict[str, Any]:
    sizes = PROFILES[profile]
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="firmtuf-bench-") as tmp:
        prepare(Path(tmp), baseline)
        if clients is None:
            clients = ["tuf", "firmtuf"] + (["base"] if baseline else [])
            for client in clients[1:]:
                reason = firmtuf_available(client)
                if reason is not None:
                    clients.remove(client)
                    notes.append(f"{client} client not measured: verifier not usable ({reason})")
        return _run(profile, sizes, only, out_dir, docs, clients, log, notes, baseline, tmp)


def _run(
    profile: str,
    sizes: Any,
    only: list[str] | None,
    out_dir: Path,
    docs: bool,
    clients: list[str],
    log: Any,
    notes: list[str],
    baseline: str | None,
    tmp: str,
) -> dict[str, Any]:
    """One run in the prepared temporary directory ``tmp``."""
    date = datetime.datetime.now(datetime.UTC)
    results: dict[str, Any] = {
        "profile": profile,
        "date": date.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "clients": clients,
        "baseline": baseline and _describe(baseline),
        "load": _load(),
        "benchmarks": {},
        "errors": {},
        "notes": notes,
        "failures": [],
    }
    t_start = time.perf_counter()
    ctx = Context(sizes=sizes, work=Path(tmp), clients=clients, log=log, notes=notes)
    for client in [*clients, FLOOR]:  # writes bytecode caches so no measured run compiles
        run_client(client, "import")
    for name in ORDER:
        if only and name not in only:
            continue
        log(f"== {name}")
        t0 = time.perf_counter()
        try:
            mod = importlib.import_module(f"benchmarks.bench_{name}")
            results["benchmarks"][name] = mod.run(ctx)
        except Exception:
            results["errors"][name] = traceback.format_exc()
            log(f"  FAILED:\n{results['errors'][name]}")
        finally:
            ctx.cleanup()
        log(f"  ({time.perf_counter() - t0:.1f}s)")
    results["failures"] = ctx.failures
    results["seconds"] = round(time.perf_counter() - t_start, 1)
    results["load_after"] = _load()
    results["goals"] = _report.goals(results)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = date.strftime("%Y-%m-%d") + ("" if profile == "full" else f"-{profile}")
    png = out_dir / f"{stem}.png"
    has_png = _report.plot(results, png)
    (out_dir / f"{stem}.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    md = _report.markdown(results, png.name if has_png else None)
    (out_dir / f"{stem}.md").write_text(md)
    if docs:
        _write_docs(results, out_dir, stem, has_png)
    log(f"wrote {out_dir / stem}.{{json,md{',png' if has_png else ''}}}")
    return results


def _describe(ref: str) -> str:
    """``ref`` as "<short hash> <subject>" (what "before" means in the report); for a
    directory, its BASELINE file (one line saying what it is) or its path."""
    marker = Path(ref) / "BASELINE"
    if Path(ref).is_dir():
        return marker.read_text().strip() if marker.is_file() else ref
    proc = subprocess.run(
        ["git", "-C", str(PROJECT), "log", "-1", "--format=%h %s", ref],
        capture_output=True,
        text=True,
    )
    text = proc.stdout.strip() or ref
    return text if len(text) <= 72 else text[:69] + "..."


def _load() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (the machine is shared: say how busy it was)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _write_docs(results: dict[str, Any], out_dir: Path, stem: str, has_png: bool) -> None:
    docs = PROJECT / "docs" / "benchmarks.md"
    rel = Path("..") / out_dir.resolve().relative_to(PROJECT) / f"{stem}.png"
    intro = (PROJECT / "benchmarks" / "README.md").read_text()
    body = _report.markdown(results, rel.as_posix() if has_png else None)
    # The report's own title is replaced by the docs page's.
    body = body.split("\n", 1)[1]
    text = intro.rstrip() + "\n\n## Latest results\n" + body.replace("\n## ", "\n### ")
    old = docs.read_text() if docs.exists() else ""
    docs.write_text(armv7_report.keep_section(old, text))


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="every benchmark at small sizes")
    mode.add_argument("--tiny", action="store_true", help="smallest sizes (what the tests run)")
    p.add_argument(
        "--only",
        help=f"comma-separated subset of: {','.join(ORDER)}; or {','.join(OPTIONAL)} "
        "(the emulated 32-bit ARM device: python -m benchmarks.armv7 --help)",
    )
    p.add_argument("--out", type=Path, default=PROJECT / "benchmarks" / "results")
    p.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    p.add_argument("--clients", help="comma-separated clients (default: tuf,firmtuf[,base])")
    p.add_argument(
        "--baseline",
        metavar="REF",
        help="also measure the verifier (and signer) of git commit REF, or of the tree in "
        "directory REF, as the 'before' side",
    )
    args = p.parse_args()
    profile = "quick" if args.quick else "tiny" if args.tiny else "full"
    only = args.only.split(",") if args.only else None
    if only and (bad := set(only) - set(ORDER) - set(OPTIONAL)):
        p.error(f"unknown benchmark(s): {', '.join(sorted(bad))}")
    rc = 0
    if only and "armv7" in only:
        from benchmarks.armv7.__main__ import main as armv7_main

        argv = ["--fetch-tools", "--profile", profile, "--out", str(args.out)]
        rc = armv7_main(argv + (["--no-docs"] if args.no_docs else []))
        only = [name for name in only if name != "armv7"]
        if not only:
            sys.exit(rc)
    for tool in ("valgrind", "prlimit", "taskset"):
        if shutil.which(tool) is None:
            print(f"note: {tool} not found; the benchmarks that need it are skipped")
    res = run(
        profile,
        only,
        args.out,
        docs=profile == "full" and not args.no_docs and not only,
        clients=args.clients.split(",") if args.clients else None,
        baseline=args.baseline,
    )
    sys.exit(1 if res["errors"] else rc)


if __name__ == "__main__":
    main()
