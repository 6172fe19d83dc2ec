"""Publishing: checked before writing, ordered, atomic; a failure midway leaves the
previously published tree valid for python-tuf's client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata

import signer._publish as publish_module
from signer import FirmwareRepository, PublishError, publish, verify_published
from tests.signer.conftest import PASSWORD_ENV, Cli, add_and_sign, make_image, tree_bytes


def _verify(out: Path) -> dict[str, int]:
    root = (out / "metadata" / "1.root.json").read_bytes()
    return verify_published(str(out), root).targets


def test_write_order_is_reference_order(signed_repo: Path, tmp_path: Path) -> None:
    report = publish(FirmwareRepository(signed_repo), tmp_path / "out")
    kinds = [w.split("/")[1] if w.startswith("metadata/") else "image" for w in report.written]
    assert kinds == [
        "image",
        "2.targets.json",
        "2.snapshot.json",
        "1.root.json",
        "root.json",
        "timestamp.json",
    ]


@pytest.mark.parametrize("fail_at", [0, 1, 2, 3])
def test_crash_midway_keeps_previous_tree_valid(
    signed_repo: Path,
    tmp_path: Path,
    password: str,
    monkeypatch: pytest.MonkeyPatch,
    fail_at: int,
) -> None:
    out = tmp_path / "out"
    publish(FirmwareRepository(signed_repo), out)
    old = _verify(out)
    assert old == {"board-a/1.0.0/fw.bin": 10_000}

    add_and_sign(signed_repo, password, make_image(tmp_path / "fw2.bin", 5000), version="2.0")
    real_write = publish_module._write
    calls: list[str] = []

    def flaky(dest: Path, content: bytes | Path, **kwargs: bool) -> None:
        if len(calls) == fail_at:
            raise OSError(28, "No space left on device")
        calls.append(dest.name)
        real_write(dest, content, **kwargs)

    monkeypatch.setattr(publish_module, "_write", flaky)
    with pytest.raises(PublishError, match="No space left on device; devices still see"):
        publish(FirmwareRepository(signed_repo), out)
    assert len(calls) == fail_at
    # the devices still see the previous repository, complete and valid
    assert _verify(out) == old
    assert not list(out.rglob(".tmp-*"))

    monkeypatch.setattr(publish_module, "_write", real_write)
    report = publish(FirmwareRepository(signed_repo), out)
    assert report.written[-1] == "metadata/timestamp.json"
    assert len(report.written) == 4 - fail_at
    assert set(_verify(out)) == {"board-a/1.0.0/fw.bin", "board-a/2.0/fw2.bin"}


def test_repository_save_is_all_or_nothing(
    signed_repo: Path, tmp_path: Path, password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sign` rewrites targets, snapshot and timestamp: a failure on the last rename
    puts the first two back, so the working repository is unchanged."""
    import signer._fsutil as fsutil
    from signer import FirmwareFields, add_firmware
    from signer._keys import static_secret

    add_firmware(
        FirmwareRepository(signed_repo),
        [make_image(tmp_path / "n.bin")],
        FirmwareFields(("board-a",), "3"),
    )
    before = tree_bytes(signed_repo)
    real_replace = Path.replace

    def failing(self: Path, target: str | Path) -> Path:
        if Path(target).name == "timestamp.json":
            raise OSError(5, "I/O error")
        return real_replace(self, target)

    monkeypatch.setattr(fsutil.Path, "replace", failing)
    r = FirmwareRepository(signed_repo, secrets_handler=static_secret(password))
    r.sign()
    with pytest.raises(OSError, match="I/O error"):
        r.save()
    monkeypatch.setattr(fsutil.Path, "replace", real_replace)
    assert tree_bytes(signed_repo) == before
    assert not list(signed_repo.rglob(".tmp-*"))


