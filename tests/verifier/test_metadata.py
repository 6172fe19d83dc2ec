"""Unit tests of the metadata model against python-tuf's (the oracle)."""

from __future__ import annotations

import calendar
import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from securesystemslib.signer import CryptoSigner
from tuf.api import metadata as tuf_md

from verifier import MetadataFormatError
from verifier._internal import metadata as md
from verifier._internal.keys import Key, UnknownKey

segment = st.text(alphabet="ab*?.[]!-/", min_size=0, max_size=6)


@given(
    st.datetimes(min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime(9999, 12, 31))
)
def test_expires_matches_calendar(dt: datetime.datetime) -> None:
    text = dt.strftime("%Y-%m-%dT%H:%M:%SZ").rjust(20, "0")
    assert md._parse_expires(text) == calendar.timegm(dt.timetuple())


@pytest.mark.parametrize(
    "text",
    [
        "2030-02-29T00:00:00Z",
        "2030-00-01T00:00:00Z",
        "2030-01-01T24:00:00Z",
        "2030-01-01 00:00:00Z",
        "2030-01-01T00:00:00",
        "2030-01-01T00:00:00+00:00",
        "x",
    ],
)
def test_bad_expires(text: str) -> None:
    with pytest.raises(MetadataFormatError):
        md._parse_expires(text)


def test_leap_day_accepted() -> None:
    assert md._parse_expires("2028-02-29T00:00:00Z") == calendar.timegm((2028, 2, 29, 0, 0, 0))


@given(path=st.text(alphabet="ab./-", max_size=12), pattern=segment)
def test_path_pattern_matches_python_tuf(path: str, pattern: str) -> None:
    role = tuf_md.DelegatedRole("r", [], 1, False, paths=[pattern])
    ours = md.DelegatedRole(
        {"name": "r", "keyids": [], "threshold": 1, "terminating": False, "paths": [pattern]}
    )
    assert ours.is_delegated_path(path) == role.is_delegated_path(path)


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("fw/*", "fw/a.bin", True),
        ("fw/*", "fw/sub/a.bin", False),
        ("*", "a/b", False),
        ("fw/*/*.bin", "fw/1.0/a.bin", True),
        ("fw/?.bin", "fw/a.bin", True),
        ("FW/*", "fw/a", False),
    ],
)
def test_path_patterns(pattern: str, path: str, expected: bool) -> None:
    role = md.DelegatedRole(
        {"name": "r", "keyids": [], "threshold": 1, "terminating": False, "paths": [pattern]}
    )
    assert role.is_delegated_path(path) is expected


@given(bits=st.integers(1, 12), path=st.text(max_size=20))
def test_succinct_matches_python_tuf(bits: int, path: str) -> None:
    theirs = tuf_md.SuccinctRoles([], 1, bits, "bin")
    ours = md.SuccinctRoles(
        {"keyids": [], "threshold": 1, "bit_length": bits, "name_prefix": "bin"}
    )
    name = ours.role_for_target(path)
    assert name == theirs.get_role_for_target(path)
    assert ours.is_delegated_role(name)


def test_succinct_role_names() -> None:
    ours = md.SuccinctRoles({"keyids": [], "threshold": 1, "bit_length": 3, "name_prefix": "b"})
    assert list(ours.all_roles()) == list(tuf_md.SuccinctRoles([], 1, 3, "b").get_roles())
    for bad in ["b-8", "b-", "b-00", "c-1", "b-g", "b-x1"]:
        assert not ours.is_delegated_role(bad)


def test_hash_prefix_role() -> None:
    role = md.DelegatedRole(
        {
            "name": "r",
            "keyids": [],
            "threshold": 1,
            "terminating": False,
            "path_hash_prefixes": ["8", "e3b"],
        }
    )
    theirs = tuf_md.DelegatedRole("r", [], 1, False, path_hash_prefixes=["8", "e3b"])
    for path in ["", "a", "b", "firmware/1.0/x.bin"]:
        assert role.is_delegated_path(path) == theirs.is_delegated_path(path)


