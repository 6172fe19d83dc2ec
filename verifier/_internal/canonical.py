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

The verifier checks signatures over a file's raw ``signed`` bytes before parsing them
(:func:`split_envelope`, :func:`parse_signed`; docs/adr/0014): this encoder is only needed
for files written in another form. There is no accelerator any more (an ``accel`` extra
with orjson was removed): a device whose metadata is canonical (firmtuf's signer writes it
so) never encodes large metadata, and orjson crashed the process (SIGSEGV) instead of
raising MemoryError when an address-space limit was hit.
"""

from __future__ import annotations

import gc
import json
import sys

from verifier._errors import MetadataFormatError

_dumps = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode
# Parsed JSON holds no cycle: without the check the encoder is a fifth faster.
_dumps_decoded = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False, check_circular=False
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
    value, end = _decode_at(decoder, text, _skip_space(text, 0))
    if _skip_space(text, end) != len(text):
        raise MetadataFormatError("invalid JSON: extra data after the document")
    return value


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\n\r":
        index += 1
    return index


# Documents at least this large have their objects put in the oldest GC generation (see
# _decode_at); below it the bookkeeping costs more than the GC passes it saves.
PROMOTE_MIN_CHARS = 64 * 1024


def _decode_at(decoder: json.JSONDecoder, text: str, start: int) -> tuple[Any, int]:
    """The JSON value at ``text[start:]`` and where it ends, with the GC off its objects.

    The cyclic GC would walk the growing document again and again while the parser builds
    it, then again in each young generation it passes through (a third of the parse time
    at 10,000 targets), and JSON makes no cycles for it to find. So it is paused while the
    parser runs (one call that holds the GIL: no other thread allocates meanwhile), and a
    large document goes straight to the oldest generation, where a young collection would
    have moved it: one young collection first (the parse would have triggered dozens)
    leaves the young generations empty of the host's objects, then ``gc.freeze()`` +
    ``gc.unfreeze()`` moves what is young after the parse, its objects, to the oldest
    generation. The host's objects end where the collections such a parse triggers would
    have put them (what survives a young collection ages), its GC settings (enabled,
    thresholds) are untouched, and a host that disabled the GC or froze objects itself (a
    forking server) is left alone: then the document's objects age as usual.

    Raises:
        MetadataFormatError: not JSON, a float, NaN or Infinity, or (exact decoder) a
            repeated key.
    """
    enabled = gc.isenabled()
    promote = enabled and len(text) - start >= PROMOTE_MIN_CHARS and gc.get_freeze_count() == 0
    if promote:
        gc.collect(1)
    gc.disable()
    try:
        return decoder.raw_decode(text, start)
    except MetadataFormatError:
        raise
    except (ValueError, RecursionError) as e:
        raise MetadataFormatError(f"invalid JSON: {e}") from e
    finally:
        if enabled:
            if promote:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


# -- verify before parse (docs/adr/0014) ---------------------------------------------------
_HEAD = b'{"signatures":'
_SIGNED = ',"signed":'
# The signatures are parsed before anything is verified: only this much is read for them
# (over a thousand signatures; a document with more takes the re-encoding path).
SIGNATURES_MAX_BYTES = 256 * 1024


def split_envelope(data: bytes) -> tuple[Any, int] | None:
    """The signatures of a document in canonical layout and where its ``signed`` starts.

    Canonical layout is ``{"signatures":LIST,"signed":OBJECT}`` and nothing else, the
    order and spacing of canonical JSON (firmtuf's signer writes metadata so). Only the
    signatures list is parsed, by the exact decoder, from the first
    :data:`SIGNATURES_MAX_BYTES`: its end is found by parsing, so no string in it can
    fake where ``signed`` starts. The ``signed`` bytes are then ``data[start:-1]``, until
    :func:`parse_signed` confirms that they are one JSON value.

    Returns:
        ``(signatures, start)`` (``start`` is also the index in the decoded text: what
        precedes it is ASCII), or None when ``data`` is not in that layout (then the
        document is parsed whole and its ``signed`` re-encoded).
    """
    if not data.startswith(_HEAD) or not data.endswith(b"}"):
        return None
    head_bytes = data[:SIGNATURES_MAX_BYTES]
    try:
        head = head_bytes.decode("utf-8")
    except UnicodeDecodeError as e:
        # The cut may split a character: decode up to it (anything else invalid is left
        # to the full decoding, which refuses it).
        head = head_bytes[: e.start].decode("utf-8")
    try:
        signatures, end = _decoder.raw_decode(head, len(_HEAD))
    except (ValueError, RecursionError, MetadataFormatError):
        return None
    start = end + len(_SIGNED)
    if not head.startswith(_SIGNED, end) or not head[:start].isascii():
        return None
    return signatures, start


def parse_signed(text: str, start: int) -> Any:
    """Parse the ``signed`` value of a :func:`split_envelope` document (its signatures
    checked over ``text[start:-1]`` first); floats, NaN, Infinity and repeated keys are
    refused.

    Repeated keys are found by counting, not by the exact decoder's hook (which doubles
    the parse): every value inside an object or array is one referent of its container
    for the GC (``gc.get_referents`` visits a str-keyed dict's values and a list's items),
    so the parsed value holds exactly as many as the text has values in containers, minus
    those a repeated key dropped (at least its value). The text's count, one per ``,``
    plus one per ``{`` and ``[`` less the empty ``{}`` and ``[]``, can only be larger:
    those characters inside strings add to it (a ``{}`` in a string adds as much as it
    takes away), whitespace in an empty container adds to it. Equal counts prove that no
    key was repeated; otherwise the exact decoder parses again and refuses a repetition.

    Returns:
        The value, or None when ``text[start:-1]`` is not one JSON value (then the
        document is not in canonical layout after all: parse it whole).

    Raises:
        MetadataFormatError: not JSON, a float, NaN, Infinity or a repeated key.
    """
    stop = len(text) - 1
    value, end = _decode_at(_plain_decoder, text, start)
    if end != stop:
        return None
    if not _COUNTABLE or _children(value) != _text_children(text, start, stop):
        value = _decode_at(_decoder, text, start)[0]
    return value


def _children(value: Any) -> int:
    # Values inside the containers of ``value``, at C speed: one level per call.
    level = [value]
    total = 0
    while level:
        level = gc.get_referents(*level)
        total += len(level)
    return total


def _text_children(text: str, start: int, stop: int) -> int:
    count = text.count
    return (
        count(",", start, stop)
        + count("{", start, stop)
        + count("[", start, stop)
        - count("{}", start, stop)
        - count("[]", start, stop)
    )


# The count relies on CPython's traversal (a str-keyed dict visits its values only).
_COUNTABLE = sys.implementation.name == "cpython" and _children({"a": [1, {}], "b": 2}) == 4


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


def encode_canonical(obj: Any, *, _decoded: bool = False) -> bytes:
    """Return the UTF-8 bytes of the OLPC canonical JSON form of ``obj``.

    ``_decoded`` (internal): ``obj`` came from :func:`loads`, so it holds only dict,
    list, str, int, bool and None (and no cycle); the fast encoder is used without a
    check. Otherwise ``obj`` is first checked to hold only those exact types (anything
    else, such as a float, a non-string key, a datetime or an Enum, goes to the pure
    encoder, which refuses it like securesystemslib does).

    Raises:
        MetadataFormatError: ``obj`` holds something canonical JSON cannot express
            (a float, a non-string key, a lone surrogate, a non-JSON type).
    """
    if not _decoded and not _is_plain_json(obj):
        return encode_canonical_slow(obj)
    try:
        text = (_dumps_decoded if _decoded else _dumps)(obj)
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
    # would be serialised differently by json than by the OLPC encoder. Skipped
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
