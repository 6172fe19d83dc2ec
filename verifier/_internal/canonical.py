"""Canonical JSON (OLPC) as securesystemslib.formats.encode_canonical writes it.

OLPC canonical JSON: objects with keys sorted by code point, no whitespace, strings with
only ``\\`` and ``"`` escaped (everything else, control characters and non-ASCII included,
is written raw), integers in decimal, ``true``/``false``/``null``; floats are not allowed.
Signatures cover the UTF-8 bytes of this form of the ``signed`` object.

Fast path: ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
differs from OLPC only in how strings are escaped (it escapes ``"``, ``\\`` and control
characters, each with a backslash; it never escapes anything else when ensure_ascii is
off). So when its output contains no backslash at all, no string needed escaping in
either encoder and the two outputs are identical. Both sort keys by Python ``str``
ordering (code points), write ints with ``int.__repr__`` and booleans/null the same way.
Floats are the remaining difference: the parser refuses them (see ``loads``), so decoded
metadata never holds one. Anything else falls back to the pure encoder.

Optional accelerator: when ``orjson`` is installed (extra ``accel``), it encodes with
the same guard. ``orjson.dumps(OPT_SORT_KEYS)`` is compact, writes non-ASCII as raw
UTF-8, escapes exactly ``"``, ``\\`` and control characters (with a backslash), and
sorts keys by UTF-8 bytes, which is code-point order: without a backslash in its output
it is byte-identical to OLPC. Integers beyond 64 bits make it raise: the standard
library path takes over. Decoding always uses the standard library, whose
``parse_float`` hook refuses floats at no cost (orjson is barely faster at decoding
metadata, and would need a separate float scan).
"""

from __future__ import annotations

import json

from verifier._errors import MetadataFormatError

_UNSET: Any = object()
# Imported on first use, not with ``import verifier`` (it costs import time).
_orjson: Any = _UNSET


def _accelerator() -> Any:
    global _orjson  # a lazily filled module cache
    if _orjson is _UNSET:
        try:
            import orjson
        except ImportError:  # the accelerator is optional
            _orjson = None
        else:
            _orjson = orjson
    return _orjson

_dumps = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from typing import Any


def _refuse_float(text: str) -> Any:
    raise MetadataFormatError(f"floats are not allowed in TUF metadata: {text}")


def _refuse_constant(text: str) -> Any:
    raise MetadataFormatError(f"{text} is not allowed in TUF metadata")


_decoder = json.JSONDecoder(parse_float=_refuse_float, parse_constant=_refuse_constant)



def loads(data: bytes) -> Any:
    """Decode JSON metadata; floats, NaN and Infinity are refused.

    Raises:
        MetadataFormatError: not UTF-8 JSON, or holds a float.
    """
    try:
        text = data.decode("utf-8")
        return _decoder.decode(text)
    except MetadataFormatError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise MetadataFormatError(f"invalid JSON: {e}") from e


def _encode(obj: Any, out: list[str]) -> None:
    if isinstance(obj, str):
        out.append('"' + obj.replace("\\", "\\\\").replace('"', '\\"') + '"')
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif obj is None:
        out.append("null")
    elif isinstance(obj, int):
        out.append(int.__repr__(obj))
    elif isinstance(obj, (list, tuple)):
        out.append("[")
        for i, item in enumerate(obj):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif isinstance(obj, dict):
        out.append("{")
        for i, key in enumerate(sorted(obj)):
            if not isinstance(key, str):
                raise MetadataFormatError("canonical JSON object keys must be strings")
            if i:
                out.append(",")
            _encode(key, out)
            out.append(":")
            _encode(obj[key], out)
        out.append("}")
    else:
        raise MetadataFormatError(f"cannot encode {type(obj).__name__} in canonical JSON")


def encode_canonical_slow(obj: Any) -> bytes:
    """The pure OLPC encoder (reference implementation of :func:`encode_canonical`)."""
    out: list[str] = []
    try:
        _encode(obj, out)
        return "".join(out).encode("utf-8")
    except (UnicodeEncodeError, RecursionError) as e:
        raise MetadataFormatError(f"cannot encode metadata canonically: {e}") from e


def encode_canonical(obj: Any, *, _decoded: bool = False) -> bytes:
    """Return the UTF-8 bytes of the OLPC canonical JSON form of ``obj``.

    Raises:
        MetadataFormatError: ``obj`` holds something canonical JSON cannot express
            (a float, a non-string key, a lone surrogate).
    """
    accel = _accelerator()
    if accel is not None:
        try:
            raw = accel.dumps(obj, option=accel.OPT_SORT_KEYS)
        except (TypeError, ValueError):
            return encode_canonical_slow(obj)
        if b"\\" in raw:
            return encode_canonical_slow(obj)
        if not _decoded and _has_float(obj):
            raise MetadataFormatError("floats are not allowed in canonical JSON")
        return raw
    try:
        text = _dumps(obj)
    except (TypeError, ValueError, RecursionError):
        return encode_canonical_slow(obj)
    if "\\" in text:
        return encode_canonical_slow(obj)
    if not _decoded and _has_float(obj):
        raise MetadataFormatError("floats are not allowed in canonical JSON")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise MetadataFormatError(f"cannot encode metadata canonically: {e}") from e


def _has_float(obj: Any) -> bool:
    # Skipped (``_decoded``) for objects produced by ``loads``, which refuses floats: the
    # walk costs as much as the encoding on large targets metadata.
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False
