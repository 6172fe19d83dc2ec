"""End to end: `firmtuf publish` output served by a real HTTP server on 127.0.0.1, updated
by our Updater (check, download, verify) and, as the reference, by python-tuf.

The slow test publishes a 1 GiB sparse image to exercise the streaming download path.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from signer.cli import main
from tests.loopback import serve_directory

PASSWORD_ENV = "FIRMTUF_ORACLE_PASSWORD"
HARDWARE = "acme-gw-r2"
GIB = 1 << 30


def firmtuf(*args: str | Path) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def publish(tmp: Path, images: list[tuple[Path, str, str]]) -> Path:
    """init, add each (image, hardware id, version), sign and publish; returns OUT_DIR."""
    repo, out = tmp / "repo", tmp / "out"
    firmtuf("init", repo, "--password-env", PASSWORD_ENV)
    for image, hardware, version in images:
        firmtuf("add", repo, image, "--hardware-id", hardware, "--version", version)
    firmtuf("sign", repo, "--password-env", PASSWORD_ENV)
    firmtuf("publish", repo, out)
    return out


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@pytest.fixture(scope="module")
def password() -> Iterator[None]:
    old = os.environ.get(PASSWORD_ENV)
    os.environ[PASSWORD_ENV] = secrets.token_urlsafe(12)
    yield
    if old is None:
        del os.environ[PASSWORD_ENV]
    else:
        os.environ[PASSWORD_ENV] = old


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, password: None) -> Path:
    tmp = tmp_path_factory.mktemp("published")
    old, new, other = tmp / "old.bin", tmp / "gateway.bin", tmp / "other.bin"
    old.write_bytes(os.urandom(10_000))
    new.write_bytes(os.urandom(200_000))
    other.write_bytes(os.urandom(1000))
    return publish(
        tmp, [(old, HARDWARE, "1.0.0"), (new, HARDWARE, "1.4.2"), (other, "another-board", "9.0.0")]
    )


def updater(out: Path, url: str, workdir: Path, installed: str = "1.2.0") -> Any:
    import verifier

    return verifier.Updater(
        workdir / "metadata",
        url + "metadata/",
        url + "targets/",
        policy=verifier.DevicePolicy(HARDWARE, installed),
        bootstrap=(out / "metadata" / "1.root.json").read_bytes(),
    )


def test_published_repository_check_download_verify(published: Path, tmp_path: Path) -> None:
    with serve_directory(published) as url:
        up = updater(published, url, tmp_path)
        up.refresh()
        target = up.check()
        assert target is not None
        assert target.path == f"{HARDWARE}/1.4.2/gateway.bin"
        assert target.firmware.version.text == "1.4.2"
        dest = up.download(target, tmp_path / "image.bin")
    assert Path(dest).stat().st_size == 200_000
    assert sha256_file(Path(dest)) == target.hashes["sha256"]
    # python-tuf, the reference client, reads the same tree and agrees on the bytes.
    from tuf.ngclient import Updater as TufUpdater

    with serve_directory(published) as url:
        (tmp_path / "tuf").mkdir()
        reference = TufUpdater(
            str(tmp_path / "tuf"),
            url + "metadata/",
            str(tmp_path),
            url + "targets/",
            bootstrap=(published / "metadata" / "1.root.json").read_bytes(),
        )
        info = reference.get_targetinfo(target.path)
        assert info is not None
        assert info.hashes == target.hashes
        assert info.length == target.length
        reference_path = reference.download_target(info, str(tmp_path / "reference.bin"))
    assert Path(reference_path).read_bytes() == Path(dest).read_bytes()


def test_up_to_date_device_gets_nothing(published: Path, tmp_path: Path) -> None:
    with serve_directory(published) as url:
        up = updater(published, url, tmp_path, installed="1.4.2")
        up.refresh()
        assert up.check() is None


@pytest.mark.slow
def test_1gib_sparse_image_streams_end_to_end(tmp_path: Path, password: None) -> None:
    """A 1 GiB image (sparse on disk) is published, served and downloaded in a stream:
    the Python heap never holds more than a few chunks of it (tracemalloc peak)."""
    needed = 4 * GIB  # repo copy + published copy + download, plus slack
    free = shutil.disk_usage(tmp_path).free
    if free < needed:
        pytest.skip(f"needs {needed >> 30} GiB free in {tmp_path}, only {free >> 20} MiB")
    image = tmp_path / "big.bin"
    with image.open("wb") as f:
        f.write(b"head of a big image")
        f.truncate(GIB)
    out = publish(tmp_path, [(image, HARDWARE, "2.0.0")])
    with serve_directory(out) as url:
        up = updater(out, url, tmp_path / "device")
        up.refresh()
        target = up.check()
        assert target is not None
        assert target.length == GIB
        tracemalloc.start()
        try:
            dest = Path(up.download(target, tmp_path / "device-image.bin"))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 64 << 20, f"download held {peak >> 20} MiB in memory"
    assert dest.stat().st_size == GIB
    assert sha256_file(dest) == target.hashes["sha256"] == sha256_file(image)
