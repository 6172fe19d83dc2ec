"""Shared plumbing: the run context, subprocess runner, 127.0.0.1 HTTP server, machine facts."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import shutil
import ssl
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
RUNNER = PROJECT / "benchmarks" / "_run_client.py"
MiB = 1 << 20
FLOOR = "floor"
LABELS = {"tuf": "python-tuf", "firmtuf": "firmtuf", "base": "before", FLOOR: "floor"}

# Set by prepare(): the interpreter client processes run on, and the trees they import
# `verifier` from ("base": the verifier of another commit, the "before" of a run).
_INTERPRETER: list[str] = [sys.executable]
_TREES: dict[str, Path] = {}


def prepare(work: Path, baseline: str | None = None) -> None:
    """Set up the client interpreter and, with ``baseline``, the tree of the "before" side.

    ``baseline`` is a git ref of this repository (its verifier/ and signer/ are extracted)
    or a directory holding a verifier/ (and signer/) of its own.

    Client processes run on a venv of this Python without pip whose only addition is a
    ``.pth`` path line naming this environment's site-packages: the packages are the same,
    but no ``.pth`` import hook of the development venv runs (an editable install's finder
    imports pathlib, urllib.parse, re and ipaddress into every interpreter, ~17 ms, and
    would hide those from `import verifier`). Start-up is then what a device's is.
    """
    env_dir = work / "pyenv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(env_dir)],
        check=True,
        capture_output=True,
    )
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "bench-packages.pth").write_text("\n".join(sorted(ours)) + "\n")
    _INTERPRETER[:] = [str(python)]
    _TREES.clear()
    if baseline is not None:
        given = Path(baseline)
        if (given / "verifier").is_dir():
            _TREES["base"] = given.resolve()
        else:
            _TREES["base"] = extract_tree(baseline, work / "base")


def extract_tree(ref: str, dest: Path) -> Path:
    """`verifier/` and `signer/` of git commit ``ref`` of this repo, extracted under ``dest``."""
    proc = subprocess.run(
        ["git", "-C", str(PROJECT), "archive", "--format=tar", ref, "verifier", "signer"],
        check=True,
        capture_output=True,
    )
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=__import__("io").BytesIO(proc.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def interpreter() -> str:
    """The Python that client processes run on (see prepare)."""
    return _INTERPRETER[0]


def runner_argv(client: str, scenario: str, *args: str) -> list[str]:
    """argv of the runner for ``client`` ("base" runs the runner's firmtuf client)."""
    runner_client = "firmtuf" if client in _TREES else client
    return [interpreter(), str(RUNNER), runner_client, scenario, *args]


@dataclass
class Sizes:
    """Sizes and repeats of one pass (full, quick or tiny)."""

    name: str
    targets: list[int]
    images: list[int]
    repeats: int
    big_repeats: int  # for 100k targets and images >= 256 MiB
    canonical: list[int]
    sig_loops: int
    callgrind_targets: list[int]
    callgrind_poll: bool
    callgrind_tuf: bool
    constrained_targets: int
    constrained_image: int
    whole_targets: int
    whole_image: int
    poll_targets: list[int]
    add_image: int


FULL = Sizes(
    name="full",
    targets=[10, 1_000, 10_000, 100_000],
    images=[1 * MiB, 64 * MiB, 256 * MiB, 1024 * MiB],
    repeats=7,
    big_repeats=3,
    canonical=[10, 1_000, 10_000, 100_000],
    sig_loops=2000,
    callgrind_targets=[10, 1_000, 10_000],
    callgrind_poll=True,
    callgrind_tuf=True,
    constrained_targets=10_000,
    constrained_image=64 * MiB,
    whole_targets=10_000,
    whole_image=256 * MiB,
    poll_targets=[10, 10_000],
    add_image=1024 * MiB,
)
QUICK = Sizes(
    name="quick",
    targets=[10, 1_000],
    images=[1 * MiB, 16 * MiB],
    repeats=2,
    big_repeats=2,
    canonical=[10, 1_000],
    sig_loops=100,
    callgrind_targets=[10],
    callgrind_poll=False,
    callgrind_tuf=False,
    constrained_targets=1_000,
    constrained_image=8 * MiB,
    whole_targets=1_000,
    whole_image=16 * MiB,
    poll_targets=[10],
    add_image=64 * MiB,
)
TINY = Sizes(
    name="tiny",
    targets=[10],
    images=[1 * MiB],
    repeats=1,
    big_repeats=1,
    canonical=[10],
    sig_loops=20,
    callgrind_targets=[10],
    callgrind_poll=False,
    callgrind_tuf=False,
    constrained_targets=10,
    constrained_image=1 * MiB,
    whole_targets=10,
    whole_image=1 * MiB,
    poll_targets=[10],
    add_image=1 * MiB,
)
PROFILES = {s.name: s for s in (FULL, QUICK, TINY)}


@dataclass
class Context:
    sizes: Sizes
    work: Path
    clients: list[str]
    log: Any = print
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _repos: dict[tuple[int, str, int], Any] = field(default_factory=dict)
    _scratch: list[Path] = field(default_factory=list)

    @contextlib.contextmanager
    def guard(self, label: str) -> Iterator[None]:
        """Run one client's measurement; a failure is recorded and the others go on."""
        try:
            yield
        except Exception as e:
            self.fail(label, e)

    def fail(self, label: str, e: Exception) -> None:
        last = (str(e).strip().splitlines() or [type(e).__name__])[-1]
        self.failures.append(f"{label}: {last}")
        self.log(f"  FAILED {label}: {last}")

    def interleaved(
        self, label: str, jobs: dict[str, Callable[[], dict[str, Any]]], repeats: int
    ) -> dict[str, list[dict[str, Any]]]:
        """Run every job `repeats` times, taking turns, so a slow spell of the machine hits
        all of them alike. A job that fails is recorded once and dropped (empty list)."""
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in jobs}
        alive = dict(jobs)
        for _ in range(repeats):
            for name, job in list(alive.items()):
                try:
                    results[name].append(job())
                except Exception as e:
                    self.fail(f"{label} {name}", e)
                    del alive[name]
                    results[name] = []
        return results

    def scratch(self, name: str) -> tuple[Path, dict[str, str]]:
        """A directory for downloaded images, and the client env that keeps temp files there.

        On tmpfs (/dev/shm) when there is one: writing images of up to 1 GiB to a shared VM
        disk made the figures swing by 5x between runs with write-back, not the clients.
        """
        shm = Path("/dev/shm")
        base = shm if shm.is_dir() else self.work
        path = Path(tempfile.mkdtemp(prefix=f"firmtuf-bench-{name}-", dir=base))
        self._scratch.append(path)
        return path, env_for_clients({"TMPDIR": str(path)})

    def cleanup(self) -> None:
        for path in self._scratch:
            shutil.rmtree(path, ignore_errors=True)

    def repo(self, n_targets: int, layout: str = "flat", image_size: int = 0) -> Any:
        """Build (once per run) and return a BuiltRepo."""
        from benchmarks._repo import build_repo

        key = (n_targets, layout, image_size)
        if key not in self._repos:
            t0 = time.perf_counter()
            out = self.work / f"repo-{n_targets}-{layout}-{image_size}"
            self._repos[key] = build_repo(out, n_targets, layout, image_size)
            self.log(f"  built repo {key} in {time.perf_counter() - t0:.1f}s")
        return self._repos[key]


