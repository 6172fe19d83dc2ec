"""``http.client`` connections whose every socket wait is bounded by a request Deadline.

A socket timeout bounds one ``recv``, so a server sending its status line or headers one
byte per second never trips it, and ``http.client`` parses the head before it returns.
Here each response (a proxy's ``CONNECT`` answer included) reads the socket through
:class:`_DeadlineReader`, which sets the socket's timeout before each read to what is
left of the request's :class:`~verifier.Deadline` (never more than the read timeout).
The TCP connect and the TLS handshake each wait at most ``deadline.connect_timeout()``
(CPython bounds a whole handshake by the socket's timeout).

Imported on a fetcher's first request: ``http.client`` (and ``ssl``) cost a device
import time that a poll from a local mirror never needs.
"""

from __future__ import annotations

import http.client
import io
import select
import ssl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from verifier._fetcher import Deadline

_BUFFER = 64 * 1024
# What a kept-alive connection the server closed meanwhile fails with before any byte of
# an answer (the request is then sent again, once, on a new connection).
STALE = (
    http.client.RemoteDisconnected,
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
)


class _DeadlineReader(io.RawIOBase):
    """Raw reads of a socket's file, each waiting at most what is left of a deadline.

    Reads through the ``SocketIO`` that ``sock.makefile`` made: it holds a reference
    that keeps the socket open until the response is done, as ``http.client`` expects.
    """

    def __init__(self, raw: Any, sock: Any, deadline: Deadline) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(self._deadline.read_timeout())
        return int(self._raw.readinto(buffer))

    def close(self) -> None:
        # Drops this reference to the socket only: the socket belongs to the connection.
        self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: Any, *args: Any, deadline: Deadline, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        raw = self.fp.detach()
        self.fp = io.BufferedReader(_DeadlineReader(raw, sock, deadline), _BUFFER)


class Connection(http.client.HTTPConnection):
    """A plain connection; ``deadline`` is the request at hand's (set before each)."""

    deadline: Deadline
    # A body was handed out and not read to its end: the connection cannot serve another.
    busy = False

    def response_class(self, sock: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        # http.client calls self.response_class(sock, method=...) for every answer,
        # the CONNECT answer of a proxy included.
        return _DeadlineResponse(sock, *args, deadline=self.deadline, **kwargs)


class SecureConnection(http.client.HTTPSConnection):
    """TLS (possibly through a proxy's ``CONNECT`` tunnel); verified by ``context``."""

    deadline: Deadline
    busy = False
    response_class = Connection.response_class  # type: ignore[assignment]

    def connect(self) -> None:
        # TCP (and the CONNECT exchange), then the handshake under a fresh bound: the
        # head phase's end still caps both.
        http.client.HTTPConnection.connect(self)
        self.sock.settimeout(self.deadline.connect_timeout())
        host = self._tunnel_host or self.host  # type: ignore[attr-defined]
        self.sock = self._context.wrap_socket(self.sock, server_hostname=host)  # type: ignore[attr-defined]


def is_dropped(sock: Any) -> bool:
    """Whether an idle kept-alive socket has anything to read: the server closed it, or
    sent bytes nobody asked for (after a body longer than its Content-Length). Either
    way it cannot carry another request."""
    if sock.fileno() < 0:
        return True
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    try:
        poller = select.poll()
    except AttributeError:  # no poll() (Windows)
        return bool(select.select([sock], [], [], 0)[0])
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Certificates and host names verified, TLS 1.2 or newer; trusted CAs: only
    ``ca_bundle`` when given, else the system's store (OpenSSL's default paths)."""
    return ssl.create_default_context(cafile=ca_bundle)
