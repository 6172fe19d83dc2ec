"""The child processes of the power-cut matrix (tests/verifier/test_powercut.py).

``python -m tests.verifier.powercut update DEVICE REPO_URL [--kill-at N]`` runs a full
update of two components (``gw``, ``mcu``) sharing one trust store: refresh (with the
root rotations the repository holds), check, download into the slot, stage, then
confirm (as after the reboot). With ``--kill-at N`` it SIGKILLs itself at its N-th
storage operation under DEVICE: every ``open`` for writing, ``write`` / ``pwrite`` (the
N-th write lands half its bytes first: a torn write), ``ftruncate``, ``fsync`` /
``fdatasync`` (directories too), ``rename`` / ``replace``, ``unlink``, ``mkdir``.
It prints ``{"ops": COUNT, "kinds": {...}}`` when it finishes. With ``--announce`` it
prints ``downloading`` on the first progress callback of each image (timed kills).

``--fill-disk``: when the first image starts to arrive, another program fills the disk
(``DEVICE/filler``): on a real small file system (tests/verifier/test_powercut.py mounts
one) the download then hits a real ENOSPC.

``--fail-at N --errno NAME`` feeds a storage fault instead of a kill, at the N-th
operation: ``ENOSPC`` (the disk is full from then on: every operation that allocates
fails, creating a file, writing, growing, fsync, rename, mkdir; removing still works),
``EROFS`` (the file system is remounted read-only, as ext4's ``errors=remount-ro``
does: every change fails from then on) or ``EIO`` (that one operation fails). A
verifier error ends the update with exit code 3 and ``{"error": CLASS, "message": ...}``;
anything else is a traceback (exit code 1).

``python -m tests.verifier.powercut inspect DEVICE KNOWN.json`` loads a copy of the
trust store as a fresh process does and prints what it found: every stored role file
must be one of the published versions, every component's state readable (old, staged or
confirmed), every slot image absent or whole.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    import verifier

COMPONENTS = {"gw": "1.0", "mcu": "4.0"}
SLOT = "slot-b"
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class Counter:
    """Counts storage operations under ``root``; kills the process at ``kill_at``."""

    def __init__(
        self, root: Path, kill_at: int | None, fail_at: int | None = None, err: int = 0
    ) -> None:
        self.root = str(root.resolve())
        self.kill_at = kill_at
        self.fail_at = fail_at
        self.err = err
        self.ops = 0
        self.kinds: dict[str, int] = {}
        self.fds: set[int] = set()
        self.write_fds: set[int] = set()

    def under(self, path: object) -> bool:
        try:
            return os.path.abspath(os.fspath(path)).startswith(self.root)  # type: ignore[arg-type]
        except TypeError:
            return False

    def hit(self, kind: str, torn: object = None, *, grows: bool = True) -> None:
        self.ops += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if self.ops == self.kill_at:
            if torn is not None:
                torn()
            os.kill(os.getpid(), signal.SIGKILL)
        if self.fail_at is not None and self._fails(kind, grows):
            raise OSError(self.err, os.strerror(self.err))

    def _fails(self, kind: str, grows: bool) -> bool:
        assert self.fail_at is not None
        if self.err == errno.EIO:
            return self.ops == self.fail_at
        if self.ops < self.fail_at:
            return False
        if self.err == errno.ENOSPC:
            return grows and kind not in ("unlink", "rmdir")
        return kind != "fsync"  # EROFS: syncing what is there still works

    def install(self) -> None:
        from verifier._internal import storage

        real = {n: getattr(os, n) for n in (
            "open", "write", "pwrite", "ftruncate", "fsync", "fdatasync", "replace", "rename",
            "unlink", "remove", "mkdir", "rmdir", "close",
        )}  # fmt: skip
        c = self

        def open_(path, flags, mode=0o777, *, dir_fd=None):  # type: ignore[no-untyped-def]
            watched = c.under(path)
            writing = bool(flags & WRITE_FLAGS)
            if watched and writing:
                creates = bool(flags & os.O_CREAT) and not os.path.exists(path)
                c.hit("open", grows=creates)
            fd = real["open"](path, flags, mode, dir_fd=dir_fd)
            if watched:
                c.fds.add(fd)
                if writing:
                    c.write_fds.add(fd)
            return fd

        def write(fd, data):  # type: ignore[no-untyped-def]
            if fd in c.write_fds:
                c.hit("write", lambda: real["write"](fd, bytes(data)[: max(len(data) // 2, 1)]))
            return real["write"](fd, data)

        def pwrite(fd, data, offset):  # type: ignore[no-untyped-def]
            if fd in c.write_fds:
                c.hit("write")
            return real["pwrite"](fd, data, offset)

        def ftruncate(fd, length):  # type: ignore[no-untyped-def]
            if fd in c.write_fds:
                c.hit("truncate", grows=length > os.fstat(fd).st_size)
            return real["ftruncate"](fd, length)

        def sync(name: str):  # type: ignore[no-untyped-def]
            def fsync(fd):  # type: ignore[no-untyped-def]
                if fd in c.fds:
                    c.hit("fsync")
                return real[name](fd)

            return fsync

        def path_op(name: str, kind: str):  # type: ignore[no-untyped-def]
            def op(path, *args, **kw):  # type: ignore[no-untyped-def]
                if c.under(path):
                    c.hit(kind)
                return real[name](path, *args, **kw)

            return op

        def close(fd):  # type: ignore[no-untyped-def]
            c.fds.discard(fd)
            c.write_fds.discard(fd)
            return real["close"](fd)

        os.open = open_  # type: ignore[assignment]
        os.write = write  # type: ignore[assignment]
        os.pwrite = pwrite  # type: ignore[assignment]
        os.ftruncate = ftruncate  # type: ignore[assignment]
        os.fsync = sync("fsync")
        os.fdatasync = sync("fdatasync")
        storage._sync_file = os.fdatasync  # bound at import
        os.replace = path_op("replace", "rename")  # type: ignore[assignment]
        os.rename = path_op("rename", "rename")  # type: ignore[assignment]
        os.unlink = path_op("unlink", "unlink")  # type: ignore[assignment]
        os.remove = path_op("remove", "unlink")  # type: ignore[assignment]
        os.mkdir = path_op("mkdir", "mkdir")  # type: ignore[assignment]
        os.rmdir = path_op("rmdir", "rmdir")  # type: ignore[assignment]
        os.close = close  # type: ignore[assignment]


def fill(path: Path) -> None:
    """Another program on the device takes every free byte of ``path``'s file system."""
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


