"""Issue 9 item 1: every request ends within the deadline its Config states.

A loopback server misbehaves before or around the body (``FileServer.hostile``), one byte
at a time well inside the read timeout, so only the deadline enforced inside blocking
reads can end the request early: the server then sees the client hang up mid-drip
(``client_gave_up``), which it never does when the client waits the tens of seconds the
drip lasts (a check after the head would still refuse it, but late). No timing is
asserted; the trusted state must be unchanged, and a retry against a well-behaved
server must then work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import verifier
from tests.loopback import HOSTILE, FileServer
from tests.repository import Repository
from tests.verifier.conftest import IMAGE, IMAGE_PATH, Transport, state_of

# Reads wait long (a per-read timeout alone never fires on a drip); the head must be
# over in half a second.
CONFIG = verifier.Config(response_timeout=0.5, read_timeout=30.0, connect_timeout=5.0)
# For the well-behaved requests around an attack (set-up, the retry that must work): a
# loaded machine can miss half a second on them, which is not what is tested.
ROOMY = CONFIG.replace(response_timeout=20.0)


def updater(
    repo: Repository,
    server: FileServer,
    md: Path,
    transport: Transport,
    config: verifier.Config = ROOMY,
    fetcher: verifier.Fetcher | None = None,
) -> verifier.Updater:
    md.mkdir(parents=True, exist_ok=True)
    if not (md / "root.json").exists():
        (md / "root.json").write_bytes(repo.signed_roots[0])
    return verifier.Updater(
        md,
        server.url + "metadata",
        server.url + "targets",
        config=config,
        fetcher=transport() if fetcher is None else fetcher,
    )


def refused_at_the_hostile_request(
    server: FileServer, path: str, attempt: Callable[[], object]
) -> None:
    """Run ``attempt`` until the SlowRetrievalError it must raise is the hostile request's.

    On a loaded machine a well-behaved request made before it (the root probe) or the
    connection for it can miss the 0.5 s head bound too: the hostile request is then never
    sent, so the server cannot see the client hang up. Such an attempt says nothing
    either way (it still must raise SlowRetrievalError and leave the state unchanged):
    tried again, at most 5 times.
    """
    for _ in range(5):
        sent = server.requests.count(path)
        with pytest.raises(verifier.SlowRetrievalError):
            attempt()
        if server.requests.count(path) > sent:
            return
    pytest.fail(f"5 attempts timed out before {path} was requested (machine overloaded?)")


@pytest.mark.parametrize("mode", ["drip-status", "drip-headers", "stall-after-headers"])
def test_metadata_request_ends_at_its_deadline(
    repo: Repository, server: FileServer, tmp_path: Path, mode: str, transport: Transport
) -> None:
    md = tmp_path / "md"
    updater(repo, server, md, transport).refresh()
    repo.publish()  # something new to fetch
    server.hostile["/metadata/timestamp.json"] = mode
    # A stall after the headers is a read that never returns: the read timeout ends it.
    config = CONFIG.replace(read_timeout=0.5) if mode == "stall-after-headers" else CONFIG
    before = state_of(md)
    refused_at_the_hostile_request(
        server,
        "/metadata/timestamp.json",
        lambda: updater(repo, server, md, transport, config).refresh(),
    )
    assert state_of(md) == before
    if mode.startswith("drip"):
        assert server.client_gave_up.wait(10), "the client waited for the whole drip"
    del server.hostile["/metadata/timestamp.json"]
    up = updater(repo, server, md, transport)
    up.refresh()
    assert up.trusted_versions()["timestamp"] == repo.timestamp.signed.version


@pytest.mark.parametrize("mode", ["drip-status", "drip-headers", "stall-after-headers"])
def test_image_request_ends_at_its_deadline(
    repo: Repository, server: FileServer, tmp_path: Path, mode: str, transport: Transport
) -> None:
    config = CONFIG.replace(read_timeout=0.5) if mode == "stall-after-headers" else CONFIG
    md = tmp_path / "md"
    target = updater(repo, server, md, transport).get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    server.hostile[IMAGE_PATH] = mode
    dest = tmp_path / "fw.bin"

    def download() -> None:
        up = updater(repo, server, md, transport, config)
        found = up.get_targetinfo("gw/2.0/fw.bin")
        assert found is not None
        up.download(found, dest)

    refused_at_the_hostile_request(server, IMAGE_PATH, download)
    assert not dest.exists()
    if mode.startswith("drip"):
        assert server.client_gave_up.wait(10), "the client waited for the whole drip"
    del server.hostile[IMAGE_PATH]
    assert updater(repo, server, md, transport).download(target, dest).read_bytes() == IMAGE


def test_image_stops_at_the_trusted_length(
    repo: Repository, server: FileServer, tmp_path: Path, transport: Transport
) -> None:
    """Content-Length says more, the connection stays open: all trusted bytes are there,
    so the download is complete (a wait for the rest would last the 30 s read timeout
    and end in SlowRetrievalError)."""
    up = updater(repo, server, tmp_path / "md", transport)
    target = up.get_targetinfo("gw/2.0/fw.bin")
    assert target is not None
    server.hostile[IMAGE_PATH] = "long-content-length"
    assert up.download(target, tmp_path / "fw.bin").read_bytes() == IMAGE
    up.verify_remote_target(target)  # the signer's check stops at the length too


def test_unsigned_metadata_with_long_content_length_is_bounded(
    repo: Repository, server: FileServer, tmp_path: Path, transport: Transport
) -> None:
    """timestamp.json has no signed length: the rest announced must be waited for, and
    that wait is bounded by the read timeout."""
    md = tmp_path / "md"
    server.hostile["/metadata/timestamp.json"] = "long-content-length"
    up = updater(repo, server, md, transport, CONFIG.replace(read_timeout=0.5))
    with pytest.raises(verifier.SlowRetrievalError):
        up.refresh()
    del server.hostile["/metadata/timestamp.json"]
    updater(repo, server, md, transport).refresh()


def test_hostile_modes_are_all_covered() -> None:
    tested = {"drip-status", "drip-headers", "stall-after-headers", "long-content-length"}
    assert tested == set(HOSTILE)


def test_explicit_fetcher_keeps_the_config_deadline(
    repo: Repository, server: FileServer, tmp_path: Path, transport: Transport
) -> None:
    """A caller who passes a fetcher keeps the Config's timeouts (they used to be lost)."""
    md = tmp_path / "md"
    server.hostile["/metadata/timestamp.json"] = "drip-headers"
    fetcher = transport(user_agent="device/1.0")
    refused_at_the_hostile_request(
        server,
        "/metadata/timestamp.json",
        lambda: updater(repo, server, md, transport, CONFIG, fetcher).refresh(),
    )
    assert server.client_gave_up.wait(10)


