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
library path takes over. It is imported only for metadata of at least
``ACCEL_MIN_BYTES`` (or when already loaded): importing it costs more than the standard
library encoder spends on small metadata, and most of a small device's instructions.
Decoding always uses the standard library, whose ``parse_float`` hook refuses floats at
no cost (orjson decodes faster, but refusing floats after it would need a scan of the
whole document that costs more than it saves).
"""

from __future__ import annotations

import gc
import json

from verifier._errors import MetadataFormatError

_UNSET: Any = object()
# Imported on first use, not with ``import verifier`` (it costs import time).
_orjson: Any = _UNSET


# Below this size the standard library encodes faster than orjson imports (~14 ms).
ACCEL_MIN_BYTES = 256 * 1024


def _accelerator(size_hint: int | None = None) -> Any:
    """orjson, or None; with ``size_hint`` below ACCEL_MIN_BYTES, only if already loaded."""
    global _orjson  # a lazily filled module cache
    if _orjson is _UNSET:
        if size_hint is not None and size_hint < ACCEL_MIN_BYTES:
            return None
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


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Duplicate keys are refused: parsers disagree on them (Python's last wins, others
    # take the first), so one signed document could mean two things, and stored bytes
    # would carry a value no signature covers.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise MetadataFormatError(f"duplicate key {key!r} in a JSON object")
            seen.add(key)
    return obj


_decoder = json.JSONDecoder(
    parse_float=_refuse_float, parse_constant=_refuse_constant, object_pairs_hook=_object
)
# The hook above costs a Python call per object (2.4x the parse of 10,000 targets): text
# without a backslash is parsed without it and checked by counting (see loads_counted).
_plain_decoder = json.JSONDecoder(parse_float=_refuse_float, parse_constant=_refuse_constant)


def decode(data: bytes) -> str:
    """The text of UTF-8 metadata bytes.

    Raises:
        MetadataFormatError: not UTF-8.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MetadataFormatError(f"invalid JSON: {e}") from e


def loads(data: bytes | str) -> Any:
    """Decode JSON metadata (bytes, or text from :func:`decode`); floats, NaN,
    Infinity and objects with duplicate keys are refused.

    Raises:
        MetadataFormatError: not UTF-8 JSON, holds a float, or repeats a key.
    """
    return _parse(data, _decoder)


def loads_counted(data: bytes | str) -> tuple[Any, int | None]:
    """Decode like :func:`loads`, leaving the duplicate-key check to a cheap count when
    ``data`` holds no backslash.

    Returns:
        ``(value, colons)``: ``colons`` is the number of ``:`` in ``data``, or None when
        duplicate keys were already refused by the exact (slower) parse. Without a
        backslash no string has an escape, so canonical JSON writes every string as
        ``data`` does; the canonical form of ``value`` then holds exactly as many colons
        (one per key, plus those inside strings) as ``data`` minus the colons of the keys
        a duplicate dropped (and of their values' strings): equal counts prove that no
        key was repeated (:func:`check_colons`).

    Raises:
        MetadataFormatError: as :func:`loads` (duplicates only when ``data`` has a
            backslash).
    """
    if isinstance(data, str):
        if "\\" in data:
            return _parse(data, _decoder), None
        return _parse(data, _plain_decoder), data.count(":")
    if b"\\" in data:
        return _parse(data, _decoder), None
    return _parse(data, _plain_decoder), data.count(b":")


def check_colons(canonical: bytes, expected: int) -> None:
    """Raise unless ``canonical`` (an encoding of a :func:`loads_counted` value, or of
    its parts) holds the ``expected`` colons of its text.

    Raises:
        MetadataFormatError: the text repeated a key in an object.
    """
    if canonical.count(b":") != expected:
        raise MetadataFormatError("duplicate key in a JSON object of the metadata")


def _parse(data: bytes | str, decoder: json.JSONDecoder) -> Any:
    text = data if isinstance(data, str) else decode(data)
    # The cyclic GC would walk the growing document again and again while the parser
    # builds it (a third of the parse time at 10,000 targets); JSON makes no cycles.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return decoder.decode(text)
    except MetadataFormatError:
        raise
    except (ValueError, RecursionError) as e:
        raise MetadataFormatError(f"invalid JSON: {e}") from e
    finally:
        if enabled:
            gc.enable()


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
    except (UnicodeEncodeError, RecursionError, TypeError) as e:
        raise MetadataFormatError(f"cannot encode metadata canonically: {e}") from e


def encode_canonical(obj: Any, *, _decoded: bool = False, _size_hint: int | None = None) -> bytes:
    """Return the UTF-8 bytes of the OLPC canonical JSON form of ``obj``.

    ``_decoded`` (internal): ``obj`` came from :func:`loads`, so it holds only dict,
    list, str, int, bool and None; the fast encoders are used without a check.
    Otherwise ``obj`` is first checked to hold only those exact types (anything else,
    such as a float, a non-string key, a datetime or an Enum, goes to the pure encoder,
    which refuses it like securesystemslib does). ``_size_hint`` (internal): the size
    of the JSON ``obj`` was decoded from; small documents do not import the accelerator.

    Raises:
        MetadataFormatError: ``obj`` holds something canonical JSON cannot express
            (a float, a non-string key, a lone surrogate, a non-JSON type).
    """
    if not _decoded and not _is_plain_json(obj):
        return encode_canonical_slow(obj)
    accel = _accelerator(_size_hint)
    if accel is not None:
        try:
            raw = accel.dumps(obj, option=accel.OPT_SORT_KEYS)
        except (TypeError, ValueError):
            return encode_canonical_slow(obj)
        if b"\\" in raw:
            return encode_canonical_slow(obj)
        return bytes(raw)
    try:
        text = _dumps(obj)
    except (TypeError, ValueError, RecursionError):
        return encode_canonical_slow(obj)
    if "\\" in text:
        return encode_canonical_slow(obj)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise MetadataFormatError(f"cannot encode metadata canonically: {e}") from e


_PLAIN_LEAVES = frozenset((str, int, bool, type(None)))


def _is_plain_json(obj: Any) -> bool:
    # Exact types only: subclasses (Enum members, str/int subclasses) and foreign types
    # would be serialised differently by json/orjson than by the OLPC encoder. Skipped
    # for objects from ``loads`` (the walk costs as much as encoding large metadata).
    stack = [obj]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for key in item:
                if type(key) is not str:
                    return False
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind not in _PLAIN_LEAVES:
            return False
    return True
