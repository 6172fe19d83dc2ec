"""The signer's writes on the verifier's one durable write (verifier.StagedFile): a
failing sync, of the data or of a directory, is a one-line WriteError (exit 1) and the
failed command leaves the repository byte for byte as it was."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import signer
from signer import FirmwareFields, FirmwareRepository, add_firmware
from tests.signer.conftest import PASSWORD_ENV, Cli, make_image, tree_bytes
from verifier._internal import storage


def _failing(err: int):  # type: ignore[no-untyped-def]
    def sync(fd: int) -> None:
        raise OSError(err, os.strerror(err))

    return sync


def _leftovers(path: Path) -> list[str]:
    return [p.name for p in path.rglob("*") if p.name.endswith((".tmp", ".part"))]


@pytest.mark.parametrize("command", ["add", "sign"])
def test_failed_directory_sync_is_one_line_and_changes_nothing(
    cli: Cli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """os.fsync is what syncs directories (file data goes through fdatasync): with it
    failing, every rename is done and then reported as not durable, so each is undone."""
    image = make_image(tmp_path / "fw.bin")
    if command == "sign":
        assert cli("add", repo, image, "--hardware-id", "gw", "--version", "1").exit_code == 0
        args: tuple[object, ...] = ("sign", repo, "targets", "--password-env", PASSWORD_ENV)
    else:
        args = ("add", repo, image, "--hardware-id", "gw", "--version", "1")
    before = tree_bytes(repo)
    with monkeypatch.context() as m:
        m.setattr(os, "fsync", _failing(errno.EIO))
        r = cli(*args)
    assert r.exit_code == 1, r.output
    assert r.stderr.startswith("Error: cannot sync ") and "Input/output error" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.output
    assert tree_bytes(repo) == before
    assert _leftovers(repo) == []
    assert cli(*args).exit_code == 0  # nothing in the way once the disk works again


def test_failed_data_sync_is_one_line_and_changes_nothing(
    cli: Cli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = make_image(tmp_path / "fw.bin")
    before = tree_bytes(repo)
    monkeypatch.setattr(storage, "_sync_file", _failing(errno.ENOSPC))
    r = cli("add", repo, image, "--hardware-id", "gw", "--version", "1", "--json")
    assert r.exit_code == 1
    assert "No space left on device" in r.stderr and "Traceback" not in r.output
    assert '"type": "WriteError"' in r.stdout
    assert tree_bytes(repo) == before
    assert _leftovers(repo) == []


def test_init_whose_rename_cannot_be_made_durable_leaves_no_repository(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repository is created whole (staged directory, one rename) or not at all."""
    monkeypatch.setenv(PASSWORD_ENV, "pw-" + "x" * 12)
    monkeypatch.setattr(os, "fsync", _failing(errno.EIO))
    r = cli("init", tmp_path / "new", "--password-env", PASSWORD_ENV)
    assert r.exit_code == 1 and "cannot sync" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_library_callers_get_the_signer_error_with_its_errno(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tree_bytes(repo)
    image = make_image(tmp_path / "a.bin")
    with monkeypatch.context() as m, pytest.raises(signer.WriteError) as info:
        m.setattr(os, "fsync", _failing(errno.EIO))
        add_firmware(FirmwareRepository(repo), [image], FirmwareFields(("gw",), "1"))
    assert isinstance(info.value, signer.FirmtufError) and isinstance(info.value, OSError)
    assert info.value.errno == errno.EIO and info.value.exit_code == 1
    assert tree_bytes(repo) == before
