"""The device reads support periods and SBOMs from verified metadata only (ADR 0009)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import verifier
from tests.repository import TARGETS_URL, Repository
from tests.sbom_documents import cyclonedx, spdx2

FW = "gw/2.0.0/fw.bin"
SBOM = "gw/2.0.0/fw.cdx.json"
PERIOD = "gw/support/period.json"


def _sbom_bytes(doc: Any = None) -> bytes:
    return json.dumps(doc or cyclonedx(), indent=2).encode()


def _link(name: str, data: bytes) -> dict[str, Any]:
    return {
        "target": name,
        "length": len(data),
        "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
    }


def _declaration(until: str = "2031-12-31", **extra: Any) -> dict[str, Any]:
    return {
        "hardware_id": "gw",
        "support_until": until,
        "declared": "2026-12-01T10:00:00Z",
        **extra,
    }


def _release(sim: Repository, data: bytes, role: str = "targets") -> None:
    sim.add_target(
        SBOM, data, role, custom={"firmtuf_sbom": {"format": "CycloneDX", "spec_version": "1.5"}}
    )
    fields = {"hardware_ids": ["gw"], "version": "2.0.0", "sbom": _link(SBOM, data)}
    sim.add_target(FW, b"firmware two", role, custom={"firmtuf": fields})


def _declare(sim: Repository, decl: dict[str, Any], role: str = "targets") -> None:
    sim.add_target(PERIOD, json.dumps(decl).encode(), role, custom={"firmtuf_support": decl})


def _updater(sim: Repository, tmp_path: Path, **kwargs: Any) -> verifier.Updater:
    kwargs.setdefault("policy", verifier.DevicePolicy("gw", "1.0.0"))
    return sim.updater(tmp_path / "device", **kwargs)


def _store(device: Path) -> dict[str, bytes]:
    """Every file of a trust store, by relative path (role files and device files)."""
    return {str(p.relative_to(device)): p.read_bytes() for p in device.rglob("*") if p.is_file()}


class CountingFetcher(verifier.Fetcher):
    """Serves the repository's files and records every target URL asked for."""

    def __init__(self, sim: Repository) -> None:
        self.inner = sim.fetcher
        self.targets: list[str] = []

    def _fetch(self, url: str, offset: int, deadline: verifier.Deadline) -> Iterator[bytes]:
        if url.startswith(TARGETS_URL):
            self.targets.append(url)
        return self.inner._fetch(url, offset, deadline)


# -- support period -------------------------------------------------------------------


def test_support_period_from_verified_metadata(sim: Repository, tmp_path: Path) -> None:
    earlier = {"support_until": "2032-06-30", "declared": "2026-01-01T00:00:00Z"}
    _declare(sim, _declaration(url="https://acme.example/support", history=[earlier]))
    sim.publish()
    counting = CountingFetcher(sim)
    up = _updater(sim, tmp_path, fetcher=counting)
    period = up.support()
    assert period is not None
    assert (period.hardware_id, period.until, period.url) == (
        "gw",
        "2031-12-31",
        "https://acme.example/support",
    )
    assert period.ends_at == 1956528000  # 2032-01-01T00:00:00Z
    assert period.shortened_from == "2032-06-30" and period.history == ("2032-06-30",)
    assert not period.ended(period.ends_at - 1) and period.ended(period.ends_at)
    assert counting.targets == []  # read from metadata: nothing downloaded
    assert up.support("other-hw") is None


def test_no_declaration_is_none(sim: Repository, tmp_path: Path) -> None:
    assert _updater(sim, tmp_path).support() is None
    with pytest.raises(ValueError, match="DevicePolicy"):
        sim.updater(tmp_path / "nopolicy").support()


def test_support_period_edited_without_the_key_is_refused(sim: Repository, tmp_path: Path) -> None:
    """The declaration is extended on the server without the targets key: the device
    refuses the edited targets metadata and keeps trusting the declared period."""
    _declare(sim, _declaration("2027-01-31"))
    sim.publish()
    period = _updater(sim, tmp_path).support()
    assert period is not None and period.until == "2027-01-31"
    trusted_targets = (tmp_path / "device" / "targets.json").read_bytes()
    sim.publish()  # a new targets version, then edited after signing
    signed = json.loads(sim.sign("targets"))
    signed["signed"]["targets"][PERIOD]["custom"]["firmtuf_support"]["support_until"] = "2040-01-31"
    version = sim.targets.signed.version
    sim.override[f"https://repo.test/metadata/{version}.targets.json"] = json.dumps(signed).encode()
    with pytest.raises(verifier.UnsignedMetadataError):
        _updater(sim, tmp_path).support()
    assert (tmp_path / "device" / "targets.json").read_bytes() == trusted_targets
    del sim.override[f"https://repo.test/metadata/{version}.targets.json"]
    period = _updater(sim, tmp_path).support()
    assert period is not None and period.until == "2027-01-31"


