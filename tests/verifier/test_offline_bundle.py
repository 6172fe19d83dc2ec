"""Devices applying offline bundles with firmtuf's verifier: ``Updater.from_bundle``."""

from __future__ import annotations

import io
import json
import tarfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from signer._bundle import build_bundle
from tests.repository import PublishedRepository
from verifier import (
    BadVersionNumberError,
    BundleError,
    BundleLimits,
    DevicePolicy,
    DownloadError,
    ExpiredMetadataError,
    LengthOrHashMismatchError,
    RepositoryError,
    StorageError,
    UnsignedMetadataError,
    Updater,
)
from verifier._internal.timefloor import FLOOR_FILE
from verifier._updater import BundleUpdater

NOW = time.time()
DAY = 86400.0


@pytest.fixture
def repo(tmp_path: Path) -> PublishedRepository:
    return PublishedRepository(tmp_path / "signing")


def _release(repo: PublishedRepository, version: str, data: bytes) -> str:
    name = f"gw/{version}/fw.bin"
    repo.add_target(name, data, hardware_ids=["gw"], version=version)
    repo.commit()
    return name


def _bundle(repo: PublishedRepository, tmp: Path, label: str, *names: str, **kw: int) -> Path:
    published = repo.write(tmp / f"published-{label}")
    out = tmp / f"{label}.tar"
    build_bundle(published, out, list(names), **kw)  # type: ignore[arg-type]
    return out


def _apply(
    bundle: Path, device: Path, root: bytes, *, clock: float = NOW, **kw: object
) -> BundleUpdater:
    up = Updater.from_bundle(
        bundle,
        device,
        bootstrap=root,
        policy=DevicePolicy(hardware_id="gw", installed_version="0.9"),
        clock=lambda: clock,
        **kw,  # type: ignore[arg-type]
    )
    up.refresh()
    return up


def test_device_checks_and_downloads_from_bundle(repo: PublishedRepository, tmp_path: Path) -> None:
    name = _release(repo, "1.0.0", b"firmware one" * 100)
    bundle = _bundle(repo, tmp_path, "b1", name)
    with _apply(bundle, tmp_path / "dev", repo.root_bytes) as up:
        assert isinstance(up, Updater)
        target = up.check()
        assert target is not None and target.path == name
        dest = up.download(target, tmp_path / "fw.bin")
        assert dest.read_bytes() == b"firmware one" * 100
    # The device's trusted state moved on: the metadata is stored like an online update.
    assert (tmp_path / "dev" / "timestamp.json").is_file()


def test_delegated_target_through_bundle(repo: PublishedRepository, tmp_path: Path) -> None:
    repo.delegate("cams", ["cam/*/*"])
    repo.add_target("cam/2.0/cam.bin", b"camera", role="cams", hardware_ids=["gw"], version="2.0")
    repo.commit()
    bundle = _bundle(repo, tmp_path, "b", "cam/2.0/cam.bin")
    with _apply(bundle, tmp_path / "dev", repo.root_bytes) as up:
        target = up.get_targetinfo("cam/2.0/cam.bin")
        assert target is not None
        assert up.download(target, tmp_path / "cam.bin").read_bytes() == b"camera"


def test_root_chain_in_bundle_is_walked(repo: PublishedRepository, tmp_path: Path) -> None:
    name = _release(repo, "1.0.0", b"x")
    repo.rotate_root()
    repo.commit()
    repo.rotate_root()
    repo.commit()
    bundle = _bundle(repo, tmp_path, "b", name)
    with _apply(bundle, tmp_path / "dev", repo.root_bytes):
        pass
    stored = json.loads((tmp_path / "dev" / "root.json").read_bytes())
    assert stored["signed"]["version"] == 3


def test_bundle_of_another_repository_is_refused(repo: PublishedRepository, tmp_path: Path) -> None:
    other = PublishedRepository(tmp_path / "other")
    name = _release(other, "1.0.0", b"evil")
    bundle = _bundle(other, tmp_path, "other", name)
    with pytest.raises(UnsignedMetadataError):
        _apply(bundle, tmp_path / "dev", repo.root_bytes)
    assert not (tmp_path / "dev" / "timestamp.json").exists()
    assert not (tmp_path / "dev" / FLOOR_FILE).exists()


