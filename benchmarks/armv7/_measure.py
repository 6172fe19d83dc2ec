"""The device scenarios under emulation, both clients taking turns, and what each run yields.

Every guest process is `nice -n N qemu-arm-static -cpu cortex-a7 -L ROOTFS
ROOTFS/usr/bin/python3 benchmarks/armv7/_guest.py ...` (instruction runs use Debian's
qemu-arm with the insncount plugin instead). `-cpu cortex-a7`: qemu's default ARM CPU
advertises the ARMv8 crypto extensions (HWCAP2 AES/SHA1/SHA2), which OpenSSL would use;
a Cortex-A7 has none, so SHA-256 and friends run the code such a board runs.

Kinds of run per case and client (each a fresh guest process):
- timing (`repeats`): guest phase times, glibc/pymalloc peaks, guest maps at exit, qemu's
  RSS; wall times become python-tuf / firmtuf ratios only.
- probe (`probes`): a sampling thread in the guest (address space, resident anonymous pages).
- tracemalloc (1): PYTHONTRACEMALLOC=1, the Python-level peak.
- instructions (1): guest instructions of the whole process (interpreter start included).
A `harness` case (the runner importing nothing) gives the baseline that is the same for
both clients; instruction ratios are net of it.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._repo import BuiltRepo, build_repo
from benchmarks._util import MiB, env_for_clients, http_server, median, run_client
from benchmarks.armv7 import _setup

GUEST_PY = Path(__file__).resolve().parent / "_guest.py"
CLIENTS = ["tuf", "firmtuf"]


@dataclass
class Plan:
    """Sizes and repeats of one pass."""

    name: str
    targets: list[int]
    repeats: int
    probes: int
    polls: int
    image_mib: int
    whole_targets: int
    warm_runs: int = 2
    sample_ms: float = 10.0


PLANS = {
    "full": Plan(
        "full",
        [10, 1_000, 10_000],
        repeats=3,
        probes=2,
        polls=5,
        image_mib=64,
        whole_targets=10_000,
    ),
    "quick": Plan(
        "quick",
        [10, 1_000],
        repeats=1,
        probes=1,
        polls=3,
        image_mib=8,
        whole_targets=1_000,
        warm_runs=1,
    ),
    "tiny": Plan(
        "tiny", [10], repeats=1, probes=1, polls=2, image_mib=1, whole_targets=10, warm_runs=1
    ),
}


@dataclass
class Case:
    """One scenario: runner arguments per client, and the phase that is its time."""

    scenario: str  # harness | import | update | poll | download | whole
    layout: str | None
    n_targets: int
    image_mib: int
    args: Callable[[str, int], list[str]]  # (client, repeats in the process) -> runner args
    phase: str  # key of the runner's JSON holding the case's time
    warm_repeat: int = 0  # > 0: extra timing runs doing this many repeats (the warm figure)

    @property
    def label(self) -> str:
        parts = [self.scenario]
        if self.layout:
            parts.append(f"{self.layout} {self.n_targets}")
        if self.image_mib:
            parts.append(f"+ {self.image_mib} MiB")
        return " ".join(parts)


@dataclass
class Guest:
    """Starts guest processes under the emulator."""

    tools: _setup.Tools
    rootfs: Path
    work: Path
    cpu: str
    nice: int
    plugin: Path | None
    log: Callable[[str], None] = print
    processes: int = 0

    def env(self, client: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        site = _setup.site_dir(self.rootfs, client if client in CLIENTS else "firmtuf")
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.work),
            "TMPDIR": str(self.work / "tmp"),
            "LC_ALL": "C.UTF-8",
            "PYTHONPATH": str(site),
            "PYTHONHASHSEED": "0",
            "PYTHONNOUSERSITE": "1",
        }
        env.update(extra or {})
        return env

    def command(self, argv: list[str], insns_out: Path | None = None) -> list[str]:
        prefix = ["nice", "-n", str(self.nice)] if self.nice else []
        if insns_out is not None:
            assert self.tools.qemu_plugin is not None and self.plugin is not None
            qemu = [str(self.tools.qemu_plugin), "-plugin", f"{self.plugin},out={insns_out}"]
        else:
            qemu = [str(self.tools.qemu_static)]
        python = str(self.rootfs / "usr" / "bin" / "python3")
        return [*prefix, *qemu, "-cpu", self.cpu, "-L", str(self.rootfs), python, *argv]

    def run(
        self,
        client: str,
        argv: list[str],
        *,
        insns: bool = False,
        env: dict[str, str] | None = None,
        parse: bool = True,
    ) -> dict[str, Any]:
        (self.work / "tmp").mkdir(exist_ok=True)
        full_env = self.env(client, env)
        out_file = None
        if insns:
            full_env.update(self.tools.plugin_env())
            fd, name = tempfile.mkstemp(prefix="insns-", dir=self.work)
            os.close(fd)
            out_file = Path(name)
        cmd = self.command(argv, out_file)
        # CPU time of the emulator process (nice execs qemu in place): unlike wall time it
        # does not grow while the shared machine's other jobs hold the CPU. Guest processes
        # run one at a time, so the children's rusage delta is this one's.
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=1800)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        self.processes += 1
        if proc.returncode != 0:
            raise RuntimeError(
                f"guest {' '.join(argv[:4])} failed ({proc.returncode}): "
                f"{proc.stderr.strip()[-1500:]}"
            )
        result: dict[str, Any] = {}
        if parse:
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            result = json.loads(lines[-1])
        result["wall_s"] = wall
        result["cpu_s"] = cpu
        if out_file is not None:
            text = out_file.read_text().strip()
            out_file.unlink()
            if not text:
                raise RuntimeError("the instruction-count plugin wrote nothing")
            result["insns"] = int(text)
        return result

    def runner(self, client: str, args: list[str], **kw: Any) -> dict[str, Any]:
        extra = ["--no-extras"] if kw.get("insns") else []
        return self.run(
            client, [str(GUEST_PY), "run", *extra, *kw.pop("guest", []), "--", *args], **kw
        )


@dataclass
class Session:
    plan: Plan
    guest: Guest
    work: Path
    log: Callable[[str], None]
    failures: list[str] = field(default_factory=list)
    repos: dict[tuple[int, str, int], BuiltRepo] = field(default_factory=dict)

    def repo(self, n: int, layout: str, image_mib: int = 0) -> BuiltRepo:
        key = (n, layout, image_mib)
        if key not in self.repos:
            out = self.work / "www" / f"repo-{n}-{layout}-{image_mib}"
            self.repos[key] = build_repo(out, n, layout, image_mib * MiB)
        return self.repos[key]

    def fail(self, label: str, e: Exception) -> None:
        last = (str(e).strip().splitlines() or [type(e).__name__])[-1]
        self.failures.append(f"{label}: {last}")
        self.log(f"  FAILED {label}: {last}")


def _cases(s: Session, base_url: str, dest: Path) -> list[Case]:
    p = s.plan

    def url(repo: BuiltRepo) -> str:
        return f"{base_url}{repo.root.name}/"

    def update_args(repo: BuiltRepo, image: bool = False) -> Callable[[str, int], list[str]]:
        def make(client: str, repeat: int = 1) -> list[str]:
            a = [client, "update", "--url", url(repo), "--first-root", str(repo.first_root)]
            a += ["--lookup", repo.lookup, "--repeat", str(repeat)]
            if image:
                assert repo.image
                a += ["--image", repo.image, "--dest", str(dest)]
            return a

        return make

    cases = [
        Case("harness", None, 0, 0, lambda c, r: ["none", "import"], "import_s"),
        Case("import", None, 0, 0, lambda c, r: [c, "import"], "import_s"),
    ]
    for layout in ("flat", "bins"):
        for n in p.targets:
            repo = s.repo(n, layout)
            cases.append(Case("update", layout, n, 0, update_args(repo), "update_s", 2))
    templates = s.work / "templates"
    for layout in ("flat", "bins"):
        for n in p.targets:
            repo = s.repo(n, layout)
            for client in CLIENTS:
                # The up-to-date device state, made natively (metadata files are the same
                # bytes on any CPU); the guest process then only polls.
                state = templates / f"{client}-{layout}-{n}"
                if not state.exists():
                    run_client(
                        client,
                        "update",
                        *update_args(repo)(client, 1)[2:],
                        "--keep-state",
                        str(state),
                        env=env_for_clients(),
                    )

            def poll(
                client: str,
                repeat: int = 1,
                repo: BuiltRepo = repo,
                layout: str = layout,
                n: int = n,
            ) -> list[str]:
                state = templates / f"{client}-{layout}-{n}"
                return [
                    client,
                    "poll",
                    "--url",
                    url(repo),
                    "--template",
                    str(state),
                    "--lookup",
                    repo.lookup,
                    "--repeat",
                    str(repeat),
                ]

            cases.append(Case("poll", layout, n, 0, poll, "poll_s", p.polls))
    img = s.repo(10, "flat", p.image_mib)
    cases.append(Case("download", "flat", 10, p.image_mib, update_args(img, True), "download_s", 2))
    whole = s.repo(p.whole_targets, "flat", p.image_mib)
    cases.append(
        Case("whole", "flat", p.whole_targets, p.image_mib, update_args(whole, True), "update_s")
    )
    return cases


def _phase(run: dict[str, Any], key: str, warm: bool) -> float:
    values = run[key]
    if not warm:
        return float(values[0])
    # Warm: the last update of the process (imports done), or the median of its polls.
    return float(median(values)) if key == "poll_s" else float(values[-1])


def _summarise(runs: dict[str, list[dict[str, Any]]], case: Case) -> dict[str, Any]:
    out: dict[str, Any] = {}
    timing = runs["timing"]
    if timing:
        out["cold_s"] = median([_phase(r, case.phase, False) for r in timing])
        out["wall_s"] = median([r["wall_s"] for r in timing])
        out["cpu_s"] = median([r["cpu_s"] for r in timing])
        out["process_s"] = median([r["process_s"] for r in timing])
        out["heap_kib"] = median([r["heap"]["upper_bound_kib"] for r in timing])
        out["heap_parts_kib"] = {
            k: median([r["heap"][k] for r in timing])
            for k in ("glibc_arena_max_kib", "glibc_mmap_max_kib", "pymalloc_highwater_kib")
        }
        out["maps_exit_kib"] = median([r["maps"]["total_kib"] for r in timing])
        out["emulator_hwm_kib"] = median([r["emulator"]["vmhwm_kib"] for r in timing])
        out["emulator_peak_kib"] = median([r["emulator"]["vmpeak_kib"] for r in timing])
        out["modules"] = timing[0]["modules"]
        out["origin"] = timing[0]["origin"]
        if "image_bytes" in timing[0]:
            out["image_bytes"] = timing[0]["image_bytes"]
    if runs["warm"]:
        out["warm_s"] = median([_phase(r, case.phase, True) for r in runs["warm"]])
    if runs["probe"]:
        out["sampled_as_kib"] = median([r["sampled"]["peak_as_kib"] for r in runs["probe"]])
        out["sampled_rss_kib"] = median([r["sampled"]["peak_anon_rss_kib"] for r in runs["probe"]])
        out["samples"] = min(r["sampled"]["samples"] for r in runs["probe"])
    if runs["tracemalloc"]:
        out["tracemalloc_peak_kib"] = runs["tracemalloc"][0]["tracemalloc"]["peak_kib"]
    if runs["insns"]:
        out["insns"] = runs["insns"][0]["insns"]
    return out


def measure_case(s: Session, case: Case) -> dict[str, Any]:
    p, g = s.plan, s.guest
    clients = ["none"] if case.scenario == "harness" else CLIENTS
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        c: {"timing": [], "warm": [], "probe": [], "tracemalloc": [], "insns": []} for c in clients
    }
    dead: set[tuple[str, str]] = set()  # (client, kind) that failed once: not retried
    kinds: list[tuple[str, dict[str, Any]]] = [("timing", {})] * p.repeats
    if case.warm_repeat:
        kinds += [("warm", {})] * p.warm_runs
    kinds += [("probe", {"guest": ["--sample-ms", str(p.sample_ms)]})] * p.probes
    kinds += [("tracemalloc", {"env": {"PYTHONTRACEMALLOC": "1"}})]
    if g.plugin is not None:
        kinds += [("insns", {"insns": True})]
    # Clients take turns run by run, so a slow spell of the shared machine hits both alike.
    for kind, kw in kinds:
        for client in clients:
            if (client, kind) in dead:
                continue
            repeat = case.warm_repeat if kind == "warm" else 1
            try:
                runs[client][kind].append(g.runner(client, case.args(client, repeat), **dict(kw)))
            except Exception as e:
                s.fail(f"{case.label} {client} ({kind})", e)
                dead.add((client, kind))
    row: dict[str, Any] = {
        "scenario": case.scenario,
        "layout": case.layout,
        "n_targets": case.n_targets,
        "image_mib": case.image_mib,
        "clients": {c: _summarise(runs[c], case) for c in clients},
    }
    return row


def measure_retained(s: Session, base_url: str) -> list[dict[str, Any]]:
    rows = []
    for layout in ("flat", "bins"):
        for n in s.plan.targets:
            repo = s.repo(n, layout)
            row: dict[str, Any] = {"layout": layout, "n_targets": n}
            for client in CLIENTS:
                args = [
                    str(GUEST_PY),
                    "retained",
                    "--client",
                    client,
                    "--url",
                    f"{base_url}{repo.root.name}/",
                    "--first-root",
                    str(repo.first_root),
                    "--lookup",
                    repo.lookup,
                ]
                try:
                    r = s.guest.run(client, args)
                    row[client] = {"retained_kib": r["retained_kib"], "peak_kib": r["peak_kib"]}
                except Exception as e:
                    s.fail(f"retained {layout} {n} {client}", e)
            rows.append(row)
            s.log(
                f"  retained {layout} {n}: "
                + ", ".join(f"{c} {row[c]['retained_kib']:.0f} KiB" for c in CLIENTS if c in row)
            )
    return rows


def measure_sizes(s: Session) -> dict[str, Any]:
    """Object sizes and a parsed targets.json, in the guest and natively on the host."""
    import sys

    big = s.repo(max(s.plan.targets), "flat")
    args = [str(GUEST_PY), "sizes", "--targets-json", str(big.metadata / "1.targets.json")]
    out: dict[str, Any] = {}
    try:
        out["armv7"] = s.guest.run("firmtuf", args)
    except Exception as e:
        s.fail("sizes (guest)", e)
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True)
    out["host"] = json.loads(proc.stdout.splitlines()[-1])
    return out


def measure_python_pass(s: Session) -> int | None:
    if s.guest.plugin is None:
        return None
    try:
        return int(s.guest.run("none", ["-c", "pass"], insns=True, parse=False)["insns"])
    except Exception as e:
        s.fail("python -c pass (instructions)", e)
        return None


# What the transports and the crypto cost to import on their own, each in the site of the
# client that uses it (context for the rows: the verifier imports cryptography on first use
# and speaks HTTP with http.client; python-tuf imports urllib3 at import). requests is no
# longer in the device install, so it is not measured here.
REFERENCE_IMPORTS = {
    "urllib3": ("tuf", "import urllib3"),
    "http.client": ("firmtuf", "import http.client"),
    "cryptography Ed25519": (
        "firmtuf",
        "from cryptography.hazmat.primitives.asymmetric import ed25519",
    ),
}


def measure_reference_imports(s: Session) -> dict[str, int]:
    out: dict[str, int] = {}
    if s.guest.plugin is None:
        return out
    for label, (site, stmt) in REFERENCE_IMPORTS.items():
        try:
            r = s.guest.run(site, ["-c", stmt], insns=True, parse=False)
            out[label] = int(r["insns"])
        except Exception as e:
            s.fail(f"reference import {label}", e)
    return out


def flash_footprint(rootfs: Path) -> dict[str, Any]:
    """Installed bytes per top-level package of each client's site (what flash holds)."""
    out: dict[str, Any] = {}
    for client in CLIENTS:
        site = _setup.site_dir(rootfs, client)
        packages = {}
        for entry in sorted(site.iterdir()):
            if entry.name.endswith(".dist-info") or entry.name == "bin":
                continue
            packages[entry.name] = (
                _setup.tree_bytes(entry) if entry.is_dir() else (entry.stat().st_size)
            )
        out[client] = packages
    return out