def test_declaration_only_counts_from_the_role_trusted_for_it(
    sim: Repository, tmp_path: Path
) -> None:
    """Team B (trusted for gw-b/*/* only) cannot declare gw's support period."""
    sim.delegate("targets", "team-a", ["gw/*/*"])
    sim.delegate("targets", "team-b", ["gw-b/*/*"])
    _declare(sim, _declaration("2040-12-31"), role="team-b")
    sim.publish(("targets", "team-a", "team-b"))
    assert _updater(sim, tmp_path).support() is None
    _declare(sim, _declaration("2030-12-31"), role="team-a")
    sim.publish(("team-a",))
    period = _updater(sim, tmp_path / "again").support()
    assert period is not None and period.until == "2030-12-31"


@pytest.mark.parametrize(
    ("decl", "why"),
    [
        (_declaration("2031-02-30"), "calendar date"),
        (_declaration("31-12-2031"), "YYYY-MM-DD"),
        ({**_declaration(), "hardware_id": "other"}, "not the declaration of 'gw'"),
        (_declaration(url="javascript:alert(1)"), "http"),
        (_declaration(url="https://a.example/\x1b[2J"), "http"),
        ({**_declaration(), "declared": "yesterday"}, "declared"),
        (_declaration(history={"support_until": "2030-01-01"}), "history"),
        (_declaration(history=[{"support_until": "soon"}]), "history"),
        ("2031-12-31", "must be an object"),
    ],
    ids=[
        "date",
        "format",
        "hwid",
        "url",
        "url-control",
        "declared",
        "history",
        "history-date",
        "type",
    ],
)
def test_malformed_declaration_is_a_repository_error(
    sim: Repository, tmp_path: Path, decl: Any, why: str
) -> None:
    sim.add_target(PERIOD, b"x", custom={"firmtuf_support": decl})
    sim.publish()
    with pytest.raises(verifier.MetadataFormatError, match=why):
        _updater(sim, tmp_path).support()


def test_declaration_is_not_firmware(sim: Repository, tmp_path: Path) -> None:
    _declare(sim, _declaration())
    sim.publish()
    up = _updater(sim, tmp_path, policy=verifier.DevicePolicy("gw", "0.1"))
    chosen = up.check()
    assert chosen is not None and chosen.path == "gw/1.0.0/fw.bin"
    found = up.get_targetinfo(PERIOD)
    assert found is not None and found.firmware is None


# -- SBOM -----------------------------------------------------------------------------


def test_sbom_of_a_firmware(sim: Repository, tmp_path: Path) -> None:
    data = _sbom_bytes()
    _release(sim, data)
    sim.publish()
    up = _updater(sim, tmp_path)
    fw = up.check()
    assert fw is not None and fw.path == FW
    assert fw.firmware.sbom.target == SBOM
    assert up.sbom(fw) == data
    info = up.sbom_target(fw)
    assert info is not None and info.path == SBOM and info.length == len(data)
    old = up.get_targetinfo("gw/1.0.0/fw.bin")
    assert old is not None and up.sbom(old) is None and up.sbom_target(old) is None


def test_sbom_bytes_swapped_on_the_server_are_refused(sim: Repository, tmp_path: Path) -> None:
    data = _sbom_bytes()
    _release(sim, data)
    sim.publish()
    url = f"{TARGETS_URL}gw/2.0.0/{hashlib.sha256(data).hexdigest()}.fw.cdx.json"
    other = _sbom_bytes(spdx2())
    sim.override[url] = other[: len(data)].ljust(len(data), b" ")
    up = _updater(sim, tmp_path)
    fw = up.check()
    assert fw is not None
    before = _store(tmp_path / "device")
    with pytest.raises(verifier.LengthOrHashMismatchError):
        up.sbom(fw)
    sim.override[url] = data + b"\n" * 10_000  # more than the signed length: cut off there
    with pytest.raises(verifier.DownloadLengthMismatchError, match=f"more than {len(data)}"):
        up.sbom(fw)
    assert _store(tmp_path / "device") == before  # no partial, no state written


