"""The library API as the package docstring shows it."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

import signer
from signer import (
    FirmwareFields,
    FirmwareRepository,
    add_firmware,
    init_repository,
    publish,
    repository_status,
    verify_published,
)


def test_docstring_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("fw.bin").write_bytes(os.urandom(2048))
    repo = init_repository("repo", password="pw")
    add_firmware(repo, ["fw.bin"], FirmwareFields(("acme-gw-r2",), "1.4.2"))
    signing = FirmwareRepository("repo", secrets_handler=lambda secret: "pw")
    result = signing.sign()
    assert result.incomplete == {}
    signing.save()
    assert repository_status(FirmwareRepository("repo")).ok
    publish(FirmwareRepository("repo"), "out")
    report = verify_published("out", Path("out/metadata/1.root.json").read_bytes())
    assert report.targets == {"acme-gw-r2/1.4.2/fw.bin": 2048}


def test_public_surface_is_exported() -> None:
    for name in signer.__all__:
        assert hasattr(signer, name), name
    assert issubclass(signer.WrongPasswordError, signer.KeyProblemError)
    codes = {
        cls.exit_code
        for cls in (
            signer.InvalidInputError,
            signer.RepositoryLocationError,
            signer.KeyProblemError,
            signer.MetadataError,
            signer.ConflictError,
            signer.PublishError,
            signer.VerificationError,
            signer.UnhealthyError,
        )
    }
    assert codes == {3, 4, 5, 6, 7, 8, 9, 10}


def test_sign_result_states_are_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A role short of signatures and the roles waiting for it are told apart by state,
    not by their message: only the first is something a key holder can fix now."""
    from signer import NewKey, Pending, SignState, change_keys

    monkeypatch.chdir(tmp_path)
    Path("fw.bin").write_bytes(os.urandom(512))
    init_repository("repo", password="pw")
    change = change_keys(
        "repo", "targets", add=NewKey(password="pw"), threshold=2, secrets_handler=lambda s: "pw"
    )
    for path in change.key_files:  # the second holder keeps the new key elsewhere
        Path(path).rename(tmp_path / Path(path).name)
    add_firmware(FirmwareRepository("repo"), ["fw.bin"], FirmwareFields(("acme-gw-r2",), "1.0"))
    result = FirmwareRepository("repo", secrets_handler=lambda secret: "pw").sign()
    assert result.pending["targets"].state is SignState.NEEDS_SIGNATURES
    assert result.pending["targets"].reason.startswith("1/2 signatures, needs 1 more")
    assert result.pending["snapshot"] == Pending(
        SignState.WAITING, "waits for targets to be fully signed"
    )
    assert result.pending["timestamp"].state is SignState.WAITING
    assert result.needing_signatures() == ["targets"]
    assert result.to_dict()["incomplete"] == {r: p.reason for r, p in result.pending.items()}


def test_cli_uses_only_the_public_api() -> None:
    """The CLI is a thin layer over the library: its modules import `signer` (the public
    names) and `signer.cli`, never a private signer module (a name the CLI needs is made
    public, in signer/__init__.py)."""
    cli_dir = Path(signer.__file__).parent / "cli"
    private = []
    for path in sorted(cli_dir.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                module = node.module
            elif isinstance(node, ast.Import):
                module = next((a.name for a in node.names if a.name.startswith("signer.")), "")
            else:
                continue
            if module.startswith("signer.") and not module.startswith("signer.cli"):
                private.append(f"{path.name}: {module}")
    assert private == []
