"""Issue 14 item 3: image hashes computed in a second thread overlapped with the transfer
(``verifier/_internal/overlap.py`` under ``LengthAndHashes.feed``): the same verdicts as
hashing inline, bounded memory whatever the image size, a small thread stack, the
worker gone whatever happens, every counted chunk hashed (a resumed check stays exact)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import verifier
from tests.loopback import FileServer
from tests.repository import Repository
from tests.verifier.conftest import Transport
from verifier._internal import overlap
from verifier._internal.metadata import LengthAndHashes


def _check(data: bytes, algos: tuple[str, ...] = ("sha256", "sha512")) -> LengthAndHashes:
    hashes = {algo: hashlib.new(algo, data).hexdigest() for algo in algos}
    return LengthAndHashes(len(data), hashes, "image")


def _chunks(data: bytes, sizes: list[int]) -> Iterator[bytes]:
    start, i = 0, 0
    while start < len(data):
        size = sizes[i % len(sizes)]
        yield data[start : start + size]
        start += size
        i += 1


def _hash_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "firmtuf-hash"]


@pytest.fixture
def always_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(overlap, "MIN_BYTES", 0)


@given(
    data=st.binary(min_size=1, max_size=20_000),
    sizes=st.lists(st.integers(1, 5000), min_size=1, max_size=5),
    flip=st.none() | st.integers(0, 19_999),
)
def test_overlapped_verdicts_equal_inline_hashing(
    data: bytes, sizes: list[int], flip: int | None
) -> None:
    served = data
    if flip is not None:
        i = flip % len(data)
        served = data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]
    verdicts = []
    for min_bytes in (0, 10**9):  # overlapped, then inline
        old, overlap.MIN_BYTES = overlap.MIN_BYTES, min_bytes
        try:
            check, written = _check(data), bytearray()
            check.feed(_chunks(served, sizes), written.extend)
        finally:
            overlap.MIN_BYTES = old
        assert bytes(written) == served
        try:
            check.verify()
            verdicts.append("ok")
        except verifier.LengthOrHashMismatchError as e:
            verdicts.append(str(e))
    assert verdicts[0] == verdicts[1]
    assert (verdicts[0] == "ok") == (served == data)
    assert not _hash_threads()


def test_small_checks_are_hashed_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    monkeypatch.setattr(overlap.HashWorker, "__init__", lambda *a: started.append(a))
    data = b"x" * (overlap.MIN_BYTES - 1)
    check = _check(data)
    check.feed(iter([data]))
    check.verify()
    assert started == []


class _Gate:
    """A hasher that waits, on its first chunk, until the test opens the gate."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.open = threading.Event()

    def update(self, chunk: bytes) -> None:
        self.entered.set()
        self.open.wait(30)
        self.inner.update(chunk)

    def hexdigest(self) -> str:
        return str(self.inner.hexdigest())


def test_memory_is_bounded_while_the_hash_lags(always_overlap: None) -> None:
    """With the hasher stuck, the receiving side stops pulling chunks once the queue is
    full: one being hashed, QUEUE_CHUNKS waiting, one in hand."""
    chunk = b"c" * 1000
    total = 50
    data = chunk * total
    check = _check(data, ("sha256",))
    algo, hasher, digest = check._hashers[0]
    gate = _Gate(hasher)
    check._hashers = [(algo, gate, digest)]
    bound = overlap.QUEUE_CHUNKS + 2
    pulled: list[int] = []
    beyond = threading.Event()

    def source() -> Iterator[bytes]:
        for i in range(total):
            pulled.append(i)
            if i >= bound:
                beyond.set()
            yield chunk

    feeding = threading.Thread(target=check.feed, args=(source(),))
    feeding.start()
    assert gate.entered.wait(10)
    # A correct bound never pulls chunk number `bound` while the hasher is stuck; an
    # unbounded one would within microseconds (this waits, it asserts no timing).
    assert not beyond.wait(0.5), f"pulled {len(pulled)} chunks while one was being hashed"
    assert len(pulled) == bound
    gate.open.set()
    feeding.join(10)
    assert not feeding.is_alive()
    assert len(pulled) == total
    check.verify()


