"""6. Import time of `verifier` versus `tuf.ngclient` in fresh interpreters.

`python -X importtime -c "import X"`: the sum of the `self` column over all modules, minus
the same sum for the same command without `import X` (interpreter startup). Also the wall
time of `python -c "import X"` minus the same without the import. Medians over fresh
processes. Optional cloud SDKs are hidden as on a device (benchmarks/_device_env.py); the
python-tuf figure as installed in the development venv (boto3 present) is reported too.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from benchmarks._util import PROJECT, Context, env_for_clients, median

MODULES = {"tuf": "tuf.ngclient", "firmtuf": "verifier"}
PRELUDE = (
    f"import sys; sys.path.insert(0, {str(PROJECT / 'benchmarks')!r}); "
    "import _device_env; _device_env.install(); "
)


def _importtime_us(code: str, env: dict[str, str] | None = None) -> tuple[int, int]:
    """(sum of self us, number of modules) from -X importtime."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=env or env_for_clients(),
        check=True,
    )
    total = 0
    count = 0
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self" not in line:
            total += int(line.split(":", 1)[1].split("|")[0])
            count += 1
    return total, count


def _wall(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env_for_clients(), check=True)
    return time.perf_counter() - t0


def run(ctx: Context) -> dict[str, Any]:
    repeats = max(ctx.sizes.repeats * 2, 3) if ctx.sizes.name != "tiny" else 1
    for client in ctx.clients:  # first run writes bytecode caches; not measured
        _wall(PRELUDE + f"import {MODULES[client]}")
    keep = env_for_clients({"BENCH_KEEP_OPTIONAL": "1"})
    codes = {"base": PRELUDE + "pass"}
    codes.update({c: PRELUDE + f"import {MODULES[c]}" for c in ctx.clients})
    its: dict[str, list[tuple[int, int]]] = {name: [] for name in [*codes, "venv"]}
    walls: dict[str, list[float]] = {name: [] for name in codes}
    # Rounds in which every command runs once, so a slow spell hits all alike.
    for _ in range(repeats):
        for name, code in codes.items():
            its[name].append(_importtime_us(code))
            walls[name].append(_wall(code))
        its["venv"].append(_importtime_us(PRELUDE + "import tuf.ngclient", keep))
    base_us = median([b[0] for b in its["base"]])
    base_mods = median([b[1] for b in its["base"]])
    base_wall = median(walls["base"])
    out: dict[str, Any] = {
        "startup_ms": base_wall * 1e3,
        "tuf_with_optional_sdks_ms": (median([v[0] for v in its["venv"]]) - base_us) / 1e3,
    }
    for client in ctx.clients:
        out[client] = {
            "module": MODULES[client],
            "importtime_ms": (median([i[0] for i in its[client]]) - base_us) / 1e3,
            "modules": int(median([i[1] for i in its[client]]) - base_mods),
            "wall_ms": (median(walls[client]) - base_wall) * 1e3,
        }
        ctx.log(
            f"  import {MODULES[client]}: {out[client]['importtime_ms']:.1f} ms "
            f"({out[client]['modules']} modules), wall +{out[client]['wall_ms']:.1f} ms"
        )
    return out