def key_dict(signer: CryptoSigner) -> dict[str, object]:
    return signer.public_key.to_dict()


@pytest.mark.parametrize(
    "make",
    [
        CryptoSigner.generate_ed25519,
        CryptoSigner.generate_ecdsa,
        lambda: CryptoSigner.generate_ecdsa(scheme="ecdsa-sha2-nistp384"),
        lambda: CryptoSigner.generate_rsa(size=2048),
    ],
)
def test_key_verify(make: object) -> None:
    signer = make()  # type: ignore[operator]
    key = Key.from_dict(signer.public_key.keyid, key_dict(signer))
    sig = signer.sign(b"message").signature
    assert key.verify(sig, b"message")
    assert not key.verify(sig, b"messagE")
    assert not key.verify("zz", b"message")
    assert not key.verify("00" * 10, b"message")


def test_key_errors() -> None:
    # An unknown type is kept as a key that never verifies (TUF 4.2: adopters' key types),
    # whatever its keyval holds; a keyval that is not an object is malformed for any type.
    for keyval in ({"public": ""}, {"x": 1}, {}):
        unknown = Key.from_dict("k", {"keytype": "ed25519", "scheme": "ed448", "keyval": keyval})
        assert isinstance(unknown, UnknownKey) and unknown.kind == "ed25519/ed448"
        assert not unknown.verify("00" * 64, b"m")
    with pytest.raises(MetadataFormatError):
        Key.from_dict("k", {"keytype": "x-pq", "scheme": "x-pq", "keyval": "abcd"})
    with pytest.raises(MetadataFormatError):
        Key.from_dict("k", {"keytype": "ed25519", "scheme": "ed25519", "keyval": {}})
    with pytest.raises(MetadataFormatError):
        Key.from_dict("k", [])
    bad = Key.from_dict(
        "k", {"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": "abcd"}}
    )
    with pytest.raises(MetadataFormatError):
        bad.verify("00", b"m")


def test_ecdsa_key_of_wrong_curve_is_refused() -> None:
    p384 = CryptoSigner.generate_ecdsa(scheme="ecdsa-sha2-nistp384")
    d = key_dict(p384)
    d["scheme"] = "ecdsa-sha2-nistp256"
    key = Key.from_dict("k", d)
    with pytest.raises(MetadataFormatError):
        key.verify("00", b"m")


def test_rsa_pem_under_ecdsa_scheme_is_refused() -> None:
    rsa = CryptoSigner.generate_rsa(size=2048)
    d = key_dict(rsa)
    d["keytype"], d["scheme"] = "ecdsa", "ecdsa-sha2-nistp256"
    with pytest.raises(MetadataFormatError):
        Key.from_dict("k", d).verify("00", b"m")


def test_same_key_two_encodings_has_one_identity() -> None:
    signer = CryptoSigner.generate_ed25519()
    d = key_dict(signer)
    upper = {**d, "keyval": {"public": str(d["keyval"]["public"]).upper()}}  # type: ignore[index]
    assert Key.from_dict("a", d).identity() == Key.from_dict("b", upper).identity()


def test_missing_primitive_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from verifier import CryptoUnavailableError

    signer = CryptoSigner.generate_ed25519()
    key = Key.from_dict("k", key_dict(signer))
    sig = signer.sign(b"m").signature
    from cryptography.hazmat.primitives import asymmetric

    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.asymmetric.ed25519", None)
    monkeypatch.delattr(asymmetric, "ed25519")
    with pytest.raises(CryptoUnavailableError):
        key.verify(sig, b"m")


def test_unloadable_key_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives import serialization

    from verifier import CryptoUnavailableError

    signer = CryptoSigner.generate_ecdsa()

    def unsupported(data: bytes) -> object:
        raise RuntimeError("curve not supported by this OpenSSL")

    monkeypatch.setattr(serialization, "load_pem_public_key", unsupported)
    with pytest.raises(CryptoUnavailableError):
        Key.from_dict("k", key_dict(signer)).verify("00", b"m")
