"""Signer backends beyond key files: CI keys from environment variables, hardware tokens.

``envvar:NAME`` (registered in securesystemslib's ``SIGNER_FOR_URI_SCHEME`` here): the
unencrypted PKCS#8 PEM private key is the value of environment variable ``NAME``, which
is how CI systems hand out secrets. ``hsm:KEYID?label=TOKEN`` is securesystemslib's
PKCS#11 ``HSMSigner`` (python-pkcs11; the library path comes from ``PYKCS11LIB``); the
PIN is asked from the secrets handler under the name ``"pin"``. Cloud KMS URIs
(``awskms:``, ``gcpkms:``, ``azurekms:``, ``hv:`` for Vault) are securesystemslib's own.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any
from urllib import parse

from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)
from securesystemslib.exceptions import KeyMismatchError
from securesystemslib.signer import (
    SIGNER_FOR_URI_SCHEME,
    CryptoSigner,
    Key,
    SecretsHandler,
    Signature,
    Signer,
    SSlibKey,
)
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata

from signer._errors import InvalidInputError, KeyProblemError, WrongPasswordError

PIN_SECRET = "pin"  # noqa: S105 - the name of a secret, not one
"""Name under which an HSM PIN is asked from a ``SecretsHandler`` (securesystemslib's)."""

PKCS11_LIBRARY_ENV = "PYKCS11LIB"
"""Environment variable naming the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so)."""

KMS_SCHEMES = ("awskms", "gcpkms", "azurekms", "hv")
"""Cloud KMS schemes: stored and shown; their public key must be given as a PEM file."""


class KeyNotAtHandError(KeyProblemError):
    """The private key of a stored signer URI is not reachable here (e.g. variable unset).

    A ``Keyring`` reports such a key as not at hand instead of failing the command.
    """


class EnvVarSigner(Signer):
    """Loader for ``envvar:NAME`` URIs: a PKCS#8 PEM private key in variable ``NAME``."""

    SCHEME = "envvar"

    def __init__(self) -> None:  # pragma: no cover - never instantiated
        raise TypeError("use Signer.from_priv_key_uri()")

    @classmethod
    def from_priv_key_uri(
        cls,
        priv_key_uri: str,
        public_key: Key,
        secrets_handler: SecretsHandler | None = None,
    ) -> Signer:
        del secrets_handler  # the variable holds an unencrypted key: CI masks it
        private_key = envvar_private_key(priv_key_uri)
        if not isinstance(public_key, SSlibKey):
            raise KeyProblemError(f"key {public_key.keyid[:8]} is not an envvar key")
        try:
            return CryptoSigner(private_key, public_key)
        except (KeyMismatchError, ValueError):
            name = envvar_name(priv_key_uri)
            raise KeyProblemError(
                f"environment variable {name} holds another key than {public_key.keyid[:8]}"
            ) from None


SIGNER_FOR_URI_SCHEME[EnvVarSigner.SCHEME] = EnvVarSigner


def envvar_name(uri: str) -> str:
    """The variable name of an ``envvar:NAME`` URI.

    Raises:
        InvalidInputError: the URI has no valid variable name.
    """
    scheme, _, name = uri.partition(":")
    if scheme != EnvVarSigner.SCHEME or not name or not name.replace("_", "a").isalnum():
        raise InvalidInputError(f"{uri!r} is not an envvar:NAME signer URI")
    return name


def envvar_private_key(uri: str) -> PrivateKeyTypes:
    """Load the private key named by ``envvar:NAME``.

    Raises:
        KeyNotAtHandError: the variable is unset or empty.
        KeyProblemError: it does not hold an unencrypted PEM private key.
    """
    name = envvar_name(uri)
    value = os.environ.get(name)
    if not value:
        raise KeyNotAtHandError(f"environment variable {name} is not set")
    try:
        return load_pem_private_key(value.encode(), None)
    except (ValueError, TypeError):
        raise KeyProblemError(
            f"environment variable {name} does not hold an unencrypted PEM private key"
        ) from None


def fingerprint(key: Key) -> str:
    """SHA-256 of the key's DER SubjectPublicKeyInfo, in groups of 4 hex digits.

    Anyone can recompute it from a PEM public key with
    ``openssl pkey -pubin -in key.pem -outform DER | sha256sum``.
    """
    if not isinstance(key, SSlibKey):
        raise InvalidInputError(f"key {key.keyid[:8]} has no known public key format")
    der = key._crypto_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.sha256(der).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def public_key_pem(key: Key) -> bytes:
    """The key as PEM SubjectPublicKeyInfo (what `firmtuf key show` exports)."""
    if not isinstance(key, SSlibKey):
        raise InvalidInputError(f"key {key.keyid[:8]} has no known public key format")
    return key._crypto_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def import_hsm_key(uri: str, secrets_handler: SecretsHandler | None) -> tuple[str, SSlibKey]:
    """Read the public key of ``hsm:KEYID?label=TOKEN`` from the token.

    Returns the normalized URI and the public key.

    Raises:
        KeyProblemError: no PKCS#11 library configured, token absent, key not found.
    """
    from securesystemslib.signer import HSMSigner  # optional dependency

    parsed = parse.urlparse(uri)
    try:
        keyid = int(parsed.path) if parsed.path else None
    except ValueError:
        raise InvalidInputError(f"{uri!r}: the HSM key id must be a number") from None
    label = dict(parse.parse_qsl(parsed.query)).get("label")
    try:
        return HSMSigner.import_(keyid, label, secrets_handler)
    except KeyProblemError:
        raise
    except Exception as e:  # noqa: BLE001 - python-pkcs11 raises its own family (PinIncorrect, ...)
        raise signing_failure(uri, e) from None


def public_key_from_private_uri(
    uri: str, secrets_handler: SecretsHandler | None
) -> tuple[str, SSlibKey] | None:
    """The public key behind a signer URI when it can be read here, else None (KMS).

    Returns the URI to store (normalized for ``hsm:``) with the key.
    """
    scheme = uri.partition(":")[0]
    if scheme == "hsm":
        return import_hsm_key(uri, secrets_handler)
    if scheme == "awskms":
        from signer._kms import import_kms_key

        return import_kms_key(uri)
    if scheme == EnvVarSigner.SCHEME:
        private = envvar_private_key(uri)
        try:
            return uri, SSlibKey.from_crypto(private.public_key())
        except ValueError as e:
            raise InvalidInputError(f"{uri}: unsupported key: {e}") from None
    return None


def signing_failure(what: str, error: BaseException) -> KeyProblemError:
    """Translate a signer backend failure into a one-line key problem.

    A wrong or locked PIN stops the command (the holder meant to sign; retrying burns
    PIN attempts). Anything else a backend raises (token absent or pulled, PKCS#11 module
    unset, a scheme the backend cannot sign, a KMS refusing or unreachable) means the key
    is not usable here: :class:`KeyNotAtHandError`, which signing skips with a note when
    the threshold is met without the key.
    """
    if isinstance(error, KeyProblemError):
        return error
    name = type(error).__name__
    if name == "PinIncorrect":
        return WrongPasswordError(f"wrong PIN for {what}")
    if name == "PinLenRange":
        return WrongPasswordError(f"wrong PIN for {what} (bad length)")
    if name == "PinLocked":
        return KeyProblemError(f"the token PIN of {what} is locked")
    if name == "GeneralError":
        return KeyNotAtHandError(f"the PKCS#11 module failed for {what} (token removed?)")
    text = str(error) or name
    if "No PKCS#11 token found" in text:
        return KeyNotAtHandError(f"HSM token of {what} is absent ({text})")
    if "PYKCS11LIB" in text:
        return KeyNotAtHandError(
            f"cannot use {what}: set {PKCS11_LIBRARY_ENV} to the PKCS#11 module path"
        )
    return KeyNotAtHandError(f"signing with {what} failed: {text}")


def sign_verified(md: Metadata[Any], signer: Signer, key: Key) -> Signature:
    """Sign ``md`` (appending) with ``signer`` and check the signature against ``key``.

    Raises:
        WrongPasswordError: a wrong HSM PIN.
        KeyProblemError: the backend failed (token absent, ...) or signed with another key.
    """
    what = f"key {key.keyid[:8]} ({signer_uri_of(key)})"
    try:
        signature = md.sign(signer, append=True)
    except UnsignedMetadataError as e:
        raise signing_failure(what, e.__cause__ or e) from None
    try:
        key.verify_signature(signature, md.signed_bytes)
    except Exception:  # noqa: BLE001 - any verification failure means a foreign key
        del md.signatures[key.keyid]
        raise KeyProblemError(
            f"signature of {what} does not verify: the signer holds another key"
        ) from None
    return signature


def signer_uri_of(key: Key) -> str:
    uri = key.unrecognized_fields.get("x-firmtuf-signer-uri")
    return uri if isinstance(uri, str) else "no signer URI"


# awskms: securesystemslib's AWSSigner with bounded waits and one-line errors.
import signer._kms  # noqa: E402, F401
