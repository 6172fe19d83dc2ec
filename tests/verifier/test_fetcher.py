"""Fetchers: HTTP against a real server on 127.0.0.1 (slow, Range, errors), directories,
memory."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import verifier
from tests.loopback import QuietHandler, serve
from tests.verifier.conftest import state_of
from tests.verifier.http_server import SimServer
from tests.verifier.simulator import RepositorySimulator
from verifier._internal import partial

IMAGE = bytes(range(256)) * 2000  # 512000 bytes


@pytest.fixture
def repo() -> RepositorySimulator:
    sim = RepositorySimulator()
    sim.add_target("gw/2.0/fw.bin", IMAGE)
    sim.publish()
    return sim


@pytest.fixture
def server(repo: RepositorySimulator) -> Iterator[SimServer]:
    with SimServer(repo) as s:
        yield s


def http_updater(
    repo: RepositorySimulator, server: SimServer, md: Path, **fetcher_kw: float
) -> verifier.Updater:
    md.mkdir(parents=True, exist_ok=True)
    if not (md / "root.json").exists():
        (md / "root.json").write_bytes(repo.signed_roots[0])
    fetcher = verifier.HttpFetcher(**fetcher_kw)  # type: ignore[arg-type]
    return verifier.Updater(md, server.url + "metadata", server.url + "targets", fetcher=fetcher)


def image_path() -> str:
    return f"/targets/gw/2.0/{hashlib.sha256(IMAGE).hexdigest()}.fw.bin"


def test_http_refresh_and_download(
    repo: RepositorySimulator, server: SimServer, tmp_path: Path
) -> None:
    up = http_updater(repo, server, tmp_path / "md")
    target = up.get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    assert up.download(target, tmp_path / "fw.bin").read_bytes() == IMAGE


def test_slow_retrieval_of_metadata(
    repo: RepositorySimulator, server: SimServer, tmp_path: Path
) -> None:
    md = tmp_path / "md"
    http_updater(repo, server, md).refresh()
    repo.publish()
    server.slow_paths["/metadata/timestamp.json"] = 0.02
    before = state_of(md)
    up = http_updater(repo, server, md, min_speed=10_000, grace_period=0.2)
    with pytest.raises(verifier.SlowRetrievalError):
        up.refresh()
    assert state_of(md) == before


def test_slow_retrieval_of_target(
    repo: RepositorySimulator, server: SimServer, tmp_path: Path
) -> None:
    server.slow_paths[image_path()] = 0.01
    up = http_updater(repo, server, tmp_path / "md", min_speed=10_000, grace_period=0.2)
    target = up.get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    with pytest.raises(verifier.SlowRetrievalError):
        up.download(target, tmp_path / "fw.bin")
    assert not (tmp_path / "fw.bin").exists()


def test_stalled_server_read_timeout(
    repo: RepositorySimulator, server: SimServer, tmp_path: Path
) -> None:
    server.slow_paths["/metadata/timestamp.json"] = 1.0
    up = http_updater(repo, server, tmp_path / "md", read_timeout=0.2)
    with pytest.raises(verifier.SlowRetrievalError):
        up.refresh()


def test_http_error_status(server: SimServer) -> None:
    with pytest.raises(verifier.DownloadHTTPError) as info:
        list(verifier.HttpFetcher().fetch(server.url + "metadata/nope.json", 100))
    assert info.value.status_code == 404


def test_http_too_large(server: SimServer) -> None:
    with pytest.raises(verifier.DownloadLengthMismatchError):
        list(verifier.HttpFetcher().fetch(server.url + "metadata/1.root.json", 10))


def test_connection_refused_is_download_error() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(verifier.DownloadError):
        list(verifier.HttpFetcher(connect_timeout=1).fetch(f"http://127.0.0.1:{port}/x", 10))


def test_non_http_url_refused() -> None:
    with pytest.raises(verifier.DownloadError):
        list(verifier.HttpFetcher().fetch("file:///etc/passwd", 10))


def partial_of(md: Path, target: verifier.TargetFile) -> Path:
    """Where a download of ``target`` keeps its bytes (named by the target)."""
    return md / "firmtuf" / "partial" / partial.filename(target)


def test_resume_with_range(repo: RepositorySimulator, server: SimServer, tmp_path: Path) -> None:
    up = http_updater(repo, server, tmp_path / "md")
    target = up.get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    dest = tmp_path / "fw.bin"
    server.truncate[image_path()] = 100_000
    with pytest.raises(verifier.DownloadError):
        up.download(target, dest)
    part = partial_of(tmp_path / "md", target)
    assert part.stat().st_size == 100_000 and not dest.exists()
    del server.truncate[image_path()]
    up.download(target, dest)
    assert dest.read_bytes() == IMAGE
    assert server.ranges[-1] == "bytes=100000-"
    assert not part.exists()


def test_resume_when_server_ignores_range(
    repo: RepositorySimulator, server: SimServer, tmp_path: Path
) -> None:
    up = http_updater(repo, server, tmp_path / "md")
    target = up.get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    part = partial_of(tmp_path / "md", target)
    part.parent.mkdir(parents=True)
    part.write_bytes(IMAGE[:5000])
    server.honour_range = False
    up.download(target, tmp_path / "fw.bin")
    assert (tmp_path / "fw.bin").read_bytes() == IMAGE


def test_resume_when_server_sends_another_range(
    repo: RepositorySimulator, server: SimServer, tmp_path: Path
) -> None:
    up = http_updater(repo, server, tmp_path / "md")
    target = up.get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    part = partial_of(tmp_path / "md", target)
    part.parent.mkdir(parents=True)
    part.write_bytes(IMAGE[:5000])
    server.lie_about_range = True
    up.download(target, tmp_path / "fw.bin")
    assert (tmp_path / "fw.bin").read_bytes() == IMAGE


def test_corrupt_partial_file_is_restarted_once(
    repo: RepositorySimulator, server: SimServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Bytes an earlier attempt left that do not verify are not the repository's fault:
    the download starts again from byte 0 (once) instead of failing."""
    up = http_updater(repo, server, tmp_path / "md")
    target = up.get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    part = partial_of(tmp_path / "md", target)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\xff" * 5000)
    with caplog.at_level("INFO", logger="verifier"):
        up.download(target, tmp_path / "fw.bin")
    assert (tmp_path / "fw.bin").read_bytes() == IMAGE
    assert server.ranges[-2:] == ["bytes=5000-", None]
    assert not part.exists()
    assert [(r.levelname, "resuming" in r.message) for r in caplog.records][:1] == [("INFO", True)]
    assert any(r.levelname == "WARNING" and "restarting" in r.message for r in caplog.records)


