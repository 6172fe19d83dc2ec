"""Issue 9 item 2: the trust store's namespaces (docs/adr/0006-trust-store-layout.md)."""

from __future__ import annotations

import errno
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

import verifier
from tests.repository import Repository
from tests.verifier.conftest import state_of
from verifier._internal import storage
from verifier._internal.store import TrustStore, role_filename
from verifier._internal.timefloor import TimeFloor

DEVICE_FILES = ("firmtuf", "device", "time_floor", "layout", "lock", "partial")


@pytest.mark.parametrize("name", [*DEVICE_FILES, "firmtuf/device", "../x", "%2e%2e", "a/../../b"])
def test_no_role_name_reaches_the_device_namespace(tmp_path: Path, name: str) -> None:
    store = TrustStore(tmp_path)
    path = store.role_path(name)
    assert path is not None
    assert path.parent == tmp_path and path.name.endswith(".json")
    assert path != store.device_dir and store.device_dir not in path.parents


@pytest.mark.parametrize("name", ["Root", "TIMESTAMP", "Snapshot", "tarGets", "x" * 300])
def test_roles_that_could_collide_are_not_stored(tmp_path: Path, name: str) -> None:
    """Case-insensitive file systems (FAT) would put ``Root.json`` over ``root.json``."""
    assert TrustStore(tmp_path).role_path(name) is None
    assert TrustStore(tmp_path).role_path("root") == tmp_path / "root.json"


def test_delegated_roles_named_like_device_files_are_only_role_files(tmp_path: Path) -> None:
    sim = Repository()
    names = [*DEVICE_FILES, "Root"]
    for i, name in enumerate(names):
        sim.delegate("targets", name, [f"d{i}/*"])
        sim.add_target(f"d{i}/fw.bin", name.encode(), role=name)
    sim.publish(roles=("targets", *names))
    md = tmp_path / "md"
    up = sim.updater(md)
    for i, name in enumerate(names):
        target = up.get_targetinfo(f"d{i}/fw.bin")
        assert target is not None and target.length == len(name)
    floor = TimeFloor(md)
    floor.advance(floor.reference_time(_dt(2026)))
    stored = state_of(md)
    for name in DEVICE_FILES:
        assert json.loads(stored[role_filename(name)])["signed"]["_type"] == "targets"
    assert "Root.json" not in stored  # verified from memory, not stored
    assert json.loads(stored["firmtuf/time_floor.json"]) == {"time": _dt(2026).isoformat()}
    assert json.loads(stored["firmtuf/layout.json"]) == {"layout": 3}
    # A second Updater finds every role again (from its file, or fetched for Root).
    up = sim.updater(md)
    assert up.get_targetinfo(f"d{len(names) - 1}/fw.bin") is not None


def test_floor_is_never_read_from_extra_fields(tmp_path: Path) -> None:
    floor = TimeFloor(tmp_path)
    floor.advance(_dt(2026))
    doc = {"time": _dt(2026).isoformat(), "signed": {}}
    floor.path.write_text(json.dumps(doc))
    with pytest.raises(verifier.StorageError, match="corrupt"):
        floor.load()


def test_newer_layout_is_refused(tmp_path: Path) -> None:
    (tmp_path / "firmtuf").mkdir()
    (tmp_path / "firmtuf" / "layout.json").write_text('{"layout": 4}')
    with pytest.raises(verifier.StorageError, match="newer"):
        verifier.Updater(tmp_path, "https://x/")
    (tmp_path / "firmtuf" / "layout.json").write_text("{broken")
    with pytest.raises(verifier.StorageError, match="layout marker"):
        verifier.Updater(tmp_path, "https://x/")


def test_read_only_layout_1_store_is_used_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing to move: a store that cannot be written (EROFS) still serves a refresh."""
    sim = Repository()
    sim.publish()
    md = tmp_path / "md"
    sim.updater(md).refresh()
    (md / "firmtuf" / "layout.json").unlink()
    before = state_of(md)

    def read_only(path: Path, data: bytes, **kw: object) -> None:
        raise verifier.StorageError(f"cannot write {path}") from OSError(errno.EROFS, "ro")

    monkeypatch.setattr(storage, "atomic_write", read_only)
    up = sim.updater(md)
    up.refresh()  # nothing new: nothing written
    assert state_of(md) == before


def test_storage_error_carries_the_errno(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(verifier.StorageError) as info:
        verifier.atomic_write(blocker / "sub" / "a.json", b"{}")
    assert info.value.errno is not None


def test_public_atomic_write(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "f.json"
    verifier.atomic_write(path, b"one")
    verifier.atomic_write(path, b"two")
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.json"]


def _dt(year: int) -> datetime:
    return datetime(year, 6, 1, tzinfo=UTC)