def update(
    device: Path, url: str, announce: bool, fill_disk: bool = False, only: str | None = None
) -> None:
    """The full update: every component (or ``only`` one) checked, downloaded, staged;
    then confirmed."""
    import verifier

    trust = device / "trust"
    if url.endswith(".tar"):  # a USB stick with an offline bundle (``firmtuf bundle``)

        def make(policy: verifier.DevicePolicy) -> verifier.Updater:
            return verifier.Updater.from_bundle(url, trust, policy=policy)

    else:
        if url.startswith("http"):
            fetcher: verifier.Fetcher = verifier.HttpFetcher(chunk_size=16 * 1024)
            base = url
        else:
            fetcher = verifier.DirectoryFetcher(url, "file:///repo/", chunk_size=64 * 1024)
            base = "file:///repo/"

        def make(policy: verifier.DevicePolicy) -> verifier.Updater:
            return verifier.Updater(trust, base + "metadata/", base + "targets/",
                                    fetcher=fetcher, policy=policy)  # fmt: skip

    components = {h: v for h, v in COMPONENTS.items() if only in (None, h)}
    for hwid, factory in components.items():
        policy = verifier.DevicePolicy.from_metadata_dir(trust, hwid, factory)
        up = make(policy)
        try:
            install(up, device / hwid / SLOT, announce, fill_disk, device)
        finally:
            close = getattr(up, "close", None)  # a bundle's Updater holds its file open
            if close is not None:
                close()
    for hwid, factory in components.items():  # the reboot: confirm, offline
        policy = verifier.DevicePolicy.from_metadata_dir(trust, hwid, factory)
        up = verifier.Updater(trust, "http://127.0.0.1:9/", policy=policy)
        if up.pending() is not None:
            up.confirm()


