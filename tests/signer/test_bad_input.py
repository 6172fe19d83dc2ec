"""Bad input: one-line error naming the problem, documented exit code, repository unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.signer.conftest import PASSWORD_ENV, Cli, make_image, tree_bytes

Setup = Callable[[Path, Path], None]


def _nothing(repo: Path, tmp: Path) -> None:
    del repo, tmp


def _draft(repo: Path, tmp: Path) -> None:
    """Leave an unsigned targets draft (so `sign` has work to do)."""
    from signer import FirmwareFields, FirmwareRepository, add_firmware

    add_firmware(
        FirmwareRepository(repo), [make_image(tmp / "d.bin")], FirmwareFields(("x",), "0.1")
    )


def _remove_targets_key(repo: Path, tmp: Path) -> None:
    _draft(repo, tmp)
    for key in (repo / "keys").glob("targets-*.pem"):
        key.unlink()


def _garbage_targets(repo: Path, tmp: Path) -> None:
    del tmp
    (repo / "metadata" / "targets.json").write_text("{not json")


def _hand_edit_length(repo: Path, tmp: Path) -> None:
    del tmp
    path = repo / "metadata" / "targets.json"
    data = json.loads(path.read_text())
    data["signed"]["targets"]["board-a/1.0.0/fw.bin"]["length"] += 1
    path.write_text(json.dumps(data))


def _hand_edit_root_threshold(repo: Path, tmp: Path) -> None:
    del tmp
    path = repo / "metadata" / "root.json"
    data = json.loads(path.read_text())
    data["signed"]["roles"]["targets"]["threshold"] = 1
    data["signed"]["expires"] = "2099-01-01T00:00:00Z"
    path.write_text(json.dumps(data))


def _wrong_role_file(repo: Path, tmp: Path) -> None:
    del tmp
    (repo / "metadata" / "targets.json").write_bytes(
        (repo / "metadata" / "snapshot.json").read_bytes()
    )


def _bad_firmware_fields(repo: Path, tmp: Path) -> None:
    """Malformed custom.firmtuf in an unsigned draft (signatures cleared)."""
    del tmp
    path = repo / "metadata" / "targets.json"
    data = json.loads(path.read_text())
    data["signed"]["targets"]["board-a/1.0.0/fw.bin"]["custom"]["firmtuf"]["version"] = "v1"
    data["signatures"] = []
    path.write_text(json.dumps(data))


IMG = "__image__"

CASES: list[tuple[str, Setup, list[str], int, str]] = [
    (
        "image missing",
        _nothing,
        ["add", "REPO", "missing.bin", "--hardware-id", "b", "--version", "2"],
        3,
        "image missing.bin does not exist",
    ),
    (
        "name with ..",
        _nothing,
        ["add", "REPO", IMG, "--hardware-id", "b", "--version", "2", "--name", "a/../b"],
        3,
        "'..' segment",
    ),
    (
        "absolute name",
        _nothing,
        ["add", "REPO", IMG, "--hardware-id", "b", "--version", "2", "--name", "/etc/x"],
        3,
        "absolute path",
    ),
    (
        "hardware id ..",
        _nothing,
        ["add", "REPO", IMG, "--hardware-id", "..", "--version", "2"],
        3,
        "'..' segment",
    ),
    (
        "backslash name",
        _nothing,
        ["add", "REPO", IMG, "--hardware-id", "b", "--version", "2", "--name", "a\\b"],
        3,
        "backslash",
    ),
    (
        "name with ?",
        _nothing,
        ["add", "REPO", IMG, "--hardware-id", "b", "--version", "2", "--name", "a/fw?x.bin"],
        3,
        "contains '?', which a URL would not carry as is",
    ),
    (
        "name with #",
        _nothing,
        ["add", "REPO", IMG, "--hardware-id", "b", "--version", "2", "--name", "a/fw#x.bin"],
        3,
        "contains '#', which a URL would not carry as is",
    ),
    (
        "name with %",
        _nothing,
        ["add", "REPO", IMG, "--hardware-id", "b", "--version", "2", "--name", "a/fw%x.bin"],
        3,
        "contains '%', which a URL would not carry as is",
    ),
    (
        "empty segment",
        _nothing,
        ["add", "REPO", IMG, "--hardware-id", "b", "--version", "2", "--name", "a//b"],
        3,
        "empty path segment",
    ),
    (
        "bad version",
        _nothing,
        ["add", "REPO", IMG, "--hardware-id", "b", "--version", "1.0+build5"],
        3,
        "invalid firmware version",
    ),
    (
        "leading zero",
        _nothing,
        ["add", "REPO", IMG, "--hardware-id", "b", "--version", "01.2"],
        3,
        "invalid firmware version",
    ),
    (
        "min version not lower",
        _nothing,
        ["add", "REPO", IMG, "--hardware-id", "b", "--version", "2", "--min-version", "2.0"],
        3,
        "min-version 2.0 must be lower",
    ),
    (
        "negative counter",
        _nothing,
        ["add", "REPO", IMG, "--hardware-id", "b", "--version", "2", "--security-counter", "-1"],
        3,
        "security counter",
    ),
    (
        "duplicate hardware id",
        _nothing,
        ["add", "REPO", IMG, "--hardware-id", "b", "--hardware-id", "b", "--version", "2"],
        3,
        "given twice",
    ),
    (
        "duplicate add",
        _nothing,
        [
            "add",
            "REPO",
            IMG,
            "--hardware-id",
            "board-a",
            "--version",
            "1.0.0",
            "--name",
            "board-a/1.0.0/fw.bin",
            "--allow-downgrade",
        ],
        7,
        "already exists",
    ),
    (
        "same version",
        _nothing,
        ["add", "REPO", IMG, "--hardware-id", "board-a", "--version", "1.0"],
        7,
        "version 1.0 is not newer than 1.0.0",
    ),
    (
        "older version",
        _nothing,
        [
            "add",
            "REPO",
            IMG,
            "--hardware-id",
            "z",
            "--hardware-id",
            "board-a",
            "--version",
            "0.9.9",
        ],
        7,
        "for hardware id 'board-a'",
    ),
    (
        "pre-release of same",
        _nothing,
        ["add", "REPO", IMG, "--hardware-id", "board-a", "--version", "1.0.0-rc.1"],
        7,
        "not newer",
    ),
    ("remove unknown", _nothing, ["remove", "REPO", "nope/1/x.bin"], 7, "no target named"),
    (
        "wrong password",
        _draft,
        ["sign", "REPO", "--password-env", "WRONG_PW"],
        5,
        "wrong password for key file",
    ),
    (
        "password variable unset",
        _draft,
        ["sign", "REPO", "--password-env", "FIRMTUF_UNSET_VARIABLE"],
        5,
        "FIRMTUF_UNSET_VARIABLE is not set",
    ),
    (
        "missing key",
        _remove_targets_key,
        ["sign", "REPO", "--password-env", PASSWORD_ENV],
        5,
        "no key at hand for targets",
    ),
    (
        "missing key, named role",
        _remove_targets_key,
        ["sign", "REPO", "targets", "--password-env", PASSWORD_ENV],
        5,
        "not found",
    ),
    (
        "unknown role",
        _nothing,
        ["sign", "REPO", "bins", "--password-env", PASSWORD_ENV],
        3,
        "unknown role 'bins'",
    ),
    ("malformed metadata: status", _garbage_targets, ["status", "REPO"], 6, "is malformed"),
    (
        "malformed metadata: add",
        _garbage_targets,
        ["add", "REPO", IMG, "--hardware-id", "b", "--version", "2"],
        6,
        "is malformed",
    ),
    (
        "malformed metadata: sign",
        _garbage_targets,
        ["sign", "REPO", "--password-env", PASSWORD_ENV],
        6,
        "is malformed",
    ),
    (
        "malformed metadata: publish",
        _garbage_targets,
        ["publish", "REPO", "OUT"],
        6,
        "is malformed",
    ),
    (
        "hand-edited target",
        _hand_edit_length,
        ["status", "REPO"],
        6,
        "does not verify (was the file edited by hand?)",
    ),
    (
        "hand-edited target: sign",
        _hand_edit_length,
        ["sign", "REPO", "--password-env", PASSWORD_ENV],
        6,
        "edited by hand",
    ),
    (
        "hand-edited root",
        _hand_edit_root_threshold,
        ["publish", "REPO", "OUT"],
        6,
        "edited by hand",
    ),
    (
        "role file swapped",
        _wrong_role_file,
        ["status", "REPO"],
        6,
        "holds snapshot metadata, not targets",
    ),
    (
        "malformed firmware fields: sign",
        _bad_firmware_fields,
        ["sign", "REPO", "--password-env", PASSWORD_ENV],
        6,
        "malformed custom.firmtuf",
    ),
    (
        "malformed firmware fields: status",
        _bad_firmware_fields,
        ["status", "REPO"],
        10,
        "malformed custom.firmtuf",
    ),
    ("not a repository", _nothing, ["status", "NOREPO"], 4, "is not a firmtuf repository"),
    (
        "init over repository",
        _nothing,
        ["init", "REPO", "--password-env", PASSWORD_ENV],
        4,
        "not an empty directory",
    ),
]


@pytest.mark.parametrize(
    ("setup", "args", "code", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_input(
    cli: Cli,
    signed_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    setup: Setup,
    args: list[str],
    code: int,
    message: str,
) -> None:
    monkeypatch.setenv("WRONG_PW", "not-the-password")
    setup(signed_repo, tmp_path)
    image = make_image(tmp_path / "new.bin")
    subst = {
        "REPO": str(signed_repo),
        "OUT": str(tmp_path / "out"),
        IMG: str(image),
        "NOREPO": str(tmp_path),
    }
    before = tree_bytes(signed_repo)
    r = cli(*[subst.get(a, a) for a in args])
    assert r.exit_code == code, r.output
    assert message in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "Traceback" not in r.output
    assert tree_bytes(signed_repo) == before
    assert not (tmp_path / "out").exists()


def test_allow_downgrade(cli: Cli, signed_repo: Path, tmp_path: Path) -> None:
    image = make_image(tmp_path / "old.bin")
    args = ["add", signed_repo, image, "--hardware-id", "board-a", "--version", "0.9"]
    assert cli(*args).exit_code == 7
    r = cli(*args, "--allow-downgrade")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--keys", "targets=1", "--threshold", "targets=2"], "threshold of targets"),
        (["--keys", "mirror=1"], "unknown role 'mirror'"),
        (["--threshold", "root=0"], "threshold of root"),
        (["--keys", "root=0"], "role root has no keys"),
    ],
)
def test_init_bad_options(
    cli: Cli, tmp_path: Path, password: str, args: list[str], message: str
) -> None:
    repo = tmp_path / "repo"
    r = cli("init", repo, "--password-env", PASSWORD_ENV, *args)
    assert r.exit_code == 3, r.output
    assert message in r.stderr
    assert not repo.exists()
    assert list(tmp_path.iterdir()) == []  # no staging left behind


def test_init_bad_duration_is_usage_error(cli: Cli, tmp_path: Path, password: str) -> None:
    r = cli("init", tmp_path / "repo", "--password-env", PASSWORD_ENV, "--expiry", "root=soon")
    assert r.exit_code == 2
    assert "duration" in r.stderr
    assert not (tmp_path / "repo").exists()


def test_init_password_unset(cli: Cli, tmp_path: Path) -> None:
    r = cli("init", tmp_path / "repo", "--password-env", "FIRMTUF_UNSET_VARIABLE")
    assert r.exit_code == 5
    assert not (tmp_path / "repo").exists()


def test_verify_bad_inputs(cli: Cli, tmp_path: Path, signed_repo: Path) -> None:
    out = tmp_path / "out"
    assert cli("publish", signed_repo, out).exit_code == 0
    root = out / "metadata" / "1.root.json"
    r = cli("verify", out, "--root", tmp_path / "nope.json")
    assert r.exit_code == 3
    assert "cannot read root" in r.stderr
    r = cli("verify", tmp_path / "nowhere", "--root", root)
    assert r.exit_code == 3
    # a root from another repository: refused (exit 9)
    other = tmp_path / "other"
    assert cli("init", other, "--password-env", PASSWORD_ENV).exit_code == 0
    r = cli("verify", out, "--root", other / "metadata" / "root.json")
    assert r.exit_code == 9
    assert "does not verify" in r.stderr
    # not a root at all, or a root whose own signature fails: bad input, before any fetch
    r = cli("verify", out, "--root", out / "metadata" / "timestamp.json")
    assert r.exit_code == 3
    assert "is not a usable trusted root: MetadataFormatError" in r.stderr
    edited = tmp_path / "edited-root.json"
    doc = json.loads(root.read_bytes())
    doc["signed"]["version"] = 7
    edited.write_text(json.dumps(doc))
    r = cli("verify", out, "--root", edited)
    assert r.exit_code == 3
    assert "is not a usable trusted root: UnsignedMetadataError" in r.stderr


def test_huge_input_files_are_refused_unread(cli: Cli, tmp_path: Path, signed_repo: Path) -> None:
    huge = tmp_path / "huge.pem"
    with open(huge, "wb") as f:
        f.truncate(8 << 30)  # sparse: 8 GiB that must never be read whole
    out = tmp_path / "out"
    assert cli("publish", signed_repo, out).exit_code == 0
    r = cli("verify", out, "--root", huge)
    assert r.exit_code == 3
    assert f"root {huge} is larger than 512 KiB" in r.stderr
    before = tree_bytes(signed_repo)
    r = cli("key", "add", signed_repo, "targets", "--uri", "awskms:alias/x", "--public-key", huge)
    assert r.exit_code == 3
    assert f"public key {huge} is larger than 1024 KiB" in r.stderr
    assert tree_bytes(signed_repo) == before
