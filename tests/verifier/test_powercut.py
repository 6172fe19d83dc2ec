"""Issue 10 item 6: the power-cut matrix.

A child process (tests/verifier/powercut.py) runs a full update of two components on one
trust store: two root rotations (the second with new timestamp keys: the stored
timestamp and snapshot are forgotten, spec 5.3.11), new top-level and delegated
metadata, a new image per component, stage, confirm; the store starts in layout 2 with
the old single-component device state (so its adoption is in the matrix too). The child
is SIGKILLed at its N-th storage operation (a torn write at write points) and, over
HTTP, at timed points during the image download. After each kill this process loads
the killed storage: every stored role file is a published version, every component's
state loads (old, staged or confirmed), a slot image is absent or whole. Then the next
update must complete with the right images.

The same child feeds storage faults instead of kills (the disk full from the N-th
operation on, the file system remounted read-only, one EIO): the update stops with a
StorageError, the store loads, and the next update completes. And on real file systems
mounted in a user namespace: a small tmpfs that is too small, then filled by another
program while the image arrives; a read-only bind mount of the trust store.

The default run kills at a bounded, evenly spread set of points; with
``HYPOTHESIS_PROFILE=thorough`` (or ``FIRMTUF_POWERCUT=all``) at every one.
``FIRMTUF_POWERCUT_REPORT=FILE`` writes the figures (points, torn states, failed
recoveries) as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import verifier
from tests.loopback import FileServer, files_in
from tests.repository import BASE, Repository
from tests.verifier import powercut

PROJECT = Path(__file__).parents[2]
THOROUGH = (
    os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
    or os.environ.get("FIRMTUF_POWERCUT") == "all"
)
DEFAULT_POINTS = 16
DEFAULT_TIMED = 4
OLD = {"gw": ("1.5", b"gw old " * 3000), "mcu": ("4.0", b"mcu old " * 3000)}
NEW = {"gw": ("2.0", os.urandom(300_000)), "mcu": ("5.0", os.urandom(200_000))}


def fw(hwid: str, version: str, counter: int) -> dict[str, object]:
    return {"firmtuf": {"hardware_ids": [hwid], "version": version, "security_counter": counter}}


def _export(sim: Repository, out: Path) -> dict[str, list[str]]:
    """Write every published file under ``out`` as a server would serve them; returns the
    stored file name -> hex bytes of each role as the device stores it."""
    roles: dict[str, list[str]] = {}
    meta = out / "metadata"
    meta.mkdir(parents=True, exist_ok=True)
    for version, data in enumerate(sim.signed_roots, start=1):
        (meta / f"{version}.root.json").write_bytes(data)
        roles.setdefault("root.json", []).append(data.hex())
    files = {"timestamp.json": "timestamp.json"}
    for role in ("snapshot", "targets", *sim.delegated):
        files[f"{sim.md(role).signed.version}.{role}.json"] = f"{role}.json"
    for served, stored in files.items():
        data = sim.files[BASE + "metadata/" + served]
        (meta / served).write_bytes(data)
        roles.setdefault(stored, []).append(data.hex())
    for key, (_, data) in sim.target_files.items():
        path = out / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return roles


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The repository before and after the release, and the device as it was before."""
    tmp = tmp_path_factory.mktemp("powercut")
    sim = Repository()
    sim.add_target("gw/1.5/gw.bin", OLD["gw"][1], custom=fw("gw", "1.5", 1))
    sim.delegate("targets", "mcu-team", ["mcu/*/*"])
    sim.add_target("mcu/4.0/mcu.bin", OLD["mcu"][1], role="mcu-team", custom=fw("mcu", "4.0", 3))
    sim.publish(("targets", "mcu-team"))
    old_roles = _export(sim, tmp / "old-repo")
    # The device before: metadata of the old release, device state as layout 2 wrote it.
    device = tmp / "device"
    trust = device / "trust"
    trust.mkdir(parents=True)
    (trust / "root.json").write_bytes(sim.signed_roots[0])
    up = verifier.Updater(trust, BASE + "metadata/", fetcher=sim.fetcher)
    assert up.get_targetinfo("mcu/4.0/mcu.bin") is not None  # stores mcu-team.json too
    shutil.rmtree(trust / "firmtuf")
    (trust / "firmtuf").mkdir()
    (trust / "firmtuf" / "layout.json").write_text('{"layout": 2}')
    legacy = {"name": "gw/1.5/gw.bin", "version": "1.5", "security_counter": 1}
    (trust / "firmtuf" / "device.json").write_text(json.dumps(legacy))
    for hwid in powercut.COMPONENTS:
        (device / hwid / powercut.SLOT).mkdir(parents=True)
    # The release: new timestamp keys (root 2), new root keys (root 3), new images.
    from securesystemslib.signer import CryptoSigner

    old_ts = sim.signers["timestamp"][0]
    new_ts = CryptoSigner.generate_ed25519()
    sim.root.signed.revoke_key(old_ts.public_key.keyid, "timestamp")
    sim.root.signed.add_key(new_ts.public_key, "timestamp")
    sim.signers["timestamp"] = [new_ts]
    sim.rotate_root()
    sim.rotate_root([CryptoSigner.generate_ed25519()])
    sim.add_target("gw/2.0/gw.bin", NEW["gw"][1], custom=fw("gw", "2.0", 2))
    sim.add_target("mcu/5.0/mcu.bin", NEW["mcu"][1], role="mcu-team", custom=fw("mcu", "5.0", 7))
    sim.publish(("targets", "mcu-team"))
    repo = tmp / "repo"
    new_roles = _export(sim, repo)
    roles = {k: old_roles.get(k, []) + v for k, v in new_roles.items()}
    known = {
        "roles": roles,
        "images": {h: data.hex() for h, (_, data) in NEW.items()},
        "old": {h: v for h, (v, _) in OLD.items()},
        "new": {h: v for h, (v, _) in NEW.items()},
    }
    assert powercut.inspect(device, known)["problems"] == []
    from signer._bundle import build_bundle  # the USB stick, as `firmtuf bundle` writes it

    bundle = tmp / "usb" / "update.tar"
    bundle.parent.mkdir()
    build_bundle(repo, bundle, ["gw/2.0/gw.bin", "mcu/5.0/mcu.bin"])
    return {"repo": repo, "device": device, "known": known, "tmp": tmp, "bundle": bundle}


