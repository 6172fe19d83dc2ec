"""Where the verifier keeps the two internals that benchmarks 1 and 2 time directly.

The verifier's public API has no "verify one signature" or "encode canonical JSON" call, so
these benchmarks reach into `verifier._internal`. The names are looked up here, in one place,
so a rename in the verifier shows up as "not found" in the report instead of a crash.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

_CANONICAL = [
    ("verifier._internal.canonical", "encode_canonical"),
    ("verifier._internal.canonical", "canonical_bytes"),
    ("verifier._internal.canonical", "encode"),
    ("verifier._internal.canonical_json", "encode_canonical"),
    ("verifier._internal.canonical_json", "encode"),
    ("verifier._internal.cjson", "encode"),
]
_KEY_LOADERS = [
    ("verifier._internal.keys", "load_key"),
    ("verifier._internal.keys", "Key.from_dict"),
    ("verifier._internal.keys", "PublicKey.from_dict"),
    ("verifier._internal.crypto", "load_key"),
    ("verifier._internal.crypto", "Key.from_dict"),
]


def _lookup(candidates: list[tuple[str, str]]) -> tuple[str, Any] | None:
    for module, attr in candidates:
        try:
            obj: Any = importlib.import_module(module)
        except ImportError:
            continue
        try:
            for part in attr.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return f"{module}.{attr}", obj
    return None


def canonical_encoder() -> tuple[str, Callable[[Any], bytes]] | None:
    """(name, fn(obj) -> bytes) of the verifier's canonical JSON encoder, or None."""
    found = _lookup(_CANONICAL)
    if found is None:
        return None
    name, fn = found

    def encode(obj: Any) -> bytes:
        out = fn(obj)
        return out.encode() if isinstance(out, str) else out

    return name, encode


def signature_verifier(
    keyid: str, key_dict: dict[str, Any]
) -> tuple[str, Callable[[bytes, bytes], None]] | None:
    """(name, verify(signature, data)) built the way the verifier loads a key, or None.

    The key is loaded once (as the verifier does per metadata file) and verify() raises on a
    bad signature.
    """
    found = _lookup(_KEY_LOADERS)
    if found is None:
        return None
    name, loader = found
    try:
        key = loader(keyid, key_dict)
    except TypeError:
        key = loader(key_dict)
    verify = getattr(key, "verify", None) or key.verify_signature

    def call(sig: bytes, data: bytes) -> None:
        verify(sig, data)

    return name, call
