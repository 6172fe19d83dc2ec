"""A whole device process, and nothing else: a first update with one image download.

    python benchmarks/_first_update.py CLIENT BASE_URL FIRST_ROOT LOOKUP IMAGE WORKDIR

CLIENT: tuf | firmtuf | floor | floor-image (the floor's image download alone, no
metadata: IMAGE is then the image's path under BASE_URL, whose hash-prefixed file name
gives the SHA-256 to compare) | none (starts and exits: the interpreter alone). BASE_URL
serves metadata/ and targets/. The device's metadata directory is WORKDIR/state (created
with FIRST_ROOT as its trusted root) and the image goes to WORKDIR/image.bin. FIRST_ROOT
`-` makes it a poll instead: WORKDIR/state is an up-to-date device (copied there by the
caller), the process refreshes and looks LOOKUP up again (IMAGE unused). Prints one line,
`{"maxrss_kib": N}` (VmHWM).

Unlike `_run_client.py` it imports nothing of its own (no argparse, json, pathlib, ...),
so whole-process wall time, instruction counts, address space and the list of imported
modules are the client's alone: modules the client needs are never preloaded by the
harness. Optional cloud SDKs and the accelerator are hidden as on a device
(`_device_env`, which needs only os and sys, already loaded by the interpreter).
"""

import os
import sys


def main() -> None:
    import _device_env

    _device_env.install()
    client, url, first_root, lookup, image, work = sys.argv[1:7]
    if client == "none":
        return
    state = os.path.join(work, "state")
    if first_root == "-":
        # A poll: WORKDIR/state holds an up-to-date device; look the target up again.
        poll(client, url, state, lookup)
        return
    os.mkdir(state)
    with open(first_root, "rb") as src, open(os.path.join(state, "root.json"), "wb") as dst:
        dst.write(src.read())
    dest = os.path.join(work, "image.bin")
    # Images go to WORKDIR: temporary files of the clients there too (same file system).
    os.environ["TMPDIR"] = work
    if client == "tuf":
        from tuf.ngclient import Updater

        up = Updater(state, url + "metadata/", work, url + "targets/", bootstrap=None)
        up.refresh()
        if up.get_targetinfo(lookup) is None:
            raise SystemExit(f"{lookup} not found")
        if image:
            up.download_target(up.get_targetinfo(image), dest)
    elif client == "firmtuf":
        import verifier

        up = verifier.Updater(state, url + "metadata/", url + "targets/", **_config(verifier))
        up.refresh()
        if up.get_targetinfo(lookup) is None:
            raise SystemExit(f"{lookup} not found")
        if image:
            up.download(up.get_targetinfo(image), dest)
    elif client == "floor-image":
        import floor

        conn = floor.Connection(url)
        floor.download(conn, image, dest, image.rpartition("/")[2].split(".", 1)[0])
    elif client == "floor":
        import floor

        fl = floor.Floor(state, url)
        fl.refresh()
        if fl.lookup(lookup) is None:
            raise SystemExit(f"{lookup} not found")
        if image:
            fl.download(fl.lookup(image), dest)
    else:
        raise SystemExit(f"unknown client {client}")


def _config(verifier: object) -> dict:
    """Under valgrind (BENCH_EMULATED=1, ~50x slower) the verifier's request deadlines,
    which start before its transport is imported, are lifted; a device is not that slow."""
    if os.environ.get("BENCH_EMULATED") != "1":
        return {}
    slow = {"connect_timeout": 3600.0, "read_timeout": 3600.0, "response_timeout": 3600.0}
    try:
        return {"config": verifier.Config(**slow)}
    except TypeError:  # an older verifier (the "before" side) without response_timeout
        del slow["response_timeout"]
        return {"config": verifier.Config(**slow)}


def poll(client: str, url: str, state: str, lookup: str) -> None:
    if client == "tuf":
        from tuf.ngclient import Updater

        up = Updater(state, url + "metadata/", None, url + "targets/", bootstrap=None)
        up.refresh()
        found = up.get_targetinfo(lookup)
    elif client == "firmtuf":
        import verifier

        up = verifier.Updater(state, url + "metadata/", url + "targets/", **_config(verifier))
        up.refresh()
        found = up.get_targetinfo(lookup)
    elif client == "floor":
        import floor

        found = floor.poll(state, url, ["firmware"])
    else:
        raise SystemExit(f"unknown client {client}")
    if found is None:
        raise SystemExit(f"{lookup} not found")


main()
with open("/proc/self/status") as status:
    for line in status:
        if line.startswith("VmHWM:"):
            print('{"maxrss_kib": %s}' % line.split()[1])  # noqa: UP031 - no json import (nothing preloaded)
