"""Issue 10 item 3: partial downloads bound to their target, free space, progress with
every fetcher, and the trust-store lock (clear error or bounded wait)."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import verifier
from tests.loopback import FileServer
from tests.repository import BASE, TARGETS_URL, Repository
from verifier._fetcher import Deadline
from verifier._internal import partial
from verifier._internal.lock import FileLock, open_locked

OLD = bytes(range(256)) * 1000  # 256000 bytes
NEW = bytes(reversed(range(256))) * 1200  # 307200 bytes


def fw(version: str) -> dict[str, object]:
    return {"firmtuf": {"hardware_ids": ["gw"], "version": version}}


@pytest.fixture
def repo() -> Repository:
    sim = Repository()
    sim.add_target("gw/latest.bin", OLD, custom=fw("1.0"))
    sim.publish()
    return sim


def image_url(name: str, data: bytes) -> str:
    dirname, _, base = name.rpartition("/")
    return f"{TARGETS_URL}{dirname}/{hashlib.sha256(data).hexdigest()}.{base}"


def partials(md: Path) -> list[str]:
    d = md / "firmtuf" / "partial"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


class Cut(verifier.Fetcher):
    """Serves another fetcher's bytes but stops (a transport error) after ``cut`` bytes
    of the URLs in ``cut_urls``: an interrupted download."""

    def __init__(self, inner: verifier.MemoryFetcher, cut: int) -> None:
        self.inner = inner
        self.cut = cut
        self.cut_urls: set[str] = set()
        self.offsets: list[tuple[str, int]] = []

    def _fetch(self, url: str, offset: int, deadline: Deadline) -> Iterator[bytes]:
        self.offsets.append((url, offset))
        chunks = self.inner._fetch(url, offset, deadline)
        if url not in self.cut_urls:
            return chunks
        return self._cut(chunks, offset)

    def _cut(self, chunks: Iterator[bytes], offset: int) -> Iterator[bytes]:
        done = offset
        for chunk in chunks:
            room = self.cut - done
            if room <= 0:
                break
            yield chunk[:room]
            done += min(room, len(chunk))
        raise ConnectionResetError("cable pulled")


def test_a_partial_of_an_old_release_is_never_resumed(repo: Repository, tmp_path: Path) -> None:
    """The issue's failure: a kill during a download, the server moves to a new release
    under the same name, and the next attempt resumed the old bytes and failed with a
    repository error. The partial is bound to the name and the signed hashes."""
    md = tmp_path / "md"
    fetcher = Cut(repo.fetcher, cut=100_000)
    fetcher.cut_urls.add(image_url("gw/latest.bin", OLD))
    up = repo.updater(md, fetcher=fetcher)
    old = up.get_targetinfo("gw/latest.bin")
    assert old is not None
    with pytest.raises(verifier.DownloadError, match="cable pulled"):
        up.download(old, tmp_path / "fw.bin")
    assert partials(md) == [partial.filename(old)]
    repo.add_target("gw/latest.bin", NEW, custom=fw("2.0"))
    repo.publish()
    up = repo.updater(md, fetcher=fetcher)
    new = up.get_targetinfo("gw/latest.bin")
    assert new is not None and new != old
    assert up.download(new, tmp_path / "fw.bin").read_bytes() == NEW
    assert fetcher.offsets[-1] == (image_url("gw/latest.bin", NEW), 0)
    assert partials(md) == []  # the old release's bytes were discarded, the new renamed


def test_endless_data_leaves_no_partial(repo: Repository, tmp_path: Path) -> None:
    """A server sending more than the signed length: DownloadLengthMismatchError, and
    its bytes are not kept to be resumed next time."""
    md = tmp_path / "md"
    up = repo.updater(md)
    target = up.get_targetinfo("gw/latest.bin")
    assert target is not None
    repo.override[image_url("gw/latest.bin", OLD)] = b"\0" * (len(OLD) + 70_000)
    with pytest.raises(verifier.DownloadLengthMismatchError):
        up.download(target, tmp_path / "fw.bin")
    assert partials(md) == []
    assert not (tmp_path / "fw.bin").exists()


def test_a_missing_image_leaves_no_partial(repo: Repository, tmp_path: Path) -> None:
    """An image the server does not have (404) leaves nothing behind to resume: no empty
    partial per failed attempt on a device that polls for months."""
    md = tmp_path / "md"
    up = repo.updater(md)
    target = up.get_targetinfo("gw/latest.bin")
    assert target is not None
    for key in [k for k, (name, _) in repo.target_files.items() if name == "gw/latest.bin"]:
        del repo.target_files[key]
    for _ in range(2):
        with pytest.raises(verifier.DownloadHTTPError):
            up.download(target, tmp_path / "fw.bin")
        assert partials(md) == []
    assert not (tmp_path / "fw.bin").exists()


def test_an_oversized_partial_is_discarded(
    repo: Repository, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    md = tmp_path / "md"
    up = repo.updater(md)
    target = up.get_targetinfo("gw/latest.bin")
    assert target is not None
    part = md / "firmtuf" / "partial" / partial.filename(target)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"junk" * 100_000)
    assert up.download(target, tmp_path / "fw.bin").read_bytes() == OLD
    assert any(r.levelname == "WARNING" and "discarded" in r.message for r in caplog.records)


def other_file_system(tmp_path: Path) -> Path:
    """A directory on another file system than ``tmp_path`` (tmpfs: a slot partition)."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on a file system of its own")
    return Path(tempfile.mkdtemp(prefix="firmtuf-slot-", dir=shm))