def test_refuses_unsigned(cli: Cli, repo: Path, tmp_path: Path) -> None:
    cli("add", repo, make_image(tmp_path / "a.bin"), "--hardware-id", "b", "--version", "1")
    r = cli("publish", repo, tmp_path / "out")
    assert r.exit_code == 8
    assert "targets under-signed: 0/1 signatures" in r.stderr
    assert not (tmp_path / "out").exists()


def test_refuses_stale_snapshot(cli: Cli, repo: Path, tmp_path: Path) -> None:
    cli("add", repo, make_image(tmp_path / "a.bin"), "--hardware-id", "b", "--version", "1")
    assert cli("sign", repo, "targets", "--password-env", PASSWORD_ENV).exit_code == 0
    r = cli("publish", repo, tmp_path / "out")
    assert r.exit_code == 8
    assert "snapshot stale: lists targets.json v1, current is v2" in r.stderr
    r = cli("status", repo)
    assert r.exit_code == 10


def test_refuses_expired(
    cli: Cli, signed_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    import signer._status as status_module

    later = status_module.utcnow() + timedelta(days=3)
    monkeypatch.setattr(status_module, "utcnow", lambda: later)
    r = cli("publish", signed_repo, tmp_path / "out")
    assert r.exit_code == 8
    assert "timestamp expired" in r.stderr


def test_refuses_altered_store_image(cli: Cli, signed_repo: Path, tmp_path: Path) -> None:
    stored = next((signed_repo / "targets").iterdir())
    stored.write_bytes(b"evil" + stored.read_bytes()[4:])
    r = cli("publish", signed_repo, tmp_path / "out")
    assert r.exit_code == 8
    assert "stored image of target 'board-a/1.0.0/fw.bin' does not match" in r.stderr
    stored.unlink()
    r = cli("publish", signed_repo, tmp_path / "out")
    assert r.exit_code == 8
    assert "is missing from the store" in r.stderr
    assert not (tmp_path / "out").exists()


def test_refuses_other_repository_in_out_dir(
    cli: Cli, signed_repo: Path, tmp_path: Path, password: str
) -> None:
    out = tmp_path / "out"
    assert cli("publish", signed_repo, out).exit_code == 0
    other = tmp_path / "other"
    assert cli("init", other, "--password-env", PASSWORD_ENV).exit_code == 0
    add_and_sign(other, password, make_image(tmp_path / "o.bin"))
    before = tree_bytes(out)
    r = cli("publish", other, out)
    assert r.exit_code == 8
    assert "already exists with other content" in r.stderr
    assert tree_bytes(out) == before


def test_refuses_rollback_of_published_tree(
    cli: Cli, signed_repo: Path, tmp_path: Path, password: str
) -> None:
    """Publishing an older copy of the repository over a newer tree is a rollback."""
    import shutil

    old_copy = tmp_path / "old-copy"
    shutil.copytree(signed_repo, old_copy)
    out = tmp_path / "out"
    add_and_sign(signed_repo, password, make_image(tmp_path / "b.bin"), version="2")
    assert cli("publish", signed_repo, out).exit_code == 0
    before = tree_bytes(out)
    r = cli("publish", old_copy, out)
    assert r.exit_code == 8
    assert "does not verify" in r.stderr
    assert tree_bytes(out) == before


def test_published_metadata_is_repo_metadata(signed_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish(FirmwareRepository(signed_repo), out)
    for role in ("targets", "snapshot"):
        version = Metadata.from_file(str(signed_repo / "metadata" / f"{role}.json")).signed.version
        assert (out / "metadata" / f"{version}.{role}.json").read_bytes() == (
            signed_repo / "metadata" / f"{role}.json"
        ).read_bytes()
    ts = json.loads((out / "metadata" / "timestamp.json").read_bytes())
    assert ts["signed"]["meta"]["snapshot.json"]["version"] == 2


def test_publish_error_is_library_error(signed_repo: Path, tmp_path: Path) -> None:
    (signed_repo / "targets").joinpath(next((signed_repo / "targets").iterdir()).name).unlink()
    with pytest.raises(PublishError):
        publish(FirmwareRepository(signed_repo), tmp_path / "out")
