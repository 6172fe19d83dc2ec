"""Checks before work, and warnings about likely mistakes (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

import signer._targets
from tests.signer.conftest import PASSWORD_ENV, Cli, make_image


@pytest.fixture
def no_hashing(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Fail the test if an image is read (hashed and stored): checks must come first."""
    calls: list[Path] = []

    def refuse(image: Path, *args: object, **kwargs: object) -> None:
        calls.append(image)
        raise AssertionError(f"{image} was hashed before the checks refused the command")

    monkeypatch.setattr(signer._targets, "_ingest", refuse)
    return calls


BAD_ADDS = [
    (["--hardware-id", "acme gw"], 3, "whitespace"),
    (["--hardware-id", "acme\tgw"], 3, "control character"),
    (["--hardware-id", "acme\u00a0gw"], 3, "whitespace"),
    (["--hardware-id", " gw"], 3, "padded"),
    (["--hardware-id", "gw", "--hardware-id", "gw"], 3, "twice"),
    (["--version", "one"], 3, "version"),
    (["--min-version", "2.0.0"], 3, "min-version"),
    (["--security-counter", "-1"], 3, "security counter"),
    (["--name", "../escape.bin"], 3, "'..'"),
    (["--name", "a?b.bin"], 3, "URL"),
    (["--role", "nosuchrole"], 3, "nosuchrole"),
]


@pytest.mark.parametrize(
    ("extra", "code", "why"), BAD_ADDS, ids=[b[2] + str(i) for i, b in enumerate(BAD_ADDS)]
)
def test_bad_values_are_refused_before_hashing(
    cli: Cli,
    signed_repo: Path,
    tmp_path: Path,
    no_hashing: list[Path],
    extra: list[str],
    code: int,
    why: str,
) -> None:
    image = make_image(tmp_path / "big.bin", 1 << 20)
    args = ["add", signed_repo, image]
    if "--hardware-id" not in extra:
        args += ["--hardware-id", "board-b"]
    if "--version" not in extra:
        args += ["--version", "1.0.0"]
    result = cli(*args, *extra)
    assert result.exit_code == code, result.output
    assert why in result.output
    assert no_hashing == []


def test_conflicts_are_refused_before_hashing(
    cli: Cli, signed_repo: Path, tmp_path: Path, no_hashing: list[Path]
) -> None:
    image = make_image(tmp_path / "fw.bin", 1 << 20)  # the existing target's file name
    dup = cli("add", signed_repo, image, "--hardware-id", "board-a", "--version", "1.0.0")
    assert dup.exit_code == 7 and "already exists" in dup.output
    old = cli("add", signed_repo, image, "--hardware-id", "board-a", "--version", "0.9.0")
    assert old.exit_code == 7 and "not newer" in old.output
    assert no_hashing == []


def test_empty_image_is_added_with_a_warning(cli: Cli, signed_repo: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    result = cli("add", signed_repo, empty, "--hardware-id", "board-a", "--version", "2.0.0")
    assert result.exit_code == 0
    assert "Warning: image" in result.stderr and "is empty" in result.stderr
    assert "Warning" not in result.stdout


def test_init_warns_about_a_single_root_key(cli: Cli, tmp_path: Path, password: str) -> None:
    one = cli("init", tmp_path / "one", "--password-env", PASSWORD_ENV)
    assert one.exit_code == 0
    assert "root has one key and threshold 1" in one.stderr
    team = cli(
        "init",
        tmp_path / "team",
        "--password-env",
        PASSWORD_ENV,
        "--keys",
        "root=3",
        "--threshold",
        "root=2",
    )
    assert team.exit_code == 0
    assert "Warning" not in team.stderr


def test_init_warns_about_a_timestamp_outliving_root(
    cli: Cli, tmp_path: Path, password: str
) -> None:
    result = cli(
        "init",
        tmp_path / "r",
        "--password-env",
        PASSWORD_ENV,
        "--expiry",
        "root=30d",
        "--expiry",
        "timestamp=60d",
        "--expiry",
        "snapshot=60d",
        "--expiry",
        "targets=60d",
    )
    assert result.exit_code == 0
    assert "timestamp expiry (60 days) is longer than root's (30 days)" in result.stderr