def test_a_dest_on_another_file_system_is_written_once(
    repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An inactive slot on its own partition: the partial lives beside ``dest`` (no copy
    across, and a data partition too small for the image does not matter); cut, it
    resumes there, and a new release of the name discards it."""
    slot = other_file_system(tmp_path)
    try:
        md = tmp_path / "md"
        fetcher = Cut(repo.fetcher, cut=100_000)
        fetcher.cut_urls.add(image_url("gw/latest.bin", OLD))
        up = repo.updater(md, fetcher=fetcher)
        old = up.get_targetinfo("gw/latest.bin")
        assert old is not None
        real = partial.free_space
        # The trust store's file system has no room for the image; the slot has.
        monkeypatch.setattr(
            partial, "free_space", lambda d: real(d) if d == slot else 1_000_000 // 2
        )
        with pytest.raises(verifier.DownloadError, match="cable pulled"):
            up.download(old, slot / "fw.bin")
        assert [p.name for p in slot.iterdir()] == [partial.filename(old)]
        assert partials(md) == []
        fetcher.cut_urls.clear()
        assert up.download(old, slot / "fw.bin").read_bytes() == OLD
        assert fetcher.offsets[-1] == (image_url("gw/latest.bin", OLD), 100_000)
        assert [p.name for p in slot.iterdir()] == ["fw.bin"]

        fetcher.cut_urls.add(image_url("gw/latest.bin", NEW))
        repo.add_target("gw/latest.bin", NEW, custom=fw("2.0"))
        repo.publish()
        up = repo.updater(md, fetcher=fetcher)
        new = up.get_targetinfo("gw/latest.bin")
        assert new is not None
        (slot / "fw.bin").unlink()
        stale = slot / partial.filename(old)
        stale.write_bytes(OLD[:5000])
        with pytest.raises(verifier.DownloadError, match="cable pulled"):
            up.download(new, slot / "fw.bin")
        assert [p.name for p in slot.iterdir()] == [partial.filename(new)]
    finally:
        shutil.rmtree(slot)


def test_free_space_is_checked_before_anything_is_fetched(
    repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    md = tmp_path / "md"
    up = repo.updater(md)
    target = up.get_targetinfo("gw/latest.bin")
    assert target is not None
    monkeypatch.setattr(partial, "free_space", lambda directory: 200_000)
    before = list(repo.fetcher.requests)
    with pytest.raises(verifier.InsufficientSpaceError) as info:
        up.download(target, tmp_path / "fw.bin")
    assert isinstance(info.value, verifier.StorageError)
    assert info.value.available == 200_000
    # The image, plus room to save the trust store's metadata once more.
    assert info.value.needed > len(OLD) + partial.METADATA_HEADROOM
    assert repo.fetcher.requests == before  # nothing fetched


def test_short_of_space_stale_partials_go_first(
    repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    md = tmp_path / "md"
    up = repo.updater(md)
    target = up.get_targetinfo("gw/latest.bin")
    assert target is not None
    stale = md / "firmtuf" / "partial" / "0123456789abcdef-0123456789abcdef.part"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"x" * 1000)
    real = partial.free_space
    calls: list[int] = []

    def free(directory: Path) -> int:
        calls.append(1)
        return 0 if stale.exists() else real(directory)

    monkeypatch.setattr(partial, "free_space", free)
    assert up.download(target, tmp_path / "fw.bin").read_bytes() == OLD
    assert not stale.exists()


def test_a_full_disk_mid_download_discards_the_partial(
    repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's failure: the partial that filled the disk blocked even the next
    metadata save (root rotation included). It is removed, and the next refresh saves."""
    md = tmp_path / "md"
    up = repo.updater(md)
    target = up.get_targetinfo("gw/latest.bin")
    assert target is not None
    real_write = os.write
    written = [0]

    def write(fd: int, data: bytes) -> int:
        if os.fstat(fd).st_size >= 100_000 and "partial" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        n = real_write(fd, data)
        written[0] += n
        return n

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(verifier.InsufficientSpaceError, match="partial discarded"):
        up.download(target, tmp_path / "fw.bin")
    monkeypatch.undo()
    assert partials(md) == []
    repo.rotate_root()
    repo.publish()
    repo.updater(md).refresh()
    assert b'"version":2' in (md / "root.json").read_bytes().replace(b" ", b"")


def test_discard_partials(repo: Repository, tmp_path: Path) -> None:
    md = tmp_path / "md"
    up = repo.updater(md)
    target = up.get_targetinfo("gw/latest.bin")
    assert target is not None
    d = md / "firmtuf" / "partial"
    d.mkdir(parents=True)
    mine = d / partial.filename(target)
    busy = d / "aaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb.part"
    other = d / "cccccccccccccccc-dddddddddddddddd.part"
    for p in (mine, busy, other):
        p.write_bytes(b"123")
    fd = open_locked(busy, 0, "test")  # a download writing it right now
    try:
        assert up.discard_partials(keep=target) == 1
        assert partials(md) == sorted([mine.name, busy.name])
    finally:
        os.close(fd)
    assert up.discard_partials() == 2
    assert partials(md) == []
    assert up.discard_partials() == 0


class Recording(list[tuple[int, int]]):
    def __call__(self, done: int, total: int) -> None:
        self.append((done, total))


def check_progress(calls: list[tuple[int, int]], total: int, start: int = 0) -> None:
    assert calls[0] == (start, total)
    assert calls[-1] == (total, total)
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(done) > 2
    assert {t for _, t in calls} == {total}


@pytest.mark.parametrize("kind", ["memory", "directory", "http", "bundle-like"])
def test_progress_with_every_fetcher(repo: Repository, tmp_path: Path, kind: str) -> None:
    md = tmp_path / "md"
    progress = Recording()
    if kind == "http":
        with FileServer(repo.file) as server:
            fetcher = verifier.HttpFetcher(chunk_size=16 * 1024)
            md.mkdir()
            (md / "root.json").write_bytes(repo.signed_roots[0])
            up = verifier.Updater(md, server.url + "metadata", server.url + "targets",
                                  fetcher=fetcher)  # fmt: skip
            target = up.get_targetinfo("gw/latest.bin")
            assert target is not None
            up.download(target, tmp_path / "fw.bin", progress=progress)
    else:
        if kind == "directory":
            root = tmp_path / "mirror"
            url = image_url("gw/latest.bin", OLD)[len(BASE) :]
            (root / url).parent.mkdir(parents=True)
            (root / url).write_bytes(OLD)
            for name in ("1.root.json", "timestamp.json", "2.snapshot.json", "2.targets.json"):
                (root / "metadata").mkdir(exist_ok=True)
                data = repo.files[BASE + "metadata/" + name]
                (root / "metadata" / name).write_bytes(data)
            fetcher: verifier.Fetcher = verifier.DirectoryFetcher(root, BASE, chunk_size=40_000)
        elif kind == "memory":
            fetcher = verifier.MemoryFetcher(repo.files, chunk_size=50_000)
        else:
            fetcher = Cut(verifier.MemoryFetcher(repo.files, chunk_size=30_000), cut=10**9)
        up = repo.updater(md, fetcher=fetcher)
        target = up.get_targetinfo("gw/latest.bin")
        assert target is not None
        up.download(target, tmp_path / "fw.bin", progress=progress)
    assert (tmp_path / "fw.bin").read_bytes() == OLD
    check_progress(progress, len(OLD))


def test_progress_of_a_resumed_download_and_a_cached_one(repo: Repository, tmp_path: Path) -> None:
    md = tmp_path / "md"
    fetcher = Cut(verifier.MemoryFetcher(repo.files, chunk_size=20_000), cut=100_000)
    fetcher.cut_urls.add(image_url("gw/latest.bin", OLD))
    up = repo.updater(md, fetcher=fetcher)
    target = up.get_targetinfo("gw/latest.bin")
    assert target is not None
    first = Recording()
    with pytest.raises(verifier.DownloadError):
        up.download(target, tmp_path / "fw.bin", progress=first)
    assert first[-1] == (100_000, len(OLD))
    fetcher.cut_urls.clear()
    second = Recording()
    up.download(target, tmp_path / "fw.bin", progress=second)
    check_progress(second, len(OLD), start=100_000)
    third = Recording()
    up.download(target, tmp_path / "fw.bin", progress=third)
    assert third == [(len(OLD), len(OLD))]


def test_an_exception_from_progress_stops_and_keeps_the_partial(
    repo: Repository, tmp_path: Path
) -> None:
    md = tmp_path / "md"
    up = repo.updater(md, fetcher=verifier.MemoryFetcher(repo.files, chunk_size=50_000))
    target = up.get_targetinfo("gw/latest.bin")
    assert target is not None

    class Stop(Exception):
        pass

    def cancel(done: int, total: int) -> None:
        if done >= 100_000:
            raise Stop

    with pytest.raises(Stop):
        up.download(target, tmp_path / "fw.bin", progress=cancel)
    part = md / "firmtuf" / "partial" / partial.filename(target)
    assert part.stat().st_size == 100_000
    assert up.download(target, tmp_path / "fw.bin").read_bytes() == OLD


# -- the trust-store lock ----------------------------------------------------------------


def test_a_locked_store_fails_clearly(repo: Repository, tmp_path: Path) -> None:
    """The waiter's error names the holder's pid (from the kernel's lock table: taking
    the lock writes nothing, so an agent started per poll does not wear flash)."""
    md = tmp_path / "md"
    repo.updater(md).refresh()
    assert (md / "firmtuf" / "lock").read_bytes() == b""
    holder = FileLock(md / "firmtuf" / "lock", 0, "test")
    config = verifier.Config(lock_timeout=0.2)
    with holder:
        up = repo.updater(md, config=config, policy=verifier.DevicePolicy("gw", "0.1"))
        with pytest.raises(verifier.TrustStoreLockedError, match=rf"pid {os.getpid()}"):
            up.refresh()
        with pytest.raises(verifier.StorageError, match=r"Config\.lock_timeout"):
            up.mark_installed(up_target(repo, tmp_path))
    repo.updater(md, config=config).refresh()


def up_target(repo: Repository, tmp_path: Path) -> verifier.TargetFile:
    target = repo.updater(tmp_path / "other").get_targetinfo("gw/latest.bin")
    assert target is not None
    return target


def test_a_locked_store_is_waited_for(repo: Repository, tmp_path: Path) -> None:
    md = tmp_path / "md"
    repo.updater(md).refresh()
    holder = FileLock(md / "firmtuf" / "lock", 0, "test")
    holder.__enter__()
    release = threading.Timer(0.3, holder.__exit__, (None, None, None))
    release.start()
    try:
        repo.updater(md, config=verifier.Config(lock_timeout=30)).refresh()
        assert not holder.held
    finally:
        release.join()


HOLD = """
import sys, time
from pathlib import Path
from verifier._internal.lock import FileLock
with FileLock(Path(sys.argv[1]), 0, "child"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_the_lock_excludes_other_processes_and_dies_with_them(
    repo: Repository, tmp_path: Path
) -> None:
    md = tmp_path / "md"
    repo.updater(md).refresh()
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(md / "firmtuf" / "lock")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        with pytest.raises(verifier.TrustStoreLockedError, match=rf"pid {child.pid}"):
            repo.updater(md, config=verifier.Config(lock_timeout=0.1)).refresh()
    finally:
        child.kill()
        child.wait()
    repo.updater(md, config=verifier.Config(lock_timeout=0)).refresh()  # kill -9 freed it


def test_two_downloads_of_one_target_never_share_a_partial(
    repo: Repository, tmp_path: Path
) -> None:
    md = tmp_path / "md"
    up = repo.updater(md, config=verifier.Config(lock_timeout=0.1))
    target = up.get_targetinfo("gw/latest.bin")
    assert target is not None
    part = md / "firmtuf" / "partial" / partial.filename(target)
    part.parent.mkdir(parents=True)
    fd = open_locked(part, 0, "another agent")
    try:
        with pytest.raises(verifier.TrustStoreLockedError, match="partial download"):
            up.download(target, tmp_path / "a.bin")
    finally:
        os.close(fd)
    assert up.download(target, tmp_path / "a.bin").read_bytes() == OLD


def another_agent_finishing(up: verifier.Updater, md: Path, dest: Path) -> threading.Thread:
    """Another agent holding the partial of gw/latest.bin, which it renames to ``dest``
    (its download done) 0.2 s after the thread starts."""
    target = up.get_targetinfo("gw/latest.bin")
    assert target is not None
    part = md / "firmtuf" / "partial" / partial.filename(target)
    part.parent.mkdir(parents=True)
    fd = open_locked(part, 0, "first")
    os.write(fd, OLD)

    def finish() -> None:
        time.sleep(0.2)
        part.replace(dest)
        os.close(fd)

    return threading.Thread(target=finish)


def test_a_waiting_download_finds_the_finished_one(repo: Repository, tmp_path: Path) -> None:
    """The holder renames its partial into place while the second waits: the second
    opens the path again instead of writing into the renamed file."""
    md = tmp_path / "md"
    up = repo.updater(md)
    target = up.get_targetinfo("gw/latest.bin")
    assert target is not None
    t = another_agent_finishing(up, md, tmp_path / "first.bin")
    t.start()
    try:
        assert up.download(target, tmp_path / "second.bin").read_bytes() == OLD
    finally:
        t.join()
    assert (tmp_path / "first.bin").read_bytes() == OLD


def test_a_download_that_waited_for_the_same_one_is_done(repo: Repository, tmp_path: Path) -> None:
    """Two agents downloading one target to one place: the second finds it in place
    once it gets the partial's lock, and fetches nothing."""
    md = tmp_path / "md"
    up = repo.updater(md)
    target = up.get_targetinfo("gw/latest.bin")
    assert target is not None
    dest = tmp_path / "fw.bin"
    t = another_agent_finishing(up, md, dest)
    before = len(repo.fetcher.requests)
    t.start()
    try:
        progress = Recording()
        assert up.download(target, dest, progress=progress).read_bytes() == OLD
    finally:
        t.join()
    assert repo.fetcher.requests[before:] == []
    assert progress == [(len(OLD), len(OLD))]
    assert partials(md) == []
