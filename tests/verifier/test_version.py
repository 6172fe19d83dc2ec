from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier._internal.version import FirmwareVersion, VersionError, parse_version

SEMVER_ORDER = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.9",
    "1.10",
    "2",
]


def test_semver_precedence_order() -> None:
    parsed = [parse_version(v) for v in SEMVER_ORDER]
    assert parsed == sorted(parsed)
    for a, b in itertools.pairwise(parsed):
        assert a < b, (a, b)


def test_trailing_zeros_are_equal() -> None:
    assert parse_version("1.2") == parse_version("1.2.0.0")
    assert hash(parse_version("1.2")) == hash(parse_version("1.2.0"))


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "1.",
        ".1",
        "v1",
        "01.2",
        "1.0+build",
        "1..2",
        " 1",
        "1.0-",
        "1.0-01",
        "1" * 65,
        "1.2.3.4.5.6.7.8.9",
    ],
)
def test_invalid_versions_refused(bad: str) -> None:
    with pytest.raises(VersionError):
        parse_version(bad)


def test_non_string_refused() -> None:
    with pytest.raises(VersionError):
        FirmwareVersion(3)  # type: ignore[arg-type]


@given(
    st.lists(st.integers(0, 10**6), min_size=1, max_size=8),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=8),
)
def test_numeric_order_matches_padded_tuples(a: list[int], b: list[int]) -> None:
    va, vb = parse_version(".".join(map(str, a))), parse_version(".".join(map(str, b)))
    width = max(len(a), len(b))
    ta, tb = a + [0] * (width - len(a)), b + [0] * (width - len(b))
    assert (va < vb) == (ta < tb)
    assert (va == vb) == (ta == tb)
