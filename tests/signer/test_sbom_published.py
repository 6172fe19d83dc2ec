"""A published repository carrying SBOMs and support periods, checked as devices check it:
`firmtuf verify`, `firmtuf sbom --root` (over HTTP too), the pre-publish check."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from signer import FirmwareRepository
from signer._keys import static_secret
from tests.sbom_documents import cyclonedx, write
from tests.signer.conftest import PASSWORD_ENV, Cli, make_image

PW = ("--password-env", PASSWORD_ENV)
SBOM = "board-a/2.0.0/gw.cdx.json"


@pytest.fixture
def published(cli: Cli, signed_repo: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """(working repository, published tree, SBOM file) of a release with an SBOM and a
    declared support period."""
    sbom = write(tmp_path / "build" / "gw.cdx.json", cyclonedx(version="2.0.0"))
    image = make_image(tmp_path / "build" / "gw.bin")
    add = ("add", signed_repo, image, "--hardware-id", "board-a", "--version", "2.0.0")
    assert cli(*add, "--sbom", sbom).exit_code == 0
    support = ("support", "set", signed_repo, "board-a", "--until", "2031-12-31")
    assert cli(*support, "--url", "https://acme.example/s").exit_code == 0
    assert cli("sign", signed_repo, *PW).exit_code == 0
    out = tmp_path / "out"
    published = cli("publish", signed_repo, out)
    assert published.exit_code == 0, published.output
    return signed_repo, out, sbom


def _root(out: Path) -> Path:
    return out / "metadata" / "1.root.json"


def test_verify_checks_linked_sboms_and_support(
    cli: Cli, published: tuple[Path, Path, Path]
) -> None:
    _, out, _ = published
    result = cli("verify", out, "--root", _root(out))
    assert result.exit_code == 0, result.output
    assert "1 SBOM(s) linked from 1 firmware target(s) downloaded and checked" in result.stdout
    assert "support for board-a until 2031-12-31" in result.stdout
    report = json.loads(cli("verify", out, "--root", _root(out), "--json").stdout)
    assert report["sboms"] == {"board-a/2.0.0/gw.bin": SBOM}
    assert report["support"] == {"board-a": "2031-12-31"}


def test_sbom_from_a_published_repository(
    cli: Cli, published: tuple[Path, Path, Path], http_root: tuple[Path, str]
) -> None:
    repo, out, sbom = published
    from_dir = cli("sbom", out, "board-a", "2.0.0", "--root", _root(out))
    assert from_dir.exit_code == 0, from_dir.output
    assert from_dir.stdout_bytes == sbom.read_bytes()
    served, base = http_root
    shutil.copytree(out, served, dirs_exist_ok=True)
    over_http = cli("sbom", base, "board-a", "2.0.0", "--root", _root(out), "--json")
    assert over_http.exit_code == 0, over_http.output
    assert (
        json.loads(over_http.stdout)["hashes"]["sha256"]
        == hashlib.sha256(sbom.read_bytes()).hexdigest()
    )
    # A working repository with --root: the tree `publish` would write, read by the device.
    working = cli("sbom", repo, "board-a", "2.0.0", "--root", _root(out))
    assert working.exit_code == 0 and working.stdout_bytes == sbom.read_bytes()
    unpublished = cli("sbom", out, "board-a", "2.0.0")
    assert unpublished.exit_code == 2 and "give --root" in unpublished.stderr
    missing = cli("sbom", out, "board-a", "1.0.0", "--root", _root(out))
    assert missing.exit_code == 7 and "has no SBOM" in missing.stderr


def test_swapped_sbom_in_the_published_tree_is_refused(
    cli: Cli, published: tuple[Path, Path, Path]
) -> None:
    _, out, sbom = published
    digest = hashlib.sha256(sbom.read_bytes()).hexdigest()
    stored = out / "targets" / "board-a" / "2.0.0" / f"{digest}.gw.cdx.json"
    other = json.dumps(cyclonedx(firmware="other", version="9.9.9")).encode()
    stored.write_bytes(other[: stored.stat().st_size].ljust(stored.stat().st_size))
    verify = cli("verify", out, "--root", _root(out))
    assert verify.exit_code == 9 and "LengthOrHashMismatchError" in verify.stderr
    fetched = cli("sbom", out, "board-a", "2.0.0", "--root", _root(out))
    assert fetched.exit_code == 9 and fetched.stdout_bytes == b""


def test_publish_refuses_a_linked_sbom_that_is_not_an_sbom(
    cli: Cli, signed_repo: Path, tmp_path: Path, password: str
) -> None:
    """Signed with consistent metadata, but the SBOM bytes are no SBOM (another tool, a
    bug): devices would fetch garbage, so the pre-publish device check refuses."""
    sbom = write(tmp_path / "s.json", cyclonedx())
    image = make_image(tmp_path / "gw.bin")
    add = ("add", signed_repo, image, "--hardware-id", "board-a", "--version", "2.0.0")
    assert cli(*add, "--sbom", sbom).exit_code == 0
    garbage = b"<html>not an sbom</html>"
    digest = hashlib.sha256(garbage).hexdigest()
    (signed_repo / "targets" / f"{digest}.s.json").write_bytes(garbage)
    path = signed_repo / "metadata" / "targets.json"
    md = json.loads(path.read_bytes())
    targets = md["signed"]["targets"]
    fixed = {"length": len(garbage), "hashes": {"sha256": digest}}
    targets["board-a/2.0.0/s.json"].update(fixed)
    targets["board-a/2.0.0/gw.bin"]["custom"]["firmtuf"]["sbom"].update(fixed)
    path.write_text(json.dumps(md))
    repo = FirmwareRepository(signed_repo, secrets_handler=static_secret(password))
    repo.sign()
    repo.save()
    result = cli("publish", signed_repo, tmp_path / "out")
    assert result.exit_code == 8, result.output
    assert "SBOM 'board-a/2.0.0/s.json' is not JSON" in result.stderr
    assert not (tmp_path / "out" / "metadata" / "timestamp.json").exists()


def test_library_reads_the_release_sbom_as_a_device(published: tuple[Path, Path, Path]) -> None:
    """`signer.read_release_sbom`, the library under `firmtuf sbom`."""
    import signer

    repo, out, sbom = published
    root = _root(out).read_bytes()
    found = signer.read_release_sbom(str(out), "board-a", "2.0.0", trusted_root=root)
    assert (found.data, found.target, found.signed) == (sbom.read_bytes(), SBOM, True)
    assert signer.read_release_sbom(str(repo), "board-a", "2.0.0").data == sbom.read_bytes()
    with pytest.raises(signer.RepositoryLocationError):
        signer.read_release_sbom(str(out), "board-a", "2.0.0")
    with pytest.raises(signer.InvalidInputError, match="not a usable trusted root"):
        signer.read_release_sbom(str(out), "board-a", "2.0.0", trusted_root=b"{}")
    target = next((out / "targets" / "board-a" / "2.0.0").glob("*.gw.cdx.json"))
    target.write_bytes(target.read_bytes().replace(b"2.0.0", b"9.9.9"))
    with pytest.raises(signer.VerificationError, match="hash mismatch"):
        signer.read_release_sbom(str(out), "board-a", "2.0.0", trusted_root=root)
