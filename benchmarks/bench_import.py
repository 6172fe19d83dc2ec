"""6. Import cost of the verifier versus python-tuf's client, in fresh interpreters.

Two figures per client, each as the sum of the `self` column of `python -X importtime`
(minus the same sum for a process without the import) and the number of modules:

- `import`: `python -c "import verifier"` versus `import tuf.ngclient`;
- `runtime` (the goal): every module a whole first update imports, the import statement
  and everything loaded on first use (cryptography's Ed25519 on the first signature, the
  transport on the first request, ...): `benchmarks/_first_update.py` (a script that
  imports nothing of its own) doing a first update with a 1 MiB image over HTTP on
  127.0.0.1, minus the same script exiting at once (`none`). The floor
  (benchmarks/floor.py) is measured the same way.

Also the wall time of `python -c "import X"` over `python -c pass`. Medians over fresh
processes, run from a directory that is not the project (`-c` puts the current directory
on sys.path). Optional cloud SDKs and the accelerator are hidden as on a device
(benchmarks/_device_env.py); the python-tuf figure as installed in the development venv
(boto3 present) is reported too.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._util import (
    FLOOR,
    PROJECT,
    Context,
    env_for_clients,
    first_update_argv,
    http_server,
    interpreter,
    median,
)

MODULES = {"tuf": "tuf.ngclient", "firmtuf": "verifier", "base": "verifier"}
PRELUDE = (
    f"import sys; sys.path.insert(0, {str(PROJECT / 'benchmarks')!r}); "
    "import _device_env; _device_env.install(); "
)


def _importtime_us(argv: list[str], env: dict[str, str]) -> tuple[int, int]:
    """(sum of self us, number of modules) from -X importtime."""
    proc = subprocess.run(
        [interpreter(), "-X", "importtime", *argv],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    total = 0
    count = 0
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self" not in line:
            total += int(line.split(":", 1)[1].split("|")[0])
            count += 1
    return total, count


def _wall(code: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([interpreter(), "-c", code], env=env, check=True, cwd=tempfile.gettempdir())
    return time.perf_counter() - t0


def run(ctx: Context) -> dict[str, Any]:
    repeats = {"full": 10, "quick": 3}.get(ctx.sizes.name, 1)
    envs = {c: env_for_clients(client=c) for c in ctx.clients}
    envs["base_line"] = env_for_clients()
    for client in ctx.clients:  # first run writes bytecode caches; not measured
        _wall(PRELUDE + f"import {MODULES[client]}", envs[client])
    keep = env_for_clients({"BENCH_KEEP_OPTIONAL": "1"})
    codes = {"base_line": PRELUDE + "pass"}
    codes.update({c: PRELUDE + f"import {MODULES[c]}" for c in ctx.clients})
    repo = ctx.repo(10, "flat", 1 << 20)
    its: dict[str, list[tuple[int, int]]] = {name: [] for name in [*codes, "venv"]}
    walls: dict[str, list[float]] = {name: [] for name in codes}
    runtime: dict[str, list[tuple[int, int]]] = {n: [] for n in ["none", *ctx.clients, FLOOR]}
    with http_server(repo.root) as url:
        # Rounds in which every command runs once, so a slow spell hits all alike.
        for _ in range(repeats):
            for name, code in codes.items():
                its[name].append(_importtime_us(["-c", code], envs[name]))
                walls[name].append(_wall(code, envs[name]))
            its["venv"].append(_importtime_us(["-c", PRELUDE + "import tuf.ngclient"], keep))
            for name in runtime:
                work = Path(tempfile.mkdtemp(prefix="import-", dir=ctx.work))
                argv = first_update_argv(name, url, repo, work)
                runtime[name].append(_importtime_us(argv, env_for_clients(client=name)))
                shutil.rmtree(work)
    base_us = median([b[0] for b in its["base_line"]])
    base_mods = median([b[1] for b in its["base_line"]])
    base_wall = median(walls["base_line"])
    run_us = median([r[0] for r in runtime["none"]])
    run_mods = median([r[1] for r in runtime["none"]])
    out: dict[str, Any] = {
        "startup_ms": base_wall * 1e3,
        "tuf_with_optional_sdks_ms": (median([v[0] for v in its["venv"]]) - base_us) / 1e3,
    }
    for client in [*ctx.clients, FLOOR]:
        out[client] = {
            "runtime_ms": (median([i[0] for i in runtime[client]]) - run_us) / 1e3,
            "runtime_modules": int(median([i[1] for i in runtime[client]]) - run_mods),
        }
        if client == FLOOR:
            continue
        out[client].update(
            module=MODULES[client],
            importtime_ms=(median([i[0] for i in its[client]]) - base_us) / 1e3,
            modules=int(median([i[1] for i in its[client]]) - base_mods),
            wall_ms=(median(walls[client]) - base_wall) * 1e3,
        )
    for client in [*ctx.clients, FLOOR]:
        o = out[client]
        ctx.log(
            f"  {client}: import {o.get('importtime_ms', 0):.1f} ms ({o.get('modules', 0)} "
            f"modules); with first-update imports {o['runtime_ms']:.1f} ms "
            f"({o['runtime_modules']} modules)"
        )
    return out