def child(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.verifier.powercut", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT,
    )


def fresh(world: dict[str, object], name: str) -> Path:
    dest = Path(str(world["tmp"])) / name
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(Path(str(world["device"])), dest)
    return dest


def recover(world: dict[str, object], device: Path, url: str) -> list[str]:
    """Run the next update to its end; the problems left (none: it recovered)."""
    done = child("update", str(device), url)
    if done.returncode != 0:
        return [f"update after the kill failed: {done.stderr.strip().splitlines()[-1:]}"]
    final = powercut.inspect(device, world["known"])  # type: ignore[arg-type]
    problems: list[str] = list(final["problems"])  # type: ignore[call-overload]
    if final["state"] != world["known"]["new"]:  # type: ignore[index]
        problems.append(f"ended as {final['state']}")
    return problems


def judge(
    world: dict[str, object],
    device: Path,
    url: str,
    point: float,
    torn: dict[float, list[str]],
    failed: dict[float, list[str]],
    more: tuple[str, ...] = (),
) -> None:
    """After a kill or a fault at ``point``: what a fresh process finds in the storage
    (``torn``, with ``more`` problems the caller saw), then the next update to its end
    (``failed`` unless it recovered)."""
    seen = powercut.inspect(device, world["known"])  # type: ignore[arg-type]
    problems = [*seen["problems"], *more]  # type: ignore[misc]
    if problems:
        torn[point] = problems
    problems = recover(world, device, url)
    if problems:
        failed[point] = problems


def partial_bytes(device: Path) -> int:
    """Bytes a killed download left to resume."""
    d = device / "trust" / "firmtuf" / "partial"
    return sum(p.stat().st_size for p in d.iterdir()) if d.exists() else 0


