"""Verify before parse (issue 14 item 1, docs/adr/0014).

Metadata in canonical layout has its signatures checked over the exact bytes of its
``signed`` part before that part is parsed; anything else (another layout, signatures
that do not cover those bytes) is parsed whole and re-encoded, as the specification
defines the check. The attacks below feed what a slicing verifier could get wrong; the
property test checks that the fast path and the re-encoding path decide alike.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from securesystemslib.formats import encode_canonical as sslib_canonical
from securesystemslib.signer import CryptoSigner

import verifier
from tests.repository import Repository
from tests.verifier.test_attacks import attack, current_url, role_dict, ts_url
from verifier._internal import canonical, metadata
from verifier._internal.keys import Key
from verifier._internal.metadata import Role, Targets, Timestamp


def canonical_bytes(signed: dict[str, Any]) -> bytes:
    return sslib_canonical(signed).encode()  # type: ignore[union-attr]


def envelope(signed_text: bytes, signatures: list[dict[str, Any]]) -> bytes:
    """A document in canonical layout around ``signed_text`` (bytes as given)."""
    sigs = json.dumps(signatures, separators=(",", ":")).encode()
    return b'{"signatures":' + sigs + b',"signed":' + signed_text + b"}"


def signed_over(signer: Any, message: bytes) -> dict[str, Any]:
    return {"keyid": signer.public_key.keyid, "sig": signer.sign(message).signature}


@pytest.fixture
def sim() -> Repository:
    s = Repository(layout="canonical")
    s.add_target("gw/1.0.0/fw.bin", b"firmware one")
    s.publish()
    return s


@pytest.fixture
def md(sim: Repository, tmp_path: Path) -> Path:
    d = tmp_path / "md"
    sim.updater(d).refresh()
    return d


class Spy:
    """Records what the verifier parses and encodes (to prove what it did not)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.parsed: list[int] = []  # sizes of the documents parsed whole
        self.signed_parsed: list[str] = []  # the signed parts parsed
        self.encoded = 0
        real_from_bytes = metadata.Envelope.from_bytes
        real_parse_signed = metadata.parse_signed
        real_encode = metadata.encode_canonical

        def from_bytes(data: bytes | str, expected_type: str) -> metadata.Envelope:
            self.parsed.append(len(data))
            return real_from_bytes(data, expected_type)

        def parse_signed(text: str, start: int) -> Any:
            self.signed_parsed.append(text[start:-1])
            return real_parse_signed(text, start)

        def encode(obj: Any, **kwargs: Any) -> bytes:
            self.encoded += 1
            return real_encode(obj, **kwargs)

        monkeypatch.setattr(metadata.Envelope, "from_bytes", staticmethod(from_bytes))
        monkeypatch.setattr(metadata, "parse_signed", parse_signed)
        monkeypatch.setattr(metadata, "encode_canonical", encode)


# -- the fast path ----------------------------------------------------------------------


