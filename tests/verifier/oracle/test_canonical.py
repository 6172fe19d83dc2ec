"""Our canonical JSON encoder against securesystemslib's, the one python-tuf signs with.

Signatures cover the canonical form of ``signed``: one byte of difference and the device
refuses every update. So for any JSON-like value the bytes must be identical, and what one
refuses (floats, NaN, lone surrogates that UTF-8 cannot carry) the other refuses too.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from securesystemslib.formats import encode_canonical as sslib_encode_canonical

TRICKY = [
    '"',
    "\\",
    '\\"',
    "\x00",
    "\x1f",
    "\x7f",
    "\n\r\t\b\f",
    "\u2028\u2029",
    "é",
    "💾",
    "\ufeff",
    "/",
    "</script>",
    "\\u0041",
    "\ud800",
    "a\udfffb",
]

texts = st.text(st.characters(codec=None, exclude_categories=())) | st.sampled_from(TRICKY)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**256), max_value=2**256)
    | texts
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.dictionaries(texts, inner, max_size=5)
    ),
    max_leaves=40,
)


def reference(value: Any) -> bytes | None:
    """securesystemslib's canonical bytes, None when it cannot produce UTF-8 bytes."""
    from securesystemslib.exceptions import FormatError

    try:
        text = sslib_encode_canonical(value)
        assert isinstance(text, str)
        return text.encode("utf-8")
    except (FormatError, UnicodeEncodeError, AttributeError):
        # AttributeError: securesystemslib's key escaping calls str.replace on non-str keys
        return None


# Our encoder's two paths: the standard library's json, and the pure OLPC encoder it falls
# back to.
PATHS = ("json", "slow")


def ours(value: Any, path: str = "json") -> bytes | None:
    from verifier._errors import MetadataFormatError
    from verifier._internal import canonical

    try:
        if path == "slow":
            return canonical.encode_canonical_slow(value)
        return canonical.encode_canonical(value)
    except MetadataFormatError:
        return None


@given(json_values)
def test_canonical_json_byte_identical_to_securesystemslib(value: Any) -> None:
    expected = reference(value)
    for path in PATHS:
        assert ours(value, path) == expected, path


floats = st.floats(allow_nan=True, allow_infinity=True)


@given(
    floats
    | st.lists(floats, min_size=1, max_size=3)
    | st.dictionaries(st.text(max_size=3), floats, min_size=1, max_size=3),
    json_values,
)
def test_floats_refused_by_both(value: Any, other: Any) -> None:
    for doc in (value, [other, value], {"signed": {"a": other, "version": value}}):
        assert reference(doc) is None
        for path in PATHS:
            assert ours(doc, path) is None, path


@pytest.mark.parametrize("text", [b"1.0", b"[1e3]", b'{"a": NaN}', b"Infinity", b"-Infinity"])
def test_parser_refuses_floats_and_constants(text: bytes) -> None:
    from verifier._errors import MetadataFormatError
    from verifier._internal.canonical import loads

    with pytest.raises(MetadataFormatError):
        loads(text)


class _Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class _Point:
    x: int = 1


# Python values that are not JSON. securesystemslib refuses every one; ours must too, on
# the fast (json) path as on the slow one: the encoder decides what gets signed.
NOT_JSON = {
    "datetime": datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC),
    "date": datetime.date(2030, 1, 1),
    "time_in_dict": {"at": datetime.time(1, 2)},
    "uuid": uuid.UUID(int=5),
    "enum": _Color.RED,
    "dataclass": _Point(),
    "set": {1, 2},
    "bytes": b"ab",
    "decimal": decimal.Decimal("1.5"),
    "int_key": {1: "a"},
}


# Found here and fixed in the verifier: the orjson path serialized datetime, date, time,
# UUID, Enum and dataclass values natively; the json path turned int keys into strings.
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", NOT_JSON)
def test_non_json_python_values_refused_like_securesystemslib(name: str, path: str) -> None:
    value = NOT_JSON[name]
    assert reference(value) is None
    assert ours(value, path) is None
