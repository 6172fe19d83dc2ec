"""Where the verifier keeps the two internals that benchmarks 1 and 2 time directly.

The verifier's public API has no "verify one signature" or "encode canonical JSON" call, so
these benchmarks reach into `verifier._internal`. The names are looked up here, in one place,
so a rename in the verifier shows up as "not found" in the report instead of a crash.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

# The verifier's names (verifier/_internal/canonical.py, keys.py); a rename there shows up as
# "not found" in the report.
_CANONICAL = [("verifier._internal.canonical", "encode_canonical")]
_KEY_LOADERS = [("verifier._internal.keys", "Key.from_dict")]


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
    kwargs: dict[str, Any] = {}
    try:
        if "_decoded" in inspect.signature(fn).parameters:
            # The verification path: the object came from the verifier's own parser, which
            # already refused floats, so the encoder skips its float walk.
            kwargs["_decoded"] = True
            name += "(_decoded=True)"
    except (TypeError, ValueError):
        pass

    def encode(obj: Any) -> bytes:
        out = fn(obj, **kwargs)
        return out.encode() if isinstance(out, str) else out

    return name, encode


def signature_verifier(
    keyid: str, key_dict: dict[str, Any]
) -> tuple[str, Callable[[str, bytes], None]] | None:
    """(name, verify(signature_hex, data)) built the way the verifier loads a key, or None.

    The key object is made once (as the verifier does per metadata file); the signature is
    passed as the hex string metadata carries; verify() raises on a bad signature whether
    the verifier's own call returns False or raises.
    """
    found = _lookup(_KEY_LOADERS)
    if found is None:
        return None
    name, loader = found
    key = loader(keyid, key_dict)
    verify = key.verify

    def call(sig_hex: str, data: bytes) -> None:
        if verify(sig_hex, data) is False:
            raise ValueError("bad signature")

    return name, call
