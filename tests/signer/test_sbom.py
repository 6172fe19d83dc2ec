"""`firmtuf add --sbom`: the SBOM as its own target, linked from the firmware (ADR 0009)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

import signer._targets
from signer import FirmwareFields, FirmwareRepository, add_firmware
from tests.sbom_documents import cyclonedx, spdx2, spdx3, write
from tests.signer.conftest import PASSWORD_ENV, Cli, make_image, tree_bytes


def _targets(repo: Path) -> dict[str, Any]:
    return json.loads((repo / "metadata" / "targets.json").read_bytes())["signed"]["targets"]


def test_add_with_an_sbom_stores_and_links_it(cli: Cli, signed_repo: Path, tmp_path: Path) -> None:
    image = make_image(tmp_path / "gateway.bin")
    sbom = write(tmp_path / "build" / "gateway.cdx.json", cyclonedx())
    result = cli(
        "add", signed_repo, image, "--hardware-id", "board-a", "--version", "2.0.0",
        "--sbom", sbom, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    added = {a["name"]: a for a in json.loads(result.stdout)}
    assert added["board-a/2.0.0/gateway.cdx.json"]["kind"] == "sbom"
    assert added["board-a/2.0.0/gateway.bin"]["kind"] == "firmware"

    data = sbom.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    targets = _targets(signed_repo)
    entry = targets["board-a/2.0.0/gateway.cdx.json"]
    assert entry["length"] == len(data) and entry["hashes"] == {"sha256": sha}
    assert entry["custom"] == {"firmtuf_sbom": {"format": "CycloneDX", "spec_version": "1.5"}}
    assert "firmtuf" not in entry["custom"]  # not firmware: check() never offers it
    link = targets["board-a/2.0.0/gateway.bin"]["custom"]["firmtuf"]["sbom"]
    assert link == {"target": "board-a/2.0.0/gateway.cdx.json", "length": len(data),
                    "hashes": {"sha256": sha}}  # fmt: skip
    # The exact bytes of the build's file are stored (never re-serialised).
    assert (signed_repo / "targets" / f"{sha}.gateway.cdx.json").read_bytes() == data


@pytest.mark.parametrize(
    ("doc", "fmt", "version"),
    [(spdx2(), "SPDX", "2.3"), (spdx3(), "SPDX", "3.0.1"), (cyclonedx(), "CycloneDX", "1.5")],
    ids=["spdx2", "spdx3", "cyclonedx"],
)
def test_sbom_formats(
    cli: Cli, signed_repo: Path, tmp_path: Path, doc: Any, fmt: str, version: str
) -> None:
    image = make_image(tmp_path / "fw2.bin")
    sbom = write(tmp_path / "sbom.json", doc)
    result = cli(
        "add", signed_repo, image, "--hardware-id", "board-a", "--version", "2.0.0",
        "--sbom", sbom, "--sbom-name", "sboms/board-a-2.0.0.json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Added SBOM sboms/board-a-2.0.0.json" in result.stdout
    entry = _targets(signed_repo)["sboms/board-a-2.0.0.json"]
    assert entry["custom"]["firmtuf_sbom"] == {"format": fmt, "spec_version": version}


BAD_SBOMS: list[tuple[str, bytes, str]] = [
    ("not-json", b"{bomFormat: CycloneDX", "not JSON"),
    ("array", b'[{"bomFormat": "CycloneDX", "specVersion": "1.5"}]', "not a JSON object"),
    ("string", b'"CycloneDX"', "not a JSON object"),
    ("wrong-bomformat", b'{"bomFormat": "SPDX", "specVersion": "1.5"}', "bomFormat"),
    ("no-specversion", b'{"bomFormat": "CycloneDX"}', "specVersion"),
    ("numeric-specversion", b'{"bomFormat": "CycloneDX", "specVersion": 1.5}', "specVersion"),
    ("spdx-version", b'{"spdxVersion": "2.3", "SPDXID": "SPDXRef-DOCUMENT"}', "SPDX-2.x"),
    ("spdx-id", b'{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-X"}', "SPDXRef-DOCUMENT"),
    ("no-format", b'{"components": []}', "neither CycloneDX"),
    ("latin1", b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "x": "\xe9"}', "UTF-8"),
    ("deep", b"[" * 100_000 + b"]" * 100_000, "not JSON"),
]


@pytest.mark.parametrize(("label", "data", "why"), BAD_SBOMS, ids=[b[0] for b in BAD_SBOMS])
def test_malformed_sbom_is_refused_before_anything_is_written(
    cli: Cli,
    signed_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    label: str,
    data: bytes,
    why: str,
) -> None:
    image = make_image(tmp_path / "fw2.bin")
    sbom = tmp_path / f"{label}.json"
    sbom.write_bytes(data)
    hashed: list[Path] = []
    monkeypatch.setattr(signer._targets, "_ingest", lambda image, *a, **k: hashed.append(image))
    before = tree_bytes(signed_repo)
    result = cli(
        "add", signed_repo, image, "--hardware-id", "board-a", "--version", "2.0.0",
        "--sbom", sbom,
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    assert why in result.stderr
    assert "Traceback" not in result.output
    assert hashed == []  # refused before the image was even read
    assert tree_bytes(signed_repo) == before


def test_oversize_sbom_is_refused_unread(cli: Cli, signed_repo: Path, tmp_path: Path) -> None:
    image = make_image(tmp_path / "fw2.bin")
    sbom = tmp_path / "huge.json"
    with open(sbom, "wb") as f:
        f.write(b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "pad": "')
        f.truncate((8 << 20) + 1)
    before = tree_bytes(signed_repo)
    result = cli(
        "add", signed_repo, image, "--hardware-id", "board-a", "--version", "2.0.0",
        "--sbom", sbom,
    )  # fmt: skip
    assert result.exit_code == 3
    assert "larger than 8 MiB" in result.stderr
    assert tree_bytes(signed_repo) == before


def test_missing_sbom_and_stray_sbom_name(cli: Cli, signed_repo: Path, tmp_path: Path) -> None:
    image = make_image(tmp_path / "fw2.bin")
    base = ["add", signed_repo, image, "--hardware-id", "board-a", "--version", "2.0.0"]
    missing = cli(*base, "--sbom", tmp_path / "nope.json")
    assert missing.exit_code == 3 and "cannot read SBOM" in missing.stderr
    stray = cli(*base, "--sbom-name", "x/sbom.json")
    assert stray.exit_code == 3 and "--sbom-name" in stray.stderr
    bad_name = cli(*base, "--sbom", write(tmp_path / "s.json", cyclonedx()), "--sbom-name", "../s")
    assert bad_name.exit_code == 3 and "'..'" in bad_name.stderr


def test_sbom_name_clashes(cli: Cli, signed_repo: Path, tmp_path: Path) -> None:
    sbom = write(tmp_path / "fw.bin", cyclonedx())  # same file name as the image
    image = make_image(tmp_path / "img" / "fw.bin")
    before = tree_bytes(signed_repo)
    same = cli(
        "add", signed_repo, image, "--hardware-id", "board-a", "--version", "2.0.0",
        "--sbom", sbom,
    )  # fmt: skip
    assert same.exit_code == 7 and "also an image's name" in same.stderr
    taken = cli(
        "add", signed_repo, image, "--hardware-id", "board-a", "--version", "2.0.0",
        "--sbom", sbom, "--sbom-name", "board-a/1.0.0/fw.bin",
    )  # fmt: skip
    assert taken.exit_code == 7 and "already exists" in taken.stderr
    assert tree_bytes(signed_repo) == before


def test_several_images_share_one_sbom_and_it_goes_with_the_last(
    cli: Cli, signed_repo: Path, tmp_path: Path
) -> None:
    a = make_image(tmp_path / "a.bin")
    b = make_image(tmp_path / "b.bin")
    sbom = write(tmp_path / "bom.json", cyclonedx())
    added = cli(
        "add", signed_repo, a, b, "--hardware-id", "board-a", "--version", "2.0.0",
        "--sbom", sbom,
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    targets = _targets(signed_repo)
    links = [targets[f"board-a/2.0.0/{n}"]["custom"]["firmtuf"]["sbom"] for n in ("a.bin", "b.bin")]
    assert links[0] == links[1] and links[0]["target"] == "board-a/2.0.0/bom.json"
    sha = links[0]["hashes"]["sha256"]
    stored = signed_repo / "targets" / f"{sha}.bom.json"

    refused = cli("remove", signed_repo, "board-a/2.0.0/bom.json")
    assert (
        refused.exit_code == 7 and "linked from 'board-a/2.0.0/a.bin' and 1 more" in refused.stderr
    )
    first = cli("remove", signed_repo, "board-a/2.0.0/a.bin")
    assert first.exit_code == 0 and "its SBOM" not in first.stdout
    assert "board-a/2.0.0/bom.json" in _targets(signed_repo) and stored.exists()
    last = cli("remove", signed_repo, "board-a/2.0.0/b.bin")
    assert last.exit_code == 0
    assert "Removed board-a/2.0.0/bom.json (its SBOM" in last.stdout
    assert "board-a/2.0.0/bom.json" not in _targets(signed_repo)
    assert not stored.exists()


def test_signing_refuses_a_broken_sbom_link(
    cli: Cli, signed_repo: Path, tmp_path: Path, password: str
) -> None:
    """A hand-broken link is never signed (a device would refuse the firmware)."""
    image = make_image(tmp_path / "fw2.bin")
    sbom = write(tmp_path / "bom.json", cyclonedx())
    assert cli(
        "add", signed_repo, image, "--hardware-id", "board-a", "--version", "2.0.0",
        "--sbom", sbom,
    ).exit_code == 0  # fmt: skip
    path = signed_repo / "metadata" / "targets.json"
    md = json.loads(path.read_bytes())
    md["signed"]["targets"]["board-a/2.0.0/fw2.bin"]["custom"]["firmtuf"]["sbom"]["length"] = -1
    path.write_text(json.dumps(md))
    result = cli("sign", signed_repo, "--password-env", PASSWORD_ENV)
    assert result.exit_code == 6, result.output
    assert "sbom.length" in result.stderr
    status = cli("status", signed_repo, "--no-images")
    assert status.exit_code == 10 and "sbom.length" in status.stdout


def test_library_add_firmware_with_sbom(signed_repo: Path, tmp_path: Path) -> None:
    sbom = write(tmp_path / "bom.json", spdx2())
    added = add_firmware(
        FirmwareRepository(signed_repo),
        [make_image(tmp_path / "x.bin")],
        FirmwareFields(("board-a",), "3.0.0"),
        sbom=sbom,
    )
    assert [a.kind for a in added] == ["firmware", "sbom"]
    fields = FirmwareFields.from_target(
        "board-a/3.0.0/x.bin",
        FirmwareRepository(signed_repo).metadata("targets").signed.targets["board-a/3.0.0/x.bin"],
    )
    assert fields is not None and fields.sbom is not None
    assert fields.sbom.target == "board-a/3.0.0/bom.json"


def _release_with_sbom(cli: Cli, repo: Path, tmp_path: Path, version: str = "2.0.0") -> Path:
    sbom = write(tmp_path / "build" / "gw.cdx.json", cyclonedx(version=version))
    image = make_image(tmp_path / "build" / "gw.bin")
    added = cli(
        "add", repo, image, "--hardware-id", "board-a", "--version", version, "--sbom", sbom
    )
    assert added.exit_code == 0, added.output
    return sbom


def test_sbom_command_prints_or_writes_the_checked_sbom(
    cli: Cli, signed_repo: Path, tmp_path: Path
) -> None:
    sbom = _release_with_sbom(cli, signed_repo, tmp_path)
    draft = cli("sbom", signed_repo, "board-a", "2.0.0")
    assert draft.exit_code == 0
    assert draft.stdout_bytes == sbom.read_bytes()  # the build's bytes, not re-serialised
    assert "unsigned draft" in draft.stderr
    assert cli("sign", signed_repo, "--password-env", PASSWORD_ENV).exit_code == 0
    out = tmp_path / "audit" / "sbom.json"
    out.parent.mkdir()
    written = cli("sbom", signed_repo, "board-a", "2.0", "-o", out)  # 2.0 == 2.0.0
    assert written.exit_code == 0 and written.stderr == ""
    assert out.read_bytes() == sbom.read_bytes()
    assert "CycloneDX 1.5" in written.stdout
    report = json.loads(cli("sbom", signed_repo, "board-a", "2.0.0", "--json").stdout)
    assert report["sbom"] == "board-a/2.0.0/gw.cdx.json"
    assert report["firmware"] == ["board-a/2.0.0/gw.bin"]
    assert report["hashes"]["sha256"] == hashlib.sha256(sbom.read_bytes()).hexdigest()
    assert report["signed"] is True and report["written"] is None


def test_sbom_command_refusals(cli: Cli, signed_repo: Path, tmp_path: Path) -> None:
    sbom = _release_with_sbom(cli, signed_repo, tmp_path)
    none = cli("sbom", signed_repo, "board-a", "3.0.0")
    assert none.exit_code == 7 and "no firmware 3.0.0" in none.stderr
    without = cli("sbom", signed_repo, "board-a", "1.0.0")
    assert without.exit_code == 7 and "has no SBOM" in without.stderr
    bad = cli("sbom", signed_repo, "board-a", "two")
    assert bad.exit_code == 3
    stored = (
        signed_repo / "targets" / f"{hashlib.sha256(sbom.read_bytes()).hexdigest()}.gw.cdx.json"
    )
    stored.write_bytes(stored.read_bytes().replace(b"openssl", b"opensst"))
    corrupt = cli("sbom", signed_repo, "board-a", "2.0.0")
    assert corrupt.exit_code == 9 and "corrupt" in corrupt.stderr
    assert corrupt.stdout_bytes == b""
    stored.unlink()
    missing = cli("sbom", signed_repo, "board-a", "2.0.0")
    assert missing.exit_code == 9 and "not in the local store" in missing.stderr


def test_sbom_command_refuses_a_swapped_sbom_target(
    cli: Cli, signed_repo: Path, tmp_path: Path
) -> None:
    """The SBOM target entry replaced by another document's: the firmware's link wins."""
    _release_with_sbom(cli, signed_repo, tmp_path)
    other = write(tmp_path / "other.json", spdx2())
    third = make_image(tmp_path / "x.bin")
    assert cli(
        "add", signed_repo, third, "--hardware-id", "board-z", "--version", "1.0.0",
        "--sbom", other,
    ).exit_code == 0  # fmt: skip
    path = signed_repo / "metadata" / "targets.json"
    md = json.loads(path.read_bytes())
    targets = md["signed"]["targets"]
    targets["board-a/2.0.0/gw.cdx.json"] = targets["board-z/1.0.0/other.json"]
    path.write_text(json.dumps(md))
    swapped = cli("sbom", signed_repo, "board-a", "2.0.0")
    assert swapped.exit_code == 6 and "is not the one" in swapped.stderr
