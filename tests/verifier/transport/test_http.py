"""Both HTTP transports against a real repository server on 127.0.0.1: refresh and
download, slow retrieval, Range for resume, error statuses, kept-alive connections,
explicit proxies, the environment not read."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

import verifier
from tests.loopback import FileServer, QuietHandler, serve
from tests.repository import BASE, Repository
from tests.verifier.conftest import IMAGE, IMAGE_PATH, Transport, state_of
from verifier._internal import partial


def http_updater(
    repo: Repository,
    server: FileServer,
    md: Path,
    transport: Transport,
    **fetcher_kw: float,
) -> verifier.Updater:
    md.mkdir(parents=True, exist_ok=True)
    if not (md / "root.json").exists():
        (md / "root.json").write_bytes(repo.signed_roots[0])
    fetcher = transport(**fetcher_kw)  # type: ignore[arg-type]
    return verifier.Updater(md, server.url + "metadata", server.url + "targets", fetcher=fetcher)


def test_default_transport_is_the_standard_library(tmp_path: Path) -> None:
    (tmp_path / "root.json").write_bytes(Repository().signed_roots[0])
    up = verifier.Updater(tmp_path, "http://127.0.0.1:9/metadata/")
    assert type(up._fetcher) is verifier.HttpFetcher


def test_http_refresh_and_download(
    repo: Repository, server: FileServer, tmp_path: Path, transport: Transport
) -> None:
    up = http_updater(repo, server, tmp_path / "md", transport)
    target = up.get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    assert up.download(target, tmp_path / "fw.bin").read_bytes() == IMAGE


def test_slow_retrieval_of_metadata(
    repo: Repository, server: FileServer, tmp_path: Path, transport: Transport
) -> None:
    md = tmp_path / "md"
    http_updater(repo, server, md, transport).refresh()
    repo.publish()
    server.slow_paths["/metadata/timestamp.json"] = 0.02
    before = state_of(md)
    up = http_updater(repo, server, md, transport, min_speed=10_000, grace_period=0.2)
    with pytest.raises(verifier.SlowRetrievalError):
        up.refresh()
    assert state_of(md) == before


def test_slow_retrieval_of_target(
    repo: Repository, server: FileServer, tmp_path: Path, transport: Transport
) -> None:
    server.slow_paths[IMAGE_PATH] = 0.01
    up = http_updater(repo, server, tmp_path / "md", transport, min_speed=10_000, grace_period=0.2)
    target = up.get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    with pytest.raises(verifier.SlowRetrievalError):
        up.download(target, tmp_path / "fw.bin")
    assert not (tmp_path / "fw.bin").exists()


def test_stalled_server_read_timeout(
    repo: Repository, server: FileServer, tmp_path: Path, transport: Transport
) -> None:
    server.slow_paths["/metadata/timestamp.json"] = 1.0
    up = http_updater(repo, server, tmp_path / "md", transport, read_timeout=0.2)
    with pytest.raises(verifier.SlowRetrievalError):
        up.refresh()


def test_http_error_status(server: FileServer, transport: Transport) -> None:
    with pytest.raises(verifier.DownloadHTTPError) as info:
        list(transport().fetch(server.url + "metadata/nope.json", 100))
    assert info.value.status_code == 404


def test_http_too_large(server: FileServer, transport: Transport) -> None:
    with pytest.raises(verifier.DownloadLengthMismatchError):
        list(transport().fetch(server.url + "metadata/1.root.json", 10))


def test_connection_refused_is_download_error(transport: Transport) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(verifier.DownloadError) as info:
        list(transport(connect_timeout=1).fetch(f"http://127.0.0.1:{port}/x", 10))
    assert not isinstance(info.value, verifier.DownloadHTTPError)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "http:///x", "http://127.0.0.1:99999/x"]
)
def test_non_http_url_refused(transport: Transport, url: str) -> None:
    with pytest.raises(verifier.DownloadError):
        list(transport().fetch(url, 10))


@pytest.mark.parametrize("proxy", ["https://proxy:3128", "socks5://proxy:1080", "proxy:3128"])
def test_unsupported_proxy_url_is_refused_at_once(transport: Transport, proxy: str) -> None:
    with pytest.raises(ValueError, match="proxy_url"):
        transport(proxy_url=proxy)


def partial_of(md: Path, target: verifier.TargetFile) -> Path:
    """Where a download of ``target`` keeps its bytes (named by the target)."""
    return md / "firmtuf" / "partial" / partial.filename(target)


def test_resume_with_range(
    repo: Repository, server: FileServer, tmp_path: Path, transport: Transport
) -> None:
    up = http_updater(repo, server, tmp_path / "md", transport)
    target = up.get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    dest = tmp_path / "fw.bin"
    server.truncate[IMAGE_PATH] = 100_000
    with pytest.raises(verifier.DownloadError):
        up.download(target, dest)
    part = partial_of(tmp_path / "md", target)
    assert part.stat().st_size == 100_000 and not dest.exists()
    del server.truncate[IMAGE_PATH]
    up.download(target, dest)
    assert dest.read_bytes() == IMAGE
    assert server.ranges[-1] == "bytes=100000-"
    assert not part.exists()


def test_short_content_length_is_the_transfers_fault(
    repo: Repository, server: FileServer, tmp_path: Path, transport: Transport
) -> None:
    """Issue 9 item 6: a complete response shorter than the signed length (its
    Content-Length says so) is a transfer that ended early, a DownloadError, not bad
    metadata: the bytes that came are kept, and the next attempt resumes."""
    md = tmp_path / "md"
    up = http_updater(repo, server, md, transport)
    target = up.get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    dest = tmp_path / "fw.bin"
    served = BASE + IMAGE_PATH.lstrip("/")
    repo.override[served] = IMAGE[:100_000]
    before = state_of(md)
    with pytest.raises(verifier.DownloadIncompleteError, match="after 100000 of the 512000"):
        up.download(target, dest)
    part = partial_of(md, target)
    assert part.read_bytes() == IMAGE[:100_000] and not dest.exists()
    after = state_of(md)
    assert {k: v for k, v in after.items() if md / k != part} == before
    del repo.override[served]
    assert up.download(target, dest).read_bytes() == IMAGE
    assert server.ranges[-1] == "bytes=100000-"


def test_resume_when_server_ignores_range(
    repo: Repository, server: FileServer, tmp_path: Path, transport: Transport
) -> None:
    up = http_updater(repo, server, tmp_path / "md", transport)
    target = up.get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    part = partial_of(tmp_path / "md", target)
    part.parent.mkdir(parents=True)
    part.write_bytes(IMAGE[:5000])
    server.honour_range = False
    up.download(target, tmp_path / "fw.bin")
    assert (tmp_path / "fw.bin").read_bytes() == IMAGE


def test_resume_when_server_sends_another_range(
    repo: Repository, server: FileServer, tmp_path: Path, transport: Transport
) -> None:
    up = http_updater(repo, server, tmp_path / "md", transport)
    target = up.get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    part = partial_of(tmp_path / "md", target)
    part.parent.mkdir(parents=True)
    part.write_bytes(IMAGE[:5000])
    server.lie_about_range = True
    up.download(target, tmp_path / "fw.bin")
    assert (tmp_path / "fw.bin").read_bytes() == IMAGE


def test_corrupt_partial_file_is_restarted_once(
    repo: Repository,
    server: FileServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    transport: Transport,
) -> None:
    """Bytes an earlier attempt left that do not verify are not the repository's fault:
    the download starts again from byte 0 (once) instead of failing."""
    up = http_updater(repo, server, tmp_path / "md", transport)
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
    repo: Repository, server: FileServer, tmp_path: Path, transport: Transport
) -> None:
    """A fresh download whose bytes fail the hashes is the repository's (or a mirror's)
    fault: LengthOrHashMismatchError, and nothing of it is kept."""
    repo.override[repo_image_url()] = IMAGE[:-1] + b"!"
    up = http_updater(repo, server, tmp_path / "md", transport)
    target = up.get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    with pytest.raises(verifier.LengthOrHashMismatchError):
        up.download(target, tmp_path / "fw.bin")
    assert not partial_of(tmp_path / "md", target).exists()
    assert not (tmp_path / "fw.bin").exists()


def repo_image_url() -> str:
    from tests.repository import BASE

    return BASE + IMAGE_PATH.lstrip("/")


# -- connections and proxies (a recording HTTP/1.1 server) -----------------------------


class _Recorder(QuietHandler):
    """Answers every GET with ``body``; records request lines, headers and connections."""

    protocol_version = "HTTP/1.1"
    body = b"0123456789"
    lines: ClassVar[list[str]] = []
    headers_seen: ClassVar[list[dict[str, str]]] = []
    connections: ClassVar[set[int]] = set()

    def do_GET(self) -> None:
        type(self).lines.append(self.requestline)
        type(self).headers_seen.append({k.lower(): v for k, v in self.headers.items()})
        type(self).connections.add(id(self.connection))
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.lines = []
    _Recorder.headers_seen = []
    _Recorder.connections = set()
    with serve(_Recorder) as url:
        yield url.rstrip("/")


def test_connection_is_kept_alive(recorder: str, transport: Transport) -> None:
    fetcher = transport()
    for name in ("a", "b", "c"):
        assert fetcher.fetch_bytes(f"{recorder}/{name}", 100) == _Recorder.body
    # A reader that stops at the length it trusts leaves the connection usable too.
    assert b"".join(verifier._updater._take(fetcher.fetch(f"{recorder}/d", 100), 10)) == (
        _Recorder.body
    )
    assert fetcher.fetch_bytes(f"{recorder}/e", 100) == _Recorder.body
    assert [line.split()[1] for line in _Recorder.lines] == ["/a", "/b", "/c", "/d", "/e"]
    assert len(_Recorder.connections) == 1
    assert {h["accept-encoding"] for h in _Recorder.headers_seen} == {"identity"}
    assert {h["user-agent"] for h in _Recorder.headers_seen} == {"firmtuf-verifier"}


def test_abandoned_body_does_not_poison_the_connection(recorder: str, transport: Transport) -> None:
    """A body the caller never read (nor closed) leaves unread bytes on its connection:
    the next request must get its own answer, not those bytes."""
    fetcher = transport(chunk_size=2)
    abandoned = fetcher.fetch(f"{recorder}/a", 100)
    assert fetcher.fetch_bytes(f"{recorder}/b", 100) == _Recorder.body
    del abandoned


def test_explicit_proxy_for_plain_http(recorder: str, transport: Transport) -> None:
    # The recorder plays the proxy: it sees the absolute URL of the real server.
    fetcher = transport(proxy_url=f"http://user:pw@{recorder[len('http://') :]}")
    assert fetcher.fetch_bytes("http://repo.invalid/metadata/timestamp.json", 100) == (
        _Recorder.body
    )
    assert _Recorder.lines == ["GET http://repo.invalid/metadata/timestamp.json HTTP/1.1"]
    assert _Recorder.headers_seen[0]["proxy-authorization"] == "Basic dXNlcjpwdw=="


def test_proxy_environment_is_not_read(
    recorder: str, monkeypatch: pytest.MonkeyPatch, transport: Transport
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # discard port: would fail
    assert transport().fetch_bytes(f"{recorder}/x", 100) == _Recorder.body


def test_small_chunks_give_the_same_bytes(recorder: str, transport: Transport) -> None:
    chunks = list(transport(chunk_size=3).fetch(f"{recorder}/img", 100))
    assert max(len(c) for c in chunks) <= 3
    assert b"".join(chunks) == _Recorder.body


@pytest.mark.parametrize("name", ["dir/file two.bin", "dir/a%41.bin", "dir/x#y?.bin"])
def test_target_names_are_quoted_in_the_url(
    tmp_path: Path, transport: Transport, name: str
) -> None:
    """A space, "%", "#" or "?" in a target name is part of the file name: the request
    asks for that file (once unquoted), never another one or a truncated name."""
    sim = Repository()
    sim.add_target(name, b"the right bytes")
    sim.add_target("dir/aA.bin", b"the wrong bytes")  # what a raw %41 would decode to
    sim.add_target("dir/x", b"the wrong bytes")  # what a raw "#" would cut the name to
    sim.publish()
    with FileServer(sim.file) as server:
        up = http_updater(sim, server, tmp_path / "md", transport)
        target = up.get_targetinfo(name)
        assert target is not None
        assert up.download(target, tmp_path / "out.bin").read_bytes() == b"the right bytes"
