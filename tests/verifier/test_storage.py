"""Crash-safe storage of trusted metadata: a failure between write and rename leaves the
old file intact, and stored files are re-verified when loaded."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import verifier
from tests.repository import METADATA_URL, Repository, tamper
from tests.verifier.conftest import state_of
from verifier._internal import storage


def test_atomic_write_replaces(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    storage.atomic_write(f, b"one")
    storage.atomic_write(f, b"two")
    assert f.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failure_before_rename_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "a.json"
    storage.atomic_write(f, b"old")

    def power_cut(self: Path, target: object) -> Path:
        raise OSError("power cut")

    monkeypatch.setattr(Path, "replace", power_cut)
    with pytest.raises(verifier.StorageError):
        storage.atomic_write(f, b"new")
    assert f.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failure_during_write_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "a.json"
    storage.atomic_write(f, b"old")

    def fail_fsync(fd: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(storage, "_sync_file", fail_fsync)
    with pytest.raises(verifier.StorageError):
        storage.atomic_write(f, b"new" * 1000)
    assert f.read_bytes() == b"old"


def test_refresh_crash_while_persisting(
    sim: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    md = tmp_path / "md"
    sim.updater(md).refresh()
    before = state_of(md)
    sim.publish()

    def power_cut(self: Path, target: object) -> Path:
        raise OSError("power cut")

    with monkeypatch.context() as m:
        m.setattr(Path, "replace", power_cut)
        with pytest.raises(verifier.StorageError):
            sim.updater(md).refresh()
    assert state_of(md) == before
    sim.updater(md).refresh()  # the device carries on after the reboot


@pytest.mark.parametrize("what", ["metadata", "image"])
def test_disk_full_is_a_storage_error_with_its_errno(
    sim: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    """Issue 9 item 6: a full disk is the device's storage (StorageError, errno ENOSPC),
    neither the network nor the repository; the trusted state is unchanged."""
    md = tmp_path / "md"
    up = sim.updater(md)
    target = up.get_targetinfo("gw/1.0.0/fw.bin")
    assert target is not None
    if what == "metadata":
        sim.publish()
    before = state_of(md)

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "fsync", disk_full)
        m.setattr(storage, "_sync_file", disk_full)
        with pytest.raises(verifier.StorageError) as info:
            if what == "metadata":
                sim.updater(md).refresh()
            else:
                sim.updater(md).download(target, tmp_path / "fw.bin")
    assert info.value.errno == errno.ENOSPC
    assert state_of(md) == before
    assert not (tmp_path / "fw.bin").exists()


def test_directory_sync_failure_is_a_storage_error(
    sim: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last step of a refresh (syncing the renames) failing is the storage's error,
    not an OSError escaping the API."""
    md = tmp_path / "md"
    sim.updater(md).refresh()
    sim.publish()

    def io_error(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    with monkeypatch.context() as m:
        m.setattr(os, "fsync", io_error)
        with pytest.raises(verifier.StorageError) as info:
            sim.updater(md).refresh()
    assert info.value.errno == errno.EIO


def test_stored_files_are_reverified(sim: Repository, tmp_path: Path) -> None:
    md = tmp_path / "md"
    sim.updater(md).refresh()
    # Someone edits the stored targets.json: it no longer verifies, so it is fetched again.
    stored = (md / "targets.json").read_bytes()
    (md / "targets.json").write_bytes(tamper(stored, '"length": 12', '"length": 13'))
    sim.fetcher.requests.clear()
    up = sim.updater(md)
    up.refresh()
    assert METADATA_URL + "2.targets.json" in sim.fetcher.requests
    assert (md / "targets.json").read_bytes() == stored


def test_torn_stored_timestamp_is_ignored(sim: Repository, tmp_path: Path) -> None:
    md = tmp_path / "md"
    sim.updater(md).refresh()
    (md / "timestamp.json").write_bytes(b'{"signed": {"_ty')
    sim.updater(md).refresh()
    assert (md / "timestamp.json").read_bytes() == sim.files[METADATA_URL + "timestamp.json"]


def test_oversized_stored_file_is_ignored(sim: Repository, tmp_path: Path) -> None:
    md = tmp_path / "md"
    sim.updater(md).refresh()
    (md / "snapshot.json").write_bytes(b" " * 6000)
    sim.updater(md, config=verifier.Config(snapshot_max_length=5000)).refresh()
    assert (md / "snapshot.json").read_bytes().startswith(b"{")