def choose(count: int, wanted: int) -> list[int]:
    if THOROUGH or count <= wanted:
        return list(range(1, count + 1))
    return sorted({1, count, *(1 + round(i * (count - 1) / (wanted - 1)) for i in range(wanted))})


def report(section: str, figures: dict[str, object]) -> None:
    path = os.environ.get("FIRMTUF_POWERCUT_REPORT")
    print(f"power-cut matrix, {section}: {json.dumps(figures)}")
    if path:
        previous = json.loads(Path(path).read_text()) if Path(path).exists() else {}
        previous[section] = figures
        Path(path).write_text(json.dumps(previous, indent=2))


@pytest.mark.parametrize("source", ["repo", "bundle"], ids=["network", "usb-bundle"])
def test_kill_at_storage_operations(world: dict[str, object], source: str) -> None:
    """``network``: the repository (a directory fetcher); ``usb-bundle``: the same
    release from an offline bundle (``Updater.from_bundle``, the time floor written too)."""
    repo = str(world[source])
    counting = child("update", str(fresh(world, "count")), repo)
    assert counting.returncode == 0, counting.stderr
    total = json.loads(counting.stdout.strip().splitlines()[-1])
    points = choose(total["ops"], DEFAULT_POINTS if source == "repo" else DEFAULT_POINTS // 2)
    torn: dict[float, list[str]] = {}
    failed: dict[float, list[str]] = {}
    resumable = 0
    for n in points:
        device = fresh(world, "point")
        killed = child("update", str(device), repo, "--kill-at", str(n))
        assert killed.returncode == -signal.SIGKILL, (n, killed.stdout, killed.stderr)
        resumable += partial_bytes(device) > 0
        judge(world, device, repo, n, torn, failed)
    report(
        "storage operations" + (" (usb bundle)" if source == "bundle" else ""),
        {"operations": total["ops"], "kinds": total["kinds"], "points": len(points),
         "left_a_partial": resumable, "torn_states": len(torn),
         "failed_recoveries": len(failed)},
    )  # fmt: skip
    assert not torn, torn
    assert not failed, failed


@pytest.fixture
def server(world: dict[str, object]) -> Iterator[str]:
    """The repository with Range support, images paced at 16 KiB every 10 ms (about
    1.6 MB/s) so that kills land inside a download."""
    with FileServer(files_in(Path(str(world["repo"])))) as served:
        served.pace["/targets/"] = (16 * 1024, 0.01)
        yield served.url


def test_kill_at_timed_points_of_a_download(world: dict[str, object], server: str) -> None:
    # The gateway image takes about 0.2 s to arrive: kills spread over it.
    if THOROUGH:
        delays = [i * 0.3 / 16 for i in range(16)]
    else:
        delays = [i * 0.2 / DEFAULT_TIMED for i in range(DEFAULT_TIMED)]
    torn: dict[float, list[str]] = {}
    failed: dict[float, list[str]] = {}
    resumable = 0
    for delay in delays:
        device = fresh(world, "timed")
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.verifier.powercut", "update", str(device), server,
             "--announce"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "downloading\n", proc.stderr
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(30)
            proc.stdout.close()  # type: ignore[union-attr]
            proc.stderr.close()  # type: ignore[union-attr]
        resumable += partial_bytes(device) > 0
        judge(world, device, server, delay, torn, failed)
    report(
        "timed download kills",
        {
            "points": len(delays),
            "left_a_partial": resumable,
            "torn_states": len(torn),
            "failed_recoveries": len(failed),
        },
    )
    assert not torn, torn
    assert not failed, failed


# --- storage faults: a full disk, a file system remounted read-only, an I/O error -------


def leftovers(device: Path, before: set[str]) -> list[str]:
    """Files a failed update left that take space: temp files and partials."""
    return sorted(
        str(p.relative_to(device))
        for p in device.rglob("*")
        if p.is_file()
        and str(p.relative_to(device)) not in before
        and (p.name.startswith(".") or p.name.endswith(".part"))
    )


@pytest.mark.parametrize("err", ["ENOSPC", "EROFS", "EIO"])
def test_storage_faults_at_storage_operations(world: dict[str, object], err: str) -> None:
    """At the N-th storage operation the disk fills up (and stays full), the file system
    goes read-only (and stays so), or one operation fails with EIO. The update stops
    with a StorageError (never a foreign exception or a traceback), the trust store
    loads as after a power cut (old or new, never torn), a full disk is not left fuller
    by temp files or partials, and once the fault is gone the next update completes."""
    repo = str(world["repo"])
    counting = child("update", str(fresh(world, "count")), repo)
    assert counting.returncode == 0, counting.stderr
    total = json.loads(counting.stdout.strip().splitlines()[-1])["ops"]
    points = choose(total, DEFAULT_POINTS // 3)
    original = Path(str(world["device"]))
    before = {str(p.relative_to(original)) for p in original.rglob("*")}
    unclear: dict[int, str] = {}
    torn: dict[float, list[str]] = {}
    failed: dict[float, list[str]] = {}
    stopped = 0
    for n in points:
        device = fresh(world, "fault")
        run = child("update", str(device), repo, "--fail-at", str(n), "--errno", err)
        if run.returncode == 3:
            stopped += 1
            error = json.loads(run.stdout.strip().splitlines()[-1])
            if not issubclass(getattr(verifier, error["error"]), verifier.StorageError):
                unclear[n] = f"{error['error']}: {error['message']}"
        elif run.returncode != 0:
            unclear[n] = (run.stderr.strip().splitlines() or ["?"])[-1]
        left = leftovers(device, before) if err == "ENOSPC" else []
        judge(world, device, repo, n, torn, failed, tuple(f"left {name}" for name in left))
    report(
        f"storage faults ({err})",
        {"operations": total, "points": len(points), "update_stopped": stopped,
         "unclear_errors": len(unclear), "torn_states": len(torn),
         "failed_recoveries": len(failed)},
    )  # fmt: skip
    assert not unclear, unclear
    assert not torn, torn
    assert not failed, failed


# --- real file systems: a small tmpfs that fills up, a read-only mount ------------------
# Mounted in a user and mount namespace of the child (``unshare``): no privilege needed
# beyond what unprivileged user namespaces give, nothing mounted outside the child.


def in_namespace(script: str, **paths: Path) -> subprocess.CompletedProcess[str]:
    """Run ``sh -c script`` in new user + mount namespaces (``$PY``: this Python)."""
    env = {**os.environ, "PY": sys.executable, **{k: str(v) for k, v in paths.items()}}
    return subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-euc", script],
        capture_output=True, text=True, timeout=300, cwd=PROJECT, env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def namespaces() -> None:
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to mount a file system for the test")
    probe = in_namespace('mount -t tmpfs -o size=64k tmpfs "$D"', D=Path("/tmp"))
    if probe.returncode != 0:
        pytest.skip(f"no user/mount namespaces here: {probe.stderr.strip()}")


def outcome(text: str) -> dict[str, object]:
    return json.loads(text.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_real_small_disk(world: dict[str, object], namespaces: None, tmp_path: Path) -> None:
    """A device whose storage is a 1200 KiB file system. The gateway image (300 kB) plus
    the room kept for the next metadata save does not fit: refused before a byte of it is
    fetched. On a bigger disk the update runs; another program filling the disk while
    the image arrives is a real ENOSPC: the partial goes, the trust store stays whole,
    and once the filler is gone the next update completes."""
    out = tmp_path / "out"
    script = """
run() {
  name=$1; shift
  set +e
  "$PY" -m tests.verifier.powercut update "$M" "$REPO" "$@" >"$OUT/$name.json"
  echo $? >"$OUT/$name.rc"
  set -e
  cp -a "$M/." "$OUT/$name"
}
mount -t tmpfs -o size=1200k tmpfs "$M"
cp -a "$DEVICE/." "$M/"
run small
mount -o remount,size=2400k "$M"
run filled --fill-disk
rm "$M/filler"
run again
"""
    (tmp_path / "mnt").mkdir()
    out.mkdir()
    device, repo = Path(str(world["device"])), Path(str(world["repo"]))
    done = in_namespace(script, M=tmp_path / "mnt", DEVICE=device, REPO=repo, OUT=out)
    assert done.returncode == 0, done.stderr
    known = world["known"]
    # 1. Too small: the free-space check refuses; nothing partial, the store loads.
    assert (out / "small.rc").read_text().strip() == "3"
    error = outcome((out / "small.json").read_text())
    assert error["error"] == "InsufficientSpaceError", error
    assert powercut.inspect(out / "small", known)["problems"] == []  # type: ignore[arg-type]
    assert partial_bytes(out / "small") == 0
    # 2. Filled while the image arrives: a real ENOSPC, the partial is discarded.
    assert (out / "filled.rc").read_text().strip() == "3", (out / "filled.json").read_text()
    error = outcome((out / "filled.json").read_text())
    assert error["error"] == "InsufficientSpaceError", error
    assert "partial discarded" in str(error["message"])
    assert powercut.inspect(out / "filled", known)["problems"] == []  # type: ignore[arg-type]
    assert partial_bytes(out / "filled") == 0
    # 3. Room again: the update completes.
    assert (out / "again.rc").read_text().strip() == "0", (out / "again.json").read_text()
    final = powercut.inspect(out / "again", known)  # type: ignore[arg-type]
    assert final["problems"] == []
    assert final["state"] == known["new"]  # type: ignore[index]


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_read_only_trust_store(world: dict[str, object], namespaces: None) -> None:
    """The trust store on a read-only mount (a read-only root file system, or ext4 after
    ``errors=remount-ro``). Up to date, the device polls as usual: refresh, check,
    nothing to confirm, no lock file needed. With a release to take, the update stops
    with a StorageError naming EROFS. Still holding layout 2's record (which names no
    component), no component may read it as its own: a StorageError says so. Not a byte
    of the store changes."""
    repo = Path(str(world["repo"]))
    current = fresh(world, "ro-current")
    assert child("update", str(current), str(repo)).returncode == 0
    adopted = fresh(world, "ro-adopted")  # the old release, layout 3
    assert child("update", str(adopted), str(Path(str(world["tmp"])) / "old-repo")).returncode == 0
    assert not (adopted / "trust" / "firmtuf" / "device.json").exists()
    layout_2 = fresh(world, "ro-layout-2")
    script = """
mount --bind "$T" "$T"
mount -o remount,ro,bind "$T"
set +e
"$PY" -m tests.verifier.powercut update "$DEVICE" "$REPO"
echo "rc=$?"
"""
    cases = [(current, None), (adopted, "Read-only file system"), (layout_2, "names no component")]
    for device, why in cases:
        before = tree(device / "trust")
        done = in_namespace(script, T=device / "trust", DEVICE=device, REPO=repo)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.strip().splitlines()
        assert lines[-1] == ("rc=0" if why is None else "rc=3"), (device.name, done.stdout)
        if why is not None:
            error = outcome("\n".join(lines[:-1]))
            assert error["error"] == "StorageError", error
            assert why in str(error["message"]), error
            assert "Read-only file system" in str(error["message"]), error
        assert tree(device / "trust") == before


def test_two_component_agents_at_once(world: dict[str, object], server: str) -> None:
    """The gateway's agent and the MCU's agent are separate processes updating one trust
    store at the same time (over HTTP, each refresh rotating root twice): the lock
    serialises what must not interleave, layout 2's record is adopted once, and both
    end confirmed on their new images. Two rounds, each from the old device."""
    for _ in range(2):
        device = fresh(world, "both")
        cmd = [sys.executable, "-m", "tests.verifier.powercut", "update", str(device), server]
        procs = [
            subprocess.Popen(
                [*cmd, "--only", hwid],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=PROJECT,
            )
            for hwid in powercut.COMPONENTS
        ]
        results = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], results
        final = powercut.inspect(device, world["known"])  # type: ignore[arg-type]
        assert final["problems"] == []
        assert final["state"] == world["known"]["new"]  # type: ignore[index]
        assert not (device / "trust" / "firmtuf" / "device.json").exists()
