"""AWS KMS keys (``awskms:KEY_ID``): securesystemslib's ``AWSSigner`` with bounded waits.

Signing sends the SHA-256 (or -384/-512) digest of the metadata to KMS ``Sign`` with
``MessageType=DIGEST``; the public key is read with ``GetPublicKey`` at ``key add`` (so
``--public-key`` is optional for ``awskms:`` URIs). Endpoint, region and credentials come
from the usual AWS configuration (``AWS_ENDPOINT_URL_KMS`` / ``AWS_ENDPOINT_URL``,
``AWS_DEFAULT_REGION``, profiles, instance roles).

The client is built with a 10 s connect timeout and 3 attempts: boto's default (60 s
per attempt, more attempts) would hold a release for minutes before "endpoint down".
Every KMS failure (disabled key, access denied, unknown key, endpoint down) becomes a
one-line :class:`KeyProblemError` (exit 5).
"""

from __future__ import annotations

import re
from typing import Any

from securesystemslib.exceptions import UnsupportedLibraryError
from securesystemslib.signer import (
    AWSSigner,
    Key,
    SecretsHandler,
    Signature,
    SSlibKey,
)

from signer._errors import InvalidInputError, KeyNotAtHandError, KeyProblemError

SCHEME = "awskms"


def _client() -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as e:
        # Not at hand (a Keyring skips the key), as for any backend library not installed.
        raise UnsupportedLibraryError(
            "AWS KMS keys need boto3: pip install 'firmtuf[s3]' (or boto3)"
        ) from e
    config = Config(
        connect_timeout=10, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}
    )
    # A session of its own: credentials are read from the environment now, not cached
    # from whichever AWS call the process made first.
    return boto3.session.Session().client("kms", config=config)


def kms_failure(what: str, error: BaseException) -> KeyProblemError:
    """One line for a KMS error: its AWS code and message, or the transport failure.

    A key KMS refuses or cannot be reached for is not at hand: skipped with a note when
    the role's threshold is met without it, exit 5 otherwise.
    """
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        info = response.get("Error", {})
        code = str(info.get("Code", type(error).__name__))
        message = str(info.get("Message", ""))
        # Some endpoints (proxies, emulators) answer a JSON API with an XML error body.
        xml_code = re.search(r"<Code>([^<]+)</Code>", message)
        xml_message = re.search(r"<Message>([^<]+)</Message>", message)
        if xml_code:
            code = xml_code[1]
        if xml_message or message.lstrip().startswith("<"):
            message = xml_message[1] if xml_message else ""
        detail = f" ({' '.join(message.split())[:300]})" if message else ""
        return KeyNotAtHandError(f"AWS KMS refused {what}: {code}{detail}")
    return KeyNotAtHandError(f"AWS KMS unreachable for {what}: {error}")


class BoundedAWSSigner(AWSSigner):
    """``AWSSigner`` with a bounded client and one-line errors."""

    def __init__(self, aws_key_id: str, public_key: SSlibKey) -> None:
        from botocore.exceptions import BotoCoreError

        try:
            super().__init__(aws_key_id, public_key)
            self.client = _client()
        except BotoCoreError as e:  # e.g. no region configured
            raise kms_failure(f"awskms:{aws_key_id}", e) from None

    @classmethod
    def from_priv_key_uri(
        cls, priv_key_uri: str, public_key: Key, secrets_handler: SecretsHandler | None = None
    ) -> BoundedAWSSigner:
        del secrets_handler  # KMS takes credentials from the AWS configuration
        if not isinstance(public_key, SSlibKey):
            raise KeyProblemError(f"key {public_key.keyid[:8]} is not a KMS key")
        key_id = priv_key_uri.partition(":")[2]
        if not key_id:
            raise InvalidInputError(f"{priv_key_uri!r}: no KMS key id after awskms:")
        try:
            return cls(key_id, public_key)
        except KeyError:
            raise KeyProblemError(
                f"{priv_key_uri}: AWS KMS cannot sign with scheme {public_key.scheme}"
            ) from None

    def sign(self, payload: bytes) -> Signature:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return super().sign(payload)
        except (ClientError, BotoCoreError) as e:
            raise kms_failure(f"awskms:{self.aws_key_id}", e) from None


def _default_scheme(supported_by_key: list[str]) -> str | None:
    """The TUF scheme of the first AWS algorithm (in securesystemslib's order of
    preference, ``AWSSigner.aws_algos``) that the KMS key supports."""
    for scheme, algorithm in AWSSigner.aws_algos.items():
        if algorithm in supported_by_key:
            return scheme
    return None


def import_kms_key(uri: str) -> tuple[str, SSlibKey]:
    """The public key of ``awskms:KEY_ID`` read from KMS (``GetPublicKey``).

    Raises:
        KeyProblemError: KMS refused or could not be reached, or the key cannot sign.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    key_id = uri.partition(":")[2]
    if not key_id:
        raise InvalidInputError(f"{uri!r}: no KMS key id after awskms:")
    try:
        client = _client()
        response = client.get_public_key(KeyId=key_id)
    except UnsupportedLibraryError as e:
        raise KeyProblemError(f"{e}; or give --public-key FILE.pem") from None
    except (ClientError, BotoCoreError) as e:
        failure = kms_failure(uri, e)
        raise KeyProblemError(
            f"{failure} (reading the public key; or give --public-key FILE.pem)"
        ) from None
    if response.get("KeyUsage") != "SIGN_VERIFY":
        raise InvalidInputError(
            f"{uri}: the KMS key is not a signing key ({response.get('KeyUsage')})"
        )
    scheme = _default_scheme(response.get("SigningAlgorithms", []))
    if scheme is None:
        raise InvalidInputError(
            f"{uri}: no signing algorithm of this KMS key is usable for TUF "
            f"({', '.join(response.get('SigningAlgorithms', []))})"
        )
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    public = SSlibKey.from_crypto(load_der_public_key(response["PublicKey"]), scheme=scheme)
    return f"{SCHEME}:{key_id}", public
