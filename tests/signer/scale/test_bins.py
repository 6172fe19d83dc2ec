"""Hash bins (succinct delegation): only one bin is read and rewritten per added image,
and devices (python-tuf's ngclient) find targets in a published binned repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tuf.ngclient import Updater

from benchmarks.bench_signer import PASSWORD, build_repository
from signer import FirmwareRepository, _latest, verify_published
from signer._latest import INDEX_FILE
from signer._repository import FirmwareRepository as _Repo
from tests.signer.scale.conftest import PASSWORD_ENV, Cli, make_image, tree_bytes
from tests.tuf_fetcher import LOCAL_BASE_URL, TufDirectoryFetcher

PW = ("--password-env", PASSWORD_ENV)


@pytest.fixture
def big(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    """1,000 targets in 64 bins, images in the store, password of its keys in the env."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    path = tmp_path / "big"
    names = build_repository(path, 1000, bins=64, products=10, with_images=True)
    return path, names


def _metadata(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (path / "metadata").glob("*.json")}


def _changed(before: dict[str, bytes], after: dict[str, bytes]) -> set[str]:
    return {n for n in after if before.get(n) != after[n]}


def test_add_reads_and_rewrites_one_bin(
    cli: Cli, big: tuple[Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _names = big
    read: list[str] = []
    original = _Repo._read

    def spy(self: _Repo, file: Path, role: str) -> object:
        read.append(role)
        return original(self, file, role)

    monkeypatch.setattr(_Repo, "_read", spy)
    before = _metadata(path)
    image = make_image(tmp_path / "new.bin")
    r = cli("add", path, image, "--hardware-id", "product-new", "--version", "1.0.0", "--json")
    assert r.exit_code == 0, r.output
    role = json.loads(r.output)[0]["role"]
    assert role.startswith("bins-")
    assert _changed(before, _metadata(path)) == {f"{role}.json"}
    assert set(read) <= {"root", "targets", "snapshot", "timestamp", role}

    read.clear()
    before = _metadata(path)
    r = cli("sign", path, *PW)
    assert r.exit_code == 0, r.output
    assert _changed(before, _metadata(path)) == {f"{role}.json", "snapshot.json", "timestamp.json"}
    assert set(read) <= {"root", "targets", "snapshot", "timestamp", role}

    read.clear()
    r = cli("refresh", path, "--force", *PW)
    assert r.exit_code == 0, r.output
    assert set(read) <= {"root", "targets", "snapshot", "timestamp"}
    monkeypatch.undo()
    # the full check (status reads every bin) agrees
    assert cli("status", path).exit_code == 0


def test_duplicate_downgrade_and_role_checks_in_bins(
    cli: Cli, big: tuple[Path, list[str]], tmp_path: Path
) -> None:
    path, names = big
    image = make_image(tmp_path / "fw.bin")
    before = tree_bytes(path)
    # product-3's newest built version is 1.99.0; its targets are spread over many bins
    newest = _latest.newest_in_bins(FirmwareRepository(path), FirmwareRepository(path).graph.bins())
    assert newest["product-3"] == ("1.99.0", "product-3/1.99.0/fw.bin")
    r = cli("add", path, image, "--hardware-id", "product-3", "--version", "1.50.1")
    assert r.exit_code == 7
    assert "is not newer than" in r.output and "for hardware id 'product-3'" in r.output
    assert tree_bytes(path) == before
    # a version known only from another bin: caught through the cache, then without it
    r = cli("add", path, image, "--hardware-id", "hw-x", "--version", "2.0.0", "--json")
    assert r.exit_code == 0, r.output
    first_bin = json.loads(r.output)[0]["role"]
    repository = FirmwareRepository(path)
    older = next(
        f"hw-x/1.0.0/fw{i}.bin"
        for i in range(100)
        if repository.graph.route(f"hw-x/1.0.0/fw{i}.bin") != first_bin
    )
    before = tree_bytes(path)
    for _ in range(2):
        r = cli("add", path, image, "--name", older, "--hardware-id", "hw-x", "--version", "1.0.0")
        assert r.exit_code == 7
        assert "not newer than 2.0.0 (hw-x/2.0.0/fw.bin)" in r.output
        assert tree_bytes(path) == before
        (path / INDEX_FILE).unlink(missing_ok=True)
        before = tree_bytes(path)
    r = cli("add", path, image, "--name", names[0], "--hardware-id", "x", "--version", "9.0.0")
    assert r.exit_code == 7
    assert f"target {names[0]!r} already exists" in r.output
    r = cli(
        "add",
        path,
        image,
        "--hardware-id",
        "product-9",
        "--version",
        "2.0.0",
        "--role",
        "bins-00",
    )
    assert r.exit_code == 3
    assert "role 'bins-00' is not delegated target 'product-9/2.0.0/fw.bin'" in r.output
    assert tree_bytes(path) == before
    r = cli("add", path, image, "--hardware-id", "product-3", "--version", "2.0.0")
    assert r.exit_code == 0, r.output
    # a removal drops the cache entry: an older version may come back
    assert cli("remove", path, "product-3/2.0.0/fw.bin").exit_code == 0
    assert not (path / INDEX_FILE).exists()
    r = cli("add", path, image, "--hardware-id", "product-3", "--version", "1.99.1")
    assert r.exit_code == 0, r.output


def test_published_bins_found_by_ngclient(cli: Cli, repo: Path, tmp_path: Path) -> None:
    images = [make_image(tmp_path / f"img{i}.bin", 512) for i in range(6)]
    for i, image in enumerate(images[:3]):
        r = cli("add", repo, image, "--hardware-id", f"hw-{i}", "--version", "1.0.0")
        assert r.exit_code == 0, r.output
    # convert later: the three flat targets move to their bins
    r = cli("bins", repo, "8", *PW, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["bins"] == 8 and data["moved_targets"] == 3 and data["bin_prefix"] == "bins"
    for i, image in enumerate(images[3:], start=3):
        r = cli("add", repo, image, "--hardware-id", f"hw-{i}", "--version", "1.0.0")
        assert r.exit_code == 0, r.output
    assert cli("sign", repo, *PW).exit_code == 0
    out = tmp_path / "out"
    r = cli("publish", repo, out)
    assert r.exit_code == 0, r.output
    published = {p.name.partition(".")[2] for p in (out / "metadata").glob("*.bins-*.json")}
    assert published == {f"bins-{i}.json" for i in range(8)}
    root = (out / "metadata" / "1.root.json").read_bytes()
    report = verify_published(str(out), root)
    assert len(report.targets) == 6
    assert FirmwareRepository(repo).metadata("targets").signed.targets == {}

    # a device: python-tuf's ngclient looks up one image and downloads it
    (tmp_path / "device").mkdir()
    updater = Updater(
        str(tmp_path / "device"),
        LOCAL_BASE_URL + "metadata/",
        str(tmp_path / "dl"),
        LOCAL_BASE_URL + "targets/",
        fetcher=TufDirectoryFetcher(out),
        bootstrap=root,
    )
    (tmp_path / "dl").mkdir()
    updater.refresh()
    info = updater.get_targetinfo("hw-4/1.0.0/img4.bin")
    assert info is not None
    got = updater.download_target(info)
    assert Path(got).read_bytes() == images[4].read_bytes()
    assert updater.get_targetinfo("hw-4/1.0.0/none.bin") is None


def test_init_with_bins_and_bins_under_a_delegated_role(
    cli: Cli, tmp_path: Path, password: str
) -> None:
    path = tmp_path / "r"
    r = cli("init", path, *PW, "--bins", "4")
    assert r.exit_code == 0, r.output
    assert "bins-0" in r.output and "bins-3" in r.output
    repository = FirmwareRepository(path)
    assert repository.targets_roles() == ["targets", "bins-0", "bins-1", "bins-2", "bins-3"]
    assert all(repository.is_complete(r) for r in repository.targets_roles())
    r = cli("init", tmp_path / "r2", *PW, "--bins", "6")
    assert r.exit_code == 3 and "power of two" in r.output
    assert not (tmp_path / "r2").exists()
    # top-level keys elsewhere: the bin key still lands in a git-ignored REPO/keys
    r = cli("init", tmp_path / "r3", *PW, "--bins", "2", "--keys-dir", tmp_path / "safe")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "r3" / "keys" / ".gitignore").read_text().endswith("*\n")
    assert len(list((tmp_path / "r3" / "keys").glob("bins-*.pem"))) == 1
    assert cli("status", tmp_path / "r3").exit_code == 0

    team = tmp_path / "team"
    assert cli("init", team, *PW).exit_code == 0
    assert cli("delegate", team, "product-a", "--paths", "product-a/*/*", *PW).exit_code == 0
    r = cli("bins", team, "4", "--role", "product-a", *PW)
    assert r.exit_code == 0, r.output
    image = make_image(tmp_path / "fw.bin")
    r = cli("add", team, image, "--hardware-id", "product-a", "--version", "1.0.0", "--json")
    assert json.loads(r.output)[0]["role"].startswith("product-a-bins-")
    assert cli("sign", team, *PW).exit_code == 0
    out = tmp_path / "out"
    assert cli("publish", team, out).exit_code == 0
    report = verify_published(str(out), (out / "metadata" / "1.root.json").read_bytes())
    assert list(report.targets) == ["product-a/1.0.0/fw.bin"]
