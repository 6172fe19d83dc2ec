"""The default transport's name lookup is bounded by the request deadline:
``getaddrinfo`` has no timeout of its own, so a dead or hostile resolver would otherwise
hold a device past every deadline it was given."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import verifier
from tests.loopback import serve_dict

HUNG = "hung-resolver.invalid"


@pytest.fixture
def hung_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """``getaddrinfo`` of HUNG blocks until released (or 30 s), then fails; every other
    name resolves as usual. Yields the release event (set on teardown)."""
    release = threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == HUNG:
            release.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "resolver gave no answer")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield release
    release.set()


def _deadline(seconds: float) -> verifier.Deadline:
    return verifier.Deadline(
        response_timeout=seconds, total=seconds, connect_timeout=seconds, read_timeout=seconds
    )


def test_hung_name_lookup_ends_at_the_request_deadline(hung_resolver: threading.Event) -> None:
    fetcher = verifier.HttpFetcher()
    with pytest.raises(verifier.SlowRetrievalError, match="name resolution"):
        fetcher.fetch(f"http://{HUNG}/metadata/timestamp.json", 1000, deadline=_deadline(0.3))
    # Given up on while the resolver still hung (not its late failure surfacing).
    assert not hung_resolver.is_set()
    fetcher.close()


def test_host_names_still_resolve_and_connect() -> None:
    # "localhost" goes through the bounded lookup (may answer ::1 first, refused: the
    # next address is tried, as socket.create_connection does).
    with serve_dict({"x": b"ok"}) as url:
        url = url.replace("127.0.0.1", "localhost")
        fetcher = verifier.HttpFetcher()
        assert b"".join(fetcher.fetch(url + "x", 10, deadline=_deadline(10))) == b"ok"
        fetcher.close()