def install(
    up: verifier.Updater, slot: Path, announce: bool, fill_disk: bool, device: Path
) -> None:
    """Check, download into ``slot`` (it exists: a partition; only the verifier writes
    there), stage."""
    if up.pending() is not None:
        return
    target = up.check()
    if target is None:
        return
    told: list[int] = []

    def progress(done: int, total: int) -> None:
        if not told:
            told.append(done)
            if announce:
                print("downloading", flush=True)
            if fill_disk:
                fill(device / "filler")

    image = up.download(target, slot / "fw.bin", progress=progress)
    up.stage(target, image)


def inspect(device: Path, known: dict[str, object]) -> dict[str, object]:
    """What a fresh process finds in (a copy of) the killed device's storage."""
    import verifier
    from verifier._internal.trusted_set import TrustedMetadataSet

    problems: list[str] = []
    found: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "device"
        shutil.copytree(device, copy)
        trust = copy / "trust"
        versions: dict[str, list[str]] = known["roles"]  # type: ignore[assignment]
        for path in sorted(trust.iterdir()):
            if path.is_dir() or path.name.startswith("."):
                continue  # the device namespace; staged temp files (never read)
            allowed = versions.get(path.name)
            if allowed is None or path.read_bytes().hex() not in allowed:
                problems.append(f"{path.name}: not a published version ({path.stat().st_size} B)")
        try:
            TrustedMetadataSet((trust / "root.json").read_bytes(), 0)
        except (OSError, verifier.RepositoryError) as e:
            problems.append(f"root.json does not load: {e}")
        images: dict[str, str] = known["images"]  # type: ignore[assignment]
        for hwid, factory in COMPONENTS.items():
            try:
                policy = verifier.DevicePolicy.from_metadata_dir(trust, hwid, factory)
                up = verifier.Updater(trust, "http://127.0.0.1:9/", policy=policy)
                pending = up.pending()
            except verifier.VerifierError as e:
                problems.append(f"{hwid}: state does not load: {type(e).__name__}: {e}")
                continue
            state = "staged" if pending is not None else str(policy.installed_version)
            found[hwid] = state
            old, new = known["old"][hwid], known["new"][hwid]  # type: ignore[index]
            if state not in ("staged", old, new):
                problems.append(f"{hwid}: unexpected state {state}")
            image = copy / hwid / SLOT / "fw.bin"
            if image.exists() and image.read_bytes().hex() != images[hwid]:
                problems.append(f"{hwid}: slot image torn ({image.stat().st_size} B)")
            if state != old and not image.exists():
                problems.append(f"{hwid}: {state} without its image")
    return {"problems": problems, "state": found}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["update", "inspect"])
    p.add_argument("device", type=Path)
    p.add_argument("arg")
    p.add_argument("--kill-at", type=int)
    p.add_argument("--announce", action="store_true")
    p.add_argument("--fill-disk", action="store_true")
    p.add_argument("--only", choices=sorted(COMPONENTS), help="update this component only")
    p.add_argument("--fail-at", type=int)
    p.add_argument("--errno", choices=["ENOSPC", "EROFS", "EIO"])
    args = p.parse_args()
    if args.mode == "inspect":
        print(json.dumps(inspect(args.device, json.loads(Path(args.arg).read_text()))))
        return 0
    import verifier

    err = getattr(errno, args.errno) if args.errno else 0
    counter = Counter(args.device, args.kill_at, args.fail_at, err)
    counter.install()
    try:
        update(args.device, args.arg, args.announce, args.fill_disk, args.only)
    except verifier.VerifierError as e:
        print(json.dumps({"error": type(e).__name__, "message": str(e)}), flush=True)
        return 3
    print(json.dumps({"ops": counter.ops, "kinds": counter.kinds}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
