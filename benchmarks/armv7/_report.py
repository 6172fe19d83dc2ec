"""The "32-bit ARM" section of docs/benchmarks.md, from one run's results."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from benchmarks import _published

HEADING = "## 32-bit ARM"
COMMAND = "python -m benchmarks --only armv7"
SCRIPT = "python -m benchmarks.armv7"
KiB = 1024


def _mib(kib: Any) -> str:
    return "n/a" if kib is None else f"{kib / KiB:.1f}"


def _pair(row: dict[str, Any], key: str, scale: float = KiB, digits: int = 1) -> str:
    vals = []
    for client in ("tuf", "firmtuf"):
        v = row["clients"].get(client, {}).get(key)
        vals.append("n/a" if v is None else f"{v / scale:.{digits}f}")
    return " / ".join(vals)


def _ratio(a: Any, b: Any, digits: int = 2) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.{digits}f}x"


def _label(row: dict[str, Any]) -> str:
    s = row["scenario"]
    if s in ("harness", "import"):
        return {"harness": "runner alone (baseline)", "import": "import only"}[s]
    text = {
        "update": "first update",
        "poll": "poll, nothing new",
        "download": "download",
        "whole": "first update + download",
    }[s]
    text += f", {row['layout']}, {row['n_targets']:,} targets"
    if row["image_mib"]:
        text += f", {row['image_mib']} MiB image"
    return text


def _get(row: dict[str, Any], client: str, key: str) -> Any:
    return row["clients"].get(client, {}).get(key)


def section(res: dict[str, Any]) -> str:
    cases = [r for r in res["cases"] if r["scenario"] != "harness"]
    harness = next((r for r in res["cases"] if r["scenario"] == "harness"), None)
    base = harness["clients"].get("none", {}) if harness else {}
    m = res["machine"]
    g = res["guest"]
    plugin = res["instructions"]
    lines = [
        f"{HEADING} (armv7, emulated: {res['profile']} run, {res['date']})",
        "",
        "The device scenarios run inside a Debian armhf userland under qemu-user: the "
        "verifier installed from a wheel of this checkout with its device dependencies only "
        "(no `accel` extra, so no orjson), python-tuf beside it in the same userland, each "
        "client in its own site directory, against repositories served over HTTP on "
        "127.0.0.1 by the host (the device path: each client's default HTTP fetcher). "
        f"Guest: Debian {g['suite']} armhf, Python {g.get('python', '?')}, "
        f"cryptography {g['sites']['firmtuf'].get('cryptography', '?')} (armv7l wheel; "
        f"`_cffi_backend` from Debian's python3-cffi-backend {g.get('cffi_backend', '?')}), "
        f"python-tuf "
        f"{g['sites']['tuf'].get('tuf', '?')}, securesystemslib "
        f"{g['sites']['tuf'].get('securesystemslib', '?')}. Emulator: {res['qemu']} with "
        f"`-cpu {res['cpu']}` (qemu's default ARM CPU advertises the ARMv8 AES/SHA "
        "instructions, which OpenSSL would use; a Cortex-A7 has none). Host: "
        f"{m.get('nproc')} CPUs, {m.get('cpu', '?')}, shared; emulation under `nice -n "
        f"{res['nice']}`. {res['processes']} guest processes; the run took "
        f"{res['duration_s'] / 60:.0f} min.",
        "",
        "Re-run (builds or reuses the userland in the cache, then measures; rewrites this "
        "section):",
        "",
        "```sh",
        COMMAND + f"            # full run, about {res['duration_s'] / 60:.0f} min here",
        f"{SCRIPT} --fetch-tools --profile quick  # the script behind it; --help",
        "```",
        "",
        "Tools are never installed: `--fetch-tools` runs `apt-get download` for "
        "qemu-user-static, qemu-user (+ libcapstone4, liburing2) and debootstrap and unpacks "
        "them with `dpkg-deb -x` into the cache (default /var/cache/firmtuf-armv7; "
        "`--cache`, `FIRMTUF_ARMV7_CACHE`). The userland is `debootstrap --foreign "
        "--arch=armhf --variant=minbase --include=python3,python3-cffi-backend` with every "
        "downloaded package unpacked by `dpkg-deb -x` (the second stage would need "
        "binfmt_misc). qemu is started explicitly (`qemu-arm-static -cpu cortex-a7 -L ROOTFS "
        "ROOTFS/usr/bin/python3 ...`): no binfmt_misc registration, no host-wide setting.",
        "",
        "Whose figure is whose. Guest-side (what the ARM program uses; these speak for a "
        "device): tracemalloc peaks (Python allocations only), the guest heap (glibc's own "
        "peaks: arenas' highest system bytes + highest mmapped bytes, plus pymalloc's "
        "arena high-water mark x 256 KiB arenas; the three peaks need not coincide, so the "
        "sum is an upper bound), the guest's address space and resident anonymous memory "
        f"sampled every {res['sample_ms']:.0f} ms in the guest (/proc/self/maps as qemu "
        "emulates it for the guest, and mincore() over the guest's anonymous mappings; a "
        "spike shorter than the interval can be missed, and the sampling thread with ctypes "
        "is part of those runs: see the baseline row), 32-bit object sizes, guest "
        "instruction counts. Emulator's (qemu-user's process: the guest plus qemu's "
        "translated code, its own heap and the 4 GiB it reserves for a 32-bit guest; "
        "these do NOT speak for a device): qemu's VmHWM (RSS) and VmPeak (address space). "
        "Wall times under emulation are no device times: they appear only as python-tuf / "
        "firmtuf ratios from the same run.",
        "",
    ]
    for note in res.get("notes", []):
        lines += [f"> {note}", ""]
    for failure in res.get("failures", []):
        lines += [f"> FAILED: {failure}", ""]

    lines += _headline(res, cases)
    lines += [
        "### Memory on 32-bit ARM (MiB; python-tuf / firmtuf)",
        "",
        "| case | tracemalloc peak | guest heap (upper bound) | guest resident anon "
        "(sampled peak) | guest address space (sampled peak) | qemu RSS (emulator's) |",
        "|---|---|---|---|---|---|",
    ]
    if harness:
        lines.append(
            f"| {_label(harness)} | {_mib(base.get('tracemalloc_peak_kib'))} | "
            f"{_mib(base.get('heap_kib'))} | {_mib(base.get('sampled_rss_kib'))} | "
            f"{_mib(base.get('sampled_as_kib'))} | {_mib(base.get('emulator_hwm_kib'))} |"
        )
    for r in cases:
        lines.append(
            f"| {_label(r)} | {_pair(r, 'tracemalloc_peak_kib')} | {_pair(r, 'heap_kib')} | "
            f"{_pair(r, 'sampled_rss_kib')} | {_pair(r, 'sampled_as_kib')} | "
            f"{_pair(r, 'emulator_hwm_kib')} |"
        )
    emu_peak = [
        _get(r, c, "emulator_peak_kib")
        for r in res["cases"]
        for c in r["clients"]
        if _get(r, c, "emulator_peak_kib")
    ]
    if emu_peak:
        lines += [
            "",
            f"qemu's own address space (VmPeak, emulator's): {min(emu_peak) / KiB:,.0f} to "
            f"{max(emu_peak) / KiB:,.0f} MiB in every run, nearly all of it the 4 GiB "
            "reservation for the guest: it says nothing about either client.",
        ]

    ret = res.get("retained") or []
    if ret:
        lines += [
            "",
            "Python memory a live Updater holds after `refresh()` + lookup (tracemalloc, "
            "second Updater of the process, imports done), KiB, python-tuf / firmtuf:",
            "",
            "| layout | targets | retained | peak during refresh |",
            "|---|---|---|---|",
        ]
        for r in ret:
            cells = []
            for key in ("retained_kib", "peak_kib"):
                vals = [f"{r[c][key]:,.0f}" if c in r else "n/a" for c in ("tuf", "firmtuf")]
                cells.append(" / ".join(vals))
            lines.append(f"| {r['layout']} | {r['n_targets']:,} | {cells[0]} | {cells[1]} |")

    lines += ["", "### Guest instructions (whole process, interpreter start included)", ""]
    if plugin.get("available"):
        h = base.get("insns")
        lines += [
            f"Counted by a TCG plugin (benchmarks/armv7/insncount.c, built here) in Debian's "
            f"qemu-user {res['qemu_version']}, which has plugin support (its -static build "
            "does not, and Debian ships no plugin). "
            f"`python3 -c pass` = {_n(res.get('python_pass_insns'))}; the runner alone = "
            f"{_n(h)} (in every row; `net` subtracts it). ratio = firmtuf / python-tuf.",
            "",
            "| case | python-tuf | firmtuf | ratio | ratio (net) |",
            "|---|---|---|---|---|",
        ]
        for r in cases:
            t, f = _get(r, "tuf", "insns"), _get(r, "firmtuf", "insns")
            net = "n/a"
            if t is not None and f is not None and h is not None and t > h:
                net = _ratio(f - h, t - h)
            lines.append(f"| {_label(r)} | {_n(t)} | {_n(f)} | {_ratio(f, t)} | {net} |")
        refs = res.get("reference_imports") or {}
        pp = res.get("python_pass_insns")
        if refs and pp:
            lines += [
                "",
                "What single imports cost in the guest (`python3 -c 'import X'` minus "
                "`python3 -c pass`): "
                + ", ".join(f"{k} {_n(v - pp)}" for k, v in refs.items())
                + ".",
            ]
    else:
        lines += [
            f"Not measured: {plugin.get('why_not', 'no TCG plugin')}. Emulated wall "
            "time below is then the only speed figure, and only as a ratio."
        ]

    lines += [
        "",
        "### Emulated wall time, as ratios only (python-tuf / firmtuf; > 1: firmtuf faster)",
        "",
        "| case | warm phase | cold phase | whole guest process (cold) | whole process, "
        "emulator CPU time |",
        "|---|---|---|---|---|",
    ]
    for r in cases:
        cells = [
            _ratio(_get(r, "tuf", key), _get(r, "firmtuf", key))
            for key in ("warm_s", "cold_s", "wall_s", "cpu_s")
        ]
        lines.append(f"| {_label(r)} | {' | '.join(cells)} |")
    lines += [
        "",
        "Warm phase: the second first-update of a process (imports done, as in the x86 "
        f"update table), the median of {res['polls']} polls in a process, or the second "
        "download. Cold phase: the only update (poll, download) of a fresh process: "
        "firmtuf imports `cryptography` and `http.client` on first use, python-tuf at import, "
        "so the cold phase charges those imports to firmtuf alone. Whole process: "
        "host-measured wall of the guest process, interpreter start included (what a "
        "device pays per update check when the agent starts a process for it); emulator CPU "
        "time: user + system time of that qemu process, which waiting for a busy CPU does "
        "not inflate (it includes qemu translating the code). Medians of "
        f"{res.get('repeats', '?')} processes (warm: {res.get('warm_runs', '?')}); the "
        f"machine's load average was {_load(res)} during the run, so the wall figures "
        "swing by tens of percent between runs: the instruction counts above are the "
        "repeatable speed figure.",
    ]

    imp = next((r for r in cases if r["scenario"] == "import"), None)
    flash = res.get("flash", {})
    if imp:
        lines += [
            "",
            "### Import footprint on 32-bit ARM",
            "",
            "| client | modules after import | tracemalloc peak (MiB) | guest heap (MiB) | "
            "installed on flash (MiB) |",
            "|---|---|---|---|---|",
        ]
        for c, name in (("tuf", "python-tuf (tuf.ngclient)"), ("firmtuf", "firmtuf (verifier)")):
            size = _flash_client(flash, c)
            lines.append(
                f"| {name} | {_get(imp, c, 'modules') or 'n/a'} | "
                f"{_mib(_get(imp, c, 'tracemalloc_peak_kib'))} | "
                f"{_mib(_get(imp, c, 'heap_kib'))} | {size} |"
            )
        lines += [
            "",
            f"Baseline (the runner importing nothing): {base.get('modules', 'n/a')} modules, "
            f"tracemalloc peak {_mib(base.get('tracemalloc_peak_kib'))} MiB. Flash: bytes "
            "installed in the client's site directory (bytecode included), "
            + _flash_detail(flash)
            + ". The Debian userland itself (Python 3 with its standard library) is shared.",
        ]

    sizes = res.get("sizes", {})
    if sizes.get("armv7") and sizes.get("host"):
        a, h = sizes["armv7"], sizes["host"]
        lines += [
            "",
            "### Object sizes: 32-bit ARM against the x86-64 host (sys.getsizeof, bytes)",
            "",
            "| object | armv7l | x86-64 |",
            "|---|---|---|",
        ]
        for k, v in a["sizes"].items():
            lines.append(f"| {k} | {v} | {h['sizes'].get(k, 'n/a')} |")
        if "targets_json" in a:
            at, ht = a["targets_json"], h["targets_json"]
            lines += [
                "",
                f"`json.loads` of a targets.json with {at['targets']:,} targets "
                f"({at['file_bytes']:,} bytes; what every Python client parses): "
                f"{at['parsed_kib'] / KiB:.1f} MiB of Python objects on armv7l, "
                f"{ht['parsed_kib'] / KiB:.1f} MiB on x86-64 (tracemalloc).",
            ]

    lines += [
        "",
        "### What this cannot measure",
        "",
        "- A board's RSS as its kernel counts it: under qemu-user the kernel sees one host "
        "process (qemu). The resident figure above counts the guest's anonymous pages only "
        "(mincore() on file-backed guest mappings would report the host's page cache, not "
        "what the guest touched); a board adds the pages of libpython, the stdlib, libcrypto "
        "and the cryptography module it touches, the same for both clients up to their "
        "imports.",
        "- The smallest address space that still works (the x86 `prlimit --as` bisection): "
        "qemu-user does not apply RLIMIT_AS to the guest (in the guest a 50 MiB limit reads "
        "back as unlimited and a 200 MiB allocation succeeds), and a limit on the qemu "
        "process hits its 4 GiB reservation first. The sampled guest address space stands "
        "in for it.",
        "- Device time: TCG runs ARM code at a speed unrelated to any core, and I/O (the "
        "loopback HTTP server, fsync on the host's disk, which firmtuf does and python-tuf "
        "does not) is not slowed with it, so small warm phases swing with the host's disk.",
        "",
        *_device_classes(res),
    ]
    return "\n".join(lines) + "\n"


def _headline(res: dict[str, Any], cases: list[dict[str, Any]]) -> list[str]:
    """The device figures in two sentences, computed from this run (firmtuf / python-tuf)."""
    ups = [r for r in cases if r["scenario"] == "update" and r["layout"] == "flat"]
    if not ups:
        return []
    out = []
    for r in (ups[-1], ups[0]) if len(ups) > 1 else (ups[0],):
        bits = []
        for key, what in (
            ("sampled_rss_kib", "resident"),
            ("sampled_as_kib", "address space"),
            ("heap_kib", "heap"),
        ):
            t, f = _get(r, "tuf", key), _get(r, "firmtuf", key)
            if t and f:
                bits.append(f"{what} {_mib(f)} vs {_mib(t)} MiB ({_ratio(f, t)})")
        t, f = _get(r, "tuf", "insns"), _get(r, "firmtuf", "insns")
        if t and f:
            bits.append(f"instructions {_n(f)} vs {_n(t)} ({_ratio(f, t)})")
        t, f = _get(r, "tuf", "cpu_s"), _get(r, "firmtuf", "cpu_s")
        if t and f:
            bits.append(f"emulator CPU time {_ratio(f, t)}")
        if bits:
            out.append(
                f"First update, flat, {r['n_targets']:,} targets, firmtuf vs python-tuf: "
                + "; ".join(bits)
                + "."
            )
    refs, pp = res.get("reference_imports") or {}, res.get("python_pass_insns")
    if refs.get("urllib3") and refs.get("http.client") and pp:
        out.append(
            f"At small sizes the transport weighs: importing `urllib3` (python-tuf's) costs "
            f"{_n(refs['urllib3'] - pp)} guest instructions, `http.client` (firmtuf's) "
            f"{_n(refs['http.client'] - pp)}."
        )
    return [f"**Headline (this run).** {' '.join(out)}", ""] if out else []


def _load(res: dict[str, Any]) -> str:
    load = res.get("loadavg")
    if not load:
        return "not recorded"
    return f"{load['start'][0]:.1f} at the start and {load['end'][0]:.1f} at the end"


def _n(v: Any) -> str:
    return "n/a" if v is None else f"{v / 1e6:,.0f} M"


def _flash_client(flash: dict[str, Any], client: str) -> str:
    pkgs = flash.get(client)
    if not pkgs:
        return "n/a"
    # signer/ comes with the firmtuf wheel but a device never imports it.
    total = sum(v for k, v in pkgs.items() if k != "signer")
    return f"{total / (1 << 20):.1f}"


def _flash_detail(flash: dict[str, Any]) -> str:
    f, t = flash.get("firmtuf", {}), flash.get("tuf", {})
    parts = []
    if "verifier" in f:
        parts.append(f"verifier/ {f['verifier'] / KiB:,.0f} KiB")
    if "signer" in f:
        parts.append(
            f"signer/ {f['signer'] / KiB:,.0f} KiB (in the wheel, never imported on a "
            "device; left out of the total)"
        )
    if "tuf" in t:
        parts.append(f"tuf/ {t['tuf'] / KiB:,.0f} KiB")
    if "securesystemslib" in t:
        parts.append(f"securesystemslib/ {t['securesystemslib'] / KiB:,.0f} KiB")
    if "cryptography" in f:
        parts.append(f"cryptography/ {f['cryptography'] / KiB:,.0f} KiB (both)")
    return "; ".join(parts)


def _device_classes(res: dict[str, Any]) -> list[str]:
    lines = [
        "### Which devices these figures speak for",
        "",
        "- They do: 32-bit ARMv7-A Linux boards that run a Debian armhf userland (ARMv7 with "
        "VFPv3-D16 or better): Cortex-A7 (i.MX6UL/ULL, i.MX7, STM32MP1, Allwinner "
        "H3/A20), Cortex-A8 (AM335x), Cortex-A9 (i.MX6, Zynq-7000), Cortex-A15, with 64 MB "
        "of RAM and more. Instruction counts are what the ARM code executes (Cortex-A7 "
        "feature set, no crypto extensions); time on a real core also depends on its "
        "pipeline, caches and memory, so instructions are no cycle count. The guest heap and "
        "sampled resident memory are the guest's own; a board's RSS adds the kernel's view "
        "(file-backed pages of libpython, libcrypto and the stdlib it touches).",
        "- They do not: ARMv6 (Raspberry Pi 1/Zero; Debian's armhf needs ARMv7) or armel "
        "ARMv5 boards (same code, other build), 64-bit Cortex-A53/A72 (aarch64 runs the "
        "64-bit figures of the sections above more closely than these), and microcontrollers.",
        "- Cortex-M (M0+/M4/M33/M7) has no MMU and no Linux, and tens to hundreds of KiB of "
        "RAM: CPython does not fit and MicroPython cannot run the verifier (no `cryptography`)"
        ". A Cortex-M device needs a C verifier (TUF metadata parsed in bounded memory, "
        "Ed25519 or P-256 from a C library). What the verify primitives cost there, from "
        "published cycle counts (ESTIMATES, crypto only: signatures x verify cycles + "
        "bytes x SHA-256 cycles/byte over the clock; no parsing, I/O or flash writes):",
        "",
        "| case | signatures | metadata bytes | chip | ESTIMATED seconds |",
        "|---|---|---|---|---|",
    ]
    for row in res.get("estimates", []):
        if not row["chip"].startswith("Cortex-M"):
            continue
        lines.append(
            f"| {row['case']} | {row['signatures']} | {row['metadata_bytes']:,} | "
            f"{row['chip']} | {row['estimated_s']:.3f} |"
        )
    lines += [
        "",
        "Sources of those cycle counts: "
        + "; ".join(
            f"{p['chip']} {p['op']}: {p['source']}"
            for p in _published.PUBLISHED
            if str(p["class"]).startswith("Cortex-M")
        )
        + ".",
    ]
    return lines


FIRST_UPDATE_SIGNATURES = 11


def estimates(metadata_bytes: dict[int, int], image_bytes: int) -> list[dict[str, Any]]:
    """Published-cycle-count estimates for first updates of these repositories."""
    rows = []
    for n, mbytes in sorted(metadata_bytes.items()):
        for case, ibytes in (
            (f"first update, {n:,} targets", 0),
            (f"first update, {n:,} targets + {image_bytes >> 20} MiB image", image_bytes),
        ):
            # 11 signature checks per first update, as benchmarks/floor.py counts them; no
            # interpreter term: the guest's instruction count is not a board's.
            for est in _published.estimate(FIRST_UPDATE_SIGNATURES, mbytes, ibytes, None):
                rows.append(
                    {
                        "case": case,
                        "signatures": FIRST_UPDATE_SIGNATURES,
                        "metadata_bytes": mbytes,
                        "image_bytes": ibytes,
                        **est,
                    }
                )
    return rows


def update_docs(docs: Path, text: str) -> None:
    """Put `text` as the 32-bit ARM section of `docs`, replacing an earlier one."""
    current = docs.read_text() if docs.exists() else ""
    pattern = re.compile(rf"^{re.escape(HEADING)}\b.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        new = pattern.sub(lambda _: text.rstrip() + "\n\n", current, count=1).rstrip() + "\n"
    else:
        new = current.rstrip() + "\n\n" + text
    docs.write_text(new)


def keep_section(old_docs: str, new_docs: str) -> str:
    """`new_docs` with the 32-bit ARM section of `old_docs` carried over (the x86 runs
    rewrite docs/benchmarks.md whole; the emulated figures come from a separate run)."""
    m = re.search(rf"^{re.escape(HEADING)}\b.*?(?=^## |\Z)", old_docs, re.S | re.M)
    if not m or HEADING in new_docs:
        return new_docs
    return new_docs.rstrip() + "\n\n" + m.group(0).rstrip() + "\n"