def test_fetcher_arguments_only_tighten_the_config(
    repo: Repository, server: FileServer, tmp_path: Path, transport: Transport
) -> None:
    """HttpFetcher(read_timeout=...) cannot loosen a stricter Config, nor the reverse."""
    md = tmp_path / "md"
    server.hostile["/metadata/timestamp.json"] = "stall-after-headers"
    loose = transport(read_timeout=60.0)
    with pytest.raises(verifier.SlowRetrievalError):
        updater(repo, server, md, transport, CONFIG.replace(read_timeout=0.3), loose).refresh()
    strict = transport(read_timeout=0.3)
    with pytest.raises(verifier.SlowRetrievalError):
        updater(repo, server, md, transport, CONFIG, strict).refresh()


class _SlowHead(verifier.Fetcher):
    """A custom transport that ignores the deadline it is given while it opens."""

    def __init__(self, inner: verifier.Fetcher, pause: float) -> None:
        self.inner = inner
        self.pause = pause

    def _fetch(self, url: str, offset: int, deadline: verifier.Deadline) -> Iterator[bytes]:
        time.sleep(self.pause)
        return self.inner._fetch(url, offset, deadline)


class _Trickle(verifier.Fetcher):
    """A custom transport that yields one byte at a time, slowly."""

    def __init__(self, inner: verifier.Fetcher, pause: float) -> None:
        self.inner = inner
        self.pause = pause

    def _fetch(self, url: str, offset: int, deadline: verifier.Deadline) -> Iterator[bytes]:
        return self._bytes(b"".join(self.inner._fetch(url, offset, deadline)))

    def _bytes(self, data: bytes) -> Iterator[bytes]:
        for i in range(len(data)):
            time.sleep(self.pause)
            yield data[i : i + 1]


def test_custom_fetcher_head_is_held_to_the_deadline(tmp_path: Path) -> None:
    repo = Repository()
    repo.publish()
    md = tmp_path / "md"
    md.mkdir()
    (md / "root.json").write_bytes(repo.signed_roots[0])
    slow = _SlowHead(repo.fetcher, pause=0.3)
    config = verifier.Config(response_timeout=0.1)
    with pytest.raises(verifier.SlowRetrievalError, match="no response headers"):
        verifier.Updater(md, "https://repo.test/metadata/", fetcher=slow, config=config).refresh()
    assert state_of(md) == {
        "root.json": repo.signed_roots[0],
        "firmtuf/layout.json": b'{"layout": 3}',
    }


def test_custom_fetcher_body_is_held_to_the_minimum_speed(tmp_path: Path) -> None:
    repo = Repository()
    repo.publish()
    md = tmp_path / "md"
    md.mkdir()
    (md / "root.json").write_bytes(repo.signed_roots[0])
    trickle = _Trickle(repo.fetcher, pause=0.01)  # ~100 B/s
    config = verifier.Config(min_speed=10_000, slow_grace_period=0.2)
    with pytest.raises(verifier.SlowRetrievalError, match="below"):
        verifier.Updater(
            md, "https://repo.test/metadata/", fetcher=trickle, config=config
        ).refresh()


def test_request_deadline_is_stated_by_the_config() -> None:
    config = verifier.Config(response_timeout=20, slow_grace_period=5, min_speed=1024)
    assert config.request_deadline(1024 * 100) == 20 + 5 + 100
    assert verifier.Config(min_speed=0).request_deadline(10**9) == float("inf")
    deadline = verifier.Deadline.for_request(config, 1024)
    assert deadline.head_end - deadline.start == 20
    assert deadline.end - deadline.start == 26
    assert 0 < deadline.read_timeout() <= config.read_timeout


def test_deadline_past_its_phase_refuses_to_wait() -> None:
    deadline = verifier.Deadline(
        response_timeout=0.0, total=0.0, connect_timeout=1.0, read_timeout=1.0
    )
    with pytest.raises(verifier.SlowRetrievalError):
        deadline.read_timeout()
    with pytest.raises(verifier.SlowRetrievalError):
        deadline.head_done()
