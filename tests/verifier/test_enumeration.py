"""Issue 9 item 4: check() bounds the work of a hash-bin delegation before allocating it."""

from __future__ import annotations

from pathlib import Path

import pytest

import verifier
from tests.repository import Repository
from tests.verifier.conftest import state_of
from verifier._internal import metadata
from verifier._internal.delegations import TooManyRolesError


def bins_repo(bit_length: int) -> Repository:
    """A repository whose targets delegates to ``2**bit_length`` bins (only 4 exist)."""
    sim = Repository()
    sim.delegate_succinct("targets", 2, "bins")
    succinct = sim.md("targets").signed.delegations.succinct_roles  # type: ignore[union-attr]
    assert succinct is not None
    succinct.bit_length = bit_length
    sim.publish()
    return sim


@pytest.mark.parametrize("bit_length", [17, 24, 32])
def test_bit_length_above_the_maximum_is_refused(tmp_path: Path, bit_length: int) -> None:
    sim = bins_repo(bit_length)
    md = tmp_path / "md"
    up = sim.updater(md, policy=verifier.DevicePolicy("gw", "1.0"))
    with pytest.raises(verifier.MetadataFormatError, match=f"1..{metadata.MAX_BIT_LENGTH}"):
        up.check()
    assert "targets.json" not in state_of(md)


def test_bin_names_are_generated_only_up_to_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = bins_repo(metadata.MAX_BIT_LENGTH)  # 65,536 bins
    listed = 0
    real = metadata.SuccinctRoles.all_roles

    def counting(self: metadata.SuccinctRoles) -> object:
        nonlocal listed
        for name in real(self):
            listed += 1
            yield name

    monkeypatch.setattr(metadata.SuccinctRoles, "all_roles", counting)
    config = verifier.Config(max_enumerated_roles=1)  # targets only: the cap comes first
    up = sim.updater(tmp_path / "md", config=config, policy=verifier.DevicePolicy("gw", "1.0"))
    with pytest.raises(verifier.RepositoryError, match="more than 1 roles"):
        up.check()
    assert listed <= 1  # never the 65,536 names
    with pytest.raises(TooManyRolesError):
        list(up.walk_roles())


def test_lookup_in_a_large_bin_delegation_loads_one_bin(tmp_path: Path) -> None:
    sim = Repository()
    sim.delegate_succinct("targets", 4, "bins")
    succinct = sim.md("targets").signed.delegations.succinct_roles  # type: ignore[union-attr]
    assert succinct is not None
    name = "gw/1.0/fw.bin"
    bin_name = succinct.get_role_for_target(name)
    sim.add_target(name, b"x", bin_name)
    sim.publish(roles=("targets", bin_name))
    fetcher = sim.fetcher
    up = sim.updater(tmp_path / "md")
    assert up.get_targetinfo(name) is not None
    assert sum("bins-" in url for url in fetcher.requests) == 1