def test_sbom_target_swapped_in_metadata_is_refused(sim: Repository, tmp_path: Path) -> None:
    """A role trusted for the SBOM's name signs another document under it: the firmware's
    link (signed with the firmware) does not match, so the device refuses it."""
    data = _sbom_bytes()
    _release(sim, data)
    other = _sbom_bytes(spdx2())
    sim.add_target(SBOM, other)  # re-signed entry, other bytes
    sim.publish()
    up = _updater(sim, tmp_path)
    fw = up.check()
    assert fw is not None
    before = _store(tmp_path / "device")
    with pytest.raises(verifier.SbomError, match="not the SBOM"):
        up.sbom(fw)
    with pytest.raises(verifier.SbomError):
        up.sbom_target(fw)
    assert _store(tmp_path / "device") == before


def test_sbom_listed_by_an_untrusted_role_is_not_found(sim: Repository, tmp_path: Path) -> None:
    sim.delegate("targets", "team-b", ["gw-b/*/*"])
    data = _sbom_bytes()
    fields = {"hardware_ids": ["gw"], "version": "2.0.0", "sbom": _link(SBOM, data)}
    sim.add_target(FW, b"firmware two", custom={"firmtuf": fields})
    sim.add_target(SBOM, data, "team-b")
    sim.publish(("targets", "team-b"))
    up = _updater(sim, tmp_path)
    fw = up.check()
    assert fw is not None
    with pytest.raises(verifier.SbomError, match="not a target"):
        up.sbom(fw)


def test_oversize_sbom_is_refused_before_fetching(sim: Repository, tmp_path: Path) -> None:
    data = _sbom_bytes()
    _release(sim, data)
    sim.publish()
    counting = CountingFetcher(sim)
    up = _updater(
        sim, tmp_path, fetcher=counting, config=verifier.Config(sbom_max_length=len(data) - 1)
    )
    fw = up.check()
    assert fw is not None
    before = _store(tmp_path / "device")
    with pytest.raises(verifier.SbomError, match="larger than"):
        up.sbom(fw)
    assert counting.targets == []
    assert _store(tmp_path / "device") == before
    assert verifier.Config().sbom_max_length == 8 << 20
    with pytest.raises(ValueError):
        verifier.Config(sbom_max_length=-1)


@pytest.mark.parametrize(
    ("link", "why"),
    [
        (
            {"target": "../x.json", "length": 1, "hashes": {"sha256": "00" * 32}},
            r"'\.\./x\.json'",  # the name itself, whatever the name rule's wording
        ),
        ({"target": SBOM, "length": -1, "hashes": {"sha256": "00" * 32}}, "length"),
        ({"target": SBOM, "length": 1, "hashes": {"sha512": "00" * 64}}, "sha256"),
        ({"target": SBOM, "length": 1, "hashes": {"sha256": "XYZ"}}, "hex"),
        ("gw/2.0.0/fw.cdx.json", "must be an object"),
    ],
    ids=["name", "length", "no-sha256", "hex", "type"],
)
def test_malformed_link_is_a_repository_error(
    sim: Repository, tmp_path: Path, link: Any, why: str
) -> None:
    fields = {"hardware_ids": ["gw"], "version": "2.0.0", "sbom": link}
    sim.add_target(FW, b"firmware two", custom={"firmtuf": fields})
    sim.publish()
    with pytest.raises(verifier.RepositoryError, match=why):
        _updater(sim, tmp_path).check()


def test_declaration_from_a_role_not_bound_to_the_hardware_is_refused(
    sim: Repository, tmp_path: Path
) -> None:
    """ADR 0008: the delegator bound team-a to cam-* hardware; team-a's paths cover gw's
    declaration name, but it may not speak for gw devices."""
    sim.delegate("targets", "team-a", ["gw/*/*"])
    delegations = sim.targets.signed.delegations
    assert delegations is not None and delegations.roles is not None
    delegations.roles["team-a"].unrecognized_fields[verifier.HARDWARE_BINDING_FIELD] = ["cam-*"]
    _declare(sim, _declaration("2040-12-31"), role="team-a")
    sim.publish(("targets", "team-a"))
    with pytest.raises(verifier.PolicyError, match="may not ship to hardware 'gw'"):
        _updater(sim, tmp_path).support()
    delegations.roles["team-a"].unrecognized_fields[verifier.HARDWARE_BINDING_FIELD] = ["g*"]
    sim.publish(("targets",))
    period = _updater(sim, tmp_path / "bound").support()
    assert period is not None and period.until == "2040-12-31"