def test_corrupt_download_is_refused_and_discarded(
    repo: RepositorySimulator, server: SimServer, tmp_path: Path
) -> None:
    """A fresh download whose bytes fail the hashes is the repository's (or a mirror's)
    fault: LengthOrHashMismatchError, and nothing of it is kept."""
    repo.override[repo_image_url()] = IMAGE[:-1] + b"!"
    up = http_updater(repo, server, tmp_path / "md")
    target = up.get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    with pytest.raises(verifier.LengthOrHashMismatchError):
        up.download(target, tmp_path / "fw.bin")
    assert not partial_of(tmp_path / "md", target).exists()
    assert not (tmp_path / "fw.bin").exists()


def repo_image_url() -> str:
    from tests.verifier.simulator import BASE

    return BASE + image_path().lstrip("/")


def test_directory_fetcher(tmp_path: Path) -> None:
    (tmp_path / "mirror" / "metadata").mkdir(parents=True)
    (tmp_path / "mirror" / "metadata" / "a.json").write_bytes(b"0123456789")
    (tmp_path / "secret").write_bytes(b"secret")
    f = verifier.DirectoryFetcher(tmp_path / "mirror", "usb://")
    assert b"".join(f.fetch("usb://metadata/a.json", 10)) == b"0123456789"
    assert b"".join(f.fetch("usb://metadata/a.json", 10, offset=4)) == b"456789"
    with pytest.raises(verifier.DownloadLengthMismatchError):
        list(f.fetch("usb://metadata/a.json", 9))
    with pytest.raises(verifier.DownloadHTTPError) as info:
        list(f.fetch("usb://metadata/missing.json", 9))
    assert info.value.status_code == 404
    for escape in (
        "usb://../secret",
        "usb://metadata/%2e%2e/%2e%2e/secret",
        "usb:///etc/passwd",
        "usb://metadata\\..\\..\\secret",
    ):
        with pytest.raises(verifier.DownloadHTTPError) as info:
            list(f.fetch(escape, 100))
        assert info.value.status_code in (403, 404)