def env_for_clients(
    extra: dict[str, str] | None = None, client: str | None = None
) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(_TREES.get(client or "", PROJECT))
    env["PYTHONHASHSEED"] = "0"
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    # Bytecode caches must be written, or the verifier (a source tree) would be compiled on
    # every import while python-tuf (installed, with caches) would not.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if extra:
        env.update(extra)
    return env


def run_client(
    client: str,
    scenario: str,
    *args: str,
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float = 900,
) -> dict[str, Any]:
    """Run benchmarks/_run_client.py in a fresh interpreter; return its JSON plus wall_s."""
    cmd = [*prefix, *runner_argv(client, scenario, *args)]
    env = dict(env or env_for_clients())
    env["PYTHONPATH"] = str(_TREES.get(client, PROJECT))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        if not check:
            return {
                "ok": False,
                "rc": proc.returncode,
                "stderr": proc.stderr[-2000:],
                "wall_s": wall,
            }
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    result: dict[str, Any] = json.loads(lines[-1])
    result["ok"] = True
    result["wall_s"] = wall
    result["stderr"] = proc.stderr[-2000:]
    return result


FIRST_UPDATE = PROJECT / "benchmarks" / "_first_update.py"


def first_update_argv(client: str, url: str, repo: Any, work: Path) -> list[str]:
    """argv (without the interpreter) of `_first_update.py` for ``client`` ("base" runs
    its firmtuf; "floor-image" downloads ``repo``'s image file alone)."""
    image = repo.image
    if client == "floor-image":
        image_file = next((repo.root / "targets").glob("acme-gw-r2/2.0.1/*.image.bin"))
        image = image_file.relative_to(repo.root).as_posix()
    name = "firmtuf" if client in _TREES else client
    argv = [str(FIRST_UPDATE), name, url, str(repo.first_root), repo.lookup, image or ""]
    return [*argv, str(work)]


