"""Both HTTP transports over real TLS on 127.0.0.1 with a CA made at test time: the given
CA bundle (a private update PKI) is trusted, an unknown CA and a certificate for another
host are refused, the environment is not read, a CONNECT proxy tunnels (or refuses, and
that is not the origin's answer), HTTPS never redirects to HTTP."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import verifier
from tests.loopback import LoopbackServer, QuietHandler, Reply, Request, ScriptedServer
from tests.verifier.conftest import Transport

BODY = b"signed metadata bytes"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pki(directory: Path, label: str, host: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) PEM files; the server
    certificate names ``host`` (an IP address or a DNS name) only."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{label} CA"))
        .issuer_name(_name(f"{label} CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(host))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / f"{label}-ca.pem", directory / "cert.pem", directory / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"
    connections: ClassVar[set[int]] = set()
    redirect_to: ClassVar[str | None] = None

    def do_GET(self) -> None:
        type(self).connections.add(id(self.connection))
        if self.path == "/redirect" and self.redirect_to is not None:
            self.send_response(302)
            self.send_header("Location", self.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


def _serve_tls(cert: Path, key: Path) -> LoopbackServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return LoopbackServer(_Handler, tls=context)


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, CA bundle) of an HTTPS server on 127.0.0.1 with a private CA."""
    _Handler.connections = set()
    _Handler.redirect_to = None
    ca, cert, key = _pki(tmp_path / "update", "update")
    with _serve_tls(cert, key) as server:
        yield server.url, ca


def test_private_ca_bundle_is_trusted_and_kept_alive(
    https: tuple[str, Path], transport: Transport
) -> None:
    url, ca = https
    fetcher = transport(ca_bundle=ca)
    for name in ("timestamp.json", "1.root.json", "snapshot.json"):
        assert fetcher.fetch_bytes(url + "metadata/" + name, 100) == BODY
    assert len(_Handler.connections) == 1


def test_unknown_ca_is_refused(
    https: tuple[str, Path], tmp_path: Path, transport: Transport
) -> None:
    url, _ = https
    other_ca, _, _ = _pki(tmp_path / "other", "other")
    for fetcher in (transport(), transport(ca_bundle=other_ca)):
        with pytest.raises(verifier.DownloadError, match="CERTIFICATE_VERIFY_FAILED"):
            fetcher.fetch_bytes(url + "metadata/timestamp.json", 100)


@pytest.mark.parametrize("host", ["127.0.0.2", "update.example"])
def test_certificate_for_another_host_is_refused(
    tmp_path: Path, transport: Transport, host: str
) -> None:
    """Signed by the trusted CA, but for another name: refused (host name checked)."""
    ca, cert, key = _pki(tmp_path / "wrong", "wrong", host=host)
    with _serve_tls(cert, key) as server:
        url = server.url + "metadata/timestamp.json"
        with pytest.raises(verifier.DownloadError, match=r"mismatch|match"):
            transport(ca_bundle=ca).fetch_bytes(url, 100)


def test_ca_environment_is_not_read(
    https: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, transport: Transport
) -> None:
    url, ca = https
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(ca))
    with pytest.raises(verifier.DownloadError, match="CERTIFICATE_VERIFY_FAILED"):
        transport().fetch_bytes(url + "metadata/timestamp.json", 100)


def test_https_never_redirects_to_http(https: tuple[str, Path], transport: Transport) -> None:
    url, ca = https
    _Handler.redirect_to = "http://127.0.0.1:9/metadata/timestamp.json"
    fetcher = transport(ca_bundle=ca, max_redirects=5, cross_origin_redirects=True)
    with pytest.raises(verifier.DownloadError, match="from HTTPS") as info:
        fetcher.fetch_bytes(url + "redirect", 100)
    assert not isinstance(info.value, verifier.DownloadHTTPError)


def _proxy(answer: str | None, seen: list[Request]) -> ScriptedServer:
    """A CONNECT proxy: tunnels when ``answer`` is None, else answers with that status."""

    def handle(request: Request) -> Reply:
        seen.append(request)
        if answer is not None:
            body = b"no"
            head = f"HTTP/1.1 {answer}\r\nContent-Length: {len(body)}\r\n\r\n"
            return Reply(head.encode() + body, then="close")
        host, _, port = request.target.rpartition(":")
        return Reply(
            b"HTTP/1.1 200 Connection established\r\n\r\n",
            then="tunnel",
            tunnel_to=(host, int(port)),
        )

    return ScriptedServer(handle)


def test_https_through_a_connect_proxy(https: tuple[str, Path], transport: Transport) -> None:
    url, ca = https
    seen: list[Request] = []
    with _proxy(None, seen) as proxy:
        proxy_url = f"http://dev%40acme:s3cret@127.0.0.1:{proxy.port}"
        fetcher = transport(ca_bundle=ca, proxy_url=proxy_url)
        assert fetcher.fetch_bytes(url + "metadata/timestamp.json", 100) == BODY
        assert fetcher.fetch_bytes(url + "metadata/1.root.json", 100) == BODY
    port = url.rstrip("/").rsplit(":", 1)[1]
    assert [(r.method, r.target) for r in seen] == [("CONNECT", f"127.0.0.1:{port}")]
    credentials = base64.b64encode(b"dev@acme:s3cret").decode()
    assert seen[0].headers["proxy-authorization"] == f"Basic {credentials}"


@pytest.mark.parametrize("answer", ["403 Forbidden", "404 Not Found", "407 Proxy Auth"])
def test_proxy_refusing_connect_is_not_the_origins_answer(
    https: tuple[str, Path], transport: Transport, answer: str
) -> None:
    """A proxy's 404 to CONNECT must not read as "no such file" (the Updater takes a
    404 for the next root as "no new root")."""
    url, ca = https
    seen: list[Request] = []
    with _proxy(answer, seen) as proxy:
        fetcher = transport(ca_bundle=ca, proxy_url=f"http://127.0.0.1:{proxy.port}")
        with pytest.raises(verifier.DownloadError, match=answer.split()[0]) as info:
            fetcher.fetch_bytes(url + "metadata/2.root.json", 100)
    assert not isinstance(info.value, verifier.DownloadHTTPError)
    assert [r.method for r in seen] == ["CONNECT"]
    assert _Handler.connections == set()