def run_all(s: Session) -> dict[str, Any]:
    t0 = time.perf_counter()
    load_start = os.getloadavg()
    shm = Path("/dev/shm")
    dest = Path(tempfile.mkdtemp(prefix="firmtuf-armv7-img-", dir=shm if shm.is_dir() else s.work))
    results: dict[str, Any] = {"cases": []}
    try:
        www = s.work / "www"
        www.mkdir(parents=True, exist_ok=True)
        with http_server(www) as base_url:
            s.log("  building repositories")
            cases = _cases(s, base_url, dest)
            for client in ["none", *CLIENTS]:  # warm the page cache; bytecode caches exist
                s.guest.runner(client, [client, "import"])
            results["python_pass_insns"] = measure_python_pass(s)
            results["reference_imports"] = measure_reference_imports(s)
            for case in cases:
                tc = time.perf_counter()
                row = measure_case(s, case)
                results["cases"].append(row)
                s.log(f"  {case.label}: " + _brief(row) + f" ({time.perf_counter() - tc:.0f}s)")
            results["retained"] = measure_retained(s, base_url)
        results["sizes"] = measure_sizes(s)
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    results["duration_s"] = time.perf_counter() - t0
    results["loadavg"] = {"start": load_start, "end": os.getloadavg()}
    results["processes"] = s.guest.processes
    return results


def _brief(row: dict[str, Any]) -> str:
    parts = []
    for c, f in row["clients"].items():
        bits = [f"{c}"]
        if "tracemalloc_peak_kib" in f:
            bits.append(f"tm {f['tracemalloc_peak_kib'] / 1024:.1f} MiB")
        if "heap_kib" in f:
            bits.append(f"heap {f['heap_kib'] / 1024:.1f} MiB")
        if "insns" in f:
            bits.append(f"{f['insns'] / 1e6:.0f} M insns")
        parts.append(" ".join(bits))
    return "; ".join(parts)
