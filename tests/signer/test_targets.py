"""`add`/`remove` details: several images, store handling, failure cleanup, fetcher paths."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from pathlib import Path

import pytest

import signer._repository as repository_module
import verifier
from signer import FirmwareFields, FirmwareRepository, add_firmware
from signer._client import LOCAL_BASE_URL, DirectoryFetcher
from signer._targets import _copy_hashing
from tests.signer.conftest import Cli, make_image, tree_bytes


def test_several_images_one_release(cli: Cli, repo: Path, tmp_path: Path) -> None:
    boot = make_image(tmp_path / "boot.bin", 100)
    app = make_image(tmp_path / "app.bin", 200)
    r = cli("add", repo, boot, app, "--hardware-id", "gw", "--version", "2.1")
    assert r.exit_code == 0, r.output
    targets = FirmwareRepository(repo).metadata("targets").signed.targets  # type: ignore[attr-defined]
    assert set(targets) == {"gw/2.1/boot.bin", "gw/2.1/app.bin"}
    assert len(list((repo / "targets").iterdir())) == 2


def test_name_option_needs_one_image(cli: Cli, repo: Path, tmp_path: Path) -> None:
    a, b = make_image(tmp_path / "a.bin"), make_image(tmp_path / "b.bin")
    before = tree_bytes(repo)
    r = cli("add", repo, a, b, "--hardware-id", "gw", "--version", "1", "--name", "x/y.bin")
    assert r.exit_code == 3
    assert "--name names one image" in r.stderr
    assert tree_bytes(repo) == before


def test_same_basename_twice_is_a_conflict(cli: Cli, repo: Path, tmp_path: Path) -> None:
    a = make_image(tmp_path / "one" / "fw.bin")
    b = make_image(tmp_path / "two" / "fw.bin")
    before = tree_bytes(repo)
    r = cli("add", repo, a, b, "--hardware-id", "gw", "--version", "1")
    assert r.exit_code == 7
    assert "given twice" in r.stderr
    assert tree_bytes(repo) == before


def test_image_that_is_a_directory(cli: Cli, repo: Path, tmp_path: Path) -> None:
    r = cli("add", repo, tmp_path, "--hardware-id", "gw", "--version", "1")
    assert r.exit_code == 3
    assert "is not a file" in r.stderr


def test_failed_save_removes_copied_images(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tree_bytes(repo)

    def broken(files: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(repository_module, "write_all_or_nothing", broken)
    with pytest.raises(OSError, match="No space"):
        add_firmware(
            FirmwareRepository(repo),
            [make_image(tmp_path / "a.bin")],
            FirmwareFields(("gw",), "1"),
        )
    assert tree_bytes(repo) == before


def test_shared_image_stays_until_last_user_removed(cli: Cli, repo: Path, tmp_path: Path) -> None:
    image = make_image(tmp_path / "fw.bin")
    assert cli("add", repo, image, "--hardware-id", "a", "--version", "1").exit_code == 0
    assert cli("add", repo, image, "--hardware-id", "b", "--version", "1").exit_code == 0
    assert len(list((repo / "targets").iterdir())) == 1
    assert cli("remove", repo, "a/1/fw.bin").exit_code == 0
    assert len(list((repo / "targets").iterdir())) == 1
    assert cli("remove", repo, "b/1/fw.bin").exit_code == 0
    assert list((repo / "targets").iterdir()) == []


@pytest.mark.parametrize("path", ["../etc/passwd", "metadata/../../x", "/etc/passwd", ""])
def test_directory_fetcher_stays_inside(tmp_path: Path, path: str) -> None:
    (tmp_path / "tree").mkdir()
    (tmp_path / "secret").write_text("no")
    fetcher = DirectoryFetcher(tmp_path / "tree")
    with pytest.raises(verifier.DownloadHTTPError):
        list(fetcher.fetch(LOCAL_BASE_URL + path, 1 << 20))


def test_directory_fetcher_enforces_max_length_and_offset(tmp_path: Path) -> None:
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "f").write_bytes(b"0123456789")
    fetcher = DirectoryFetcher(tmp_path / "tree", {"o": b"abcdef", "m/1.team a.json": b"{}"})
    # clients quote role names in URLs; overlay keys are the paths as written
    assert b"".join(fetcher.fetch(LOCAL_BASE_URL + "m/1.team%20a.json", 2)) == b"{}"
    assert b"".join(fetcher.fetch(LOCAL_BASE_URL + "f", 10, offset=4)) == b"456789"
    assert b"".join(fetcher.fetch(LOCAL_BASE_URL + "o", 6, offset=2)) == b"cdef"
    with pytest.raises(verifier.DownloadLengthMismatchError):
        b"".join(fetcher.fetch(LOCAL_BASE_URL + "f", 9))
    with pytest.raises(verifier.DownloadLengthMismatchError):
        b"".join(fetcher.fetch(LOCAL_BASE_URL + "o", 5))


def test_concurrent_change_is_detected(repo: Path, tmp_path: Path) -> None:
    """Two commands on one repository: the one saving second writes nothing."""
    first = FirmwareRepository(repo)
    first.metadata("targets")  # read before the other command writes
    add_firmware(
        FirmwareRepository(repo), [make_image(tmp_path / "a.bin")], FirmwareFields(("gw",), "1")
    )
    before = tree_bytes(repo)
    from signer import ConflictError

    with pytest.raises(ConflictError, match="changed while this command ran"):
        add_firmware(first, [make_image(tmp_path / "b.bin")], FirmwareFields(("hw2",), "1"))
    assert tree_bytes(repo) == before


def test_add_reports_progress_as_lines_without_a_terminal(
    cli: Cli, repo: Path, tmp_path: Path
) -> None:
    # CliRunner's stderr is not a terminal, as in a CI log: periodic lines, not a bar.
    image = make_image(tmp_path / "big.bin", 20 << 20)
    r = cli("add", repo, image, "--hardware-id", "b", "--version", "1")
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()
    percents = [ln for ln in lines if ln.startswith("Hashing and storing:")]
    assert len(percents) >= 10
    assert percents[-1] == "Hashing and storing: 20 of 20 MiB (100%)"
    # The slow steps after the copy are announced too, in order, after the last percent.
    tail = lines[lines.index(percents[-1]) + 1 :]
    assert tail == ["Syncing the stored image to disk...", "Updating targets metadata..."]


def test_small_images_print_no_progress(cli: Cli, repo: Path, tmp_path: Path) -> None:
    r = cli(
        "add", repo, make_image(tmp_path / "s.bin", 1000), "--hardware-id", "b", "--version", "1"
    )
    assert r.exit_code == 0, r.output
    assert r.stderr == ""


def test_stored_image_and_hashes_match_the_bytes_read(cli: Cli, repo: Path, tmp_path: Path) -> None:
    data = os.urandom((3 << 20) + 12345)  # not a whole number of chunks
    image = tmp_path / "fw.bin"
    image.write_bytes(data)
    r = cli(
        "add", repo, image, "--hardware-id", "b", "--version", "1", "--hash", "sha512", "--json"
    )
    assert r.exit_code == 0, r.output
    [added] = json.loads(r.stdout)
    assert added["hashes"] == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha512": hashlib.sha512(data).hexdigest(),
    }
    stored = repo / "targets" / f"{added['hashes']['sha256']}.fw.bin"
    assert stored.read_bytes() == data


def test_a_failed_copy_stops_the_hashing_thread(tmp_path: Path) -> None:
    class Full(io.BytesIO):
        def write(self, chunk: bytes) -> int:  # type: ignore[override]
            if self.tell() >= 2 << 20:
                raise OSError(28, "No space left on device")
            return super().write(chunk)

    before = threading.active_count()
    src = io.BytesIO(bytes(8 << 20))
    with pytest.raises(OSError, match="No space"):
        _copy_hashing(src, Full(), ["sha256"], None)
    assert threading.active_count() == before
