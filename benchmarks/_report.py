"""Goal checks, the markdown report, the plot and docs/benchmarks.md from one results dict.

Every goal is shown with each measured side of the same run: python-tuf, "before" (the
verifier of the baseline commit, when the run had one), firmtuf ("after") and the floor
(benchmarks/floor.py), and as ratios of firmtuf to python-tuf and to the floor.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

MiB = 1 << 20
SIDES = ("tuf", "base", "firmtuf", "floor")
HEAD = {"tuf": "python-tuf", "base": "before", "firmtuf": "firmtuf", "floor": "floor"}


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
    """num/den as '12.34x'."""
    if num is None or den is None or den == 0:
        return "n/a"
    return f"{num / den:.2f}x"


def _ratio(num: Any, den: Any) -> float | None:
    if num is None or den is None or den == 0:
        return None
    return float(num) / float(den)


class Goal:
    """One goal: the figure of each side, how firmtuf's is judged, the verdict."""

    def __init__(
        self,
        name: str,
        unit: str,
        values: dict[str, float | None],
        target: str,
        met: Callable[[float, dict[str, float | None]], bool | None],
        note: str = "",
        digits: int = 1,
    ) -> None:
        self.name = name
        self.unit = unit
        self.values = values
        self.target = target
        self.note = note
        self.digits = digits
        after = values.get("firmtuf")
        self.met = None if after is None else met(after, values)

    def to_dict(self) -> dict[str, Any]:
        v = self.values
        return {
            "goal": self.name,
            "unit": self.unit,
            "values": v,
            "target": self.target,
            "firmtuf_vs_tuf": _ratio(v.get("firmtuf"), v.get("tuf")),
            "firmtuf_vs_floor": _ratio(v.get("firmtuf"), v.get("floor")),
            "firmtuf_vs_before": _ratio(v.get("firmtuf"), v.get("base")),
            "status": "n/a" if self.met is None else ("met" if self.met else "MISSED"),
            "note": self.note,
        }


