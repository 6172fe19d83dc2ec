"""Fixtures of the verifier tests: an in-memory repository, one served over HTTP, and a
device directory."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import verifier
from tests.loopback import FileServer
from tests.repository import Repository


@pytest.fixture
def sim() -> Repository:
    # Canonical layout, as firmtuf's signer writes metadata: the device's usual path
    # (signatures checked over the raw bytes before parsing). Tests that build their own
    # Repository() get python-tuf's pretty layout (the re-encoding path).
    s = Repository(layout="canonical")
    s.add_target(
        "gw/1.0.0/fw.bin",
        b"firmware one",
        custom={"firmtuf": {"hardware_ids": ["gw"], "version": "1.0.0", "security_counter": 1}},
    )
    s.publish()
    return s


IMAGE = bytes(range(256)) * 2000  # 512000 bytes: many reads of every transport
IMAGE_PATH = f"/targets/gw/2.0/{hashlib.sha256(IMAGE).hexdigest()}.fw.bin"  # as served


@pytest.fixture
def repo() -> Repository:
    """The repository ``server`` serves: one image, ``IMAGE`` as gw/2.0/fw.bin, in
    python-tuf's layout. (Modules with a ``repo`` of their own override it.)"""
    sim = Repository()
    sim.add_target("gw/2.0/fw.bin", IMAGE)
    sim.publish()
    return sim


@pytest.fixture
def server(repo: Repository) -> Iterator[FileServer]:
    """``repo`` on a real HTTP server on 127.0.0.1 (``server.url``); a test sets how it
    misbehaves (``hostile``, ``slow_paths``, ``truncate``)."""
    with FileServer(repo.file) as s:
        yield s


@pytest.fixture
def device_dir(tmp_path: Path) -> Path:
    return tmp_path / "device"


LOCK_FILE = "firmtuf/lock"


def state_of(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` with its bytes (to prove nothing changed).

    The trust-store lock file is not state (it is created on first use and names its
    last holder's pid), so it is left out.
    """
    return {
        name: p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and (name := str(p.relative_to(directory))) != LOCK_FILE
    }


TRANSPORTS = {"http.client": verifier.HttpFetcher, "requests": verifier.RequestsFetcher}


Transport = type[verifier.HttpFetcher | verifier.RequestsFetcher]


@pytest.fixture(params=sorted(TRANSPORTS))
def transport(request: pytest.FixtureRequest) -> Transport:
    """Each HTTP transport in turn (the default one and the requests extra): a fetcher
    test that takes this fixture runs against both."""
    return TRANSPORTS[request.param]
