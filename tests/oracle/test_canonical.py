"""Our canonical JSON encoder against securesystemslib's, the one python-tuf signs with.

Signatures cover the canonical form of ``signed``: one byte of difference and the device
refuses every update. So for any JSON-like value the bytes must be identical, and what one
refuses (floats, NaN, lone surrogates that UTF-8 cannot carry) the other refuses too.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from securesystemslib.formats import encode_canonical as sslib_encode_canonical

TRICKY = ['"', "\\", '\\"', "\x00", "\x1f", "\x7f", "\n\r\t\b\f", "\u2028\u2029", "é", "💾",
          "\ufeff", "/", "</script>", "\\u0041", "\ud800", "a\udfffb"]

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
    lambda inner: st.lists(inner, max_size=5)
    | st.tuples(inner, inner)
    | st.dictionaries(texts, inner, max_size=5),
    max_leaves=40,
)


def reference(value: Any) -> bytes | None:
    """securesystemslib's canonical bytes, None when it cannot produce UTF-8 bytes."""
    from securesystemslib.exceptions import FormatError

    try:
        text = sslib_encode_canonical(value)
        assert isinstance(text, str)
        return text.encode("utf-8")
    except (FormatError, UnicodeEncodeError):
        return None


def ours(value: Any, *, slow: bool = False) -> bytes | None:
    from verifier._errors import MetadataFormatError
    from verifier._internal.canonical import encode_canonical, encode_canonical_slow

    try:
        return (encode_canonical_slow if slow else encode_canonical)(value)
    except MetadataFormatError:
        return None


@given(json_values)
def test_canonical_json_byte_identical_to_securesystemslib(value: Any) -> None:
    expected = reference(value)
    assert ours(value) == expected
    assert ours(value, slow=True) == expected


floats = st.floats(allow_nan=True, allow_infinity=True)


@given(st.recursive(floats, lambda inner: st.lists(inner, min_size=1, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, min_size=1, max_size=3),
                    max_leaves=5), json_values)
def test_floats_refused_by_both(value: Any, other: Any) -> None:
    for doc in (value, [other, value], {"signed": {"a": other, "version": value}}):
        assert reference(doc) is None
        assert ours(doc) is None
        assert ours(doc, slow=True) is None


@pytest.mark.parametrize("text", [b"1.0", b"[1e3]", b'{"a": NaN}', b"Infinity", b"-Infinity"])
def test_parser_refuses_floats_and_constants(text: bytes) -> None:
    from verifier._errors import MetadataFormatError
    from verifier._internal.canonical import loads

    with pytest.raises(MetadataFormatError):
        loads(text)
