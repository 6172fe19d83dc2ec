"""Signer backends and their one, explicit registration in securesystemslib's
``SIGNER_FOR_URI_SCHEME`` (:func:`register_signers`; importing this module registers nothing).

``file:PATH?encrypted=true|false``: a PKCS#8 PEM key file, password-encrypted by default
(the password is asked from the secrets handler under the name ``"passphrase"``).
``envvar:NAME``: the unencrypted PKCS#8 PEM private key is the value of environment
variable ``NAME``, which
is how CI systems hand out secrets. ``hsm:KEYID?label=TOKEN`` is securesystemslib's
PKCS#11 ``HSMSigner`` (python-pkcs11; the library path comes from ``PYKCS11LIB``); the
PIN is asked from the secrets handler under the name ``"pin"``. Cloud KMS URIs
(``awskms:``, ``gcpkms:``, ``azurekms:``, ``hv:`` for Vault) are securesystemslib's own.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, ClassVar
from urllib import parse

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
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

from signer._errors import (
    InvalidInputError,
    KeyNotAtHandError,
    KeyProblemError,
    WrongPasswordError,
)
from signer._keyfile import is_encrypted, load_private_key
from signer._kms import SCHEME as AWSKMS_SCHEME
from signer._kms import BoundedAWSSigner

SIGNER_URI_FIELD = "x-firmtuf-signer-uri"
"""Unrecognized field of a public key that holds the URI of its private key."""

PASSWORD_SECRET = "passphrase"  # noqa: S105 - the name of a secret, not one
"""Name under which the key file password is asked from a ``SecretsHandler``."""

PIN_SECRET = "pin"  # noqa: S105 - the name of a secret, not one
"""Name under which an HSM PIN is asked from a ``SecretsHandler`` (securesystemslib's)."""

PKCS11_LIBRARY_ENV = "PYKCS11LIB"
"""Environment variable naming the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so)."""


def signer_uri(key: Key) -> str | None:
    """The signer URI stored with ``key``, or None."""
    uri = key.unrecognized_fields.get(SIGNER_URI_FIELD)
    return uri if isinstance(uri, str) else None


def read_key_file(
    path: Path, secrets_handler: SecretsHandler | None, *, encrypted: bool | None = None
) -> PrivateKeyTypes:
    """The private key in the key file at ``path`` (any format ``signer._keyfile`` reads).

    Args:
        encrypted: False when the key's URI says the file is not encrypted (no password
            is asked); otherwise the password is asked when the file is encrypted.

    Raises:
        WrongPasswordError: the password does not decrypt the key.
        KeyProblemError: the file is missing, unreadable, or no private key.
    """
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise KeyProblemError(f"key file {path} not found") from None
    except OSError as e:
        raise KeyProblemError(f"cannot read key file {path}: {e.strerror}") from None
    password: str | None = None
    if encrypted is not False and is_encrypted(pem):
        if secrets_handler is None:
            raise KeyProblemError(f"key file {path} is encrypted and no password was given")
        password = secrets_handler(PASSWORD_SECRET)
    return load_private_key(pem, password, str(path))


def _crypto_signer(private_key: PrivateKeyTypes, public_key: Key, source: str) -> CryptoSigner:
    """A signer of ``private_key`` for ``public_key``; refuses a key pair that differs."""
    if not isinstance(public_key, SSlibKey):
        raise KeyProblemError(f"key {public_key.keyid[:8]} is not a {source.split()[0]} key")
    try:
        return CryptoSigner(private_key, public_key)
    except (KeyMismatchError, ValueError):
        raise KeyProblemError(f"{source} holds another key than {public_key.keyid[:8]}") from None


class _PrivateKeyLoader(Signer):
    """A URI scheme of firmtuf's own whose private key is local: ``from_priv_key_uri``
    loads it (:meth:`_load`) and returns a securesystemslib ``CryptoSigner``. The class
    exists to register its scheme; it is never instantiated.
    """

    SCHEME: ClassVar[str]

    def __init__(self) -> None:  # pragma: no cover - never instantiated
        raise TypeError("use Signer.from_priv_key_uri()")

    @classmethod
    def from_priv_key_uri(
        cls,
        priv_key_uri: str,
        public_key: Key,
        secrets_handler: SecretsHandler | None = None,
    ) -> Signer:
        private_key, source = cls._load(priv_key_uri, secrets_handler)
        return _crypto_signer(private_key, public_key, source)

    @classmethod
    def _load(
        cls, priv_key_uri: str, secrets_handler: SecretsHandler | None
    ) -> tuple[PrivateKeyTypes, str]:
        """The private key the URI names, and where it came from (for messages)."""
        raise NotImplementedError


class EncryptedFileSigner(_PrivateKeyLoader):
    """Loader for ``file:PATH?encrypted=true|false`` URIs: PKCS#8 PEM, optionally encrypted.

    The password is asked through the secrets handler under the name ``"passphrase"``.
    """

    SCHEME = "file"

    @classmethod
    def _load(
        cls, priv_key_uri: str, secrets_handler: SecretsHandler | None
    ) -> tuple[PrivateKeyTypes, str]:
        uri = parse.urlparse(priv_key_uri)
        if uri.scheme != cls.SCHEME:
            raise ValueError(f"EncryptedFileSigner does not support {priv_key_uri}")
        encrypted = parse.parse_qs(uri.query).get("encrypted", ["true"])[0] != "false"
        path = Path(parse.unquote(uri.path))
        return read_key_file(path, secrets_handler, encrypted=encrypted), f"key file {path}"


class EnvVarSigner(_PrivateKeyLoader):
    """Loader for ``envvar:NAME`` URIs: a PKCS#8 PEM private key in variable ``NAME``.

    No secret is asked: the variable holds an unencrypted key (CI masks it).
    """

    SCHEME = "envvar"

    @classmethod
    def _load(
        cls, priv_key_uri: str, secrets_handler: SecretsHandler | None
    ) -> tuple[PrivateKeyTypes, str]:
        name = envvar_name(priv_key_uri)
        return envvar_private_key(priv_key_uri), f"environment variable {name}"


# firmtuf's URI schemes, joined to securesystemslib's (hsm:, gcpkms:, ...) by
# register_signers(); the awskms: entry replaces securesystemslib's with its bounded one.
_SCHEMES = {
    EncryptedFileSigner.SCHEME: EncryptedFileSigner,
    EnvVarSigner.SCHEME: EnvVarSigner,
    AWSKMS_SCHEME: BoundedAWSSigner,
}


def register_signers() -> None:
    """Make firmtuf's signer URI schemes resolvable by ``Signer.from_priv_key_uri``.

    Adds ``file:`` (key files), ``envvar:`` (CI secrets) and firmtuf's time-bounded
    ``awskms:`` to securesystemslib's ``SIGNER_FOR_URI_SCHEME``. Idempotent. firmtuf
    calls it wherever it resolves a signer URI (:func:`load_signer`,
    :func:`supports_scheme`), so no import changes global state; call it yourself only
    to resolve firmtuf's URIs with securesystemslib directly.
    """
    SIGNER_FOR_URI_SCHEME.update(_SCHEMES)


def supports_scheme(scheme: str) -> bool:
    """Whether a signer URI of ``scheme`` can be resolved here (firmtuf's or securesystemslib's)."""
    register_signers()
    return scheme in SIGNER_FOR_URI_SCHEME


def load_signer(uri: str, key: Key, secrets_handler: SecretsHandler | None) -> Signer:
    """The signer of ``key`` from its private key URI (any registered scheme).

    Raises:
        Whatever the scheme's backend raises (securesystemslib lets them through).
    """
    register_signers()
    return Signer.from_priv_key_uri(uri, key, secrets_handler)


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
        return load_private_key(value.encode(), None, f"in environment variable {name}")
    except KeyProblemError:
        raise KeyProblemError(
            f"environment variable {name} does not hold an unencrypted PEM private key"
        ) from None


def public_key_of(key: SSlibKey) -> PublicKeyTypes:
    """The ``cryptography`` public key of ``key`` (from its public ``keyval``).

    Raises:
        InvalidInputError: the key value is not a public key of its type.
    """
    public: Any = key.keyval.get("public")
    try:
        if key.keytype == "ed25519":
            return Ed25519PublicKey.from_public_bytes(bytes.fromhex(public))
        return load_pem_public_key(public.encode())
    except (AttributeError, TypeError, ValueError, UnsupportedAlgorithm):
        raise InvalidInputError(f"key {key.keyid[:8]} holds no valid public key") from None


def fingerprint(key: Key) -> str:
    """SHA-256 of the key's DER SubjectPublicKeyInfo, in groups of 4 hex digits.

    Anyone can recompute it from a PEM public key with
    ``openssl pkey -pubin -in key.pem -outform DER | sha256sum``.
    """
    if not isinstance(key, SSlibKey):
        raise InvalidInputError(f"key {key.keyid[:8]} has no known public key format")
    der = public_key_of(key).public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.sha256(der).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


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
    what = f"key {key.keyid[:8]} ({signer_uri(key) or 'no signer URI'})"
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