def run_first_update(
    client: str,
    url: str,
    repo: Any,
    scratch: Path,
    prefix: Sequence[str] = (),
    check: bool = True,
    timeout: float = 900,
) -> dict[str, Any]:
    """One whole `_first_update.py` process: wall_s, maxrss_kib, ok (and stderr)."""
    work = Path(tempfile.mkdtemp(prefix="first-update-", dir=scratch))
    try:
        cmd = [*prefix, interpreter(), *first_update_argv(client, url, repo, work)]
        t0 = time.perf_counter()
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env=env_for_clients(client=client),
            timeout=timeout,
            cwd=work,
        )
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if proc.returncode != 0:
        if check:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
            )
        return {"ok": False, "rc": proc.returncode, "stderr": proc.stderr[-2000:], "wall_s": wall}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    result: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    result.update(ok=True, wall_s=wall)
    return result


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def fmt(value: float | None, spec: str = ".1f") -> str:
    """Format a figure for the log; n/a when the measurement failed."""
    return "n/a" if value is None else format(value, spec)


def ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den == 0:
        return None
    return num / den


# The benchmarks' own server, not tests/loopback.py: benchmarks/ does not import the tests,
# and this one is tuned (keep-alive, sendfile, Nagle off) so the client, not the server, is
# what gets measured.
class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client killed mid-transfer (an address-space limit hit) is expected here.
        pass


class _QuietHandler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle + delayed ACK add
    # ~40 ms stalls to keep-alive requests and the server, not the client, would be measured.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def copyfile(self, source: Any, outputfile: Any) -> None:
        # sendfile: the server should cost as little as possible, so the client's work shows.
        try:
            self.connection.sendfile(source)
        except (OSError, ValueError):
            super().copyfile(source, outputfile)


@contextlib.contextmanager
def http_server(root: Path) -> Iterator[str]:
    """Serve `root` on 127.0.0.1 (ephemeral port); yields the base URL ending in '/'."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def machine() -> dict[str, Any]:
    """nproc, CPU model, memory, python/openssl/library versions of this run."""
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "python": sys.version.split()[0],
        "openssl": ssl.OPENSSL_VERSION,
        "platform": platform.platform(),
    }
    with contextlib.suppress(OSError):
        cpuinfo = Path("/proc/cpuinfo").read_text()
        for line in cpuinfo.splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        flags = next((ln for ln in cpuinfo.splitlines() if ln.startswith("flags")), "")
        info["sha_ni"] = " sha_ni" in flags
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_gib"] = round(int(line.split()[1]) / (1 << 20), 1)
    for mod in ("tuf", "securesystemslib", "cryptography", "requests", "urllib3", "orjson"):
        with contextlib.suppress(Exception):
            info[mod] = __import__(mod).__version__
    return info
