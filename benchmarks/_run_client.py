"""Run one client scenario in this (fresh) process and print one JSON line of figures.

    python benchmarks/_run_client.py CLIENT SCENARIO [options]

CLIENT: tuf | firmtuf | floor (benchmarks/floor.py) | raw (urllib GET to a file) |
        hashlib (sha256 of a file) | rawhash (urllib GET, sha256 while streaming) |
        hashcopy (sha256 + copy + fsync of --file to --dest) | none
        (the runner alone). A firmtuf from another tree (the "before" of a run) is this
        runner with PYTHONPATH pointing there.
SCENARIO:
  import   import the client library only
  update   fresh device: trust 1.root.json, refresh, look up --lookup (delegated role),
           and, with --image, look it up and download it to --dest
  poll     device already up to date (first update against --warm untimed, or the state
           saved in --template), then --repeat polls (new Updater + refresh + look up)
           against --repo/--url
  transfer raw/hashlib/rawhash on --url or --file; floor on --url (overlapped hash)
A floor poll is its two requests on a new connection (`poll_s`), and separately the
re-verification of the stored metadata a poll also needs (`verify_s`).
The JSON carries seconds per phase (lists, one item per repeat), peak RSS (VmHWM, KiB) and
the wall time since interpreter start. Optional cloud SDKs are hidden (see _device_env).
PYTHONPATH must hold the project root for `firmtuf`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

T_START = time.perf_counter()


def _fresh_state(work: Path, first_root: Path) -> Path:
    state = work / "state"
    if state.exists():
        shutil.rmtree(state)
    state.mkdir(parents=True)
    shutil.copyfile(first_root, state / "root.json")
    return state


def _source(args: argparse.Namespace, repo: str | None) -> tuple[Path | None, str | None]:
    if args.url:
        return None, args.url
    return (Path(repo) if repo else None), None


def scenario_import(args: argparse.Namespace, out: dict) -> None:
    import _clients

    t0 = time.perf_counter()
    _clients.import_client(args.client)
    out["import_s"] = [time.perf_counter() - t0]


def scenario_update(args: argparse.Namespace, out: dict, work: Path) -> None:
    import _clients

    t0 = time.perf_counter()
    _clients.import_client(args.client)
    out["import_s"] = [time.perf_counter() - t0]
    repo, url = _source(args, args.repo)
    first_root = Path(args.first_root)
    for key in ("refresh_s", "lookup_s", "download_s", "update_s"):
        out[key] = []
    for _ in range(args.repeat):
        state = _fresh_state(work, first_root)
        t0 = time.perf_counter()
        client = _clients.make_client(args.client, state, repo, url)
        client.refresh()
        t1 = time.perf_counter()
        info = client.lookup(args.lookup)
        if info is None:
            raise SystemExit(f"{args.client}: target {args.lookup} not found")
        t2 = time.perf_counter()
        out["refresh_s"].append(t1 - t0)
        out["lookup_s"].append(t2 - t1)
        if args.image:
            img = client.lookup(args.image)
            if img is None:
                raise SystemExit(f"{args.client}: image {args.image} not found")
            dest = Path(args.dest or work) / "image.bin"
            td = time.perf_counter()
            client.download(img, dest)
            out["download_s"].append(time.perf_counter() - td)
        out["update_s"].append(time.perf_counter() - t0)
        if args.image:
            out["image_bytes"] = dest.stat().st_size
            dest.unlink()
    if args.keep_state:
        shutil.copytree(state, args.keep_state, dirs_exist_ok=True)


def scenario_poll(args: argparse.Namespace, out: dict, work: Path) -> None:
    import _clients

    _clients.import_client(args.client)
    state = work / "state"
    if args.template:
        # State saved by an earlier `update --keep-state`: this process does the poll only.
        template = Path(args.template)
    else:
        state = _fresh_state(work, Path(args.first_root))
        warm_repo, warm_url = (None, args.warm_url) if args.warm_url else (Path(args.warm), None)
        client = _clients.make_client(args.client, state, warm_repo, warm_url)
        client.refresh()
        if client.lookup(args.lookup) is None:
            raise SystemExit(f"{args.client}: target {args.lookup} not found")
        template = work / "template"
        shutil.copytree(state, template)
    repo, url = _source(args, args.repo)
    out["poll_s"] = []
    if args.client == "floor":
        _floor_poll(args, out, state, template, url or str(repo))
        return
    for _ in range(args.repeat):
        if state.exists():
            shutil.rmtree(state)
        shutil.copytree(template, state)
        t0 = time.perf_counter()
        client = _clients.make_client(args.client, state, repo, url)
        client.refresh()
        if client.lookup(args.lookup) is None:
            raise SystemExit(f"{args.client}: target {args.lookup} not found on poll")
        out["poll_s"].append(time.perf_counter() - t0)


def _floor_poll(
    args: argparse.Namespace, out: dict, state: Path, template: Path, source: str
) -> None:
    import floor

    root = json.loads((template / "root.json").read_bytes())
    next_root = root["signed"]["version"] + 1
    out["verify_s"] = []
    for _ in range(args.repeat):
        if state.exists():
            shutil.rmtree(state)
        shutil.copytree(template, state)
        t0 = time.perf_counter()
        floor.poll_requests(source, next_root)
        t1 = time.perf_counter()
        floor.verify_stored(str(state), ["firmware"])
        out["poll_s"].append(t1 - t0)
        out["verify_s"].append(time.perf_counter() - t1)


def scenario_transfer(args: argparse.Namespace, out: dict, work: Path) -> None:
    # Imported here, not at the top: hashlib maps a second copy of OpenSSL (~3.7 MiB RSS),
    # which the verifier does not use; the runner must not charge it to the clients.
    import hashlib
    import urllib.request

    out["transfer_s"] = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        if args.client == "hashlib":
            h = hashlib.sha256()
            with open(args.file, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            out["sha256"] = h.hexdigest()
        elif args.client == "hashcopy":
            # The floor of `firmtuf add`: read the image once, SHA-256 it, write the copy
            # and fsync it (what storing it in the content store has to do).
            h = hashlib.sha256()
            dest = Path(args.dest or work) / "copy.bin"
            with open(args.file, "rb") as f, open(dest, "wb") as out_f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
                    out_f.write(chunk)
                out_f.flush()
                os.fsync(out_f.fileno())
            out["sha256"] = h.hexdigest()
            dest.unlink()
        elif args.client == "floor":
            from urllib.parse import urlsplit

            import floor

            parts = urlsplit(args.url)
            conn = floor.Connection(f"{parts.scheme}://{parts.netloc}/")
            dest = Path(args.dest or work) / "floor.bin"
            floor.download(conn, parts.path.lstrip("/"), str(dest), None)
            conn.close()
            dest.unlink()
        else:
            h = hashlib.sha256() if args.client == "rawhash" else None
            dest = Path(args.dest or work) / "raw.bin"
            with urllib.request.urlopen(args.url) as resp, open(dest, "wb") as f:
                while chunk := resp.read(1 << 20):
                    if h is not None:
                        h.update(chunk)
                    f.write(chunk)
            dest.unlink()
        out["transfer_s"].append(time.perf_counter() - t0)


def _peak_rss_kib() -> int:
    """Peak RSS of this process since exec (VmHWM).

    Not ru_maxrss: Linux carries the parent's peak across fork+exec into it, so a child of a
    big benchmark driver would report the driver's size.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    import _device_env

    _device_env.install()
    p = argparse.ArgumentParser()
    p.add_argument(
        "client",
        choices=["tuf", "firmtuf", "floor", "raw", "hashlib", "rawhash", "hashcopy", "none"],
    )
    p.add_argument("scenario", choices=["import", "update", "poll", "transfer"])
    p.add_argument("--repo", help="repository directory (in-process fetch)")
    p.add_argument("--url", help="repository base URL (HTTP fetch), ends with /")
    p.add_argument("--warm", help="poll: repository the device first updated from")
    p.add_argument("--warm-url", help="poll: base URL the device first updated from")
    p.add_argument("--first-root", help="the 1.root.json a fresh device ships")
    p.add_argument("--lookup", help="target name to look up")
    p.add_argument("--image", help="target name of the image to download")
    p.add_argument("--dest", help="directory for downloaded images")
    p.add_argument("--file", help="transfer: file to hash")
    p.add_argument("--keep-state", help="update: copy the device state here afterwards")
    p.add_argument("--template", help="poll: start from this saved device state")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--profile", help="write cProfile stats of the scenario to this file")
    args = p.parse_args()
    out: dict = {"client": args.client, "scenario": args.scenario}
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        work = Path(tmp)
        scenarios = {
            "import": lambda: scenario_import(args, out),
            "update": lambda: scenario_update(args, out, work),
            "poll": lambda: scenario_poll(args, out, work),
            "transfer": lambda: scenario_transfer(args, out, work),
        }
        if args.profile:
            # Where the time goes, for the report: `python -m pstats FILE` to read it.
            import cProfile

            cProfile.runctx("scenarios[args.scenario]()", globals(), locals(), args.profile)
        else:
            scenarios[args.scenario]()
    out["maxrss_kib"] = _peak_rss_kib()
    out["process_s"] = time.perf_counter() - T_START
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
