"""Property tests (hypothesis, small default profile): target names, versions, sizes."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signer import (
    ConflictError,
    FirmwareFields,
    FirmwareRepository,
    InvalidInputError,
    add_firmware,
    init_repository,
    validate_target_name,
)
from signer._keys import static_secret
from tests.signer.conftest import tree_bytes
from verifier import UnsafeTargetNameError, check_target_name
from verifier._internal.version import FirmwareVersion

SEGMENT = st.text(
    alphabet=st.characters(
        min_codepoint=0x21,
        max_codepoint=0x2FF,
        exclude_characters="/\\?#%",
        exclude_categories=("Cc", "Cf", "Cs"),
    ),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", ".."))
GOOD_NAMES = st.lists(SEGMENT, min_size=1, max_size=5).map("/".join)

BAD_NAMES = st.one_of(
    GOOD_NAMES.map(lambda n: "/" + n),
    st.tuples(GOOD_NAMES, GOOD_NAMES).map(lambda p: f"{p[0]}/../{p[1]}"),
    st.tuples(GOOD_NAMES, st.sampled_from([".", ".."])).map(lambda p: f"{p[0]}/{p[1]}"),
    st.tuples(GOOD_NAMES, GOOD_NAMES).map(lambda p: f"{p[0]}//{p[1]}"),
    st.tuples(GOOD_NAMES, GOOD_NAMES).map(lambda p: f"{p[0]}\\{p[1]}"),
    st.tuples(GOOD_NAMES, st.characters(max_codepoint=0x1F)).map(lambda p: p[0] + p[1]),
    GOOD_NAMES.map(lambda n: n + "/"),
    st.tuples(GOOD_NAMES, st.sampled_from("?#%")).map(lambda p: p[0] + p[1]),
    # C1 controls, bidi embeddings/overrides/isolates and marks, zero-width characters.
    st.tuples(
        GOOD_NAMES,
        st.characters(min_codepoint=0x80, max_codepoint=0x9F)
        | st.sampled_from("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
        | st.sampled_from("\u200e\u200f\u061c\u200b\ufeff\u2028"),
        GOOD_NAMES,
    ).map(lambda p: p[0] + p[1] + p[2]),
)

VERSIONS = st.builds(
    lambda parts, pre: ".".join(map(str, parts)) + (f"-{pre}" if pre else ""),
    st.lists(st.integers(0, 30), min_size=1, max_size=4),
    st.one_of(st.none(), st.sampled_from(["alpha", "alpha.1", "beta", "rc.1", "rc.2"])),
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "repo"
    init_repository(path, password="pw")
    return path


def _fresh(template: Path) -> tuple[Path, Path]:
    work = Path(tempfile.mkdtemp(prefix="firmtuf-prop-"))
    shutil.copytree(template, work / "repo")
    return work, work / "repo"


@given(GOOD_NAMES)
def test_good_names_accepted(name: str) -> None:
    validate_target_name(name)


@given(BAD_NAMES)
def test_bad_names_refused(name: str) -> None:
    with pytest.raises(InvalidInputError):
        validate_target_name(name)


@given(
    st.text(
        st.sampled_from(["a", "/", ".", "\\", "?", "%", " ", "é", "\x00", "\x7f", "\x85"])
        | st.sampled_from(["\x9f", "\u00ad", "\u202e", "\u2066", "\u200b", "\u2028", "\ud800"]),
        max_size=8,
    )
)
def test_signer_and_device_apply_one_name_rule(name: str) -> None:
    """A name the signer writes is one every device accepts: one rule
    (``verifier.check_target_name``), not two that drift. The signer refuses ``?#%``
    besides (other TUF clients put names in URLs unencoded)."""
    try:
        check_target_name(name)
    except UnsafeTargetNameError as device:
        with pytest.raises(InvalidInputError) as signer:
            validate_target_name(name)
        assert str(signer.value) == str(device)
        return
    if any(c in name for c in "?#%"):
        with pytest.raises(InvalidInputError, match="which a URL would not carry"):
            validate_target_name(name)
    else:
        validate_target_name(name)


@given(name=GOOD_NAMES, size=st.integers(0, 300_000))
def test_add_records_length_and_hash_and_stores_bytes(template: Path, name: str, size: int) -> None:
    work, repo = _fresh(template)
    try:
        image = work / "image.bin"
        data = os.urandom(size)
        image.write_bytes(data)
        added = add_firmware(
            FirmwareRepository(repo), [image], FirmwareFields(("hw",), "1.0"), name=name
        )
        assert [a.name for a in added] == [name]
        info = FirmwareRepository(repo).metadata("targets").signed.targets[name]  # type: ignore[attr-defined]
        assert info.length == size
        assert info.hashes == {"sha256": hashlib.sha256(data).hexdigest()}
        stored = repo / "targets" / f"{info.hashes['sha256']}.{name.rpartition('/')[2]}"
        assert stored.read_bytes() == data
        r = FirmwareRepository(repo, secrets_handler=static_secret("pw"))
        assert r.sign().incomplete == {}
    finally:
        shutil.rmtree(work)


@given(first=VERSIONS, second=VERSIONS)
def test_second_add_accepted_only_when_newer(template: Path, first: str, second: str) -> None:
    work, repo = _fresh(template)
    try:
        image = work / "fw.bin"
        image.write_bytes(b"firmware")
        add_firmware(
            FirmwareRepository(repo), [image], FirmwareFields(("hw",), first), name="a/fw.bin"
        )
        before = tree_bytes(repo)
        newer = FirmwareVersion(second) > FirmwareVersion(first)
        try:
            add_firmware(
                FirmwareRepository(repo),
                [image],
                FirmwareFields(("hw",), second),
                name="b/fw.bin",
            )
        except ConflictError as e:
            assert not newer
            assert "is not newer than" in str(e)
            assert tree_bytes(repo) == before
        else:
            assert newer
    finally:
        shutil.rmtree(work)
