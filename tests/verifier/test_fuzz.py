"""Malformed metadata never crashes the parser: only RepositoryError subclasses escape."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import verifier
from tests.repository import METADATA_URL, Repository
from verifier._internal.metadata import Root, Snapshot, Targets, Timestamp, parse
from verifier._internal.trusted_set import TrustedMetadataSet

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 2**65),
    st.text(max_size=5),
    # fresh containers each draw: a shared one could end up inside itself
    st.builds(list),
    st.builds(dict),
    st.builds(lambda: {"keyids": [], "threshold": 1}),
)


def _sim() -> Repository:
    sim = Repository()
    sim.delegate("targets", "team", ["t/*"])
    sim.add_target("gw/fw.bin", b"x", custom={"firmtuf": {"hardware_ids": ["gw"], "version": "1"}})
    sim.publish(("targets", "team"))
    return sim


SIM = _sim()
DOCS = {
    "root": (Root, SIM.signed_roots[0]),
    "timestamp": (Timestamp, SIM.files[METADATA_URL + "timestamp.json"]),
    "snapshot": (Snapshot, SIM.files[METADATA_URL + "2.snapshot.json"]),
    "targets": (Targets, SIM.files[METADATA_URL + "2.targets.json"]),
}


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


@pytest.mark.parametrize("kind", list(DOCS))
@given(data=st.data())
def test_mutated_metadata_raises_only_repository_errors(kind: str, data: st.DataObject) -> None:
    cls, raw = DOCS[kind]
    doc = json.loads(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(paths(doc)[1:]))
        node = doc
        for step in where[:-1]:
            node = node[step]
        node[where[-1]] = data.draw(json_leaf)
    mutated = json.dumps(doc).encode()
    try:
        md = parse(cls, mutated)
        if kind == "root":
            TrustedMetadataSet(mutated, time.time())
        else:
            SIM_ROOT.verify_delegate(kind, md)
        if kind == "targets":
            for name in md.targets:
                target = md.get(name)
                assert target is not None
                _ = target.firmware
    except verifier.RepositoryError:
        pass


SIM_ROOT = parse(Root, SIM.signed_roots[0])


@given(st.binary(max_size=64))
def test_random_bytes(blob: bytes) -> None:
    with pytest.raises(verifier.RepositoryError):
        parse(Timestamp, blob)
