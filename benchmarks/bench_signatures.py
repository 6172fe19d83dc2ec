"""1. Signature verification per key type: verifier vs python-tuf vs bare `cryptography`.

The same signed bytes (the canonical `signed` part of a small targets metadata) are verified
three ways, each with a key object loaded once beforehand:
- bare: `cryptography`'s public key `.verify()` (the floor);
- tuf: securesystemslib's `SSlibKey.verify_signature()`, what python-tuf calls per signature;
- firmtuf: the verifier's key loader + verify (see _firmtuf_internals).
Overhead is (client - bare) / bare in percent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from benchmarks import _firmtuf_internals
from benchmarks._util import Context

KEY_TYPES = ["ed25519", "ecdsa-p256", "ecdsa-p384", "rsa-pss-3072"]


def _make(key_type: str) -> tuple[Any, Any, Callable[[bytes, bytes], None]]:
    """(CryptoSigner, SSlibKey, bare verify fn)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
    from securesystemslib.signer import CryptoSigner, SSlibKey

    if key_type == "ed25519":
        priv: Any = ed25519.Ed25519PrivateKey.generate()
        scheme = "ed25519"
    elif key_type == "ecdsa-p256":
        priv = ec.generate_private_key(ec.SECP256R1())
        scheme = "ecdsa-sha2-nistp256"
    elif key_type == "ecdsa-p384":
        priv = ec.generate_private_key(ec.SECP384R1())
        scheme = "ecdsa-sha2-nistp384"
    else:
        priv = rsa.generate_private_key(65537, 3072)
        scheme = "rsassa-pss-sha256"
    key = SSlibKey.from_crypto(priv.public_key(), scheme=scheme)
    signer = CryptoSigner(priv, key)
    pub = priv.public_key()
    if key_type == "ed25519":

        def bare(sig: bytes, data: bytes) -> None:
            pub.verify(sig, data)
    elif key_type.startswith("ecdsa"):
        algo = ec.ECDSA(hashes.SHA256() if key_type == "ecdsa-p256" else hashes.SHA384())

        def bare(sig: bytes, data: bytes) -> None:
            pub.verify(sig, data, algo)
    else:
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)

        def bare(sig: bytes, data: bytes) -> None:
            pub.verify(sig, data, pss, hashes.SHA256())

    return signer, key, bare


def _per_call(fns: dict[str, Callable[[], None]], loops: int) -> dict[str, float]:
    """Seconds per call of each fn: the best of 7 rounds of `loops` calls (as timeit
    advises for micro-benchmarks: slower rounds measure the machine's other load).

    The functions take turns within each round, so a slow spell of the machine hits all of
    them alike.
    """
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(7):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(loops):
                fn()
            samples[name].append((time.perf_counter() - t0) / loops)
    return {name: min(v) for name, v in samples.items()}


def run(ctx: Context) -> dict[str, Any]:
    from securesystemslib.signer import Signature
    from tuf.api.metadata import Metadata, Targets
    from tuf.api.serialization.json import CanonicalJSONSerializer

    from benchmarks._repo import _synthetic_target

    md = Metadata(Targets())
    md.signed.targets = dict(_synthetic_target(i) for i in range(10))
    data = CanonicalJSONSerializer().serialize(md.signed)
    rows = []
    for key_type in KEY_TYPES:
        signer, key, bare = _make(key_type)
        sig: Signature = signer.sign(data)
        sig_bytes = bytes.fromhex(sig.signature)
        loops = ctx.sizes.sig_loops // (10 if key_type.startswith("ecdsa-p384") else 1)
        loops = max(loops, 5)
        fns: dict[str, Callable[[], None]] = {
            "bare": lambda b=bare, s=sig_bytes: b(s, data),
            "tuf": lambda k=key, s=sig: k.verify_signature(s, data),
        }
        impl = None
        if "firmtuf" in ctx.clients:
            with ctx.guard(f"signature {key_type} firmtuf"):
                found = _firmtuf_internals.signature_verifier(key.keyid, key.to_dict())
                if found is not None:
                    impl, verify = found
                    verify(sig.signature, data)
                    rejected = False
                    try:
                        verify(sig.signature, data[:-1] + b"!")
                    except Exception:
                        rejected = True
                    if not rejected:
                        raise RuntimeError(f"{impl} accepted a bad signature")
                    fns["firmtuf"] = lambda v=verify, s=sig.signature: v(s, data)
        t = _per_call(fns, loops)
        t_bare, t_tuf, t_ft = t["bare"], t["tuf"], t.get("firmtuf")
        rows.append(
            {
                "key_type": key_type,
                "bare_us": t_bare * 1e6,
                "tuf_us": t_tuf * 1e6,
                "firmtuf_us": None if t_ft is None else t_ft * 1e6,
                "tuf_overhead_pct": (t_tuf - t_bare) / t_bare * 100,
                "firmtuf_overhead_pct": None if t_ft is None else (t_ft - t_bare) / t_bare * 100,
                "firmtuf_impl": impl,
            }
        )
        ctx.log(
            f"  {key_type}: bare {t_bare * 1e6:.1f} us, tuf {t_tuf * 1e6:.1f} us, "
            f"firmtuf {'n/a' if t_ft is None else f'{t_ft * 1e6:.1f} us'}"
        )
    return {"message_bytes": len(data), "rows": rows}
