"""HSM tokens that are sometimes unplugged (issue 11): with a file key at hand that meets
the threshold, `sign` and `key rotate` of another role exited 5 because a registered
token was absent (or PYKCS11LIB unset). Keys that cannot be used are now skipped with a
note when the threshold is met without them; only an unmet threshold is an error.
Real SoftHSM2 tokens (skipped only where softhsm2 is not installed).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata

from signer import init_repository
from tests.signer.keys.conftest import (
    PASSWORD_ENV,
    PIN_ENV,
    Cli,
    SoftHsmToken,
    keyids,
    make_image,
    tree_bytes,
)

SECRETS = ("--password-env", PASSWORD_ENV, "--pin-env", PIN_ENV)


def _uri(token: SoftHsmToken, hsm_keyid: int) -> str:
    return f"hsm:{hsm_keyid}?label={token.label}"


@pytest.fixture
def targets_file_or_hsm(cli: Cli, repo: Path, softhsm: SoftHsmToken) -> Path:
    """targets: its key file and an HSM key, threshold 1."""
    softhsm.generate_ec_key(1)
    added = cli("key", "add", repo, "targets", "--uri", _uri(softhsm, 1), *SECRETS)
    assert added.exit_code == 0, added.output
    assert cli("sign", repo, *SECRETS).exit_code == 0
    return repo


@pytest.mark.parametrize("how", ["unplugged", "PYKCS11LIB unset"])
def test_sign_skips_an_absent_token_when_the_threshold_is_met(
    cli: Cli,
    targets_file_or_hsm: Path,
    softhsm: SoftHsmToken,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    repo = targets_file_or_hsm
    file_key = next(
        k["keyid"]
        for k in json.loads(cli("key", "list", repo, "--json").stdout)
        if k["role"] == "targets" and str(k["signer_uri"]).startswith("file:")
    )
    hsm_key = next(k for k in keyids(repo, "targets") if k != file_key)
    if how == "unplugged":
        softhsm.unplug()
    else:
        monkeypatch.delenv("PYKCS11LIB")
    image = make_image(tmp_path / "fw.bin")
    assert cli("add", repo, image, "--hardware-id", "b", "--version", "1.0.0").exit_code == 0
    result = cli("sign", repo, *SECRETS, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["signed"]["targets"] == [file_key]
    assert list(report["skipped"]) == [hsm_key]
    expected = "is absent" if how == "unplugged" else "PYKCS11LIB"
    assert expected in report["skipped"][hsm_key]
    assert f"Note: key {hsm_key[:8]} did not sign" in result.stderr
    targets = Metadata.from_file(str(repo / "metadata" / "targets.json"))
    assert list(targets.signatures) == [file_key]
    out = tmp_path / "out"
    assert cli("publish", repo, out).exit_code == 0


def test_rotating_another_role_with_a_root_token_absent(
    cli: Cli, tmp_path: Path, password: str, softhsm: SoftHsmToken
) -> None:
    """Root 2 of 3: two holders' key files at hand, the third holder's token away."""
    repo = tmp_path / "repo"
    init_repository(repo, password=password, keys={"root": 2}, thresholds={"root": 2})
    softhsm.generate_ec_key(2)
    added = cli("key", "add", repo, "root", "--uri", _uri(softhsm, 2), *SECRETS)
    assert added.exit_code == 0, added.output
    assert cli("sign", repo, *SECRETS).exit_code == 0
    softhsm.unplug()
    old = keyids(repo, "timestamp")[0]
    rotated = cli("key", "rotate", repo, "timestamp", old[:12], *SECRETS)
    assert rotated.exit_code == 0, rotated.output
    assert "root v3: signed" in rotated.output
    assert "did not sign" in rotated.stderr and "is absent" in rotated.stderr
    assert cli("sign", repo, *SECRETS).exit_code == 0
    assert cli("publish", repo, tmp_path / "out").exit_code == 0


def test_an_unmet_threshold_is_still_reported(
    cli: Cli, repo: Path, softhsm: SoftHsmToken, tmp_path: Path
) -> None:
    """targets 2 of 2 (file + token), the token away: the file key's signature is kept
    (another holder adds theirs later, as docs/cli.md says), the role is reported with
    the token's reason, and nothing is publishable. A role with no usable key at all is
    exit 5 (test_hsm.py::test_absent_token_changes_nothing)."""
    softhsm.generate_ec_key(3)
    added = cli("key", "add", repo, "targets", "--uri", _uri(softhsm, 3), "--threshold", "2",
                *SECRETS)  # fmt: skip
    assert added.exit_code == 0, added.output
    softhsm.unplug()
    image = make_image(tmp_path / "fw.bin")
    assert cli("add", repo, image, "--hardware-id", "b", "--version", "1.0.0").exit_code == 0
    result = cli("sign", repo, "--json", *SECRETS)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert "1/2 signatures, needs 1 more" in report["incomplete"]["targets"]
    assert "is absent" in report["incomplete"]["targets"]
    assert report["skipped"] == {}  # not skipped: the threshold was not met without it
    before = tree_bytes(repo)
    assert cli("publish", repo, tmp_path / "out").exit_code == 8
    assert tree_bytes(repo) == before
