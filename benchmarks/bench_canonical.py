"""2. Canonical JSON of targets metadata `signed` with N targets.

The verifier's encoder versus securesystemslib's `encode_canonical` (what python-tuf uses)
and a bare sorted compact `json.dumps` (a lower bound: it is not canonical JSON in general,
but for this ASCII data its bytes are the same). All outputs must be byte-identical.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from benchmarks import _firmtuf_internals
from benchmarks._util import Context


def _signed_dict(n: int) -> dict[str, Any]:
    from tuf.api.metadata import Targets

    from benchmarks._repo import _synthetic_target

    t = Targets()
    t.targets = dict(_synthetic_target(i) for i in range(n))
    return t.to_dict()


def _time(fn: Callable[[], bytes], repeats: int) -> tuple[float, bytes]:
    """(best seconds of `repeats` calls, output): a micro-benchmark, so the best run."""
    out = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def run(ctx: Context) -> dict[str, Any]:
    from securesystemslib.formats import encode_canonical

    ours = _firmtuf_internals.canonical_encoder() if "firmtuf" in ctx.clients else None
    rows = []
    for n in ctx.sizes.canonical:
        obj = _signed_dict(n)
        repeats = ctx.sizes.big_repeats if n >= 100_000 else ctx.sizes.repeats
        t_sslib, ref = _time(lambda o=obj: encode_canonical(o).encode("utf-8"), repeats)
        t_json, out_json = _time(
            lambda o=obj: json.dumps(
                o, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode("utf-8"),
            repeats,
        )
        row: dict[str, Any] = {
            "n_targets": n,
            "bytes": len(ref),
            "sslib_ms": t_sslib * 1e3,
            "json_dumps_ms": t_json * 1e3,
            "json_dumps_identical": out_json == ref,
            "firmtuf_ms": None,
            "firmtuf_identical": None,
            "firmtuf_impl": None,
        }
        try:
            import orjson  # optional (firmtuf[accel]): a second lower bound when installed

            t_or, out_or = _time(
                lambda o=obj: orjson.dumps(o, option=orjson.OPT_SORT_KEYS), repeats
            )
            row.update(orjson_ms=t_or * 1e3, orjson_identical=out_or == ref)
        except ImportError:
            row.update(orjson_ms=None, orjson_identical=None)
        if ours is not None:
            name, enc = ours
            with ctx.guard(f"canonical {n} firmtuf"):
                t_ours, out = _time(lambda o=obj, e=enc: e(o), repeats)
                row.update(firmtuf_ms=t_ours * 1e3, firmtuf_identical=out == ref, firmtuf_impl=name)
        rows.append(row)
        ctx.log(
            f"  {n} targets: sslib {t_sslib * 1e3:.1f} ms, json.dumps {t_json * 1e3:.1f} ms, "
            f"firmtuf {row['firmtuf_ms'] and round(row['firmtuf_ms'], 1)} ms"
        )
    return {"rows": rows}
