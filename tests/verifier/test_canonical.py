from __future__ import annotations

from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from securesystemslib.formats import encode_canonical as sslib_encode_canonical

from verifier import MetadataFormatError
from verifier._internal import canonical
from verifier._internal.canonical import encode_canonical, encode_canonical_slow, loads

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def reference(obj: object) -> bytes:
    return sslib_encode_canonical(obj).encode("utf-8")  # type: ignore[no-any-return, union-attr]


@pytest.fixture(params=["orjson", "stdlib"])
def encoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the optional orjson accelerator and without it."""
    if request.param == "stdlib":
        monkeypatch.setattr(canonical, "_orjson", None)
    elif canonical._accelerator() is None:
        pytest.skip("orjson (extra 'accel') is not installed")
    return str(request.param)


ORJSON = canonical._accelerator()


@pytest.mark.parametrize("accel", [ORJSON, None], ids=["orjson", "stdlib"])
@given(obj=json_values)
def test_matches_securesystemslib(accel: object, obj: object) -> None:
    with mock.patch.object(canonical, "_orjson", accel):
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
def test_known_values(encoder: str, obj: object) -> None:
    assert encode_canonical(obj) == reference(obj)


def test_fast_and_slow_paths_agree_on_escapes(encoder: str) -> None:
    obj = {"k": 'x"\\\n'}
    assert encode_canonical(obj) == encode_canonical_slow(obj) == b'{"k":"x\\"\\\\\n"}'


@pytest.mark.parametrize("obj", [1.5, {"a": [0.0]}, float("nan")])
def test_floats_refused(encoder: str, obj: object) -> None:
    with pytest.raises(MetadataFormatError):
        encode_canonical(obj)


def test_lone_surrogate_refused(encoder: str) -> None:
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
