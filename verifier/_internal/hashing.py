"""Hash functions from ``cryptography`` (already loaded to check signatures).

The standard library's ``hashlib`` would map a second copy of OpenSSL into the process
(about 3.5 MiB of resident memory on a device); it is imported only for BLAKE2b with a
32-byte digest, which ``cryptography`` does not offer.
"""

from __future__ import annotations

from verifier._errors import LengthOrHashMismatchError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from typing import Any

_ALGORITHMS = ("sha224", "sha256", "sha384", "sha512", "blake2b")


class Hasher:
    """``update(bytes)`` then ``hexdigest()`` (once)."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx

    def update(self, data: bytes) -> None:
        self._ctx.update(data)

    def hexdigest(self) -> str:
        if hasattr(self._ctx, "finalize"):
            return str(self._ctx.finalize().hex())
        return str(self._ctx.hexdigest())


def new_hasher(algo: str, what: str) -> Hasher:
    """A hasher for a TUF hash algorithm name.

    Raises:
        LengthOrHashMismatchError: unsupported algorithm (cannot be verified).
    """
    if algo == "blake2b-256":
        import hashlib

        return Hasher(hashlib.blake2b(digest_size=32))
    if algo not in _ALGORITHMS:
        raise LengthOrHashMismatchError(f"{what}: unsupported hash algorithm {algo!r}")
    from cryptography.hazmat.primitives import hashes

    algorithm: hashes.HashAlgorithm
    if algo == "sha224":
        algorithm = hashes.SHA224()
    elif algo == "sha256":
        algorithm = hashes.SHA256()
    elif algo == "sha384":
        algorithm = hashes.SHA384()
    elif algo == "sha512":
        algorithm = hashes.SHA512()
    else:
        algorithm = hashes.BLAKE2b(64)
    return Hasher(hashes.Hash(algorithm))


def sha256(data: bytes) -> bytes:
    """SHA-256 digest of ``data``."""
    from cryptography.hazmat.primitives import hashes

    ctx = hashes.Hash(hashes.SHA256())
    ctx.update(data)
    return bytes(ctx.finalize())
