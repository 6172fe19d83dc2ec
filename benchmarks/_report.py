"""Goal checks, the markdown report, the plot and docs/benchmarks.md from one results dict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MiB = 1 << 20


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _x(num: Any, den: Any) -> str:
    """Speed-up num/den as '12.3x'."""
    if num is None or den is None or den == 0:
        return "n/a"
    return f"{num / den:.2f}x"


def goals(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Each issue goal with the measured figure and met / missed / n/a."""
    b = res["benchmarks"]
    out: list[dict[str, Any]] = []

    def add(goal: str, measured: str, met: bool | None) -> None:
        out.append(
            {
                "goal": goal,
                "measured": measured,
                "status": "n/a" if met is None else ("met" if met else "MISSED"),
            }
        )

    upd = (b.get("update") or {}).get("rows", [])
    flat = [r for r in upd if r["layout"] == "flat" and r.get("storage", "disk") == "disk"]
    if flat:
        r = max(flat, key=lambda r: r["n_targets"] if r["n_targets"] <= 10_000 else 0)
        t, f = r.get("tuf_refresh_ms"), r.get("firmtuf_refresh_ms")
        mem = next(
            (
                m
                for m in upd
                if m.get("storage") == "tmpfs"
                and m["layout"] == "flat"
                and m["n_targets"] == r["n_targets"]
            ),
            {},
        )
        tm, fm = mem.get("tuf_refresh_ms"), mem.get("firmtuf_refresh_ms")
        add(
            f"refresh at {r['n_targets']:,} targets >= 8x faster than python-tuf",
            f"metadata on disk: tuf {_f(t)} ms, firmtuf {_f(f)} ms ({_x(t, f)}); "
            f"on tmpfs (no fsync cost): tuf {_f(tm)} ms, firmtuf {_f(fm)} ms ({_x(tm, fm)})",
            None if f is None else t / f >= 8,
        )
        rss = r.get("firmtuf_rss_mib")
        add(
            f"peak RSS at {r['n_targets']:,} targets <= 40 MiB",
            f"tuf {_f(r.get('tuf_rss_mib'))} MiB, firmtuf {_f(rss)} MiB",
            None if rss is None else rss <= 40,
        )
    polls = (b.get("poll") or {}).get("rows", [])
    if polls and all(p.get("firmtuf_ms") for p in polls):
        worst = min(polls, key=lambda p: p["tuf_ms"] / p["firmtuf_ms"])
        add(
            "poll with nothing new >= 3x faster (worst case shown)",
            f"{worst['n_targets']:,} targets {worst['transport']} {worst['change']}: "
            f"{_x(worst['tuf_ms'], worst['firmtuf_ms'])}",
            worst["tuf_ms"] / worst["firmtuf_ms"] >= 3,
        )
    elif polls:
        add("poll with nothing new >= 3x faster", "firmtuf not measured", None)
    dl = (b.get("download") or {}).get("rows", [])
    if dl:
        r = next((d for d in dl if d["image_mib"] == 256), dl[-1])
        f = r.get("firmtuf_download_ms")
        add(
            f"{r['image_mib']:.0f} MiB download+verify within 1.3x of hashlib + raw transfer",
            f"firmtuf {_f(f, 0)} ms vs limit {_f(r['limit_ms'], 0)} ms ({_x(f, r['limit_ms'])}); "
            f"tuf {_f(r.get('tuf_download_ms'), 0)} ms",
            None if f is None else f <= 1.3 * r["limit_ms"],
        )
        rss = [d.get("firmtuf_rss_mib") for d in dl]
        if None not in rss:
            spread = max(rss) - min(rss)
            add(
                "peak RSS flat in image size (spread <= 5 MiB)",
                f"firmtuf {_f(min(rss))}..{_f(max(rss))} MiB over "
                f"{dl[0]['image_mib']:.0f}..{dl[-1]['image_mib']:.0f} MiB images",
                spread <= 5,
            )
    whole = b.get("whole")
    if whole:
        t, f = whole.get("tuf_ms"), whole.get("firmtuf_ms")
        add(
            f"whole process ({whole['n_targets']:,} targets, {whole['image_mib']:.0f} MiB) "
            ">= 3x faster",
            f"tuf {_f(t, 0)} ms, firmtuf {_f(f, 0)} ms ({_x(t, f)}), "
            f"floor {_f(whole.get('floor_ms'), 0)} ms (a client at the floor would be "
            f"{_x(t, whole.get('floor_ms'))})",
            None if f is None else t / f >= 3,
        )
    imp = b.get("import")
    if imp and "tuf" in imp:
        t = imp["tuf"]["importtime_ms"]
        f = imp.get("firmtuf", {}).get("importtime_ms")
        add(
            "import verifier <= 1/3 of import tuf.ngclient",
            f"tuf.ngclient {_f(t)} ms, verifier {_f(f)} ms",
            None if f is None else f <= t / 3,
        )
    con = b.get("constrained") or {}
    cgall = con.get("callgrind") or {}
    cg = cgall.get("rows", [])
    r10 = next((r for r in cg if r["n_targets"] == 10), None)
    if r10:
        t, f = r10.get("tuf_update_ir"), r10.get("firmtuf_update_ir")
        h = cgall.get("harness", 0)
        tn = None if t is None else t - h
        fn = None if f is None else f - h
        add(
            "instructions, full update at 10 targets <= 1/3 of python-tuf (net of the "
            "benchmark runner's start-up)",
            f"net: tuf {_f(tn and tn / 1e6, 0)} M, firmtuf {_f(fn and fn / 1e6, 0)} M "
            f"({_x(fn, tn)}); whole process: tuf {_f(t and t / 1e6, 0)} M, firmtuf "
            f"{_f(f and f / 1e6, 0)} M ({_x(f, t)})",
            None if fn is None or tn is None else fn <= tn / 3,
        )
    asp = con.get("address_space")
    if asp:
        f = asp.get("firmtuf_min_as_mib")
        add(
            f"full update ({asp['n_targets']:,} targets, {asp['image_mib']:.0f} MiB image) "
            "succeeds under 48 MiB address space",
            f"tuf needs {_f(asp.get('tuf_min_as_mib'))} MiB, firmtuf {_f(f)} MiB",
            None if f is None else f <= 48,
        )
    return out


