"""Runs inside the emulated armhf Python (standard library only) and prints one JSON line.

    python3 _guest.py run [--sample-ms MS] -- RUNNER_ARGS...   one benchmarks/_run_client.py
                                                              scenario, plus guest figures
    python3 _guest.py retained --client C --url U --first-root F --lookup L
                                   Python memory a live Updater holds after refresh()
    python3 _guest.py sizes [--targets-json PATH]              object sizes of this build

Guest-side figures added to a `run` (what the ARM program itself uses, not qemu):
- `heap`: glibc's own peaks (malloc_info: the arenas' highest `system` bytes; malloc_stats:
  `max mmap bytes`) and pymalloc's arena high-water mark (sys._debugmallocstats) times its
  arena size. pymalloc maps its arenas itself, so the three do not overlap; their peaks
  need not coincide, so their sum is an upper bound of the peak heap. Read after the
  scenario (ctypes is imported then, so it is not in the figures).
- `maps`: the guest's mappings at exit from /proc/self/maps (qemu-user emulates this file
  for the guest): total size (the guest's address space) and anonymous part.
- with --sample-ms: a thread samples, every MS ms, the guest address space (the maps) and
  the guest's resident anonymous memory (mincore() over its anonymous mappings: qemu
  passes it through to the host pages that back guest memory), and keeps the peaks. A
  sampled peak can miss a spike shorter than the interval (a lower bound). ctypes and the
  thread are part of those runs.
- `tracemalloc`: when PYTHONTRACEMALLOC is set, the Python-level peak and current bytes.
- `emulator`: qemu's own VmHWM / VmPeak (/proc/self/status is not emulated: it is the
  qemu-user process, its translation cache and the 4 GiB it reserves for a 32-bit guest).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import threading
import time

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.sysconf("SC_PAGE_SIZE")


def _status() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmPeak", "VmRSS", "VmSize"):
                out[key.lower() + "_kib"] = int(value.split()[0])
    return out


def _maps() -> list[tuple[int, int, bool, bool]]:
    """(start, end, anonymous, readable) of every guest mapping."""
    rows = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            start, _, end = parts[0].partition("-")
            path = parts[5].strip() if len(parts) > 5 else ""
            anon = path in ("", "[heap]", "[stack]") and parts[4] == "0"
            rows.append((int(start, 16), int(end, 16), anon, parts[1][0] == "r"))
    return rows


def _maps_summary() -> dict[str, int]:
    rows = _maps()
    return {
        "total_kib": sum(e - s for s, e, _, _ in rows) // 1024,
        "anon_kib": sum(e - s for s, e, a, _ in rows if a) // 1024,
    }


class _Sampler(threading.Thread):
    def __init__(self, interval: float) -> None:
        super().__init__(daemon=True)
        import ctypes

        self.ctypes = ctypes
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
        self.interval = interval
        self.stop = threading.Event()
        self.peak_as = 0
        self.peak_anon_rss = 0
        self.samples = 0
        self.mincore_errors = 0
        self.odd = bytes(b & 1 for b in range(256))

    def sample(self) -> None:
        rows = _maps()
        self.peak_as = max(self.peak_as, sum(e - s for s, e, _, _ in rows))
        resident = 0
        for start, end, anon, readable in rows:
            if not (anon and readable):
                continue
            pages = (end - start) // PAGE
            vec = self.ctypes.create_string_buffer(pages)
            if self.libc.mincore(start, end - start, vec) != 0:
                self.mincore_errors += 1
                continue
            resident += vec.raw.translate(self.odd).count(1)
        self.peak_anon_rss = max(self.peak_anon_rss, resident * PAGE)
        self.samples += 1

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)

    def result(self) -> dict[str, int]:
        self.stop.set()
        self.join()
        self.sample()
        return {
            "peak_as_kib": self.peak_as // 1024,
            "peak_anon_rss_kib": self.peak_anon_rss // 1024,
            "samples": self.samples,
            "mincore_errors": self.mincore_errors,
        }


def _capture_fd2(fn: object) -> str:
    """What a C function writes to stderr (fd 2)."""
    r, w = os.pipe()
    saved = os.dup(2)
    try:
        os.dup2(w, 2)
        fn()  # type: ignore[operator]
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    return b"".join(chunks).decode(errors="replace")


def _heap() -> dict[str, int]:
    import ctypes
    import re

    libc = ctypes.CDLL(None)
    libc.open_memstream.restype = ctypes.c_void_p
    libc.open_memstream.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    libc.free.argtypes = [ctypes.c_void_p]
    buf, size = ctypes.c_char_p(), ctypes.c_size_t()
    stream = libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    xml = ctypes.string_at(buf, size.value).decode()
    libc.free(buf)
    # The last <system type="max"> is the total over all arenas (after the per-heap ones).
    arena_max = int(re.findall(r'<system type="max" size="(\d+)"', xml)[-1])
    stats = _capture_fd2(libc.malloc_stats)
    mmap_max = int(_grab(r"max mmap bytes\s*=\s*(\d+)", stats))
    py = _capture_fd2(sys._debugmallocstats)
    highwater = int(_grab(r"arenas highwater mark\s*=\s*([\d,]+)", py))
    arena = int(_grab(r"([\d,]+) bytes/arena", py))
    return {
        "glibc_arena_max_kib": arena_max // 1024,
        "glibc_mmap_max_kib": mmap_max // 1024,
        "pymalloc_highwater_kib": highwater * arena // 1024,
        "pymalloc_arena_kib": arena // 1024,
        "upper_bound_kib": (arena_max + mmap_max + highwater * arena) // 1024,
    }


def _grab(pattern: str, text: str) -> str:
    import re

    m = re.search(pattern, text)
    if m is None:
        raise RuntimeError(f"no {pattern!r} in:\n{text[-800:]}")
    return m.group(1).replace(",", "")


def _origin(out: dict) -> None:
    """Where the client libraries came from (they must be the guest's installs)."""
    out["origin"] = {
        name: getattr(sys.modules[name], "__file__", None)
        for name in ("verifier", "tuf", "cryptography", "requests", "urllib3", "_cffi_backend")
        if name in sys.modules
    }
    out["modules"] = len(sys.modules)


def cmd_run(args: argparse.Namespace, rest: list[str]) -> dict:
    sampler = _Sampler(args.sample_ms / 1000) if args.sample_ms else None
    if sampler:
        sampler.start()
    sys.path.insert(0, BENCH)
    import _run_client

    sys.argv = [_run_client.__file__, *rest]
    real, sys.stdout = sys.stdout, io.StringIO()
    try:
        _run_client.main()
    finally:
        captured, sys.stdout = sys.stdout.getvalue(), real
    out: dict = json.loads([ln for ln in captured.splitlines() if ln.startswith("{")][-1])
    out["emulator"] = _status()
    out.pop("maxrss_kib", None)  # qemu's, not the guest's: kept under "emulator"
    _origin(out)
    if sampler:
        out["sampled"] = sampler.result()
    # The C module: tracemalloc.py would import fnmatch, linecache, pickle, ... first.
    import _tracemalloc

    tracing = _tracemalloc.is_tracing()
    if tracing:
        cur, peak = _tracemalloc.get_traced_memory()
        out["tracemalloc"] = {"peak_kib": peak // 1024, "current_kib": cur // 1024}
        _tracemalloc.stop()
    # The heap figures of a traced run would include tracemalloc's own bookkeeping.
    if not args.no_extras and not tracing:
        out["maps"] = _maps_summary()
        out["heap"] = _heap()
    return out


def cmd_retained(args: argparse.Namespace) -> dict:
    import gc
    import shutil
    import tempfile
    import tracemalloc

    sys.path.insert(0, BENCH)
    import _clients
    import _device_env

    _device_env.install()
    _clients.import_client(args.client)
    out: dict = {"client": args.client}
    with tempfile.TemporaryDirectory(prefix="bench-retained-") as tmp:
        state = os.path.join(tmp, "state")
        os.mkdir(state)
        shutil.copyfile(args.first_root, os.path.join(state, "root.json"))
        from pathlib import Path

        # A first Updater pays the imports each client defers to first use (not retained
        # state); the second is measured.
        for attempt in ("warm", "measured"):
            if attempt == "measured":
                shutil.rmtree(state)
                os.mkdir(state)
                shutil.copyfile(args.first_root, os.path.join(state, "root.json"))
                gc.collect()
                tracemalloc.start()
            client = _clients.make_client(args.client, Path(state), None, args.url)
            client.refresh()
            if client.lookup(args.lookup) is None:
                raise SystemExit(f"{args.client}: {args.lookup} not found")
            if attempt == "measured":
                gc.collect()
                cur, peak = tracemalloc.get_traced_memory()
                out["retained_kib"] = cur / 1024
                out["peak_kib"] = peak / 1024
                tracemalloc.stop()
            del client
    _origin(out)
    return out


class _Slots:
    __slots__ = ("a", "b")

    def __init__(self) -> None:
        self.a, self.b = 1, 2


class _Plain:
    def __init__(self) -> None:
        self.a, self.b = 1, 2


def cmd_sizes(args: argparse.Namespace) -> dict:
    import struct

    objs = {
        "pointer": None,
        "object()": object(),
        "int 1": 1,
        "int 2**40": 2**40,
        "float": 1.5,
        "str ascii 0": "",
        "str ascii 64": "a" * 64,
        "bytes 32": b"x" * 32,
        "tuple 2": (1, 2),
        "list 0": [],
        "dict 0": {},
        "dict 5 (a target entry)": {"length": 1, "hashes": {}, "custom": {}, "a": 1, "b": 2},
        "set 0": set(),
        "instance with __dict__ (2 attrs)": _Plain(),
        "instance with __slots__ (2 attrs)": _Slots(),
    }
    sizes = {k: (struct.calcsize("P") if v is None else sys.getsizeof(v)) for k, v in objs.items()}
    plain = _Plain()
    sizes["instance with __dict__ (2 attrs)"] += sys.getsizeof(plain.__dict__)
    out: dict = {"sizes": sizes, "machine": os.uname().machine, "maxsize": sys.maxsize}
    if args.targets_json:
        import gc
        import tracemalloc

        with open(args.targets_json, "rb") as f:
            raw = f.read()
        gc.collect()
        tracemalloc.start()
        parsed = json.loads(raw)
        cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["targets_json"] = {
            "file_bytes": len(raw),
            "targets": len(parsed["signed"]["targets"]),
            "parsed_kib": cur / 1024,
            "parse_peak_kib": peak / 1024,
        }
    return out


def main() -> None:
    t0 = time.perf_counter()
    p = argparse.ArgumentParser(prog="_guest.py")
    sub = p.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run")
    run.add_argument("--sample-ms", type=float, default=0)
    run.add_argument("--no-extras", action="store_true", help="skip maps/heap (instruction runs)")
    ret = sub.add_parser("retained")
    for opt in ("--client", "--url", "--first-root", "--lookup"):
        ret.add_argument(opt, required=True)
    sz = sub.add_parser("sizes")
    sz.add_argument("--targets-json")
    argv = sys.argv[1:]
    rest: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, rest = argv[:i], argv[i + 1 :]
    args = p.parse_args(argv)
    if args.cmd == "run":
        out = cmd_run(args, rest)
    elif args.cmd == "retained":
        out = cmd_retained(args)
    else:
        out = cmd_sizes(args)
    out["guest_s"] = time.perf_counter() - t0
    out["sys_path"] = sys.path
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
