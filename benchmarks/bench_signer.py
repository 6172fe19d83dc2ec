"""Signer at scale: adding one image to repositories of 1k, 10k and 100k targets.

    python -m benchmarks.bench_signer [--sizes 1000,10000,100000] [--bins N] [--out FILE]

For each size a working repository is generated directly through the Metadata API
(minutes, not 100,000 CLI calls), once flat (every target in ``targets``) and once with
hash bins (succinct delegation, TAP 15; by default about 100 targets per bin). Then one
image is added and signed the way `firmtuf add` + `firmtuf sign` do it, measuring:

* wall time and peak Python memory (tracemalloc) of add + sign,
* which metadata files were rewritten,
* the metadata bytes a device downloads to find one target from scratch
  (root + timestamp + snapshot + the targets roles on the delegation search).

Self-contained: imports only ``signer`` (and python-tuf through it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from tuf.api.metadata import TargetFile, Targets

from signer import FirmwareFields, FirmwareRepository, _latest, add_firmware, init_repository
from signer._delegations import convert_to_bins
from signer._keys import static_secret
from signer._repository import role_filename

PASSWORD = "bench-password"  # noqa: S105 - throwaway keys generated for the run


def _target(name: str, hardware_id: str, version: str, data: bytes) -> TargetFile:
    return TargetFile(
        len(data),
        {"sha256": hashlib.sha256(data).hexdigest()},
        name,
        unrecognized_fields={
            "custom": {"firmtuf": {"hardware_ids": [hardware_id], "version": version}}
        },
    )


def build_repository(
    path: Path,
    n_targets: int,
    *,
    bins: int | None = None,
    products: int = 100,
    with_images: bool = False,
) -> list[str]:
    """A signed working repository of ``n_targets`` firmware targets; returns their names.

    Targets are ``product-<p>/<version>/fw.bin`` spread over ``products`` hardware ids.
    With ``with_images`` each target's (tiny) image is written to the content store so
    the repository can be published; otherwise only metadata exists.
    """
    init_repository(path, password=PASSWORD)
    if bins is not None:
        convert_to_bins(FirmwareRepository(path), bins, password=PASSWORD)
    repo = FirmwareRepository(path, secrets_handler=static_secret(PASSWORD))
    per_product = -(-n_targets // products)
    names: list[str] = []
    by_role: dict[str, dict[str, TargetFile]] = {}
    bin_of = None
    if bins is not None:
        succinct = repo.metadata(Targets.type).signed.delegations.succinct_roles
        bin_of = succinct.get_role_for_target
    for i in range(n_targets):
        product, release = divmod(i, per_product)
        hardware_id = f"product-{product}"
        version = f"1.{release}.0"
        name = f"{hardware_id}/{version}/fw.bin"
        data = name.encode()
        if with_images:
            sha = hashlib.sha256(data).hexdigest()
            (path / "targets" / f"{sha}.fw.bin").write_bytes(data)
        role = bin_of(name) if bin_of else Targets.type
        by_role.setdefault(role, {})[name] = _target(name, hardware_id, version, data)
        names.append(name)
    for role, targets in by_role.items():
        with repo.edit_targets(role) as md:
            md.targets.update(targets)
    repo.sign()
    repo.save()
    if bins is not None:
        # As `firmtuf bins` leaves it: the newest-version cache matches the bins.
        fresh = FirmwareRepository(path)
        _latest.rebuild(fresh, fresh.graph.bins())
    return names


def _metadata_files(path: Path) -> dict[str, tuple[int, int]]:
    return {
        p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in (path / "metadata").glob("*.json")
    }


def add_one(path: Path, image: Path) -> dict[str, Any]:
    """Add and sign one image as `firmtuf add` + `firmtuf sign` do; time, memory, files."""
    before = _metadata_files(path)
    tracemalloc.start()
    start = time.perf_counter()
    add_firmware(FirmwareRepository(path), [image], FirmwareFields(("product-new",), "1.0.0"))
    added = time.perf_counter()
    signing = FirmwareRepository(path, secrets_handler=static_secret(PASSWORD))
    signing.sign()
    signing.save()
    end = time.perf_counter()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after = _metadata_files(path)
    rewritten = sorted(n for n, stat in after.items() if before.get(n) != stat)
    return {
        "add_s": round(added - start, 3),
        "add_sign_s": round(end - start, 3),
        "peak_mib": round(peak / (1 << 20), 1),
        "rewritten": rewritten,
    }


def device_bytes(path: Path, name: str) -> dict[str, int]:
    """Metadata bytes a fresh device downloads to find ``name``: per role and total."""
    repo = FirmwareRepository(path)
    roles = ["root", "timestamp", "snapshot", *repo.graph.search(name)]
    sizes = {role: (path / "metadata" / role_filename(role)).stat().st_size for role in roles}
    sizes["total"] = sum(sizes.values())
    return sizes


def auto_bins(n_targets: int) -> int:
    """About 100 targets per bin: the power of two at or above n/100 (at least 16)."""
    count = 16
    while count * 100 < n_targets:
        count *= 2
    return count


def run(sizes: list[int], bins: int | None, workdir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    image = workdir / "fw-new.bin"
    image.write_bytes(os.urandom(64 * 1024))
    for size in sizes:
        n_bins = bins or auto_bins(size)
        for layout, count in (("flat", None), (f"{n_bins} bins", n_bins)):
            repo_path = workdir / f"repo-{size}-{count or 0}"
            start = time.perf_counter()
            names = build_repository(repo_path, size, bins=count)
            build_s = time.perf_counter() - start
            result = add_one(repo_path, image)
            lookup = device_bytes(repo_path, names[len(names) // 2])
            row = {
                "targets": size,
                "layout": layout,
                "build_s": round(build_s, 1),
                **result,
                "device_metadata_bytes": lookup["total"],
                "device_metadata_by_role": lookup,
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
            shutil.rmtree(repo_path)
    return rows


def report(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| targets | layout | add (s) | add + sign (s) | peak memory (MiB) | "
        "metadata files rewritten | device metadata bytes to find one target |",
        "|---:|---|---:|---:|---:|---|---:|",
    ]
    for row in rows:
        rewritten = row["rewritten"]
        shown = ", ".join(rewritten) if len(rewritten) <= 4 else f"{len(rewritten)} files"
        lines.append(
            f"| {row['targets']:,} | {row['layout']} | {row['add_s']} | {row['add_sign_s']} | "
            f"{row['peak_mib']} | {shown} | {row['device_metadata_bytes']:,} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_signer")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument(
        "--bins", type=int, default=None, help="bin count (default: ~100 targets per bin)"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write rows as JSON")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="firmtuf-bench-signer-") as tmp:
        rows = run(sizes, args.bins, Path(tmp))
    print(report(rows))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
