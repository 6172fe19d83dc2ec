"""What the verifier does to stay fast and small, and that none of it loosens a check.

Large metadata: signatures are checked over the raw bytes before parsing (canonical
layout), the GC is kept off the parsed objects, targets metadata is streamed into a
staged file and verified from one read. Small devices: Ed25519 keys load
without cryptography's serialization module (the HTTP transports: tests/verifier/transport/).
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import verifier
from tests.repository import METADATA_URL, Repository, future, tamper
from tests.verifier.conftest import state_of
from tests.verifier.test_attacks import current_url, role_dict, sign_dict
from verifier._internal import canonical, storage

PACKAGE_ROOT = Path(__file__).parents[2]


def big_sim(n: int, layout: str = "canonical") -> Repository:
    """A repository whose targets.json is large enough for the GC handling of the parser."""
    sim = Repository(layout=layout)
    for i in range(n):
        custom = {"firmtuf": {"hardware_ids": [f"hw-{i % 5}"], "version": f"1.0.{i}"}}
        sim.add_target(f"hw-{i % 5}/1.0.{i}/fw-é{i}.bin", f"image {i}".encode(), custom=custom)
    sim.publish()
    return sim


@pytest.fixture(scope="module", params=["canonical", "pretty"])
def big(request: pytest.FixtureRequest) -> Repository:
    return big_sim(1400, request.param)


def test_big_fixture_is_above_the_threshold(big: Repository) -> None:
    data = big.files[current_url(big, "targets")]
    assert len(data) > canonical.PROMOTE_MIN_CHARS


def test_large_repository_refresh(big: Repository, tmp_path: Path) -> None:
    """Both layouts: canonical (signatures over the raw bytes, verified before parsing)
    and python-tuf's pretty one (re-encoded)."""
    up = big.updater(tmp_path / "md")
    target = up.get_targetinfo("hw-3/1.0.1003/fw-é1003.bin")
    assert target is not None
    assert target.length == len(b"image 1003")
    assert (tmp_path / "md" / "targets.json").read_bytes() == big.files[current_url(big, "targets")]


# -- parsing --------------------------------------------------------------------------


def test_loads_pauses_the_gc_and_restores_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert gc.isenabled()
    seen: list[bool] = []

    def hook(text: str) -> int:
        seen.append(gc.isenabled())
        return int(text)

    monkeypatch.setattr(
        canonical,
        "_decoder",
        json.JSONDecoder(
            parse_int=hook,
            parse_float=canonical._refuse_float,
            parse_constant=canonical._refuse_constant,
        ),
    )
    assert canonical.loads(b'{"a": 7}') == {"a": 7}
    with pytest.raises(verifier.MetadataFormatError):
        canonical.loads(b'{"a": 1, "b": 1.5}')
    assert gc.isenabled()
    gc.disable()
    try:
        canonical.loads(b'{"a": 1}')
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
    assert seen == [False, False, False]


def test_loads_accepts_bytes_and_decoded_text() -> None:
    data = '{"name": "fw-é"}'.encode()
    assert canonical.loads(data) == canonical.loads(canonical.decode(data)) == {"name": "fw-é"}
    with pytest.raises(verifier.MetadataFormatError, match="invalid JSON"):
        canonical.decode(b'{"a": "\xff"}')


