"""The library API as the package docstring shows it."""

from __future__ import annotations

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
