"""Offline update bundles: building (signer) and reading hostile input (device)."""

from __future__ import annotations

import io
import json
import os
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tuf.api.exceptions import RepositoryError

from signer._bundle import build_bundle
from signer._errors import InvalidInputError, RepositoryLocationError, VerificationError
from tests.repository import PublishedRepository, Repository, write_tree
from tests.signer.publish._device import device_fetch_bundle
from verifier._internal.bundle import Bundle, BundleError, BundleLimits, BundleMemberNotFound
from verifier._internal.timefloor import FLOOR_FILE, TimeFloor, TimeFloorError

FW = b"\x7fELF firmware image" * 50


@pytest.fixture
def published(repo: PublishedRepository, tmp_path: Path) -> Path:
    repo.add_target("gw/1.0.0/fw.bin", FW, hardware_ids=["gw"], version="1.0.0")
    repo.commit()
    repo.delegate("cam", ["cam/*/*"])
    repo.delegate("gw-beta", ["gw/*-beta/*"])
    repo.add_target("cam/2.0/cam.bin", b"camera", role="cam", hardware_ids=["cam"], version="2.0")
    repo.rotate_root()
    repo.commit()
    repo.rotate_root()
    repo.commit()
    return repo.write(tmp_path / "published")


def test_bundle_has_root_chain_top_roles_searched_roles_and_images(
    published: Path, tmp_path: Path
) -> None:
    report = build_bundle(published, tmp_path / "b.tar", ["cam/2.0/cam.bin"], from_root_version=2)
    cam_key = next(p for p in report.members if p.endswith(".cam.bin"))
    assert report.members == [
        "metadata/2.root.json",
        "metadata/3.root.json",
        "metadata/timestamp.json",
        "metadata/4.snapshot.json",
        "metadata/3.targets.json",
        "metadata/1.cam.json",
        cam_key,
    ]
    with Bundle(tmp_path / "b.tar") as bundle:
        assert bundle.names() == report.members
        for name in report.members:
            assert bundle.read(name) == (published / name).read_bytes()


def test_bundle_of_top_level_target_skips_unsearched_delegations(
    published: Path, tmp_path: Path
) -> None:
    report = build_bundle(published, tmp_path / "b.tar", ["gw/1.0.0/fw.bin"])
    assert [m for m in report.members if m.startswith("metadata/")] == [
        "metadata/1.root.json",
        "metadata/2.root.json",
        "metadata/3.root.json",
        "metadata/timestamp.json",
        "metadata/4.snapshot.json",
        "metadata/3.targets.json",
    ]
    everything = build_bundle(published, tmp_path / "c.tar", ["gw/1.0.0/fw.bin"], all_roles=True)
    assert {"metadata/1.cam.json", "metadata/1.gw-beta.json"} <= set(everything.members)


def test_bundle_is_deterministic(published: Path, tmp_path: Path) -> None:
    build_bundle(published, tmp_path / "a.tar", ["gw/1.0.0/fw.bin"])
    build_bundle(published, tmp_path / "b.tar", ["gw/1.0.0/fw.bin"])
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


