"""The signer's delegation graph (signer/_graph.py) searches as deep as a device does."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from tuf.api.metadata import DelegatedRole, Delegations, SuccinctRoles, Targets

import verifier
from signer._errors import InvalidInputError
from signer._graph import MAX_SEARCHED, DelegationGraph

NAME = "deep/fw.bin"


def _targets(delegations: Delegations | None = None) -> Targets:
    return Targets(expires=datetime(2030, 1, 1, tzinfo=UTC), delegations=delegations)


def _chain(depth: int) -> DelegationGraph:
    """targets -> d1 -> ... -> d<depth>, each delegating every path to the next."""
    roles: dict[str, Targets] = {}
    names = ["targets", *(f"d{i}" for i in range(1, depth + 1))]
    for parent, child in itertools.pairwise(names):
        role = DelegatedRole(child, [], 1, False, paths=["deep/*"])
        roles[parent] = _targets(Delegations(keys={}, roles={child: role}))
    return DelegationGraph(lambda role: roles.get(role, _targets()))


def test_the_bound_is_the_devices() -> None:
    assert MAX_SEARCHED == verifier.Config().max_delegations == 32


def test_a_target_goes_as_deep_as_devices_search() -> None:
    graph = _chain(MAX_SEARCHED)
    assert graph.route(NAME) == f"d{MAX_SEARCHED}"
    assert graph.search(NAME)[-1] == f"d{MAX_SEARCHED}"
    assert len(graph.search(NAME)) == MAX_SEARCHED + 1
    assert [name for name, _ in graph.path(NAME, "d3")] == ["d1", "d2", "d3"]


def test_a_role_deeper_than_devices_search_is_refused() -> None:
    """A target routed one delegation deeper than devices search would never be found by
    them: `firmtuf add` refuses to put it there, by default or with --role."""
    graph = _chain(MAX_SEARCHED + 1)
    deepest = f"d{MAX_SEARCHED + 1}"
    assert deepest not in graph.search(NAME)
    assert graph.roles()[-1] == deepest  # the role exists; devices just never read it
    with pytest.raises(InvalidInputError, match=f"devices search at most {MAX_SEARCHED}"):
        graph.route(NAME)
    with pytest.raises(InvalidInputError, match=f"role '{deepest}' is not delegated target"):
        graph.route(NAME, deepest)
    assert graph.route(NAME, f"d{MAX_SEARCHED}") == f"d{MAX_SEARCHED}"
    with pytest.raises(InvalidInputError, match="unknown role 'nope'"):
        graph.route(NAME, "nope")


def test_bins_are_named_but_never_loaded() -> None:
    bins = SuccinctRoles([], 1, 4, "bins")
    loaded: list[str] = []

    def load(role: str) -> Targets:
        loaded.append(role)
        assert role == "targets", f"{role} was loaded"
        return _targets(Delegations(keys={}, succinct_roles=bins))

    graph = DelegationGraph(load)
    assert graph.roles() == ["targets", *bins.get_roles()]
    assert graph.is_bin("bins-a") and not graph.is_bin("bins-10")
    assert graph.delegator("bins-a") == "targets" and graph.delegator("nope") is None
    holders = graph.holders(NAME)
    assert holders == ["targets", bins.get_role_for_target(NAME)]
    assert loaded == ["targets"]