def test_older_bundle_cannot_roll_the_device_back(
    repo: PublishedRepository, tmp_path: Path
) -> None:
    old = _bundle(repo, tmp_path, "old", _release(repo, "1.0.0", b"one"))
    new = _bundle(repo, tmp_path, "new", _release(repo, "2.0.0", b"two"))
    with _apply(new, tmp_path / "dev", repo.root_bytes):
        pass
    with pytest.raises(BadVersionNumberError):
        _apply(old, tmp_path / "dev", repo.root_bytes)


def test_malformed_bundle_is_a_repository_error(repo: PublishedRepository, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("metadata/timestamp.json")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    (tmp_path / "evil.tar").write_bytes(buf.getvalue())
    with pytest.raises(BundleError, match="is a symlink; only regular files") as exc:
        Updater.from_bundle(tmp_path / "evil.tar", tmp_path / "dev", bootstrap=repo.root_bytes)
    assert isinstance(exc.value, RepositoryError)


def test_oversize_member_for_the_device_limits(repo: PublishedRepository, tmp_path: Path) -> None:
    name = _release(repo, "1.0.0", b"y" * 5000)
    bundle = _bundle(repo, tmp_path, "b", name)
    with pytest.raises(BundleError, match=r"too large \(5000 > 4096"):
        Updater.from_bundle(bundle, tmp_path / "dev", limits=BundleLimits(max_target_size=4096))


def test_member_missing_from_bundle_is_a_clear_error(
    repo: PublishedRepository, tmp_path: Path
) -> None:
    """A bundle made for one target does not serve another one."""
    one = _release(repo, "1.0.0", b"one")
    two = _release(repo, "2.0.0", b"two")
    bundle = _bundle(repo, tmp_path, "b", one)
    with _apply(bundle, tmp_path / "dev", repo.root_bytes) as up:
        target = up.get_targetinfo(two)
        assert target is not None
        with pytest.raises(BundleError, match="not in the bundle") as exc:
            up.download(target, tmp_path / "two.bin")
        assert not isinstance(exc.value, DownloadError)  # the bundle's fault, not the network's
    assert not (tmp_path / "two.bin").exists()


# --- issue 9 item 5: a bundle is chosen from, and carries, what the device reads ------------


def _state(device: Path) -> dict[str, bytes]:
    return {str(p.relative_to(device)): p.read_bytes() for p in device.rglob("*") if p.is_file()}


def _retar(
    bundle: Path, out: Path, *, drop: str = "", add: tuple[str, bytes] | None = None
) -> Path:
    """Rewrite ``bundle`` without members ending in ``drop`` and with ``add`` (as an
    attacker with the USB stick would)."""
    with tarfile.open(bundle) as src, tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as dst:
        for member in src.getmembers():
            if drop and member.name.endswith(drop):
                continue
            dst.addfile(member, src.extractfile(member))
        if add is not None:
            info = tarfile.TarInfo(add[0])
            info.size = len(add[1])
            dst.addfile(info, io.BytesIO(add[1]))
    return out


def test_check_on_a_bundle_chooses_only_among_the_images_it_carries(
    repo: PublishedRepository, tmp_path: Path
) -> None:
    """The issue's case: a bundle made for 1.1.0 whose metadata also lists 2.0.0."""
    old = _release(repo, "1.1.0", b"one one zero")
    new = _release(repo, "2.0.0", b"two")
    published = repo.write(tmp_path / "published")
    report = build_bundle(published, tmp_path / "b.tar", [old])
    assert any("gw/2.0.0/fw.bin (2.0.0) for gw, newer than" in w for w in report.warnings)
    with _apply(tmp_path / "b.tar", tmp_path / "dev", repo.root_bytes) as up:
        target = up.check()
        assert target is not None and target.path == old
        assert up.download(target, tmp_path / "fw.bin").read_bytes() == b"one one zero"
        newer = up.get_targetinfo(new)
        assert newer is not None
        before = _state(tmp_path / "dev")
        with pytest.raises(BundleError, match=r"gw/2\.0\.0/.* is not in the bundle"):
            up.download(newer, tmp_path / "two.bin")
    assert _state(tmp_path / "dev") == before
    assert not (tmp_path / "two.bin").exists()


def test_bundle_of_the_newest_has_no_newer_warning(
    repo: PublishedRepository, tmp_path: Path
) -> None:
    _release(repo, "1.1.0", b"one")
    new = _release(repo, "2.0.0", b"two")
    report = build_bundle(repo.write(tmp_path / "p"), tmp_path / "b.tar", [new])
    assert report.warnings == []


def test_bundle_carries_the_search_path_of_a_nested_delegation_by_default(
    repo: PublishedRepository, tmp_path: Path
) -> None:
    """Without --all-roles: the device's check() and download() read only the roles on
    the search path of the carried image, and the bundle holds exactly those."""
    repo.delegate("cams", ["cam/*/*"])
    repo.delegate("products", ["gw/*/*"], terminating=False)
    repo.delegate("gw-team", ["gw/*/*"], parent="products")
    repo.add_target("gw/3.0/fw.bin", b"nested", role="gw-team", hardware_ids=["gw"], version="3.0")
    repo.add_target("cam/1.0/c.bin", b"cam", role="cams", hardware_ids=["gw"], version="9.0")
    repo.commit()
    published = repo.write(tmp_path / "published")
    report = build_bundle(published, tmp_path / "b.tar", ["gw/3.0/fw.bin"])
    roles = [m.split(".")[1] for m in report.members if m.startswith("metadata/")]
    assert roles[-3:] == ["targets", "products", "gw-team"]
    assert "cams" not in roles
    # The repository lists a newer image for gw under cams: the bundle says so.
    assert any("cam/1.0/c.bin (9.0) for gw" in w for w in report.warnings)
    with _apply(tmp_path / "b.tar", tmp_path / "dev", repo.root_bytes) as up:
        target = up.check()
        assert target is not None and target.path == "gw/3.0/fw.bin"
        assert up.download(target, tmp_path / "fw.bin").read_bytes() == b"nested"


def test_bundle_missing_a_role_on_the_path_is_the_bundles_fault(
    repo: PublishedRepository, tmp_path: Path
) -> None:
    """Attack/mistake: a stick whose bundle lost a role on the path. Refused as a bad
    bundle (RepositoryError), never as network trouble; trusted state unchanged."""
    repo.delegate("gw-team", ["gw/*/*"])
    repo.add_target("gw/3.0/fw.bin", b"fw", role="gw-team", hardware_ids=["gw"], version="3.0")
    repo.commit()
    good = _bundle(repo, tmp_path, "b", "gw/3.0/fw.bin")
    bad = _retar(good, tmp_path / "bad.tar", drop=".gw-team.json")
    with _apply(bad, tmp_path / "dev", repo.root_bytes) as up:
        before = _state(tmp_path / "dev")
        with pytest.raises(
            BundleError, match=r"metadata/1\.gw-team\.json is not in the bundle"
        ) as e:
            up.check()
        assert not isinstance(e.value, DownloadError)
    assert _state(tmp_path / "dev") == before


def test_image_smuggled_into_a_bundle_is_never_installed(
    repo: PublishedRepository, tmp_path: Path
) -> None:
    """Attack: whoever holds the stick adds a file named like the newer release the
    metadata lists. Under a made-up hash it is not a candidate; under the real name
    (the hash it should have) it is chosen, and the download refuses its bytes."""
    old = _release(repo, "1.1.0", b"one")
    new = _release(repo, "2.0.0", b"two")
    good = _bundle(repo, tmp_path, "b", old)
    fake = _retar(good, tmp_path / "fake.tar", add=(f"targets/gw/2.0.0/{'0' * 64}.fw.bin", b"evil"))
    with _apply(fake, tmp_path / "dev", repo.root_bytes) as up:
        target = up.check()
        assert target is not None and target.path == old
        real = up.get_targetinfo(new)
        assert real is not None
    digest = real.hashes["sha256"]
    named = _retar(good, tmp_path / "named.tar", add=(f"targets/gw/2.0.0/{digest}.fw.bin", b"bad"))
    with _apply(named, tmp_path / "dev2", repo.root_bytes) as up:
        target = up.check()
        assert target is not None and target.path == new
        before = _state(tmp_path / "dev2")
        with pytest.raises(LengthOrHashMismatchError):
            up.download(target, tmp_path / "evil.bin")
    assert _state(tmp_path / "dev2") == before
    assert not (tmp_path / "evil.bin").exists()


def test_image_shorter_than_signed_in_a_bundle_is_the_bundles_fault(
    repo: PublishedRepository, tmp_path: Path
) -> None:
    """Issue 9 item 6: a member that ends before the signed length is what the bundle
    holds (BundleError), not a transfer to retry later (DownloadError)."""
    name = _release(repo, "1.1.0", b"firmware image")
    good = _bundle(repo, tmp_path, "b", name)
    device = tmp_path / "dev"
    with _apply(good, device, repo.root_bytes) as up:
        target = up.get_targetinfo(name)
    assert target is not None
    member = f"targets/gw/1.1.0/{target.hashes['sha256']}.fw.bin"
    short = _retar(good, tmp_path / "short.tar", drop=member, add=(member, b"firmware"))
    with _apply(short, device, repo.root_bytes) as up:
        before = _state(device)
        with pytest.raises(BundleError, match="holds 8 bytes, the trusted metadata signs 14"):
            up.download(target, tmp_path / "fw.bin")
    after = {k: v for k, v in _state(device).items() if not k.startswith("firmtuf/partial/")}
    assert after == before
    assert not (tmp_path / "fw.bin").exists()


# --- time floor ------------------------------------------------------------------------


def test_time_floor_refuses_metadata_older_than_the_newest_time_seen(
    tmp_path: Path,
) -> None:
    repo = PublishedRepository(tmp_path / "r", expires_in=timedelta(days=7))
    a = _bundle(repo, tmp_path, "a", _release(repo, "1.0.0", b"one"))
    repo.expires_in = timedelta(days=3)
    b = _bundle(repo, tmp_path, "b", _release(repo, "2.0.0", b"two"))

    # The device applies bundle A on day 5: its floor is now day 5.
    with _apply(a, tmp_path / "dev", repo.root_bytes, clock=NOW + 5 * DAY):
        pass
    floor = json.loads((tmp_path / "dev" / FLOOR_FILE).read_bytes())["time"]
    assert abs(datetime.fromisoformat(floor).timestamp() - (NOW + 5 * DAY)) < 1

    # Its clock then resets to 1970. Bundle B expired on day 3: refused, because the
    # device has already seen day 5.
    with pytest.raises(ExpiredMetadataError):
        _apply(b, tmp_path / "dev", repo.root_bytes, clock=0.0)

    # The same bundle on a device that never saw day 5 (same reset clock) is accepted:
    # the floor made the difference.
    with _apply(b, tmp_path / "fresh", repo.root_bytes, clock=0.0) as up:
        assert up.check() is not None
    assert not (tmp_path / "fresh" / FLOOR_FILE).exists() or json.loads(
        (tmp_path / "fresh" / FLOOR_FILE).read_bytes()
    )["time"].startswith("1970-01-01")


def test_unsafe_ignore_expiry_accepts_expired_bundle_and_keeps_floor(tmp_path: Path) -> None:
    repo = PublishedRepository(tmp_path / "r", expires_in=timedelta(days=1))
    name = _release(repo, "1.0.0", b"one")
    bundle = _bundle(repo, tmp_path, "b", name)
    with pytest.raises(ExpiredMetadataError):
        _apply(bundle, tmp_path / "dev", repo.root_bytes, clock=NOW + 30 * DAY)
    (tmp_path / "dev" / FLOOR_FILE).unlink(missing_ok=True)
    with _apply(
        bundle, tmp_path / "dev", repo.root_bytes, clock=NOW + 30 * DAY, unsafe_ignore_expiry=True
    ) as up:
        target = up.check()
        assert target is not None
        assert up.download(target, tmp_path / "fw.bin").read_bytes() == b"one"
    assert not (tmp_path / "dev" / FLOOR_FILE).exists()


def test_floor_only_moves_forward_across_updates(repo: PublishedRepository, tmp_path: Path) -> None:
    bundle = _bundle(repo, tmp_path, "b", _release(repo, "1.0.0", b"one"))
    dev = tmp_path / "dev"
    with _apply(bundle, dev, repo.root_bytes, clock=NOW + DAY):
        pass
    with _apply(bundle, dev, repo.root_bytes, clock=NOW):  # clock went back a day
        pass
    floor = datetime.fromisoformat(json.loads((dev / FLOOR_FILE).read_bytes())["time"])
    assert floor == datetime.fromtimestamp(NOW + DAY, UTC)


def test_corrupt_floor_is_a_storage_error(repo: PublishedRepository, tmp_path: Path) -> None:
    bundle = _bundle(repo, tmp_path, "b", _release(repo, "1.0.0", b"one"))
    dev = tmp_path / "dev"
    (dev / FLOOR_FILE).parent.mkdir(parents=True)
    (dev / FLOOR_FILE).write_text("{not json")
    with pytest.raises(StorageError, match="time floor"):
        _apply(bundle, dev, repo.root_bytes)


# --- issue 9 item 2: role names never reach the device's own files ---------------------


def test_role_named_time_floor_cannot_move_the_floor(tmp_path: Path) -> None:
    """A delegated role named ``time_floor`` is stored as role metadata at the top of
    the trust store; the floor lives in ``firmtuf/``. An offline attacker who adds an
    unsigned ``"time"`` of 1970 to that stored role file does not move the floor: an
    expired bundle stays refused, and the device's trusted state is unchanged."""
    repo = PublishedRepository(tmp_path / "r", expires_in=timedelta(days=7))
    repo.delegate("time_floor", ["tf/*/*"])
    repo.add_target("tf/1.0/x.bin", b"tf", role="time_floor", hardware_ids=["gw"], version="1.0")
    repo.commit()
    a = _bundle(repo, tmp_path, "a", _release(repo, "1.0.0", b"one"), "tf/1.0/x.bin")
    repo.expires_in = timedelta(days=3)
    b = _bundle(repo, tmp_path, "b", _release(repo, "2.0.0", b"two"))

    dev = tmp_path / "dev"
    with _apply(a, dev, repo.root_bytes, clock=NOW + 5 * DAY) as up:
        assert up.get_targetinfo("tf/1.0/x.bin") is not None  # loads and stores the role
    role_file = dev / "time_floor.json"
    envelope = json.loads(role_file.read_bytes())
    assert set(envelope) == {"signed", "signatures"}  # role metadata, not a floor
    assert (dev / FLOOR_FILE).is_file() and FLOOR_FILE != "time_floor.json"

    envelope["time"] = "1970-01-01T00:00:00+00:00"  # the offline attacker's edit
    role_file.write_text(json.dumps(envelope))
    before = {p: p.read_bytes() for p in sorted(dev.rglob("*")) if p.is_file()}
    with pytest.raises(ExpiredMetadataError):
        _apply(b, dev, repo.root_bytes, clock=0.0)  # clock reset to 1970
    assert {p: p.read_bytes() for p in sorted(dev.rglob("*")) if p.is_file()} == before


def test_layout_1_floor_is_migrated(repo: PublishedRepository, tmp_path: Path) -> None:
    """A trust store written before the namespaces had its floor at the top."""
    bundle = _bundle(repo, tmp_path, "b", _release(repo, "1.0.0", b"one"))
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "root.json").write_bytes(repo.root_bytes)
    seen = datetime.fromtimestamp(NOW + 5 * DAY, UTC)
    (dev / "time_floor.json").write_text(json.dumps({"time": seen.isoformat()}))
    with pytest.raises(ExpiredMetadataError):  # the migrated floor is in force
        _apply(bundle, dev, repo.root_bytes, clock=NOW + 5 * DAY + 8 * DAY)
    assert not (dev / "time_floor.json").exists()
    assert json.loads((dev / "firmtuf" / "layout.json").read_bytes()) == {"layout": 3}
    stored = datetime.fromisoformat(json.loads((dev / FLOOR_FILE).read_bytes())["time"])
    assert stored >= seen


def test_layout_1_floor_overwritten_by_a_role_is_refused_clearly(
    repo: PublishedRepository, tmp_path: Path
) -> None:
    """The floor a role's metadata overwrote (layout 1) is gone: the device refuses to
    guess (TimeFloorError, a StorageError) instead of trusting its clock alone."""
    bundle = _bundle(repo, tmp_path, "b", _release(repo, "1.0.0", b"one"))
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "root.json").write_bytes(repo.root_bytes)
    role_metadata = {
        "signed": {"_type": "targets"},
        "signatures": [],
        "time": "1970-01-01T00:00:00Z",
    }
    (dev / "time_floor.json").write_text(json.dumps(role_metadata))
    with pytest.raises(StorageError, match="lost"):
        _apply(bundle, dev, repo.root_bytes)
    assert json.loads((dev / "time_floor.json").read_bytes()) == role_metadata  # left to its role
    (dev / FLOOR_FILE).unlink()  # the documented way to accept the clock from now on
    with _apply(bundle, dev, repo.root_bytes) as up:
        assert up.check() is not None
