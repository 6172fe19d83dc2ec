"""The request deadline inside ``requests``/``urllib3``: every socket read is bounded.

A socket timeout bounds one ``recv``, so a server sending its status line or headers
one byte per second never trips it, and ``http.client`` parses the head before
``requests`` returns. Here the response object ``http.client`` builds reads the socket
through :class:`_DeadlineReader`, which sets the socket's timeout before each read to
what is left of the request's :class:`~verifier.Deadline` (never more than the read
timeout). The head (also a proxy's ``CONNECT`` answer) and the body both go through it.

Installed per session by :func:`mount_deadline_adapter`: connection pools whose
connections build those responses. Nothing global is patched.
"""

from __future__ import annotations

import http.client
import io
import threading

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from verifier._fetcher import Deadline

current = threading.local()
"""``current.deadline``: the Deadline of the request this thread is making (or None);
``current.reused``: whether its connection had served a request before."""

_BUFFER = 64 * 1024


class _DeadlineReader(io.RawIOBase):
    """Raw reads of a socket's file, each bounded by what is left of a Deadline.

    Reads through the ``SocketIO`` that ``sock.makefile`` made: it holds a reference
    that keeps the socket open until the response is done, as ``http.client`` expects
    when the connection closes itself early ("Connection: close").
    """

    def __init__(self, raw: Any, sock: Any, deadline: Deadline) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            timeout = self._deadline.read_timeout()
        except Exception as e:
            # urllib3 and requests turn a socket timeout into their read-timeout errors.
            raise TimeoutError(str(e)) from e
        self._sock.settimeout(timeout)
        return int(self._raw.readinto(buffer))

    def close(self) -> None:
        # Drops the reference only: the socket belongs to the connection (pooled).
        self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        deadline = getattr(current, "deadline", None)
        if deadline is not None:
            raw = self.fp.detach()
            self.fp = io.BufferedReader(_DeadlineReader(raw, sock, deadline), _BUFFER)


class _Counting:
    """Records in ``current.reused`` whether a request goes on a connection that already
    served one (only then is "closed before any answer" a stale kept-alive connection)."""

    _served = 0

    def request(self, *args: Any, **kwargs: Any) -> None:
        current.reused = self._served > 0
        self._served += 1
        super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_Counting, HTTPConnection):
    response_class = _DeadlineResponse


class _HTTPSConnection(_Counting, HTTPSConnection):
    response_class = _DeadlineResponse


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _DeadlineAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


def mount_deadline_adapter(session: Any, max_connections: int) -> None:
    """Make every request of ``session`` read its sockets under the current deadline,
    keeping connections to at most ``max_connections`` origins."""
    adapter = _DeadlineAdapter(pool_connections=max_connections)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