@pytest.mark.parametrize(
    ("targets", "kwargs", "message"),
    [
        (["nope.bin"], {}, "no target named 'nope.bin'"),
        ([], {}, "at least one --target"),
        (["gw/1.0.0/fw.bin"], {"from_root_version": 4}, "between 1 and 3"),
        (["gw/1.0.0/fw.bin"], {"from_root_version": 0}, "between 1 and 3"),
    ],
)
def test_bundle_bad_input_is_refused_and_writes_nothing(
    published: Path, tmp_path: Path, targets: list[str], kwargs: dict[str, int], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        build_bundle(published, tmp_path / "out.tar", targets, **kwargs)  # type: ignore[arg-type]
    assert list(tmp_path.glob("out.tar*")) == []
    assert list(tmp_path.glob(".out.tar*")) == []


def test_bundle_of_metadata_a_device_refuses_is_refused(published: Path, tmp_path: Path) -> None:
    """The builder searches as the device does, verifying on the way: a tampered role on
    the search path gives no bundle (exit 9), a role off the path does not matter."""
    cam = published / "metadata/1.cam.json"
    doc = json.loads(cam.read_bytes())
    doc["signed"]["targets"]["cam/2.0/cam.bin"]["length"] += 1
    cam.write_text(json.dumps(doc))
    with pytest.raises(VerificationError, match="does not verify from root version 1") as e:
        build_bundle(published, tmp_path / "out.tar", ["cam/2.0/cam.bin"])
    assert e.value.exit_code == 9
    assert list(tmp_path.glob("*out.tar*")) == []
    report = build_bundle(published, tmp_path / "gw.tar", ["gw/1.0.0/fw.bin"])
    assert "metadata/1.cam.json" not in report.members


def test_bundle_of_a_published_tree_that_does_not_verify(published: Path, tmp_path: Path) -> None:
    """The builder reads the tree as a device does: tampered metadata is refused (exit 9)
    rather than shipped to devices that would refuse it."""
    path = published / "metadata" / "3.targets.json"
    data = json.loads(path.read_bytes())
    data["signed"]["targets"]["gw/1.0.0/fw.bin"]["length"] += 1
    path.write_bytes(json.dumps(data).encode())
    with pytest.raises(VerificationError, match="does not verify from root version 1") as e:
        build_bundle(published, tmp_path / "out.tar", ["gw/1.0.0/fw.bin"])
    assert e.value.exit_code == 9
    assert list(tmp_path.glob("*out.tar*")) == []


def test_bundle_warns_when_its_metadata_has_expired(published: Path, tmp_path: Path) -> None:
    later = datetime.now(UTC) + timedelta(days=3650)
    report = build_bundle(published, tmp_path / "b.tar", ["gw/1.0.0/fw.bin"], now=later.timestamp())
    assert any(w.startswith("timestamp expired on ") for w in report.warnings)
    assert (tmp_path / "b.tar").is_file()


def test_bundle_of_a_directory_that_is_not_published(tmp_path: Path) -> None:
    with pytest.raises(RepositoryLocationError, match="not a published repository"):
        build_bundle(tmp_path, tmp_path / "out.tar", ["x"])


# --- hostile bundles -------------------------------------------------------------------

_DIGEST = "ab" * 32


def _tar(*members: tuple[str, bytes], kind: bytes = tarfile.REGTYPE, **kw: object) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=kw.pop("fmt", tarfile.USTAR_FORMAT)) as tar:  # type: ignore[arg-type]
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _special(name: str, kind: bytes, linkname: str = "") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(tarfile.TarInfo("metadata/timestamp.json"), io.BytesIO(b""))
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        tar.addfile(info)
    return buf.getvalue()


GOOD = [("metadata/timestamp.json", b"{}"), (f"targets/gw/{_DIGEST}.fw.bin", b"fw")]


def _open(tmp_path: Path, data: bytes, limits: BundleLimits | None = None) -> Bundle:
    path = tmp_path / "evil.tar"
    path.write_bytes(data)
    return Bundle(path, limits)


def test_well_formed_minimal_bundle_opens(tmp_path: Path) -> None:
    with _open(tmp_path, _tar(*GOOD)) as bundle:
        assert bundle.read(f"targets/gw/{_DIGEST}.fw.bin") == b"fw"
        with pytest.raises(BundleMemberNotFound, match=r"metadata/2\.root\.json is not in"):
            bundle.read("metadata/2.root.json")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../metadata/timestamp.json", "path traversal"),
        ("/etc/passwd", "path traversal"),
        ("metadata/../../x.json", "path traversal"),
        ("targets/./x/" + _DIGEST + ".a", "path traversal"),
        ("targets\\..\\" + _DIGEST + ".a", "path traversal"),
        ("C:/x/" + _DIGEST + ".a", "path traversal"),
        ("README.txt", "unexpected member 'README.txt'"),
        ("metadata/evil.sh", "unexpected member"),
        ("metadata/sub/1.targets.json", "unexpected member"),
        ("metadata/01.root.json", "unexpected member"),
        ("targets/fw.bin", "unexpected member"),
        ("targets//" + _DIGEST + ".a", "bad member name"),
        ("targets/a\nb/" + _DIGEST + ".a", "bad member name"),
        # The target named by an image member passes the one name rule of both sides.
        ("targets/gw/" + _DIGEST + ".fw\u202enib.exe", "unsafe target name.*U\\+202E"),
        ("targets/gw/" + _DIGEST + ".fw\x9b.bin", "unsafe target name.*U\\+009B"),
        ("targets/gw/" + _DIGEST + ".fw\u200b.bin", "unsafe target name"),
    ],
)
def test_bad_member_names_are_refused(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(BundleError, match=message):
        _open(tmp_path, _tar(*GOOD, (name, b"x")))


@pytest.mark.parametrize(
    ("kind", "what"),
    [
        (tarfile.SYMTYPE, "a symlink"),
        (tarfile.LNKTYPE, "a hard link"),
        (tarfile.DIRTYPE, "a directory"),
        (tarfile.FIFOTYPE, "a FIFO"),
        (tarfile.CHRTYPE, "a character device"),
    ],
)
def test_non_regular_members_are_refused(tmp_path: Path, kind: bytes, what: str) -> None:
    data = _special(f"targets/gw/{_DIGEST}.fw.bin", kind, linkname="/etc/shadow")
    with pytest.raises(BundleError, match=f"is {what}; only regular files"):
        _open(tmp_path, data)


def test_pax_and_gnu_extension_headers_are_refused(tmp_path: Path) -> None:
    long_name = "targets/" + "d" * 200 + "/" + _DIGEST + ".fw.bin"
    with pytest.raises(BundleError, match="pax extended header"):
        _open(tmp_path, _tar((long_name, b"x"), fmt=tarfile.PAX_FORMAT))
    with pytest.raises(BundleError, match="not a POSIX ustar archive"):
        _open(tmp_path, _tar((long_name, b"x"), fmt=tarfile.GNU_FORMAT))


def test_duplicate_member_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="appears twice"):
        _open(tmp_path, _tar(*GOOD, ("metadata/timestamp.json", b"{}")))


