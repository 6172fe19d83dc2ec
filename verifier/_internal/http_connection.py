"""``http.client`` connections whose every socket wait is bounded by a request Deadline.

A socket timeout bounds one ``recv``, so a server sending its status line or headers one
byte per second never trips it, and ``http.client`` parses the head before it returns.
Here each response (a proxy's ``CONNECT`` answer included) reads the socket through
:class:`_DeadlineReader`, which sets the socket's timeout before each read to what is
left of the request's :class:`~verifier.Deadline` (never more than the read timeout).
The name lookup, the TCP connect and the TLS handshake each wait at most
``deadline.connect_timeout()`` (CPython bounds a whole handshake by the socket's timeout;
``getaddrinfo`` has no timeout at all, so a host name is resolved in a daemon thread that
is given up on at the bound: a dead or hostile resolver cannot hold a device past its
deadline).

Imported on a fetcher's first request: ``http.client`` (and ``ssl``) cost a device
import time that a poll from a local mirror never needs.
"""

from __future__ import annotations

import http.client
import io
import select
import socket
import ssl
import threading

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


def _is_address(host: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except (OSError, ValueError):
            continue
        return True
    return False


def resolve(host: str, port: int, deadline: Deadline) -> list[Any]:
    """``getaddrinfo`` for a TCP connection, waiting at most ``deadline.connect_timeout()``.

    Raises:
        TimeoutError: the resolver did not answer in time (it is left to finish on its
            own in a daemon thread; its answer is dropped).
        OSError: the name does not resolve.
    """
    if _is_address(host):  # no lookup, no thread
        return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    wait = deadline.connect_timeout()
    answer: list[Any] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            answer.append(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM))
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            answer.append(e)
        done.set()

    threading.Thread(target=lookup, name="firmtuf-resolve", daemon=True).start()
    if not done.wait(wait):
        raise TimeoutError(f"name resolution of {host} not done within {wait:.1f} s")
    if isinstance(answer[0], BaseException):
        raise answer[0]
    return list(answer[0])


def _bounded_connect(deadline: Deadline) -> Any:
    """A ``socket.create_connection`` whose name lookup is bounded by ``deadline``."""

    def create_connection(address: tuple[str, int], timeout: Any, source: Any = None) -> Any:
        host, port = address
        error: OSError | None = None
        for family, kind, proto, _, addr in resolve(host, port, deadline):
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(deadline.connect_timeout())
                if source:
                    sock.bind(source)
                sock.connect(addr)
            except OSError as e:
                sock.close()
                error = e
                continue
            return sock
        raise error or OSError(f"{host} resolves to no address")

    return create_connection


class Connection(http.client.HTTPConnection):
    """A plain connection; ``deadline`` is the request at hand's (set before each)."""

    deadline: Deadline
    # A body was handed out and not read to its end: the connection cannot serve another.
    busy = False

    def connect(self) -> None:
        self._create_connection = _bounded_connect(self.deadline)
        super().connect()

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
        self._create_connection = _bounded_connect(self.deadline)
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