def _row(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    for r in rows:
        if all(r.get(k, "disk" if k == "storage" else None) == v for k, v in match.items()):
            return r
    return None


def _sides(row: dict[str, Any] | None, key: str, scale: float = 1.0) -> dict[str, float | None]:
    """{side: row[f"{side}_{key}"] * scale} for the four sides."""
    out: dict[str, float | None] = {}
    for side in SIDES:
        value = None if row is None else row.get(f"{side}_{key}")
        out[side] = None if value is None else value * scale
    return out


def _le(limit: float, ref: str) -> Callable[[float, dict[str, float | None]], bool | None]:
    """firmtuf <= limit x values[ref]."""

    def check(after: float, v: dict[str, float | None]) -> bool | None:
        base = v.get(ref)
        return None if base is None else after <= limit * base

    return check


def goal_list(res: dict[str, Any]) -> list[Goal]:
    """The issue's goals, each measured in this run (device path: HTTP, no accelerator)."""
    b = res["benchmarks"]
    out: list[Goal] = []
    upd = (b.get("update") or {}).get("rows", [])
    http = [r for r in upd if r.get("transport") == "http" and r["layout"] == "flat"]
    sizes = sorted({r["n_targets"] for r in http if r["n_targets"] <= 10_000})
    if sizes:
        n = sizes[-1]
        r = _row(http, n_targets=n, storage="tmpfs") or _row(http, n_targets=n, storage="disk")
        assert r is not None
        v = _sides(r, "refresh_ms")

        def refresh_ok(after: float, v: dict[str, float | None]) -> bool | None:
            t, fl = v.get("tuf"), v.get("floor")
            if t is None or fl is None:
                return None
            return t / after >= 8 and after <= 1.3 * fl

        tm = _row(http, n_targets=n, storage="tmpfs")
        out.append(
            Goal(
                f"refresh, {n:,} flat targets over HTTP (metadata on disk)",
                "ms",
                v,
                "<= 0.125x python-tuf (8x faster) and <= 1.3x the floor",
                refresh_ok,
                note="on tmpfs: "
                + ", ".join(
                    f"{HEAD[s]} {_f(x)} ms" for s, x in _sides(tm, "refresh_ms").items() if x
                ),
            )
        )
        out.append(
            Goal(
                f"peak RSS, first update at {n:,} targets over HTTP",
                "MiB",
                _sides(r, "rss_mib"),
                "<= 40 MiB",
                lambda after, v: after <= 40,
            )
        )
    polls = (b.get("poll") or {}).get("rows", [])
    p_http = _row(polls, n_targets=10, transport="http", change="nothing")
    if p_http:
        v = _sides(p_http, "ms")
        out.append(
            Goal(
                "poll, nothing new, 10 targets, over HTTP",
                "ms",
                v,
                "<= 1.2x the floor's two requests on a new connection",
                _le(1.2, "floor"),
                note=f"the floor's re-verification of the stored metadata adds "
                f"{_f(p_http.get('floor_verify_ms'), 2)} ms (two requests + verification: "
                f"{_f((v['floor'] or 0) + (p_http.get('floor_verify_ms') or 0), 2)} ms)",
                digits=2,
            )
        )
    p_local = _row(polls, n_targets=10, transport="local", change="nothing")
    if p_local:
        v = _sides(p_local, "ms")
        # In-process, the floor's two reads cost next to nothing: its floor is the reads
        # plus the re-verification of the stored metadata.
        if v["floor"] is not None and p_local.get("floor_verify_ms") is not None:
            v["floor"] += p_local["floor_verify_ms"]

        def twice(after: float, v: dict[str, float | None]) -> bool | None:
            t = v.get("tuf")
            return None if t is None else t / after >= 2

        out.append(
            Goal(
                "poll, nothing new, 10 targets, in-process",
                "ms",
                v,
                "<= 0.5x python-tuf (2x faster)",
                twice,
                note="floor here = its two file reads + re-verification of the stored metadata",
                digits=2,
            )
        )
    dl = (b.get("download") or {}).get("rows", [])
    if dl:
        r = next((d for d in dl if d["image_mib"] == 256), dl[-1])
        out.append(
            Goal(
                f"{r['image_mib']:.0f} MiB download + verify over HTTP",
                "ms",
                _sides(r, "download_ms"),
                "<= 1.1x the overlapped floor",
                _le(1.1, "floor"),
                note=f"hashlib alone {_f(r.get('hashlib_ms'), 0)} ms, raw urllib transfer "
                f"{_f(r.get('raw_ms'), 0)} ms",
                digits=0,
            )
        )
        spread: dict[str, float | None] = {}
        for side in SIDES:
            rss = [d.get(f"{side}_rss_mib") for d in dl]
            spread[side] = None if None in rss else max(rss) - min(rss)  # type: ignore[type-var,operator]
        out.append(
            Goal(
                f"peak RSS spread over {dl[0]['image_mib']:.0f}..{dl[-1]['image_mib']:.0f} "
                "MiB images",
                "MiB",
                spread,
                "<= 5 MiB (flat in image size)",
                lambda after, v: after <= 5,
            )
        )
    whole = b.get("whole")
    if whole:
        v = {s: whole.get(f"{s}_ms") for s in SIDES}
        out.append(
            Goal(
                f"whole process, {whole['n_targets']:,} targets + {whole['image_mib']:.0f} MiB "
                "over HTTP",
                "ms",
                v,
                "<= 1.2x the clever floor (about 0.37x python-tuf, 2.7x faster)",
                _le(1.2, "floor"),
                note=f"floor = the image alone on http.client, hash overlapped; with the "
                f"floor's metadata work too: {_f(whole.get('floor_tuf_ms'), 0)} ms",
                digits=0,
            )
        )
    con = b.get("constrained") or {}
    asp = con.get("address_space")
    if asp:
        out.append(
            Goal(
                f"smallest address space, {asp['n_targets']:,} targets + "
                f"{asp['image_mib']:.0f} MiB",
                "MiB",
                {s: asp.get(f"{s}_min_as_mib") for s in SIDES},
                "<= 48 MiB",
                lambda after, v: after <= 48,
                digits=0,
            )
        )
    cgall = con.get("callgrind") or {}
    cg = cgall.get("rows", [])
    r10 = next((r for r in cg if r["n_targets"] == 10), None)
    if r10:
        out.append(
            Goal(
                "instructions, whole process, full update at 10 targets over HTTP",
                "M",
                _sides(r10, "update_ir", 1e-6),
                "<= 0.5x python-tuf",
                _le(0.5, "tuf"),
                note=f"`python -c pass`: {_f((cgall.get('python_pass') or 0) / 1e6, 0)} M",
                digits=0,
            )
        )
    imp = b.get("import")
    if imp and "tuf" in imp:
        v = {s: (imp.get(s) or {}).get("runtime_ms") for s in SIDES}
        out.append(
            Goal(
                "imports of a whole first update (import + first use)",
                "ms",
                v,
                "<= 0.33x python-tuf",
                _le(1 / 3, "tuf"),
                note=", ".join(
                    f"{HEAD[s]} {(imp.get(s) or {}).get('runtime_modules')} modules"
                    for s in SIDES
                    if s in imp
                ),
            )
        )
    add = b.get("add")
    if add:
        v = {
            "tuf": None,
            "base": add.get("add_base_ms"),
            "firmtuf": add.get("add_ms"),
            "floor": add.get("hashcopy_ms"),
        }
        out.append(
            Goal(
                f"signer add, {add['image_mib']:.0f} MiB image (whole `firmtuf add` process)",
                "ms",
                v,
                "<= 2x hash + copy",
                _le(2, "floor"),
                note=f"hash alone {_f(add.get('hashlib_ms'), 0)} ms; python-tuf has no add",
                digits=0,
            )
        )
    return out


def goals(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal as a dict (for the JSON results)."""
    return [g.to_dict() for g in goal_list(res)]


def _goal_table(res: dict[str, Any]) -> list[str]:
    sides = [s for s in SIDES if s != "base" or "base" in res["clients"]]
    lines = [
        "| goal | "
        + " | ".join(HEAD[s] for s in sides)
        + " | firmtuf / python-tuf | firmtuf / floor | "
        + ("firmtuf / before | " if "base" in sides else "")
        + "target | status |",
        "|---" * (len(sides) + 5 + ("base" in sides)) + "|",
    ]
    for g in goal_list(res):
        v = g.values
        cells = [
            f"{_f(v.get(s), g.digits)} {g.unit}" if v.get(s) is not None else "n/a" for s in sides
        ]
        lines.append(
            f"| {g.name} | "
            + " | ".join(cells)
            + f" | {_x(v.get('firmtuf'), v.get('tuf'))} | {_x(v.get('firmtuf'), v.get('floor'))} | "
            + (f"{_x(v.get('firmtuf'), v.get('base'))} | " if "base" in sides else "")
            + f"{g.target} | {'n/a' if g.met is None else ('met' if g.met else 'MISSED')} |"
        )
    notes = [f"- {g.name}: {g.note}" for g in goal_list(res) if g.note]
    if notes:
        lines += ["", *notes]
    return lines


def markdown(res: dict[str, Any], png_name: str | None) -> str:
    b = res["benchmarks"]
    m = res["machine"]
    clients = [c for c in SIDES if c in res["clients"]]
    load = res.get("load")
    lines = [
        f"# firmtuf benchmarks ({res['profile']} run, {res['date']})",
        "",
        f"Machine: {m.get('nproc')} CPUs, {m.get('cpu', '?')} (SHA extensions: "
        f"{'yes' if m.get('sha_ni') else 'no'}), {m.get('mem_gib', '?')} GiB RAM; "
        f"Python {m['python']}, {m['openssl']}; python-tuf {m.get('tuf')}, "
        f"securesystemslib {m.get('securesystemslib')}, cryptography {m.get('cryptography')}, "
        f"requests {m.get('requests')} (python-tuf's transport). Load average (1/5/15 min) "
        f"{_f(load)} at the start, {_f(res.get('load_after'))} at the end; "
        f"{_f(res.get('seconds'), 0)} s in all.",
        f"Sides: {', '.join(HEAD[c] for c in clients)}, and the floor (benchmarks/floor.py: "
        "the least work any client must do, measured the same way)."
        + (
            f" before = the verifier and signer of {res['baseline']}."
            if res.get("baseline")
            else ""
        )
        + " The device path: HTTP on 127.0.0.1, no accelerator (orjson hidden), client "
        "processes on a venv without the development venv's import hooks. Times are medians "
        "of fresh processes taking turns (1 and 2: best of several rounds). Re-run: "
        "`python -m benchmarks` (`--quick` for a short pass, `--baseline REF` for before/after).",
        "",
    ]
    for note in res.get("notes", []):
        lines += [f"> {note}", ""]
    for failure in res.get("failures", []):
        lines += [f"> FAILED: {failure}", ""]
    for name, error in res.get("errors", {}).items():
        last = (error.strip().splitlines() or ["?"])[-1]
        lines += [f"> benchmark {name} FAILED: {last}", ""]
    lines += ["## Goals", "", *_goal_table(res)]
    if png_name:
        lines += ["", f"![time vs targets, RSS vs image size]({png_name})"]
    lines += _signatures(b.get("signatures"))
    lines += _canonical(b.get("canonical"))
    lines += _poll(b.get("poll"), clients)
    lines += _update(b.get("update"), clients)
    lines += _download(b.get("download"), clients)
    lines += _whole(b.get("whole"), clients)
    lines += _imports(b.get("import"), clients)
    lines += _constrained(b.get("constrained"), clients)
    lines += _add(b.get("add"))
    return "\n".join(lines) + "\n"


def _cols(clients: list[str], floor: bool = True) -> list[str]:
    return [*clients, *(["floor"] if floor else [])]


def _signatures(sig: dict[str, Any] | None) -> list[str]:
    if not sig:
        return []
    lines = [
        "",
        f"## 1. Signature verification ({sig['message_bytes']} bytes signed)",
        "",
        "| key type | bare cryptography (us) | python-tuf (us) | overhead | firmtuf (us) "
        "| overhead |",
        "|---|---|---|---|---|---|",
    ]
    for r in sig["rows"]:
        lines.append(
            f"| {r['key_type']} | {_f(r['bare_us'])} | {_f(r['tuf_us'])} | "
            f"{_f(r['tuf_overhead_pct'], 0)}% | {_f(r['firmtuf_us'])} | "
            f"{_f(r['firmtuf_overhead_pct'], 0)}{'%' if r['firmtuf_us'] else ''} |"
        )
    return lines


def _canonical(can: dict[str, Any] | None) -> list[str]:
    if not can:
        return []
    lines = [
        "",
        "## 2. Canonical JSON of targets `signed`",
        "",
        "| targets | bytes | securesystemslib (ms) | firmtuf (ms) | json.dumps sorted (ms, lower "
        "bound) | speed-up vs sslib | identical |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in can["rows"]:
        ident = r["json_dumps_identical"] and r["firmtuf_identical"] is not False
        lines.append(
            f"| {r['n_targets']:,} | {r['bytes']:,} | {_f(r['sslib_ms'], 2)} | "
            f"{_f(r['firmtuf_ms'], 2)} | {_f(r['json_dumps_ms'], 2)} | "
            f"{_x(r['sslib_ms'], r['firmtuf_ms'])} | {_f(ident)} |"
        )
    return lines


def _poll(poll: dict[str, Any] | None, clients: list[str]) -> list[str]:
    if not poll:
        return []
    cols = _cols(clients)
    lines = [
        "",
        "## 3. Poll with nothing new",
        "",
        "floor = its two requests on a new connection (local: two file reads); "
        "+ verify = its re-verification of the stored metadata.",
        "",
        "| targets | transport | what changed | "
        + " | ".join(f"{HEAD[c]} (ms)" for c in cols)
        + " | floor + verify (ms) | firmtuf vs python-tuf |",
        "|---" * (len(cols) + 5) + "|",
    ]
    for r in poll["rows"]:
        both = None
        if r.get("floor_ms") is not None and r.get("floor_verify_ms") is not None:
            both = r["floor_ms"] + r["floor_verify_ms"]
        lines.append(
            f"| {r['n_targets']:,} | {r['transport']} | {r['change']} | "
            + " | ".join(_f(r.get(f"{c}_ms"), 2) for c in cols)
            + f" | {_f(both, 2)} | {_x(r.get('tuf_ms'), r.get('firmtuf_ms'))} faster |"
        )
    return lines


def _update(upd: dict[str, Any] | None, clients: list[str]) -> list[str]:
    if not upd:
        return []
    cols = _cols(clients)
    lines = [
        "",
        "## 4. First update of a fresh device (3 root rotations, one delegated role)",
        "",
        "refresh = `Updater()` + `refresh()` (warm: the second in the process, imports done); "
        "cold update = the first update of the process (refresh + lookup in the delegated role, "
        "paying deferred imports). http = each client's default transport; local = its "
        "directory fetcher. tmpfs rows: metadata dir on /dev/shm, so fsync is free.",
        "",
        "| transport | layout | targets | metadata dir | targets.json | "
        + " | ".join(f"{HEAD[c]} refresh / cold (ms)" for c in cols)
        + " | refresh: firmtuf vs python-tuf | vs floor | RSS "
        + " / ".join(HEAD[c] for c in cols)
        + " (MiB) |",
        "|---" * (len(cols) + 8) + "|",
    ]
    for r in upd["rows"]:
        lines.append(
            f"| {r.get('transport', 'local')} | {r['layout']} | {r['n_targets']:,} | "
            f"{r.get('storage', 'disk')} | {r['targets_json_bytes']:,} B | "
            + " | ".join(
                f"{_f(r.get(f'{c}_refresh_ms'))} / {_f(r.get(f'{c}_cold_update_ms'))}" for c in cols
            )
            + f" | {_x(r.get('tuf_refresh_ms'), r.get('firmtuf_refresh_ms'))} faster | "
            f"{_x(r.get('firmtuf_refresh_ms'), r.get('floor_refresh_ms'))} | "
            + " / ".join(_f(r.get(f"{c}_rss_mib")) for c in cols)
            + " |"
        )
    return lines


def _download(dl: dict[str, Any] | None, clients: list[str]) -> list[str]:
    if not dl:
        return []
    cols = _cols(clients)
    lines = [
        "",
        "## 5. Download and verify over HTTP (127.0.0.1)",
        "",
        "| image | "
        + " | ".join(f"{HEAD[c]} (ms)" for c in cols)
        + " | hashlib alone (ms) | raw urllib (ms) | firmtuf vs floor | RSS "
        + " / ".join(HEAD[c] for c in cols)
        + " (MiB) |",
        "|---" * (len(cols) + 5) + "|",
    ]
    for r in dl["rows"]:
        lines.append(
            f"| {r['image_mib']:.0f} MiB | "
            + " | ".join(_f(r.get(f"{c}_download_ms"), 0) for c in cols)
            + f" | {_f(r.get('hashlib_ms'), 0)} | {_f(r.get('raw_ms'), 0)} | "
            f"{_x(r.get('firmtuf_download_ms'), r.get('floor_download_ms'))} | "
            + " / ".join(_f(r.get(f"{c}_rss_mib")) for c in cols)
            + " |"
        )
    return lines


def _whole(whole: dict[str, Any] | None, clients: list[str]) -> list[str]:
    if not whole:
        return []
    parts = [
        f"{HEAD[c]} {_f(whole.get(f'{c}_ms'), 0)} ms ({_f(whole.get(f'{c}_rss_mib'))} MiB)"
        for c in clients
    ]
    return [
        "",
        "## Whole process (start, import, first update, download)",
        "",
        f"{whole['n_targets']:,} targets, {whole['image_mib']:.0f} MiB image over HTTP: "
        + ", ".join(parts)
        + f"; floor (the image alone, http.client, hash overlapped) "
        f"{_f(whole.get('floor_ms'), 0)} ms; the floor with its metadata work "
        f"{_f(whole.get('floor_tuf_ms'), 0)} ms.",
    ]


def _imports(imp: dict[str, Any] | None, clients: list[str]) -> list[str]:
    if not imp:
        return []
    lines = [
        "",
        "## 6. Imports (fresh interpreters)",
        "",
        "| side | `import` alone (ms, modules) | wall over `python -c pass` (ms) | "
        "every import of a first update (ms, modules) |",
        "|---|---|---|---|",
    ]
    for c in _cols(clients):
        i = imp.get(c)
        if not i:
            continue
        alone = (
            f"{_f(i['importtime_ms'])} ({i['modules']}, `import {i['module']}`)"
            if "importtime_ms" in i
            else "n/a"
        )
        lines.append(
            f"| {HEAD[c]} | {alone} | {_f(i.get('wall_ms'))} | "
            f"{_f(i['runtime_ms'])} ({i['runtime_modules']}) |"
        )
    lines.append(
        f"\n`python -c pass` itself: {_f(imp['startup_ms'])} ms. python-tuf as installed in "
        "the development venv, where securesystemslib also imports the optional boto3: "
        f"{_f(imp.get('tuf_with_optional_sdks_ms'))} ms (not what a device pays)."
    )
    return lines


def _constrained(con: dict[str, Any] | None, clients: list[str]) -> list[str]:
    if not con:
        return []
    lines = ["", "## 7. Constrained-device emulation"]
    cols = _cols(clients)
    cg = con.get("callgrind")
    if cg:
        lines += [
            "",
            "Instructions per whole process (callgrind; `_first_update.py` over HTTP; "
            f"`python -c pass` = {_f((cg.get('python_pass') or 0) / 1e6, 0)} M; nothing "
            "subtracted):",
            "",
            "| targets | "
            + " | ".join(f"{HEAD[c]} poll / full update" for c in cols)
            + " | firmtuf vs python-tuf (poll / update) |",
            "|---" * (len(cols) + 2) + "|",
        ]
        for r in cg["rows"]:

            def mi(k: str, r: dict[str, Any] = r) -> str:
                v = r.get(k)
                return "n/a" if v is None else f"{v / 1e6:,.0f} M"

            lines.append(
                f"| {r['n_targets']:,} | "
                + " | ".join(f"{mi(f'{c}_poll_ir')} / {mi(f'{c}_update_ir')}" for c in cols)
                + f" | {_x(r.get('firmtuf_poll_ir'), r.get('tuf_poll_ir'))} / "
                f"{_x(r.get('firmtuf_update_ir'), r.get('tuf_update_ir'))} |"
            )
    asp = con.get("address_space")
    if asp:
        lines += [
            "",
            f"Smallest address space (prlimit --as, ±{asp['resolution_mib']} MiB) for a full "
            f"update, {asp['n_targets']:,} targets, {asp['image_mib']:.0f} MiB image over "
            "HTTP (a whole `_first_update.py` process); one-core (taskset) wall and RSS:",
            "",
            "| side | min address space (MiB) | one core (ms) | peak RSS (MiB) |",
            "|---|---|---|---|",
        ]
        for c in cols:
            lines.append(
                f"| {HEAD[c]} | {_f(asp.get(f'{c}_min_as_mib'))} | "
                f"{_f(asp.get(f'{c}_one_core_ms'), 0)} | {_f(asp.get(f'{c}_rss_mib'))} |"
            )
    sha = con.get("sha256")
    if sha:
        lines += [
            "",
            f"Hashing (hashlib/OpenSSL) on this machine: SHA-256 {sha['default_gib_s']:.2f} "
            f"GiB/s, with the SHA extensions masked (OPENSSL_ia32cap=:~0x20000000) "
            f"{sha['no_sha_ext_gib_s']:.2f} GiB/s; SHA-512 {_f(sha.get('sha512_gib_s'), 2)} GiB/s.",
        ]
    pub = con.get("published")
    if pub:
        lines += [
            "",
            "Published cycle counts (sources as found; 'not sourced' = no figure found, none "
            "invented):",
            "",
            "| chip | operation | cycles | source |",
            "|---|---|---|---|",
        ]
        for p in pub["published"]:
            value = p.get("cycles", p.get("cycles_per_byte"))
            unit = " /byte" if "cycles_per_byte" in p else ""
            lines.append(
                f"| {p['chip']} | {p['op']} | "
                f"{'not sourced' if value is None else _f(value) + unit} | {p['source']} |"
            )
        counts = pub.get("counts", {})
        if counts:
            lines += [
                "",
                "Signatures checked (counted by the floor, which checks what the TUF workflow "
                "checks): "
                + "; ".join(
                    f"{n:,} targets: first update {c['update_signatures']} over "
                    f"{c['update_signed_bytes']:,} signed bytes, poll {c['poll_signatures']} "
                    f"(+1 with a new timestamp)"
                    for n, c in counts.items()
                )
                + ".",
            ]
        lines += [
            "",
            "ESTIMATES: crypto = signatures x verify cycles + signed bytes x the message hash "
            "inside each verify (SHA-512 for Ed25519, SHA-256 for ECDSA) + image bytes x "
            "SHA-256; interpreter = this run's x86-64 whole-process instructions at an ASSUMED "
            "one per cycle (an order of magnitude, not a prediction: see benchmarks/armv7 for "
            "measured 32-bit ARM figures). Cortex-M rows: the verify primitives alone (no "
            "CPython there; what a C verifier would run). All divided by the clock; no I/O.",
            "",
            "| case | client | signatures | chip | crypto (s) | interpreter (s) | estimated (s) |",
            "|---|---|---|---|---|---|---|",
        ]
        for e in pub["estimates"]:
            lines.append(
                f"| {e['case']} | {e['client']} | {e['signatures']} | {e['chip']} | "
                f"{e['crypto_s']:.3f} | {_f(e['interpreter_s'], 3)} | {e['estimated_s']:.3f} |"
            )
    return lines


def _add(add: dict[str, Any] | None) -> list[str]:
    if not add:
        return []
    return [
        "",
        "## 8. Signer: `firmtuf add` of a large image",
        "",
        f"{add['image_mib']:.0f} MiB image, whole processes on tmpfs: `firmtuf add` "
        f"{_f(add.get('add_ms'), 0)} ms"
        + (f" (before: {_f(add.get('add_base_ms'), 0)} ms)" if add.get("add_base_ms") else "")
        + f"; floor (read once, SHA-256, write the copy, fsync) {_f(add.get('hashcopy_ms'), 0)} "
        f"ms; SHA-256 alone {_f(add.get('hashlib_ms'), 0)} ms. Progress lines on a non-terminal "
        f"stderr: {add.get('progress_lines', 'n/a')}.",
    ]


def plot(res: dict[str, Any], path: Path) -> bool:
    """Refresh time vs number of targets (HTTP) and peak RSS vs image size, every side."""
    b = res["benchmarks"]
    upd = (b.get("update") or {}).get("rows", [])
    dl = (b.get("download") or {}).get("rows", [])
    if not upd and not dl:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {
        "tuf": ("python-tuf", "tab:red"),
        "base": ("before", "tab:orange"),
        "firmtuf": ("firmtuf", "tab:blue"),
        "floor": ("floor", "gray"),
    }
    for side in _cols([c for c in SIDES if c in res["clients"]]):
        label, color = styles[side]
        for layout, transport, ls in (("flat", "http", "-"), ("bins", "local", "--")):
            rows = [
                r
                for r in upd
                if r["layout"] == layout
                and r.get("transport", "local") == transport
                and r.get("storage", "disk") == "disk"
                and r.get(f"{side}_refresh_ms")
            ]
            if rows:
                ax1.plot(
                    [r["n_targets"] for r in rows],
                    [r[f"{side}_refresh_ms"] for r in rows],
                    ls,
                    marker="o",
                    color=color,
                    label=f"{label} ({layout}, {transport})",
                )
        rows = [r for r in dl if r.get(f"{side}_rss_mib")]
        if rows:
            ax2.plot(
                [r["image_mib"] for r in rows],
                [r[f"{side}_rss_mib"] for r in rows],
                marker="o",
                color=color,
                label=label,
            )
    ax1.set(
        xscale="log",
        yscale="log",
        xlabel="number of targets",
        ylabel="refresh (ms, median)",
        title="Refresh vs targets",
    )
    ax2.set(
        xscale="log",
        xlabel="image size (MiB)",
        ylabel="peak RSS (MiB)",
        title="Download + verify: peak RSS vs image size",
    )
    ax2.set_ylim(bottom=0)
    for axis in (ax1.xaxis, ax1.yaxis, ax2.xaxis):
        axis.set_major_formatter(ScalarFormatter())
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
