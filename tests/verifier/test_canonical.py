from __future__ import annotations

import datetime
import decimal
import enum
import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from securesystemslib.formats import encode_canonical as sslib_encode_canonical

from verifier import MetadataFormatError
from verifier._internal import canonical, metadata
from verifier._internal.canonical import encode_canonical, encode_canonical_slow, loads

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def reference(obj: object) -> bytes:
    return sslib_encode_canonical(obj).encode("utf-8")  # type: ignore[no-any-return, union-attr]


@given(obj=json_values)
def test_matches_securesystemslib(obj: object) -> None:
    try:
        expected = reference(obj)
    except UnicodeEncodeError:
        with pytest.raises(MetadataFormatError):
            encode_canonical(obj)
        return
    assert encode_canonical(obj) == expected
    assert encode_canonical_slow(obj) == expected


@pytest.mark.parametrize(
    "obj",
    [
        {"b": 1, "a": [True, False, None], "c": {"z": "", "y": -5}},
        {"quote": 'say "hi"', "back": "a\\b", "ctl": "line\nnext\ttab\x00"},
        {"unicode": "caf\u00e9 \u2028 \U0001f600", "é": 1, "e": 2},
        [],
        {},
        "plain",
        2**64,
        {"big": -(2**80), "del": "\x7f", "sep": "\u2028\u2029", "nul": "\x00"},
        {"\U0001f600": 1, "\uffff": 2, "z": 3, "\u00e9": 4},
    ],
)
def test_known_values(obj: object) -> None:
    assert encode_canonical(obj) == reference(obj)


def test_fast_and_slow_paths_agree_on_escapes() -> None:
    obj = {"k": 'x"\\\n'}
    assert encode_canonical(obj) == encode_canonical_slow(obj) == b'{"k":"x\\"\\\\\n"}'


@pytest.mark.parametrize("obj", [1.5, {"a": [0.0]}, float("nan")])
def test_floats_refused(obj: object) -> None:
    with pytest.raises(MetadataFormatError):
        encode_canonical(obj)


def test_lone_surrogate_refused() -> None:
    with pytest.raises(MetadataFormatError):
        encode_canonical({"a": "\ud800"})


@pytest.mark.parametrize(
    "data", [b'{"a": 1.0}', b'{"a": NaN}', b'{"a": Infinity}', b"{", b"\xff\xfe", b'{"a": 1e5}']
)
def test_loads_refuses_floats_and_garbage(data: bytes) -> None:
    with pytest.raises(MetadataFormatError):
        loads(data)


def test_loads_deep_nesting_is_format_error() -> None:
    with pytest.raises(MetadataFormatError):
        loads(b"[" * 100000 + b"]" * 100000)


class _Color(enum.Enum):
    RED = "red"


NOT_JSON = [
    datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC),
    {"at": datetime.time(1, 2)},
    uuid.UUID(int=5),
    _Color.RED,
    {1, 2},
    b"ab",
    decimal.Decimal("1.5"),
    {1: "a"},
    {1: "a", "b": 2},
    [object()],
]


@pytest.mark.parametrize("value", NOT_JSON, ids=repr)
def test_non_json_values_refused_on_every_path(value: object) -> None:
    with pytest.raises(Exception):  # noqa: B017 - securesystemslib raises its own class
        reference(value)
    with pytest.raises(MetadataFormatError):
        encode_canonical(value)
    with pytest.raises(MetadataFormatError):
        encode_canonical_slow(value)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1, "a": 1}',
        b'{"a": {"b": [1, {"c": 1, "d": 2, "c": 3}]}}',
        b'{"k\\u0061": 1, "ka": 2}',
    ],
)
def test_loads_refuses_duplicate_keys_at_any_depth(data: bytes) -> None:
    """Issue 9 item 6: parsers disagree on repeated keys (Python keeps the last)."""
    with pytest.raises(MetadataFormatError, match="duplicate key"):
        canonical.loads(data)
    assert canonical.loads(b'{"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}]}')["b"][1] == {"a": 3}


