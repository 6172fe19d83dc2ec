"""firmtuf-client: the tuf-conformance CLI protocol."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback import FileServer
from tests.repository import Repository, tamper
from tests.verifier.conftest import state_of
from verifier.client import main

TOP_FILES = {"root.json", "timestamp.json", "snapshot.json", "targets.json"}


@pytest.fixture
def server(sim: Repository) -> Iterator[FileServer]:
    sim.add_target("dir/file two.txt", b"second")
    sim.publish()
    with FileServer(sim.file) as s:
        yield s


def run(md: Path, server: FileServer, *args: str) -> int:
    return main(["--metadata-dir", str(md), "--metadata-url", server.url + "metadata", *args])


def init(md: Path, sim: Repository, tmp_path: Path, root: bytes | None = None) -> None:
    root_file = tmp_path / "trusted_root.json"
    root_file.write_bytes(root if root is not None else sim.signed_roots[0])
    assert main(["--metadata-dir", str(md), "init", str(root_file)]) == 0


def test_init_refresh(sim: Repository, server: FileServer, tmp_path: Path) -> None:
    md = tmp_path / "md"
    init(md, sim, tmp_path)
    assert server.requests == []
    assert run(md, server, "refresh") == 0
    assert {p.name for p in md.iterdir() if p.suffix == ".json"} == TOP_FILES


def test_invalid_trusted_root_fails_without_requests(
    sim: Repository, server: FileServer, tmp_path: Path
) -> None:
    md = tmp_path / "md"
    init(md, sim, tmp_path, tamper(sim.signed_roots[0], '"version": 1', '"version": 2'))
    assert run(md, server, "refresh") == 1
    assert server.requests == []


def test_refresh_failure_is_exit_1(
    sim: Repository, server: FileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    md = tmp_path / "md"
    init(md, sim, tmp_path)
    sim.override["https://repo.test/metadata/timestamp.json"] = b"{not json"
    assert run(md, server, "refresh") == 1
    err = capsys.readouterr().err
    assert "MetadataFormatError" in err and "Traceback" not in err
    assert set(state_of(md)) == {"root.json", "firmtuf/layout.json"}


def test_download_names_caching_and_no_partials(
    sim: Repository, server: FileServer, tmp_path: Path
) -> None:
    md, out = tmp_path / "md", tmp_path / "out"
    init(md, sim, tmp_path)
    args = ["--target-base-url", server.url + "targets/", "--target-dir", str(out)]
    names = ["--target-name", "gw/1.0.0/fw.bin", "--target-name", "dir/file two.txt"]
    assert run(md, server, *args, *names, "download") == 0
    assert {p.name for p in out.iterdir()} == {"gw%2F1.0.0%2Ffw.bin", "dir%2Ffile%20two.txt"}
    assert (out / "dir%2Ffile%20two.txt").read_bytes() == b"second"
    target_requests = [r for r in server.requests if r.startswith("/targets/")]
    assert len(target_requests) == 2
    assert run(md, server, *args, *names, "download") == 0
    assert [r for r in server.requests if r.startswith("/targets/")] == target_requests
    assert {p.name for p in md.iterdir() if p.suffix == ".json"} == TOP_FILES


def test_download_stops_at_first_failure(
    sim: Repository, server: FileServer, tmp_path: Path
) -> None:
    md, out = tmp_path / "md", tmp_path / "out"
    init(md, sim, tmp_path)
    args = ["--target-base-url", server.url + "targets", "--target-dir", str(out)]
    names = ["--target-name", "missing", "--target-name", "gw/1.0.0/fw.bin"]
    assert run(md, server, *args, *names, "download") == 1
    assert not out.exists() or list(out.iterdir()) == []


def test_download_bad_hash_leaves_nothing(
    sim: Repository, server: FileServer, tmp_path: Path
) -> None:
    md, out = tmp_path / "md", tmp_path / "out"
    init(md, sim, tmp_path)
    import hashlib

    # Same length, other bytes, served under the trusted hash.
    good = hashlib.sha256(b"firmware one").hexdigest()
    sim.override[f"https://repo.test/targets/gw/1.0.0/{good}.fw.bin"] = b"firmware ONE"
    args = ["--target-base-url", server.url + "targets", "--target-dir", str(out)]
    assert run(md, server, *args, "--target-name", "gw/1.0.0/fw.bin", "download") == 1
    assert list(out.iterdir()) == []
    assert not list((md / "firmtuf" / "partial").iterdir())


def test_usage_error_is_exit_1(tmp_path: Path) -> None:
    assert main(["--metadata-dir", str(tmp_path), "bogus"]) == 1
    assert main(["--metadata-dir", str(tmp_path), "refresh"]) == 1  # no --metadata-url


def test_init_missing_file_is_exit_1(tmp_path: Path) -> None:
    assert main(["--metadata-dir", str(tmp_path / "md"), "init", str(tmp_path / "nope")]) == 1


def test_python_dash_m(sim: Repository, server: FileServer, tmp_path: Path) -> None:
    md = tmp_path / "md"
    init(md, sim, tmp_path)
    cmd = [
        sys.executable,
        "-m",
        "verifier.client",
        "--metadata-dir",
        str(md),
        "--metadata-url",
        server.url + "metadata/",
        "refresh",
    ]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=60, check=False, cwd=Path(__file__).parents[2]
    )
    assert done.returncode == 0, done.stderr
    sim.override["https://repo.test/metadata/timestamp.json"] = b"[]"
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=60, check=False, cwd=Path(__file__).parents[2]
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr


def test_clock_is_read_through_the_c_library(
    sim: Repository, server: FileServer, tmp_path: Path
) -> None:
    """libfaketime (LD_PRELOAD over libc's clock_gettime) moves the client's clock: the
    same repository is fresh today and expired (exit 1) 60 days on (metadata: 30 days)."""
    faketime = shutil.which("faketime")
    if faketime is None:
        pytest.skip("faketime (Debian package faketime) is not installed; tests/run.sh installs it")
    cmd = [
        sys.executable,
        "-m",
        "verifier.client",
        "--metadata-dir",
        str(tmp_path / "md"),
        "--metadata-url",
        server.url + "metadata/",
        "refresh",
    ]
    init(tmp_path / "md", sim, tmp_path)
    cwd = Path(__file__).parents[2]
    later = subprocess.run(
        [faketime, "-f", "+60d", *cmd], capture_output=True, text=True, timeout=60, cwd=cwd
    )
    assert later.returncode == 1
    assert "ExpiredMetadataError" in later.stderr
    assert not (tmp_path / "md" / "timestamp.json").exists()
    now = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=cwd)
    assert now.returncode == 0, now.stderr


def test_init_refuses_a_huge_root_without_reading_it(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as f:
        f.truncate(8 << 30)  # sparse: 8 GiB that must never be read whole
    md = tmp_path / "md"
    assert main(["--metadata-dir", str(md), "init", str(huge)]) == 1
    assert not (md / "root.json").exists()
