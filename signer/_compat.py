"""Which key types each signer backend can sign with: checked when a key is registered.

A key whose backend cannot sign with its scheme (an Ed25519 public key given with an
``hsm:`` URI: securesystemslib's HSMSigner signs ECDSA P-256/P-384 only) would be stored
and then fail every later command that needs it, root changes included. It is refused
at ``init``, ``key add|rotate``, ``delegate`` and ``bins`` instead (exit 3).

Schemes of securesystemslib 1.6's signers (``_hsm_signer.py``, ``_aws_signer.py``,
``_gcp_signer.py``, ``_azure_signer.py``, ``_vault_signer.py``). Unknown URI schemes are
not judged: a backend registered only on a holder's machine stays possible.
"""

from __future__ import annotations

from securesystemslib.signer import AWSSigner, Key

from signer._errors import InvalidInputError

_ECDSA = ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384")

SUPPORTED_SCHEMES: dict[str, tuple[str, ...]] = {
    "hsm": _ECDSA,
    "awskms": tuple(AWSSigner.aws_algos),
    "gcpkms": (
        *_ECDSA,
        "rsassa-pss-sha256",
        "rsassa-pss-sha512",
        "rsa-pkcs1v15-sha256",
        "rsa-pkcs1v15-sha512",
    ),
    "azurekms": (*_ECDSA, "ecdsa-sha2-nistp521"),
    "hv": ("ed25519",),
}
"""Signer URI scheme -> the key schemes its backend signs with."""


def check_signer_supports(uri: str, key: Key) -> None:
    """Refuse a signer URI whose backend cannot sign with ``key``'s scheme.

    Raises:
        InvalidInputError: e.g. an ``hsm:`` URI for an Ed25519 key.
    """
    scheme = uri.partition(":")[0]
    supported = SUPPORTED_SCHEMES.get(scheme)
    if supported is not None and key.scheme not in supported:
        raise InvalidInputError(
            f"{scheme}: keys cannot sign with {key.keytype}/{key.scheme} "
            f"(supported: {', '.join(supported)}); this key could never sign or be rotated"
        )