def markdown(res: dict[str, Any], png_name: str | None) -> str:
    b = res["benchmarks"]
    m = res["machine"]
    lines = [
        f"# firmtuf benchmarks ({res['profile']} run, {res['date']})",
        "",
        f"Machine: {m.get('nproc')} CPUs, {m.get('cpu', '?')} (SHA extensions: "
        f"{'yes' if m.get('sha_ni') else 'no'}), {m.get('mem_gib', '?')} GiB RAM; "
        f"Python {m['python']}, {m['openssl']}; python-tuf {m.get('tuf')}, "
        f"securesystemslib {m.get('securesystemslib')}, cryptography {m.get('cryptography')}, "
        f"requests {m.get('requests')}, urllib3 {m.get('urllib3')}, "
        f"orjson {m.get('orjson', 'not installed')}.",
        f"Clients: {', '.join(res['clients'])}. Times are medians of fresh processes (1 and 2: "
        "best of several rounds); speed-up = python-tuf / firmtuf (higher is better). Re-run: "
        "`python -m benchmarks` (add `--quick` for a short pass).",
        "",
    ]
    for note in res.get("notes", []):
        lines += [f"> {note}", ""]
    for failure in res.get("failures", []):
        lines += [f"> FAILED: {failure}", ""]
    for name, error in res.get("errors", {}).items():
        last = (error.strip().splitlines() or ["?"])[-1]
        lines += [f"> benchmark {name} FAILED: {last}", ""]
    lines += ["## Goals", "", "| goal | measured | status |", "|---|---|---|"]
    lines += [f"| {g['goal']} | {g['measured']} | {g['status']} |" for g in goals(res)]
    if png_name:
        lines += ["", f"![time vs targets, RSS vs image size]({png_name})"]
    sig = b.get("signatures")
    if sig:
        lines += [
            "",
            f"## 1. Signature verification ({sig['message_bytes']} bytes signed)",
            "",
            "| key type | bare cryptography (us) | python-tuf (us) | overhead | "
            "firmtuf (us) | overhead |",
            "|---|---|---|---|---|---|",
        ]
        for r in sig["rows"]:
            lines.append(
                f"| {r['key_type']} | {_f(r['bare_us'])} | {_f(r['tuf_us'])} | "
                f"{_f(r['tuf_overhead_pct'], 0)}% | {_f(r['firmtuf_us'])} | "
                f"{_f(r['firmtuf_overhead_pct'], 0)}{'%' if r['firmtuf_us'] else ''} |"
            )
    can = b.get("canonical")
    if can:
        lines += [
            "",
            "## 2. Canonical JSON of targets `signed`",
            "",
            "| targets | bytes | securesystemslib (ms) | firmtuf (ms) | json.dumps sorted "
            "(ms, lower bound) | orjson sorted (ms, if installed) | speed-up vs sslib | "
            "identical |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in can["rows"]:
            ident = (
                r["json_dumps_identical"]
                and r["firmtuf_identical"] is not False
                and r.get("orjson_identical") is not False
            )
            lines.append(
                f"| {r['n_targets']:,} | {r['bytes']:,} | {_f(r['sslib_ms'], 2)} | "
                f"{_f(r['firmtuf_ms'], 2)} | {_f(r['json_dumps_ms'], 2)} | "
                f"{_f(r.get('orjson_ms'), 2)} | {_x(r['sslib_ms'], r['firmtuf_ms'])} | "
                f"{_f(ident)} |"
            )
    poll = b.get("poll")
    if poll:
        lines += [
            "",
            "## 3. Poll with nothing new",
            "",
            "| targets | transport | what changed | python-tuf (ms) | firmtuf (ms) | speed-up |",
            "|---|---|---|---|---|---|",
        ]
        for r in poll["rows"]:
            lines.append(
                f"| {r['n_targets']:,} | {r['transport']} | {r['change']} | "
                f"{_f(r.get('tuf_ms'), 2)} | {_f(r.get('firmtuf_ms'), 2)} | "
                f"{_x(r.get('tuf_ms'), r.get('firmtuf_ms'))} |"
            )
    upd = b.get("update")
    if upd:
        lines += [
            "",
            "## 4. First update of a fresh device (3 root rotations, one delegated role)",
            "",
            "refresh = `Updater()` + `refresh()`; update = refresh + lookup of the target in the "
            "delegated role; warm = second update in the same process (imports done), cold = "
            "first (pays imports deferred to first use). tmpfs rows: metadata dir on /dev/shm, "
            "so fsync is free.",
            "",
            "| layout | targets | metadata dir | targets.json | python-tuf refresh / update / "
            "cold update (ms) | firmtuf refresh / update / cold update (ms) | speed-up (warm "
            "update) | RSS tuf / firmtuf (MiB) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in upd["rows"]:
            lines.append(
                f"| {r['layout']} | {r['n_targets']:,} | {r.get('storage', 'disk')} | "
                f"{r['targets_json_bytes']:,} B | "
                f"{_f(r.get('tuf_refresh_ms'))} / {_f(r.get('tuf_update_ms'))} / "
                f"{_f(r.get('tuf_cold_update_ms'))} | "
                f"{_f(r.get('firmtuf_refresh_ms'))} / {_f(r.get('firmtuf_update_ms'))} / "
                f"{_f(r.get('firmtuf_cold_update_ms'))} | "
                f"{_x(r.get('tuf_update_ms'), r.get('firmtuf_update_ms'))} | "
                f"{_f(r.get('tuf_rss_mib'))} / {_f(r.get('firmtuf_rss_mib'))} |"
            )
    dl = b.get("download")
    if dl:
        lines += [
            "",
            "## 5. Download and verify over HTTP (127.0.0.1)",
            "",
            "| image | python-tuf (ms) | firmtuf (ms) | hashlib alone (ms) | raw transfer "
            "(ms) | firmtuf / (hashlib + raw) | RSS tuf / firmtuf / raw (MiB) |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in dl["rows"]:
            lines.append(
                f"| {r['image_mib']:.0f} MiB | {_f(r.get('tuf_download_ms'), 0)} | "
                f"{_f(r.get('firmtuf_download_ms'), 0)} | {_f(r['hashlib_ms'], 0)} | "
                f"{_f(r['raw_ms'], 0)} | {_x(r.get('firmtuf_download_ms'), r['limit_ms'])} | "
                f"{_f(r.get('tuf_rss_mib'))} / {_f(r.get('firmtuf_rss_mib'))} / "
                f"{_f(r.get('raw_rss_mib'))} |"
            )
    whole = b.get("whole")
    if whole:
        lines += [
            "",
            "## Whole process (start, import, first update, download)",
            "",
            f"{whole['n_targets']:,} targets, {whole['image_mib']:.0f} MiB image over HTTP: "
            f"python-tuf {_f(whole.get('tuf_ms'), 0)} ms "
            f"({_f(whole.get('tuf_rss_mib'))} MiB), firmtuf "
            f"{_f(whole.get('firmtuf_ms'), 0)} ms ({_f(whole.get('firmtuf_rss_mib'))} MiB), "
            f"floor (python + urllib + sha256) {_f(whole['floor_ms'], 0)} ms.",
        ]
    imp = b.get("import")
    if imp:
        lines += [
            "",
            "## 6. Import time (fresh interpreters)",
            "",
            "| module | -X importtime (ms) | modules | wall over `python -c pass` (ms) |",
            "|---|---|---|---|",
        ]
        for c in res["clients"]:
            if c in imp:
                i = imp[c]
                lines.append(
                    f"| {i['module']} | {_f(i['importtime_ms'])} | {i['modules']} | "
                    f"{_f(i['wall_ms'])} |"
                )
        lines.append(
            f"\n`python -c pass` itself: {_f(imp['startup_ms'])} ms. python-tuf as "
            "installed in the development venv, where securesystemslib also imports "
            "the optional boto3: "
            f"{_f(imp.get('tuf_with_optional_sdks_ms'))} ms (not what a device pays)."
        )
    con = b.get("constrained")
    if con:
        lines += ["", "## 7. Constrained-device emulation"]
        cg = con.get("callgrind")
        if cg:
            lines += [
                "",
                f"Instructions per whole process (callgrind; `python -c pass` = "
                f"{cg['python_pass'] / 1e6:,.0f} M; the benchmark runner's own start-up, in "
                f"every figure below = {cg.get('harness', 0) / 1e6:,.0f} M; ratio = firmtuf / "
                "python-tuf, net of that start-up):",
                "",
                "| targets | python-tuf poll | firmtuf poll | python-tuf full update | "
                "firmtuf full update | ratio poll (net) | ratio update (net) |",
                "|---|---|---|---|---|---|---|",
            ]
            for r in cg["rows"]:

                def mi(k: str, r: dict[str, Any] = r) -> str:
                    v = r.get(k)
                    return "n/a" if v is None else f"{v / 1e6:,.0f} M"

                def net(k: str, r: dict[str, Any] = r) -> float | None:
                    v = r.get(k)
                    return None if v is None else v - cg.get("harness", 0)

                lines.append(
                    f"| {r['n_targets']:,} | {mi('tuf_poll_ir')} | {mi('firmtuf_poll_ir')} | "
                    f"{mi('tuf_update_ir')} | {mi('firmtuf_update_ir')} | "
                    f"{_x(net('firmtuf_poll_ir'), net('tuf_poll_ir'))} | "
                    f"{_x(net('firmtuf_update_ir'), net('tuf_update_ir'))} |"
                )
        asp = con.get("address_space")
        if asp:
            lines += [
                "",
                f"Smallest address space (prlimit --as, ±{asp['resolution_mib']} MiB) "
                f"for a full update, {asp['n_targets']:,} targets, "
                f"{asp['image_mib']:.0f} MiB image over HTTP; one-core (taskset) wall:",
                "",
                "| client | min address space (MiB) | one core (ms) |",
                "|---|---|---|",
            ]
            for c in res["clients"]:
                lines.append(
                    f"| {c} | {_f(asp.get(f'{c}_min_as_mib'))} | "
                    f"{_f(asp.get(f'{c}_one_core_ms'), 0)} |"
                )
        sha = con.get("sha256")
        if sha:
            lines += [
                "",
                f"SHA-256 (hashlib/OpenSSL) on this machine: "
                f"{sha['default_gib_s']:.2f} GiB/s; with the SHA extensions masked "
                f"(OPENSSL_ia32cap={':~0x20000000'}): {sha['no_sha_ext_gib_s']:.2f} GiB/s.",
            ]
        pub = con.get("published")
        if pub:
            lines += [
                "",
                "Published cycle counts (sources as found; 'not sourced' = no figure "
                "found, none invented):",
                "",
                "| chip | operation | cycles | source |",
                "|---|---|---|---|",
            ]
            for p in pub["published"]:
                value = p.get("cycles", p.get("cycles_per_byte"))
                unit = " /byte" if "cycles_per_byte" in p else ""
                lines.append(
                    f"| {p['chip']} | {p['op']} | "
                    f"{'not sourced' if value is None else _f(value) + unit} | "
                    f"{p['source']} |"
                )
            lines += [
                "",
                "ESTIMATES (crypto only: signatures x verify cycles + bytes x SHA-256 "
                "cycles/byte, divided by the clock; no parsing, I/O or interpreter):",
                "",
                "| case | signatures | metadata bytes | chip | estimated seconds |",
                "|---|---|---|---|---|",
            ]
            for e in pub["estimates"]:
                lines.append(
                    f"| {e['case']} | {e['signatures']} | {e['metadata_bytes']:,} | "
                    f"{e['chip']} | {e['estimated_s']:.3f} |"
                )
    return "\n".join(lines) + "\n"


def plot(res: dict[str, Any], path: Path) -> bool:
    """Time vs number of targets and peak RSS vs image size, both clients on each chart."""
    b = res["benchmarks"]
    upd = (b.get("update") or {}).get("rows", [])
    dl = (b.get("download") or {}).get("rows", [])
    if not upd and not dl:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"tuf": ("python-tuf", "tab:red"), "firmtuf": ("firmtuf", "tab:blue")}
    for client in res["clients"]:
        label, color = styles[client]
        for layout, ls in (("flat", "-"), ("bins", "--")):
            rows = [
                r
                for r in upd
                if r["layout"] == layout
                and r.get("storage", "disk") == "disk"
                and r.get(f"{client}_update_ms")
            ]
            if rows:
                ax1.plot(
                    [r["n_targets"] for r in rows],
                    [r[f"{client}_update_ms"] for r in rows],
                    ls,
                    marker="o",
                    color=color,
                    label=f"{label} ({layout})",
                )
        rows = [r for r in dl if r.get(f"{client}_rss_mib")]
        if rows:
            ax2.plot(
                [r["image_mib"] for r in rows],
                [r[f"{client}_rss_mib"] for r in rows],
                marker="o",
                color=color,
                label=label,
            )
    if dl:
        ax2.plot(
            [r["image_mib"] for r in dl],
            [r["raw_rss_mib"] for r in dl],
            ":",
            marker=".",
            color="gray",
            label="raw HTTP transfer",
        )
    ax1.set(
        xscale="log",
        yscale="log",
        xlabel="number of targets",
        ylabel="first update (ms, median)",
        title="First update vs targets",
    )
    ax2.set(
        xscale="log",
        xlabel="image size (MiB)",
        ylabel="peak RSS (MiB)",
        title="Download + verify: peak RSS vs image size",
    )
    ax2.set_ylim(bottom=0)
    from matplotlib.ticker import ScalarFormatter

    for axis in (ax1.xaxis, ax1.yaxis, ax2.xaxis):
        axis.set_major_formatter(ScalarFormatter())
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
