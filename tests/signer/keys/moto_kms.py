"""A moto server with KMS for the AWS KMS tests, and the one narrow correction they need.

moto 5.2.5 (the newest release, checked 2026-12) ignores ``MessageType`` in KMS ``Sign``:
given ``MessageType="DIGEST"`` (what securesystemslib's AWSSigner sends: the SHA-256 of
the payload, as AWS documents for large messages) it hashes the digest once more and
signs ``SHA-256(digest)``, so no verifier accepts the signature (see
moto/kms/responses.py ``sign`` and moto/kms/utils.py ``ECDSAPrivateKey.sign``).
It also signs with a disabled key, where AWS answers ``DisabledException``.

:func:`correct_moto_kms_sign` replaces moto's ``KmsResponse.sign`` for the test server:
moto's own request checks run first (key id, key usage, signing algorithm), then a
DIGEST message is signed as AWS does (the digest is used as is: ``Prehashed``), and a
disabled key is refused as AWS does. RAW messages go to moto untouched.
``test_moto_still_double_hashes_digests`` fails the day moto fixes its DIGEST handling,
so the correction can be dropped then.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "ECDSA_SHA_256": hashes.SHA256,
    "ECDSA_SHA_384": hashes.SHA384,
    "ECDSA_SHA_512": hashes.SHA512,
    "RSASSA_PSS_SHA_256": hashes.SHA256,
    "RSASSA_PSS_SHA_384": hashes.SHA384,
    "RSASSA_PSS_SHA_512": hashes.SHA512,
    "RSASSA_PKCS1_V1_5_SHA_256": hashes.SHA256,
    "RSASSA_PKCS1_V1_5_SHA_384": hashes.SHA384,
    "RSASSA_PKCS1_V1_5_SHA_512": hashes.SHA512,
}


def _sign_digest(private_key: Any, digest: bytes, algorithm: str) -> bytes:
    chosen = Prehashed(_HASHES[algorithm]())
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(digest, ec.ECDSA(chosen))
    if isinstance(private_key, rsa.RSAPrivateKey):
        hash_algorithm = _HASHES[algorithm]()
        pad: padding.AsymmetricPadding = (
            padding.PSS(padding.MGF1(hash_algorithm), padding.PSS.DIGEST_LENGTH)
            if algorithm.startswith("RSASSA_PSS")
            else padding.PKCS1v15()
        )
        return private_key.sign(digest, pad, chosen)
    raise AssertionError(f"no DIGEST signing for {type(private_key).__name__}")


@contextmanager
def correct_moto_kms_sign() -> Iterator[None]:
    from moto.core.exceptions import JsonRESTError
    from moto.kms.responses import KmsResponse

    original = KmsResponse.sign

    def sign(self: Any) -> str:
        key = self.kms_backend.describe_key(self._get_param("KeyId"))
        if key.key_state == "Disabled":
            raise JsonRESTError("DisabledException", f"{key.arn} is disabled.")
        response = original(self)  # moto's checks (and its RAW signature)
        if self._get_param("MessageType") != "DIGEST":
            return str(response)
        algorithm = self._get_param("SigningAlgorithm")
        signature = _sign_digest(key.private_key.private_key, self._get_param("Message"), algorithm)
        data = json.loads(response)
        data["Signature"] = base64.b64encode(signature).decode()
        return json.dumps(data)

    KmsResponse.sign = sign  # type: ignore[method-assign]
    try:
        yield
    finally:
        KmsResponse.sign = original  # type: ignore[method-assign]


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server (every service, KMS and IAM included) on 127.0.0.1; its URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def environment(url: str) -> dict[str, str]:
    return {**AWS_ENV, "AWS_ENDPOINT_URL_KMS": url, "AWS_ENDPOINT_URL_IAM": url}