def test_oversize_members_are_refused(tmp_path: Path) -> None:
    limits = BundleLimits(max_metadata_size=10, max_target_size=100)
    with pytest.raises(BundleError, match=r"'metadata/timestamp.json' is too large \(11 > 10"):
        _open(tmp_path, _tar(("metadata/timestamp.json", b"x" * 11)), limits)
    with pytest.raises(BundleError, match=r"is too large \(101 > 100"):
        _open(tmp_path, _tar((f"targets/{_DIGEST}.a", b"x" * 101)), limits)
    with pytest.raises(BundleError, match="more than 1 members"):
        _open(tmp_path, _tar(*GOOD), BundleLimits(max_members=1))


def test_every_truncation_is_refused(tmp_path: Path) -> None:
    data = _tar(*GOOD)
    # Every cut up to the end-of-archive marker (the padding after it is optional).
    end = data.index(bytes(1024), 3 * 512)
    for cut in range(0, end + 1024, 97):
        with pytest.raises(BundleError, match="bundle is truncated"):
            _open(tmp_path, data[:cut])


def test_data_after_the_end_marker_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="data after the end-of-archive"):
        _open(tmp_path, _tar(*GOOD) + b"\x00" * 512 + b"smuggled")
    with pytest.raises(BundleError, match="data after the end-of-archive"):
        _open(tmp_path, _tar(*GOOD) + bytes(128 * 1024))
    with _open(tmp_path, _tar(*GOOD) + bytes(10240)) as bundle:  # record padding is fine
        assert len(bundle.names()) == 2


def test_corrupt_header_is_refused(tmp_path: Path) -> None:
    data = bytearray(_tar(*GOOD))
    data[5] ^= 0x20
    with pytest.raises(BundleError, match="checksum mismatch"):
        _open(tmp_path, bytes(data))


def test_not_a_tar_file(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="bad checksum field in a tar header"):
        _open(tmp_path, b"PK\x03\x04" + b"\x01" * 2000)
    with pytest.raises(BundleError, match="cannot open bundle"):
        Bundle(tmp_path / "missing.tar")


def test_bundle_must_be_a_regular_file(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="is not a regular file"):
        Bundle("/dev/zero")
    fifo = tmp_path / "fifo.tar"
    os.mkfifo(fifo)
    with pytest.raises(BundleError, match="is not a regular file"):
        Bundle(fifo)
    (tmp_path / "link.tar").symlink_to("/dev/zero")
    with pytest.raises(BundleError, match="is not a regular file"):
        Bundle(tmp_path / "link.tar")


def test_empty_archive_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="bundle is empty"):
        _open(tmp_path, bytes(10240))


# --- time floor ------------------------------------------------------------------------

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_time_floor_never_goes_back(tmp_path: Path) -> None:
    floor = TimeFloor(tmp_path)
    assert floor.load() is None
    assert floor.reference_time(T0) == T0
    floor.advance(T0)
    early = T0 - timedelta(days=3650)
    assert floor.reference_time(early) == T0
    floor.advance(early)
    assert floor.load() == T0
    later = T0 + timedelta(hours=1)
    assert floor.reference_time(later) == later
    floor.advance(later)
    assert TimeFloor(tmp_path).load() == later
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        FLOOR_FILE
    ]


