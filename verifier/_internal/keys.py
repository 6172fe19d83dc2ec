"""Public keys in the TUF/securesystemslib format and signature verification.

Supported (keytype, scheme) pairs, with the key encodings securesystemslib writes:
``ed25519/ed25519`` (hex raw public key), ``ecdsa/ecdsa-sha2-nistp256`` and ``-nistp384``
(also with keytype equal to the scheme; PEM SubjectPublicKeyInfo, DER signatures) and
``rsa/rsassa-pss-sha256`` (also sha384, sha512; PEM). Signatures are hex strings.

A key of any other (keytype, scheme) pair is kept as an :class:`UnknownKey` that never
verifies (TUF 4.2 lets adopters define key types): metadata listing one still loads,
and a threshold is met only by signatures of keys this verifier can check.

``cryptography`` is imported on first verification, not at import time: ``import
verifier`` stays fast. A primitive that cannot be loaded raises CryptoUnavailableError;
there is no fallback.
"""

from __future__ import annotations

from verifier._errors import CryptoUnavailableError, MetadataFormatError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from typing import Any

_SCHEMES: dict[tuple[str, str], str] = {
    ("ed25519", "ed25519"): "ed25519",
    ("ecdsa", "ecdsa-sha2-nistp256"): "p256",
    ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256"): "p256",
    ("ecdsa", "ecdsa-sha2-nistp384"): "p384",
    ("ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384"): "p384",
    ("rsa", "rsassa-pss-sha256"): "pss256",
    ("rsa", "rsassa-pss-sha384"): "pss384",
    ("rsa", "rsassa-pss-sha512"): "pss512",
}


class Key:
    """One public key from a ``keys`` object; ``verify`` raises on a bad signature."""

    __slots__ = ("_loaded", "keyid", "kind", "public")

    def __init__(self, keyid: str, kind: str, public: str) -> None:
        self.keyid = keyid
        self.kind = kind
        self.public = public
        self._loaded: Any = None

    def identity(self) -> tuple[str, bytes]:
        """The key itself (scheme + public key bytes), whatever its key id or text encoding.

        One key listed under two key ids (or as upper and lower case hex) is one key:
        thresholds count identities, not key ids.
        """
        loaded = self._load()
        if self.kind == "ed25519":
            # Raw bytes: no need to load the serialization machinery for Ed25519 keys.
            return (self.kind, bytes(loaded.public_bytes_raw()))
        from cryptography.hazmat.primitives import serialization

        der = loaded.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return (self.kind, der)

    @classmethod
    def from_dict(cls, keyid: str, data: Any) -> Key:
        """Parse one key object.

        Returns:
            The key; an :class:`UnknownKey` (never verifies) for a keytype/scheme pair
            this verifier does not implement.

        Raises:
            MetadataFormatError: fields missing or of the wrong type.
        """
        if not isinstance(data, dict):
            raise MetadataFormatError(f"key {keyid!r} is not an object")
        keytype = data.get("keytype")
        scheme = data.get("scheme")
        keyval = data.get("keyval")
        if not isinstance(keytype, str) or not isinstance(scheme, str):
            raise MetadataFormatError(f"key {keyid!r}: keytype and scheme must be strings")
        if not isinstance(keyval, dict):
            raise MetadataFormatError(f"key {keyid!r}: keyval must be an object")
        kind = _SCHEMES.get((keytype, scheme))
        if kind is None:
            # Its keyval is the other key type's business: only its being an object is ours.
            return UnknownKey(keyid, f"{keytype}/{scheme}", "")
        if not isinstance(keyval.get("public"), str):
            raise MetadataFormatError(f"key {keyid!r}: keyval.public must be a string")
        return cls(keyid, kind, keyval["public"])

    def _load(self) -> Any:
        if self._loaded is not None:
            return self._loaded
        try:
            # Only the modules this key type needs: ``serialization`` and the ECDSA/RSA
            # modules cost tens of millions of instructions and MiBs of memory to import,
            # and most repositories use Ed25519 keys alone.
            if self.kind == "ed25519":
                from cryptography.hazmat.primitives.asymmetric import ed25519
            else:
                from cryptography.hazmat.primitives import serialization
                from cryptography.hazmat.primitives.asymmetric import ec, rsa
        except ImportError as e:
            raise CryptoUnavailableError(f"cannot load cryptography: {e}") from e
        try:
            if self.kind == "ed25519":
                loaded: Any = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(self.public))
            else:
                loaded = serialization.load_pem_public_key(self.public.encode("utf-8"))
                _check_kind(self.kind, loaded, ec, rsa)
        except (ValueError, TypeError, UnicodeEncodeError) as e:
            raise MetadataFormatError(f"key {self.keyid!r}: invalid public key: {e}") from e
        except Exception as e:
            # An unsupported algorithm in the linked OpenSSL must never pass silently.
            raise CryptoUnavailableError(f"key {self.keyid!r}: cannot load key: {e}") from e
        self._loaded = loaded
        return loaded

    def verify(self, signature_hex: str, message: bytes | memoryview) -> bool:
        """Return whether ``signature_hex`` is a valid signature of ``message``.

        A malformed key is an error (MetadataFormatError), a wrong signature is False.

        Raises:
            MetadataFormatError: the public key cannot be parsed.
            CryptoUnavailableError: the primitive for this key type is unavailable.
        """
        key = self._load()
        try:
            sig = bytes.fromhex(signature_hex)
        except ValueError:
            return False
        from cryptography.exceptions import InvalidSignature

        try:
            if self.kind == "ed25519":
                key.verify(sig, message)
            else:
                _verify_pem_key(self.kind, key, sig, message)
        except InvalidSignature:
            return False
        except (ValueError, TypeError):
            # e.g. a DER signature that does not parse: not a valid signature.
            return False
        return True


class UnknownKey(Key):
    """A key of a type this verifier does not implement: kept, never verifies.

    ``kind`` is ``"keytype/scheme"``. Its signatures are never counted, so a threshold is
    met only by keys the verifier can check (UnsupportedKeyError is no longer raised).
    """

    __slots__ = ()

    def identity(self) -> tuple[str, bytes]:
        return ("unknown", self.keyid.encode())

    def verify(self, signature_hex: str, message: bytes | memoryview) -> bool:
        return False


def _verify_pem_key(kind: str, key: Any, sig: bytes, message: bytes | memoryview) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding

    if kind == "p256":
        key.verify(sig, message, ec.ECDSA(hashes.SHA256()))
    elif kind == "p384":
        key.verify(sig, message, ec.ECDSA(hashes.SHA384()))
    else:
        algo = {"pss256": hashes.SHA256, "pss384": hashes.SHA384}.get(kind, hashes.SHA512)()
        pss = padding.PSS(mgf=padding.MGF1(algo), salt_length=padding.PSS.AUTO)
        key.verify(sig, message, pss, algo)


def _check_kind(kind: str, loaded: Any, ec: Any, rsa: Any) -> None:
    if kind in ("p256", "p384"):
        if not isinstance(loaded, ec.EllipticCurvePublicKey):
            raise TypeError(f"PEM holds a {type(loaded).__name__}, expected ECDSA")
        curve = ec.SECP256R1 if kind == "p256" else ec.SECP384R1
        if not isinstance(loaded.curve, curve):
            raise TypeError(f"wrong curve {loaded.curve.name}")
    elif not isinstance(loaded, rsa.RSAPublicKey):
        raise TypeError(f"PEM holds a {type(loaded).__name__}, expected RSA")