# Strings that stress the colon count: colons in keys and values, non-ASCII (raw or
# \u-escaped), and characters whose escapes put a backslash in the text (exact parse).
_keys = st.text(alphabet=st.sampled_from(':a"\\\n\u00e9\u2028\U0001f600'), max_size=4)
_texts = st.text(alphabet=st.sampled_from(':b \u00e9\U0001f600"\\\t'), max_size=6)
_trees = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | _texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=16,
)


def _render(
    value: object, draw: st.DrawFn, dups: list[int], chance: st.SearchStrategy[bool]
) -> str:
    """Valid JSON text for ``value`` written as a hostile writer might (any key order, any
    whitespace, strings raw or \\u-escaped, 0 as -0), with duplicate keys (values of any
    shape, colons included) added where ``chance`` draws True; each one is counted in
    ``dups``."""
    space = draw(st.sampled_from(["", " ", "\n  ", "\t"]))
    if isinstance(value, dict):
        pairs = [(k, _render(v, draw, dups, chance)) for k, v in value.items()]
        pairs = list(draw(st.permutations(pairs)))
        if draw(chance):
            key = draw(st.sampled_from([k for k, _ in pairs])) if pairs else draw(_keys)
            if not pairs:
                pairs.append((key, _render(draw(_trees), draw, dups, chance)))
            first = _render(draw(_trees), draw, dups, chance)
            pairs.insert(draw(st.integers(0, len(pairs))), (key, first))
            dups.append(1)
        items = [f"{_render(k, draw, dups, chance)}{space}:{space}{v}" for k, v in pairs]
        return "{" + space + f",{space}".join(items) + space + "}"
    if isinstance(value, list):
        return "[" + f",{space}".join(_render(v, draw, dups, chance) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=draw(st.booleans()))
    if value == 0 and value is not False and draw(st.booleans()):
        return "-0"
    return json.dumps(value)


@given(data=st.data())
def test_counted_parse_refuses_exactly_what_the_exact_parse_refuses(data: st.DataObject) -> None:
    """The duplicate-key check without the per-object hook (a colon count against the
    canonical re-encoding) is exact: refused iff a key was repeated, on any valid JSON
    (whitespace, key order, escapes, colons inside keys and values, dropped values)."""
    value = data.draw(st.dictionaries(_keys, _trees, max_size=4))
    dups: list[int] = []
    text = _render(
        value, data.draw, dups, st.booleans() if data.draw(st.booleans()) else st.just(False)
    )
    raw = text.encode()
    for given_data in (raw, text):
        try:
            parsed, colons = canonical.loads_counted(given_data)
        except MetadataFormatError as e:  # only the exact parse (a backslash) refuses here
            assert "\\" in text and dups and "duplicate key" in str(e)
            continue
        if colons is None:
            assert "\\" in text and not dups
        else:
            refused = encode_canonical(parsed).count(b":") != colons
            assert refused == bool(dups), text
        if not dups:
            assert parsed == value
    if dups:
        with pytest.raises(MetadataFormatError, match="duplicate key"):
            loads(raw)
    else:
        assert loads(raw) == value


@given(data=st.data())
def test_envelope_refuses_a_repeated_key_anywhere(data: st.DataObject) -> None:
    """As above through a metadata envelope, whose own keys (``signed``, ``signatures``,
    the signature objects) are counted apart from the signed part."""
    signed = {"_type": "targets", **data.draw(st.dictionaries(_keys, _trees, max_size=3))}
    keyids = data.draw(st.lists(_texts, unique=True, max_size=2))
    doc = {"signatures": [{"keyid": k, "sig": data.draw(_texts)} for k in keyids], "signed": signed}
    dups: list[int] = []
    text = _render(
        doc, data.draw, dups, st.booleans() if data.draw(st.booleans()) else st.just(False)
    )
    try:
        envelope = metadata.Envelope.from_bytes(text.encode(), "targets")
        assert envelope.signed_bytes() == encode_canonical(signed)
    except MetadataFormatError:
        assert dups, text
    else:
        assert not dups, text