def test_canonical_metadata_is_verified_without_reencoding(
    sim: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim.rotate_root()
    spy = Spy(monkeypatch)
    up = sim.updater(tmp_path / "md")
    up.refresh()
    assert up.get_targetinfo("gw/1.0.0/fw.bin") is not None
    # root 1 (trusted), root 2, timestamp, snapshot, targets: each signed part parsed once,
    # after its signatures were checked; no document parsed whole, nothing re-encoded.
    assert len(spy.signed_parsed) == 5
    assert spy.parsed == []
    assert spy.encoded == 0


def test_signed_part_altered_without_resigning_is_never_parsed_as_trusted(
    sim: Repository, md: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: one signature over one byte sequence, a signed part altered after it."""
    sim.update_timestamp()
    data = sim.files[ts_url()]
    assert b'"version":3' in data
    sim.override[ts_url()] = data.replace(b'"version":3', b'"version":4')
    spy = Spy(monkeypatch)
    attack(sim, md, verifier.UnsignedMetadataError, role="timestamp")
    assert spy.signed_parsed  # the trusted root and timestamp (stored) were
    assert not [t for t in spy.signed_parsed if '"version":4' in t]


def test_huge_unauthenticated_body_is_refused_and_not_stored(
    sim: Repository, md: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: a 6 MB targets body under copied signatures. The fast path parses only the
    signatures; the body is refused (parsed once to be re-encoded, as every document
    whose signatures do not cover its bytes; its size bounded by the configured cap)."""
    sim.publish()
    url = current_url(sim, "targets")
    split = canonical.split_envelope(sim.files[url])
    assert split is not None
    signed = role_dict(sim, "targets")
    signed["targets"] = {
        f"evil/{i}": {"length": i, "hashes": {"sha256": "0" * 64}} for i in range(60000)
    }
    body = canonical_bytes(signed)
    assert len(body) > 6_000_000
    sim.override[url] = envelope(body, split[0])
    spy = Spy(monkeypatch)
    attack(sim, md, verifier.UnsignedMetadataError, role="targets")
    assert not [t for t in spy.signed_parsed if "evil/" in t]
    assert not (md / "targets.json").read_bytes().count(b"evil/")


def test_signatures_slice_cannot_lie_about_where_signed_starts(sim: Repository, md: Path) -> None:
    """Attack: the validly signed timestamp bytes placed inside the signatures list (a
    signature object's "signed" member), an unsigned one as the document's real
    ``signed``. A verifier that searched for ``"signed":`` would check the first and
    trust the second; the signatures list is parsed to find where it ends."""
    sim.update_timestamp()
    good = sim.files[ts_url()]
    split = canonical.split_envelope(good)
    assert split is not None
    sigs, start = split
    valid_signed = good[start:-1]
    evil = role_dict(sim, "timestamp")
    evil["version"] += 10
    lying = [dict(sigs[0], signed=json.loads(valid_signed))]
    doc = envelope(canonical_bytes(evil), lying)
    assert doc.count(b',"signed":' + valid_signed) == 1  # the lie, before the real one
    assert doc.count(b',"signed":') == 2
    sim.override[ts_url()] = doc
    attack(sim, md, verifier.UnsignedMetadataError, role="timestamp")
    # A string holding the marker and the signed bytes (escaped) does not fool it either.
    in_string = [dict(sigs[0], note=',"signed":' + valid_signed.decode())]
    sim.override[ts_url()] = envelope(canonical_bytes(evil), in_string)
    attack(sim, md, verifier.UnsignedMetadataError, role="timestamp")


def test_data_after_the_signed_part_takes_the_reencoding_path(
    sim: Repository, md: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``{"signatures":...,"signed":{...},"x":1}``: the signatures do not cover the bytes
    up to the last brace, so the document is parsed whole: its ``signed`` is the signed
    one, the extra member is ignored as unknown fields are (python-tuf agrees)."""
    sim.update_timestamp()
    data = sim.files[ts_url()]
    sim.override[ts_url()] = data[:-1] + b',"x":1}'
    spy = Spy(monkeypatch)
    up = sim.updater(md)
    up.refresh()
    assert up.trusted_versions()["timestamp"] == 3
    assert spy.parsed  # the re-encoding path


@pytest.mark.parametrize(
    "duplicate",
    [b'"version":99,', b'"meta":{},', b'"x":[1,{"y":2}],"x":3,'],
    ids=["version", "meta", "nested-values"],
)
def test_duplicate_key_signed_over_the_raw_bytes_is_refused(
    sim: Repository, md: Path, duplicate: bytes
) -> None:
    """A document with a repeated key whose signatures cover its exact bytes (only a key
    holder can make one): refused on the fast path too, by the count."""
    signed = role_dict(sim, "timestamp")
    signed["version"] = 5
    text = canonical_bytes(signed)
    text = text.replace(b'{"_type"', b"{" + duplicate + b'"_type"', 1)
    signer = sim.signers["timestamp"][0]
    sim.override[ts_url()] = envelope(text, [signed_over(signer, text)])
    error = attack(sim, md, verifier.MetadataFormatError, role="timestamp")
    assert "duplicate key" in str(error)


def test_signed_bytes_must_be_one_json_value(sim: Repository, md: Path) -> None:
    """A signature over ``{A},"signed":{B}``: the verified bytes span a second, repeated
    ``signed`` member (a last-wins reader would act on B). They are not one JSON value,
    so the document is parsed whole, and its repeated key refused."""
    a = role_dict(sim, "timestamp")
    b = dict(a, version=a["version"] + 5)
    text = canonical_bytes(a) + b',"signed":' + canonical_bytes(b)
    signer = sim.signers["timestamp"][0]
    sim.override[ts_url()] = envelope(text, [signed_over(signer, text)])
    error = attack(sim, md, verifier.MetadataFormatError, role="timestamp")
    assert "duplicate key" in str(error)


def test_characters_of_structure_inside_strings_are_not_duplicates() -> None:
    """The count is only an upper bound when strings hold ``,{[``: then the exact parse
    decides (and finds no repetition)."""
    signed = {"a": "x,{[", "b": ["{}", "[]"], "c": {}, "d": []}
    text = canonical_bytes(signed)
    doc = envelope(text, [])
    split = canonical.split_envelope(doc)
    assert split is not None
    assert canonical.parse_signed(doc.decode(), split[1]) == signed


def test_non_canonical_but_validly_signed_files_verify_by_reencoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """python-tuf's pretty layout, and a compact writer's escapes (a PEM-like string with
    newlines: JSON writes ``\\n``, canonical JSON the raw newline)."""
    for layout in ("pretty", "canonical"):
        sim = Repository(layout=layout)
        sim.add_target("gw/fw.bin", b"one", custom={"notes": "line one\nline two\t\u00e9"})
        sim.publish()
        assert b"line one\\nline two" in sim.files[current_url(sim, "targets")]
        spy = Spy(monkeypatch)
        up = sim.updater(tmp_path / layout)
        up.refresh()
        target = up.get_targetinfo("gw/fw.bin")
        assert target is not None and target.custom == {"notes": "line one\nline two\t\u00e9"}
        assert spy.encoded  # re-encoded to check the targets signature
        monkeypatch.undo()


def test_signature_over_the_exact_non_canonical_bytes_is_accepted(
    sim: Repository, md: Path
) -> None:
    """The one designed difference from a re-encoding client (ADR 0014): in canonical
    layout, signatures over the exact bytes served count even when those bytes are not
    the canonical form (here: keys out of order). Only a key holder can make such a
    file, and what the device parses is exactly what was signed."""
    signed = role_dict(sim, "timestamp")
    signed["version"] = 7
    text = json.dumps(signed, separators=(",", ":")).encode()  # python-tuf's key order
    assert text != canonical_bytes(signed)
    signer = sim.signers["timestamp"][0]
    data = envelope(text, [signed_over(signer, text)])
    sim.override[ts_url()] = data
    up = sim.updater(md)
    up.refresh()
    assert up.trusted_versions()["timestamp"] == 7
    assert (md / "timestamp.json").read_bytes() == data
    with pytest.raises(verifier.UnsignedMetadataError):  # the specification's reading
        root = metadata.parse(metadata.Root, (md / "root.json").read_bytes())
        metadata.load_reencoded(Timestamp, data, *root.delegate("timestamp"), "timestamp")


# -- GC: off the parsed objects, the host's settings untouched ---------------------------


def _big_signed() -> bytes:
    entries = {
        f"t/{i}": {"hashes": {"sha256": "ab" * 32}, "length": i, "custom": {"v": [i]}}
        for i in range(4000)
    }
    return envelope(canonical_bytes({"_type": "targets", "targets": entries}), [])


def test_large_parse_puts_its_objects_in_the_oldest_generation() -> None:
    doc = _big_signed()
    assert len(doc) > canonical.PROMOTE_MIN_CHARS
    split = canonical.split_envelope(doc)
    assert split is not None
    value = canonical.parse_signed(doc.decode(), split[1])
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert id(value) in oldest and id(value["targets"]["t/7"]) in oldest
    assert not {id(o) for o in gc.get_objects(generation=0)} & {id(value)}


def test_parsing_keeps_the_hosts_gc_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _big_signed()
    text = doc.decode()
    split = canonical.split_envelope(doc)
    assert split is not None
    thresholds = gc.get_threshold()
    # A host with the GC enabled: enabled after, thresholds as they were.
    canonical.parse_signed(text, split[1])
    assert gc.isenabled() and gc.get_threshold() == thresholds
    # A host that disabled it: still disabled, and no collection ran on its behalf.
    gc.disable()
    try:
        before = [s["collections"] for s in gc.get_stats()]
        canonical.parse_signed(text, split[1])
        canonical.loads(doc)
        assert not gc.isenabled()
        assert [s["collections"] for s in gc.get_stats()] == before
    finally:
        gc.enable()
    # A host that froze objects (a forking server): they stay frozen.
    # The freeze count only falls when a frozen object is freed by its refcount (another
    # thread of the test process may free one): what must not happen is an unfreeze.
    unfrozen: list[bool] = []
    real_unfreeze = gc.unfreeze

    def unfreeze() -> None:
        unfrozen.append(True)
        real_unfreeze()

    monkeypatch.setattr(gc, "unfreeze", unfreeze)
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        value = canonical.parse_signed(text, split[1])
        assert not unfrozen
        assert 0 < gc.get_freeze_count() <= frozen
        assert id(value) not in {id(o) for o in gc.get_objects(generation=2)}
    finally:
        gc.unfreeze()


# -- property: the fast path decides as the re-encoding path ----------------------------


SIGNERS = [CryptoSigner.generate_ed25519() for _ in range(3)]
KEYS = {
    s.public_key.keyid: Key.from_dict(s.public_key.keyid, s.public_key.to_dict()) for s in SIGNERS
}

_strings = st.text(alphabet=st.sampled_from('a:,{["\\\n\u00e9 \U0001f600}]'), max_size=6)
_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | _strings,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_strings, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def _documents(draw: st.DrawFn) -> tuple[bytes, Role]:
    targets = draw(
        st.dictionaries(
            _strings,
            st.fixed_dictionaries(
                {"length": st.integers(0, 2**40), "hashes": st.just({"sha256": "ab" * 32})},
                optional={"custom": st.dictionaries(_strings, _values, max_size=2)},
            ),
            max_size=3,
        )
    )
    signed = {
        "_type": "targets",
        "spec_version": "1.0.31",
        "version": draw(st.integers(1, 5)),
        "expires": "2030-01-01T00:00:00Z",
        "targets": targets,
        **draw(st.dictionaries(st.sampled_from(["x", "zz", "_a"]), _values, max_size=1)),
    }
    keyids = list(KEYS)
    role = Role(tuple(keyids), draw(st.integers(1, 3)))
    message = canonical_bytes(signed)
    sigs = [
        signed_over(s, draw(st.sampled_from([message, message, message, message + b" ", b"x"])))
        for s in SIGNERS
        if draw(st.booleans())
    ]
    layout = draw(st.sampled_from(["canonical", "pretty", "signed-first", "olpc"]))
    if layout == "canonical":  # firmtuf's signer, python-tuf's compact form
        text = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        data = envelope(text.encode(), sigs)
    elif layout == "pretty":  # python-tuf's default
        doc = {"signatures": sigs, "signed": signed}
        data = json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False).encode()
    elif layout == "signed-first":  # go-tuf's field order
        data = json.dumps({"signed": signed, "signatures": sigs}, separators=(",", ":")).encode()
    else:  # canonical JSON itself (raw control characters: not JSON when it has any)
        data = envelope(message, sigs)
    tamper = draw(st.sampled_from(["none"] * 4 + ["byte", "duplicate", "lie", "trailing", "cut"]))
    if tamper == "byte" and len(data) > 20:
        at = draw(st.integers(0, len(data) - 1))
        data = (
            data[:at]
            + draw(st.sampled_from([b"0", b" ", b'"', b"\\", b"}", b","]))
            + data[at + 1 :]
        )
    elif tamper == "duplicate":
        data = data.replace(b'"version":', b'"version":9,"version":', 1)
    elif tamper == "lie" and sigs:
        lie = envelope(canonical_bytes({**signed, "version": 99}), [dict(sigs[0], signed=signed)])
        data = lie
    elif tamper == "trailing":
        data = data[:-1] + b',"x":1}'
    elif tamper == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    return data, role


def _outcome(load: Any, data: bytes, role: Role) -> tuple[str, Any]:
    try:
        md = load(Targets, data, role, KEYS, "targets")
    except verifier.RepositoryError as e:
        return ("refused", type(e).__name__)
    return ("accepted", md.envelope.signed)


@given(_documents())
def test_fast_path_and_reencoding_path_decide_alike(document: tuple[bytes, Role]) -> None:
    """For random metadata (any content, key order, escapes, layouts as the known writers
    produce them), signed over its canonical form by random key subsets against random
    thresholds, then tampered with or not: the same documents are accepted, with the same
    content, and the same refused, with the same error class."""
    data, role = document
    assert _outcome(metadata.load, data, role) == _outcome(metadata.load_reencoded, data, role)