def test_worker_runs_on_a_small_stack(
    always_overlap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = threading.stack_size
    before = real()

    def recording(*size: int) -> int:
        calls.extend(size)
        return real(*size)

    monkeypatch.setattr(threading, "stack_size", recording)
    data = b"d" * 10_000
    check = _check(data)
    check.feed(iter([data[:5000], data[5000:]]))
    check.verify()
    assert calls == [overlap.STACK_SIZE, before]
    assert real() == before


def test_source_failure_leaves_every_counted_chunk_hashed(always_overlap: None) -> None:
    data = bytes(range(256)) * 40
    check = _check(data, ("sha256",))

    def source() -> Iterator[bytes]:
        yield data[:3000]
        yield data[3000:7000]
        raise OSError("connection reset")

    with pytest.raises(OSError, match="reset"):
        check.feed(source())
    assert not _hash_threads()
    assert check.received == 7000
    # Resuming on the same check (as a retry would) gives the right verdict.
    check.feed(iter([data[7000:]]))
    check.verify()


def test_hasher_failure_is_raised_in_the_caller(always_overlap: None) -> None:
    class Broken:
        def update(self, chunk: bytes) -> None:
            raise MemoryError("no room for the hash state")

    data = b"z" * 5000
    check = _check(data, ("sha256",))
    algo, _, digest = check._hashers[0]
    check._hashers = [(algo, Broken(), digest)]
    with pytest.raises(MemoryError):
        check.feed(iter([data[:100], data[100:]]))
    assert not _hash_threads()


def test_too_many_bytes_stop_the_worker(always_overlap: None) -> None:
    check = _check(b"a" * 1000)
    with pytest.raises(verifier.LengthOrHashMismatchError, match="more than 1000"):
        check.feed(iter([b"a" * 600, b"a" * 600]))
    assert not _hash_threads()


IMAGE = bytes(range(256)) * (3 * 4096)  # 3 MiB: above overlap.MIN_BYTES


@pytest.fixture
def big_repo() -> Repository:
    sim = Repository()
    sim.add_target("gw/3.0/fw.bin", IMAGE)
    sim.publish()
    return sim


def test_large_image_download_over_http_is_overlapped_and_verified(
    big_repo: Repository,
    tmp_path: Path,
    transport: Transport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workers: list[overlap.HashWorker] = []
    real_init = overlap.HashWorker.__init__

    def recording(self: overlap.HashWorker, hashers: Any) -> None:
        workers.append(self)
        real_init(self, hashers)

    monkeypatch.setattr(overlap.HashWorker, "__init__", recording)
    md = tmp_path / "md"
    md.mkdir()
    (md / "root.json").write_bytes(big_repo.signed_roots[0])
    with FileServer(big_repo.file) as server:
        up = verifier.Updater(
            md, server.url + "metadata", server.url + "targets", fetcher=transport()
        )
        target = up.get_targetinfo("gw/3.0/fw.bin")
        assert target is not None
        dest = tmp_path / "fw.bin"
        assert up.download(target, dest).read_bytes() == IMAGE
        assert len(workers) == 1
        # The same image with one byte changed on the server is refused, not installed.
        bad = bytearray(IMAGE)
        bad[len(IMAGE) // 2] ^= 0xFF
        url = "https://repo.test/targets/" + f"gw/3.0/{hashlib.sha256(IMAGE).hexdigest()}.fw.bin"
        big_repo.override[url] = bytes(bad)
        with pytest.raises(verifier.LengthOrHashMismatchError):
            up.download(target, tmp_path / "again.bin")
        assert not (tmp_path / "again.bin").exists()
    assert not _hash_threads()
