"""Make a benchmark process see only what a device install would have.

The project's shared development virtualenv also holds optional cloud SDKs (boto3 and
friends, for firmtuf's `s3` extra). A device that runs `pip install tuf` has none of them,
but securesystemslib imports boto3 whenever it is present (~150 ms and many MiB), which
would charge python-tuf for a package a device does not have. `install()` makes those
top-level packages unimportable, for both clients alike; set BENCH_KEEP_OPTIONAL=1 to
measure the environment as it is.

The device path is measured without firmtuf's optional `accel` extra too (orjson): `pip
install firmtuf` does not bring it, so a device does not have it (BENCH_ACCEL=1 keeps it).
"""

from __future__ import annotations

import os
import sys

HIDDEN = set(
    {
        "boto3",
        "botocore",
        "s3transfer",
        "moto",
        "google",
        "azure",
        "hvac",
        "PyKCS11",
        "sigstore",
        "pyspx",
        "asn1crypto",
    }
)


class _Hide:
    # A meta path finder by duck typing: subclassing importlib.abc.MetaPathFinder would
    # import importlib.abc, ~90 M instructions that callgrind would charge to every client.
    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname.split(".", 1)[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {fullname!r} (hidden: not on a device)")
        return


def install() -> None:
    if os.environ.get("BENCH_KEEP_OPTIONAL") != "1":
        if os.environ.get("BENCH_ACCEL") != "1":
            HIDDEN.add("orjson")
        sys.meta_path.insert(0, _Hide())
