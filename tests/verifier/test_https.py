"""HttpFetcher over real TLS on 127.0.0.1: certificates are verified against the given CA
bundle (a private update PKI), an unknown CA is refused, the environment is not read."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import verifier
from tests.loopback import QuietHandler, serve

BODY = b"signed metadata bytes"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pki(directory: Path, label: str) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) PEM files for 127.0.0.1."""
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
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
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

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, CA bundle) of an HTTPS server on 127.0.0.1 with a private CA."""
    ca, cert, key = _pki(tmp_path, "update")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with serve(_Handler, tls=context) as url:
        yield url, ca


def test_private_ca_bundle_is_trusted(https: tuple[str, Path]) -> None:
    url, ca = https
    fetcher = verifier.HttpFetcher(ca_bundle=ca)
    assert fetcher.fetch_bytes(url + "metadata/timestamp.json", 100) == BODY


def test_unknown_ca_is_refused(https: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = https
    (tmp_path / "other").mkdir()
    other_ca, _, _ = _pki(tmp_path / "other", "other")
    for fetcher in (verifier.HttpFetcher(), verifier.HttpFetcher(ca_bundle=other_ca)):
        with pytest.raises(verifier.DownloadError, match="CERTIFICATE_VERIFY_FAILED"):
            fetcher.fetch_bytes(url + "metadata/timestamp.json", 100)


def test_ca_environment_is_not_read(
    https: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, ca = https
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(ca))
    with pytest.raises(verifier.DownloadError, match="CERTIFICATE_VERIFY_FAILED"):
        verifier.HttpFetcher().fetch_bytes(url + "metadata/timestamp.json", 100)