def test_directory_fetcher_refuses_symlink_out(tmp_path: Path) -> None:
    (tmp_path / "mirror").mkdir()
    (tmp_path / "secret").write_bytes(b"secret")
    (tmp_path / "mirror" / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(verifier.DownloadHTTPError):
        list(verifier.DirectoryFetcher(tmp_path / "mirror").fetch("link", 100))


def test_directory_fetcher_serves_a_repository(repo: RepositorySimulator, tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    for url in ["1.root.json", "timestamp.json", "2.snapshot.json", "2.targets.json"]:
        data = repo.files["https://repo.test/metadata/" + url]
        (root / "metadata").mkdir(parents=True, exist_ok=True)
        (root / "metadata" / url).write_bytes(data)
    md = tmp_path / "md"
    md.mkdir()
    (md / "root.json").write_bytes(repo.signed_roots[0])
    up = verifier.Updater(
        md, "file:///mirror/metadata/", fetcher=verifier.DirectoryFetcher(root, "file:///mirror/")
    )
    assert up.get_targetinfo("gw/2.0/fw.bin") is not None


def test_memory_fetcher_cap_and_offset() -> None:
    f = verifier.MemoryFetcher({"u": b"abcdef"}, chunk_size=2)
    assert b"".join(f.fetch("u", 6, offset=2)) == b"cdef"
    with pytest.raises(verifier.DownloadLengthMismatchError):
        b"".join(f.fetch("u", 5))
    with pytest.raises(verifier.DownloadHTTPError):
        f.fetch("v", 5)
    assert f.requests == ["u", "u", "v"]


def test_foreign_fetcher_errors_are_wrapped(repo: RepositorySimulator, tmp_path: Path) -> None:
    class Broken(verifier.Fetcher):
        def _fetch(self, url: str, offset: int, deadline: verifier.Deadline) -> Iterator[bytes]:
            raise OSError("cable unplugged")

    md = tmp_path / "md"
    md.mkdir()
    (md / "root.json").write_bytes(repo.signed_roots[0])
    with pytest.raises(verifier.DownloadError) as info:
        verifier.Updater(md, "https://x/", fetcher=Broken()).refresh()
    assert isinstance(info.value.__cause__, OSError)


def test_fetcher_that_overrides_fetch_is_refused(tmp_path: Path) -> None:
    """fetch() enforces the Config's deadline: a fetcher replacing it would drop it."""

    class Legacy(verifier.Fetcher):
        def fetch(  # type: ignore[override]
            self, url: str, max_length: int, offset: int = 0, **kw: object
        ) -> Iterator[bytes]:
            return iter([b""])

    with pytest.raises(TypeError, match="_fetch"):
        verifier.Updater(tmp_path, "https://x/", fetcher=Legacy())
    with pytest.raises(TypeError, match="Fetcher"):
        verifier.Updater(tmp_path, "https://x/", fetcher=object())  # type: ignore[arg-type]


def test_gzip_response_is_decoded_and_capped(tmp_path: Path) -> None:
    import gzip

    body = gzip.compress(b"A" * 100_000)
    seen: list[str | None] = []

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Accept-Encoding"))
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serve(Handler) as base:
        url = base + "x"
        fetcher = verifier.HttpFetcher(chunk_size=4096)
        assert b"".join(fetcher.fetch(url, 100_000)) == b"A" * 100_000
        with pytest.raises(verifier.DownloadLengthMismatchError):
            b"".join(fetcher.fetch(url, 50_000))  # a decompression bomb stays capped
        assert seen[0] == "identity"
