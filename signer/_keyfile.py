"""The bytes of a private key file: written with a strong, tunable KDF, read in any format.

New encrypted key files are OpenSSH private keys (``-----BEGIN OPENSSH PRIVATE KEY-----``,
cipher aes256-ctr) whose key is derived from the password with bcrypt-pbkdf, the KDF
OpenSSH itself uses: bcrypt needs 4 KiB of fast memory per guess, which keeps GPU
password searches far slower than against PBKDF2-SHA256. The cost is ``rounds``
(:data:`DEFAULT_KDF_ROUNDS`, about half a second per unlock on a 2026 server core; see
docs/key-management.md), tunable with ``$FIRMTUF_KDF_ROUNDS``. ``ssh-keygen -y -f FILE``
reads these files and ``ssh-keygen -p -a N -f FILE`` changes their password or rounds.

Files written before (PKCS#8 PEM, PBKDF2 at OpenSSL's default 2,048 iterations) are still
read; ``firmtuf key reencrypt`` rewrites them. Unencrypted key files (CI keys handed out
by a secret store) stay PKCS#8.
"""

from __future__ import annotations

import base64
import os
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
    load_ssh_private_key,
)

from signer._errors import InvalidInputError, KeyProblemError, WrongPasswordError

DEFAULT_KDF_ROUNDS = 48
"""bcrypt-pbkdf rounds of new key files: 0.51 s per unlock measured (docs/key-management.md)."""

KDF_ROUNDS_ENV = "FIRMTUF_KDF_ROUNDS"
"""Environment variable: bcrypt-pbkdf rounds of new key files (default DEFAULT_KDF_ROUNDS)."""
MAX_KDF_ROUNDS = 1 << 16
"""Most rounds accepted (each unlock then takes minutes)."""

_OPENSSH_BEGIN = b"-----BEGIN OPENSSH PRIVATE KEY-----"
_OPENSSH_END = b"-----END OPENSSH PRIVATE KEY-----"
_OPENSSH_MAGIC = b"openssh-key-v1\x00"
_PKCS8_ENCRYPTED = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


def kdf_rounds(rounds: int | None = None) -> int:
    """``rounds``, else ``$FIRMTUF_KDF_ROUNDS``, else :data:`DEFAULT_KDF_ROUNDS`.

    Raises:
        InvalidInputError: not a whole number from 1 to 65,536.
    """
    if rounds is None:
        raw = os.environ.get(KDF_ROUNDS_ENV)
        if not raw:
            return DEFAULT_KDF_ROUNDS
        try:
            rounds = int(raw)
        except ValueError:
            raise InvalidInputError(f"${KDF_ROUNDS_ENV}={raw!r} is not a number") from None
    if not 1 <= rounds <= MAX_KDF_ROUNDS:
        raise InvalidInputError(f"KDF rounds must be between 1 and {MAX_KDF_ROUNDS}, got {rounds}")
    return rounds


def dump_private_key(private_key: Any, password: str | None, *, rounds: int | None = None) -> bytes:
    """The key file bytes of ``private_key``: OpenSSH + bcrypt-pbkdf when ``password`` is set.

    Raises:
        KeyProblemError: the bcrypt module (a dependency of ``firmtuf[signer]``) is missing.
    """
    if not password:
        return bytes(private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    encryption = (
        PrivateFormat.OpenSSH.encryption_builder()
        .kdf_rounds(kdf_rounds(rounds))
        .build(password.encode())
    )
    try:
        return bytes(private_key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, encryption))
    except UnsupportedAlgorithm as e:
        raise KeyProblemError(f"cannot encrypt the key file: {e} (pip install bcrypt)") from None


def is_encrypted(pem: bytes) -> bool:
    """True when the key file needs a password."""
    if pem.lstrip().startswith(_OPENSSH_BEGIN):
        info = describe(pem)
        return info is not None and info.encrypted
    return _PKCS8_ENCRYPTED in pem or b"Proc-Type: 4,ENCRYPTED" in pem


def load_private_key(pem: bytes, password: str | None, where: str) -> Any:
    """The private key in key file bytes ``pem`` (OpenSSH or PKCS#8 / traditional PEM).

    Raises:
        WrongPasswordError: the password does not decrypt it.
        KeyProblemError: it needs a password and none was given, or it is no private key.
    """
    secret = password.encode() if password else None
    encrypted = is_encrypted(pem)
    if encrypted and secret is None:
        raise KeyProblemError(f"key file {where} is encrypted and no password was given")
    try:
        if pem.lstrip().startswith(_OPENSSH_BEGIN):
            return load_ssh_private_key(pem, secret if encrypted else None)
        return load_pem_private_key(pem, secret if encrypted else None)
    except UnsupportedAlgorithm as e:
        raise KeyProblemError(f"cannot read key file {where}: {e} (pip install bcrypt)") from None
    except (ValueError, TypeError) as e:
        if encrypted:
            raise WrongPasswordError(f"wrong password for key file {where}") from None
        raise KeyProblemError(f"key file {where} is not a usable private key: {e}") from None


@dataclass(frozen=True)
class KeyFileFormat:
    """How a key file is protected (what `firmtuf key reencrypt` reports)."""

    name: str
    """``openssh-bcrypt``, ``openssh`` (unencrypted), ``pkcs8-pbes2`` or ``pkcs8``."""
    encrypted: bool
    rounds: int | None = None
    """bcrypt-pbkdf rounds (OpenSSH files)."""

    @property
    def strong(self) -> bool:
        """Written with the current KDF at no fewer rounds than the default."""
        return self.name == "openssh-bcrypt" and (self.rounds or 0) >= DEFAULT_KDF_ROUNDS


def describe(pem: bytes) -> KeyFileFormat | None:
    """The format of key file bytes ``pem``, or None when they are not a key file."""
    text = pem.strip()
    if text.startswith(_OPENSSH_BEGIN) and text.endswith(_OPENSSH_END):
        body = text[len(_OPENSSH_BEGIN) : -len(_OPENSSH_END)]
        try:
            blob = base64.b64decode(b"".join(body.split()), validate=True)
            return _describe_openssh(blob)
        except (ValueError, struct.error):
            return None
    if text.startswith(_PKCS8_ENCRYPTED):
        return KeyFileFormat("pkcs8-pbes2", True)
    if text.startswith(b"-----BEGIN ") and b"PRIVATE KEY-----" in text.splitlines()[0]:
        return KeyFileFormat("pkcs8", b"Proc-Type: 4,ENCRYPTED" in text)
    return None


def _describe_openssh(blob: bytes) -> KeyFileFormat | None:
    """Read cipher and KDF options from an ``openssh-key-v1`` blob (PROTOCOL.key)."""
    if not blob.startswith(_OPENSSH_MAGIC):
        return None
    offset = len(_OPENSSH_MAGIC)
    fields = []
    for _ in range(3):  # ciphername, kdfname, kdfoptions
        (length,) = struct.unpack_from(">I", blob, offset)
        offset += 4
        fields.append(blob[offset : offset + length])
        offset += length
    cipher, kdf, options = fields
    if cipher == b"none":
        return KeyFileFormat("openssh", False)
    rounds = None
    if kdf == b"bcrypt" and len(options) >= 8:
        (salt_length,) = struct.unpack_from(">I", options, 0)
        (rounds,) = struct.unpack_from(">I", options, 4 + salt_length)
    return KeyFileFormat("openssh-bcrypt" if kdf == b"bcrypt" else "openssh", True, rounds)