@pytest.mark.parametrize(
    "content", [b"", b"{}", b'{"time": "yesterday"}', b'{"time": "2026-01-01T00:00:00"}']
)
def test_corrupt_time_floor_is_an_error_not_a_reset(tmp_path: Path, content: bytes) -> None:
    (tmp_path / FLOOR_FILE).parent.mkdir()
    (tmp_path / FLOOR_FILE).write_bytes(content)
    with pytest.raises(TimeFloorError, match="time floor"):
        TimeFloor(tmp_path).reference_time(T0)


def test_time_floor_file_is_json_with_utc_time(tmp_path: Path) -> None:
    TimeFloor(tmp_path).advance(T0)
    assert json.loads((tmp_path / FLOOR_FILE).read_bytes()) == {"time": "2026-11-27T12:00:00+00:00"}


# --- devices reading bundles -----------------------------------------------------------


def test_reference_tuf_client_updates_from_bundle(
    published: Path, repo: PublishedRepository, tmp_path: Path
) -> None:
    build_bundle(published, tmp_path / "b.tar", ["cam/2.0/cam.bin", "gw/1.0.0/fw.bin"])
    got = device_fetch_bundle(
        tmp_path / "b.tar", repo.root_bytes, tmp_path / "d", "cam/2.0/cam.bin"
    )
    assert got == b"camera"


def test_reference_tuf_client_refuses_bundle_of_another_repository(
    published: Path, tmp_path: Path
) -> None:
    other = PublishedRepository(tmp_path / "other")
    build_bundle(published, tmp_path / "b.tar", ["gw/1.0.0/fw.bin"])
    with pytest.raises(RepositoryError):
        device_fetch_bundle(tmp_path / "b.tar", other.root_bytes, tmp_path / "d", "gw/1.0.0/fw.bin")


# --- mutations -------------------------------------------------------------------------

_GOOD_BYTES = _tar(*GOOD)


@given(
    flips=st.lists(
        st.tuples(st.integers(0, len(_GOOD_BYTES) - 1), st.integers(1, 255)),
        min_size=1,
        max_size=8,
    ),
    cut=st.integers(0, len(_GOOD_BYTES)),
)
def test_mutated_bundles_are_refused_or_still_well_formed(
    tmp_path_factory: pytest.TempPathFactory, flips: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(_GOOD_BYTES)
    for pos, xor in flips:
        data[pos] ^= xor
    path = tmp_path_factory.mktemp("mut") / "m.tar"
    path.write_bytes(bytes(data[:cut]))
    try:
        bundle = Bundle(path)
    except BundleError:
        return
    with bundle:
        for name in bundle.names():
            assert name.startswith(("metadata/", "targets/"))
            assert ".." not in name.split("/")
            assert len(bundle.read(name)) == bundle.size(name)


@pytest.mark.parametrize("depth", [32, 33])
def test_bundle_searches_as_deep_as_the_device(tmp_path: Path, depth: int) -> None:
    """The device's delegation search visits targets and 32 delegated roles (python-tuf's
    bound): a target at the end of a 32-deep chain is found online, so the bundle builder
    must ship it and the device must find it in the bundle; one role deeper, neither does."""
    import verifier

    b = Repository()
    parent = "targets"
    for i in range(depth):
        b.delegate(parent, f"r{i}", paths=["fw/*"])
        parent = f"r{i}"
    b.add_target("fw/deep.bin", FW, parent)
    published = write_tree(b.tree(), tmp_path / "published")
    root = (published / "metadata/1.root.json").read_bytes()
    online = verifier.Updater(
        tmp_path / "online",
        "file:///metadata/",
        "file:///targets/",
        fetcher=verifier.DirectoryFetcher(published, "file:///"),
        bootstrap=root,
    )
    found_online = online.get_targetinfo("fw/deep.bin") is not None
    assert found_online == (depth == 32)

    out = tmp_path / "b.tar"
    if depth > 32:
        with pytest.raises(InvalidInputError, match="no target named"):
            build_bundle(published, out, ["fw/deep.bin"])
        assert not out.exists()
        return
    report = build_bundle(published, out, ["fw/deep.bin"])
    assert f"metadata/1.r{depth - 1}.json" in report.members
    offline = verifier.Updater.from_bundle(out, tmp_path / "offline", bootstrap=root)
    info = offline.get_targetinfo("fw/deep.bin")
    assert info is not None
    assert offline.download(info, tmp_path / "fw.bin").read_bytes() == FW
