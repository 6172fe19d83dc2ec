"""``Updater.check()`` against python-tuf's delegation search.

ADR 0001: check() considers every firmware target "resolved through the normal TUF
delegation search, so a name only counts from the role that is trusted for it". The oracle
for that is python-tuf's get_targetinfo(name): for every name listed anywhere in the
repository, python-tuf says which entry (if any) is the trusted one. check() must return
the newest of those trusted entries that fit the device, byte for byte, and nothing that a
role lists outside its delegation, behind a terminating role, or shadowed by an earlier
role.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.repository import oracle_repository
from tests.verifier.oracle._clients import (
    METADATA_URL,
    TARGETS_URL,
    TufClient,
    memory_fetcher,
    same_limits_as_python_tuf,
)

HARDWARE = "acme"
INSTALLED = "1.2.0"
VERSIONS = ("1.0.0", "1.2.0", "1.5.0", "2.0.0", "2.1.0", "3.0.0")
PATTERNS = ("acme/*/*", "acme/1*/*", "acme/2*/*", "*/*/*", "other/*/*", "acme/3.0.0/*")

roles = st.lists(st.tuples(st.sampled_from(PATTERNS), st.booleans()), min_size=1, max_size=4)
entries = st.lists(
    st.tuples(
        st.integers(0, 5),  # index of the listing role (0: top-level targets)
        st.sampled_from(VERSIONS),
        st.sampled_from((HARDWARE, HARDWARE, "other")),
        st.binary(min_size=1, max_size=8),
    ),
    min_size=1,
    max_size=8,
)


def build(
    role_specs: list[tuple[str, bool]], listed: list[tuple[int, str, str, bytes]]
) -> tuple[dict[str, bytes], set[str]]:
    b = oracle_repository()
    names = ["targets"]
    for i, (pattern, terminating) in enumerate(role_specs):
        b.delegate("targets", f"r{i}", paths=[pattern], terminating=terminating)
        names.append(f"r{i}")
    # The last role also delegates further, so nested roles are searched too.
    b.delegate(names[-1], "child", paths=["acme/*/*"])
    names.append("child")
    all_names = set()
    for index, version, hardware, content in listed:
        role = names[index % len(names)]
        name = f"{hardware}/{version}/fw.bin"
        if name in b.md(role).signed.targets:
            continue
        custom = {"firmtuf": {"hardware_ids": [hardware], "version": version}}
        b.add_target(name, content + name.encode(), role, custom=custom)
        all_names.add(name)
    return b.tree(), all_names


def expected_by_python_tuf(files: dict[str, bytes], names: set[str]) -> tuple[str, str] | None:
    """(name, sha256) of the newest trusted firmware for the device, per python-tuf."""
    from verifier import FirmwareVersion

    with tempfile.TemporaryDirectory() as tmp:
        up = TufClient(files["metadata/1.root.json"], Path(tmp)).updater(files)
        up.refresh()
        best: tuple[FirmwareVersion, str, str] | None = None
        for name in sorted(names):
            info = up.get_targetinfo(name)
            if info is None:
                continue
            fields = info.custom["firmtuf"]
            version = FirmwareVersion(fields["version"])
            if HARDWARE not in fields["hardware_ids"] or version <= FirmwareVersion(INSTALLED):
                continue
            if best is None or version > best[0]:
                best = (version, name, info.hashes["sha256"])
    return None if best is None else (best[1], best[2])


@given(roles, entries)
def test_check_returns_what_the_delegation_search_trusts(
    role_specs: list[tuple[str, bool]], listed: list[tuple[int, str, str, bytes]]
) -> None:
    import verifier

    files, names = build(role_specs, listed)
    expected = expected_by_python_tuf(files, names)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "root.json").write_bytes(files["metadata/1.root.json"])
        up = verifier.Updater(
            tmp,
            METADATA_URL,
            TARGETS_URL,
            fetcher=memory_fetcher(files),
            config=same_limits_as_python_tuf(),
            policy=verifier.DevicePolicy(HARDWARE, INSTALLED),
        )
        up.refresh()
        found = up.check()
    got = None if found is None else (found.path, found.hashes["sha256"])
    assert got == expected, (role_specs, listed)