def test_malformed_entry_among_many_targets_is_refused(big: Repository, tmp_path: Path) -> None:
    md = tmp_path / "md"
    big.updater(md).refresh()
    before = state_of(md)
    big.publish()
    signed = role_dict(big, "targets")
    names = list(signed["targets"])
    signed["targets"][names[len(names) // 2]]["hashes"] = {"sha256": 5}
    big.override[current_url(big, "targets")] = sign_dict(big.signers["targets"][0], signed)
    with pytest.raises(verifier.MetadataFormatError, match="hashes must be strings"):
        big.updater(md).refresh()
    after = state_of(md)
    # A valid new timestamp and snapshot may be stored first; targets.json is untouched
    # and no staged file is left behind.
    assert after["targets.json"] == before["targets.json"]
    assert not [p for p in md.iterdir() if p.name.endswith(".tmp")]


# -- staged targets -------------------------------------------------------------------


def test_unverified_targets_never_reach_the_stored_name(sim: Repository, tmp_path: Path) -> None:
    md = tmp_path / "md"
    sim.updater(md).refresh()
    stored = (md / "targets.json").read_bytes()
    sim.publish()
    url = current_url(sim, "targets")
    sim.override[url] = tamper(sim.files[url], '"length": 12', '"length": 13')
    with pytest.raises(verifier.UnsignedMetadataError):
        sim.updater(md).refresh()
    assert (md / "targets.json").read_bytes() == stored
    assert sorted(p.name for p in md.iterdir()) == [
        "firmtuf",
        "root.json",
        "snapshot.json",
        "targets.json",
        "timestamp.json",
    ]


def test_fetch_error_while_staging_leaves_nothing(sim: Repository, tmp_path: Path) -> None:
    class Truncating(verifier.Fetcher):
        def _fetch(self, url: str, offset: int, deadline: verifier.Deadline) -> Iterator[bytes]:
            data = sim.serve(url)
            if data is None:
                raise verifier.DownloadHTTPError("not found", 404)
            if "targets" not in url:
                return iter([data])
            return self._broken(data)

        def _broken(self, data: bytes) -> Iterator[bytes]:
            yield data[:10]
            raise verifier.DownloadError("connection reset")

    md = tmp_path / "md"
    md.mkdir()
    (md / "root.json").write_bytes(sim.signed_roots[0])
    up = verifier.Updater(md, METADATA_URL, fetcher=Truncating())
    with pytest.raises(verifier.DownloadError, match="connection reset"):
        up.refresh()
    assert not (md / "targets.json").exists()
    assert not [p for p in md.iterdir() if p.name.endswith(".tmp")]


def test_stage_commit_and_discard(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b"old")
    with storage.StagedFile(path, unique=False) as staged:
        staged.write(b"ne")
        staged.write(memoryview(b"w"))
        staged.sync()
        assert staged.tell() == 3 and staged.path.read_bytes() == b"new"
        assert path.read_bytes() == b"old"
        staged.commit()
    assert path.read_bytes() == b"new" and not staged.path.exists()
    with storage.StagedFile(path) as staged:
        staged.write(b"newer")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_read_at_most_is_sized_by_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x" * 1000)
    with open(f, "rb") as fh:
        assert storage.read_at_most(fh, 64 << 20) == b"x" * 1000
    with open(f, "rb") as fh:
        assert storage.read_at_most(fh, 10) == b"x" * 11  # one more than allowed: too long
    # A file that grew after fstat is still read to its end (or to the limit).
    real = os.fstat

    def stale(fd: int) -> Any:
        result = real(fd)
        return os.stat_result((*result[:6], 10, *result[7:]))

    monkeypatch.setattr(storage.os, "fstat", stale)
    with open(f, "rb") as fh:
        assert storage.read_at_most(fh, 5000) == b"x" * 1000
    with open(f, "rb") as fh:
        assert len(storage.read_at_most(fh, 500)) == 501


def test_directory_fetcher_fetch_bytes(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(b"0123456789")
    fetcher = verifier.DirectoryFetcher(tmp_path, base_url="http://x/")
    assert fetcher.fetch_bytes("http://x/a.json", 10) == b"0123456789"
    with pytest.raises(verifier.DownloadLengthMismatchError):
        fetcher.fetch_bytes("http://x/a.json", 9)
    with pytest.raises(verifier.DownloadHTTPError) as info:
        fetcher.fetch_bytes("http://x/missing.json", 9)
    assert info.value.status_code == 404


# -- what a device imports ------------------------------------------------------------

_IMPORTS_AFTER_REFRESH = """
import sys
sys.path.insert(0, {root!r})
from tests.repository import Repository
sim = Repository()
sim.add_target("gw/1.0/fw.bin", b"x")
sim.publish()
before = set(sys.modules)
sim.updater({md!r}).refresh()
print(sorted(m for m in set(sys.modules) - before if m.startswith(("cryptography", "orjson"))))
"""


def test_ed25519_small_refresh_imports_only_what_it_needs(tmp_path: Path) -> None:
    # The repository builder (python-tuf) imports cryptography itself: compare against a run in
    # which serialization was not imported before the refresh.
    code = _IMPORTS_AFTER_REFRESH.format(root=str(PACKAGE_ROOT), md=str(tmp_path / "md"))
    code = code.replace(
        "before = set(sys.modules)",
        "for m in [m for m in sys.modules if m.startswith(('cryptography', 'orjson'))]:\n"
        "    del sys.modules[m]\n"
        "before = set(sys.modules)",
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(out.strip().replace("'", '"'))
    assert "cryptography.hazmat.primitives.asymmetric.ed25519" in loaded
    assert "cryptography.hazmat.primitives.serialization" not in loaded
    assert not [m for m in loaded if m.startswith("orjson")]


@pytest.mark.parametrize("kind", ["ed25519", "p256", "pss256"])
def test_key_identity_of_every_key_type(kind: str) -> None:
    from securesystemslib.signer import CryptoSigner

    from verifier._internal.keys import Key

    signer = {
        "ed25519": CryptoSigner.generate_ed25519,
        "p256": CryptoSigner.generate_ecdsa,
        "pss256": lambda: CryptoSigner.generate_rsa(size=2048),
    }[kind]()
    data = signer.public_key.to_dict()
    key = Key.from_dict("a", data)
    identity = key.identity()
    assert identity[0] == kind
    if kind == "ed25519":
        assert identity[1] == bytes.fromhex(data["keyval"]["public"])  # type: ignore[index]
    else:
        assert identity[1].startswith(b"\x30")  # DER SubjectPublicKeyInfo
    assert Key.from_dict("b", data).identity() == identity


# -- polls ----------------------------------------------------------------------------


def test_unchanged_timestamp_is_verified_once(
    sim: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from verifier._internal import metadata
    from verifier._internal.metadata import Timestamp

    md = tmp_path / "md"
    sim.updater(md).refresh()
    calls: list[bytes] = []
    real = metadata.load

    def counting(cls: type, data: bytes, *args: Any) -> Any:
        if cls is Timestamp:
            calls.append(data)
        return real(cls, data, *args)

    monkeypatch.setattr(metadata, "load", counting)
    sim.updater(md).refresh()
    assert calls == [(md / "timestamp.json").read_bytes()]  # the stored copy only
    sim.update_timestamp()  # a new one is verified as before
    calls.clear()
    sim.updater(md).refresh()
    assert len(calls) == 2


def test_unchanged_expired_timestamp_is_still_refused(tmp_path: Path) -> None:
    import datetime

    sim = Repository()
    sim.add_target("gw/1.0/fw.bin", b"x")
    sim.timestamp.signed.expires = future(days=1)  # before root, snapshot and targets
    sim.publish()
    md = tmp_path / "md"
    up = sim.updater(md)
    up.refresh()
    stored = (md / "timestamp.json").read_bytes()
    expires = sim.timestamp.signed.expires
    later = (expires + datetime.timedelta(seconds=1)).timestamp()
    up = sim.updater(md, clock=lambda: later)  # the same timestamp, now expired
    with pytest.raises(verifier.ExpiredMetadataError, match="timestamp"):
        up.refresh()
    assert (md / "timestamp.json").read_bytes() == stored
