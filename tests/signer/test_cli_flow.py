"""The release engineer's path through the CLI: init, add, sign, publish, status, verify."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata

import signer._status as status_module
from signer import FirmwareRepository
from signer._keyfile import is_encrypted
from signer._signers import SIGNER_URI_FIELD
from tests.signer.conftest import PASSWORD_ENV, Cli, make_image, tree_bytes


def test_full_flow_json(cli: Cli, tmp_path: Path, password: str) -> None:
    repo, out = tmp_path / "repo", tmp_path / "out"
    r = cli("init", repo, "--password-env", PASSWORD_ENV)
    assert r.exit_code == 0, r.output
    image = make_image(tmp_path / "gateway.bin", 50_000)
    r = cli(
        "add",
        repo,
        image,
        "--hardware-id",
        "acme-gw-r2",
        "--hardware-id",
        "acme-gw-r2b",
        "--version",
        "1.4.2",
        "--security-counter",
        "7",
        "--min-version",
        "1.2.0",
        "--notes",
        "Fixes CVE-2026-0001",
        "--json",
    )
    assert r.exit_code == 0, r.output
    added = json.loads(r.stdout)
    assert added[0]["name"] == "acme-gw-r2/1.4.2/gateway.bin"
    assert added[0]["length"] == 50_000
    assert list(added[0]["hashes"]) == ["sha256"]

    # ADR 0001 fields, exactly
    md = Metadata.from_file(str(repo / "metadata" / "targets.json"))
    target = md.signed.targets["acme-gw-r2/1.4.2/gateway.bin"]
    assert target.custom == {
        "firmtuf": {
            "hardware_ids": ["acme-gw-r2", "acme-gw-r2b"],
            "version": "1.4.2",
            "security_counter": 7,
            "min_version": "1.2.0",
            "notes": "Fixes CVE-2026-0001",
        }
    }
    assert md.signatures == {}  # an unsigned draft until `sign`

    r = cli("sign", repo, "--password-env", PASSWORD_ENV, "--json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert set(result["signed"]) == {"targets", "snapshot", "timestamp"}
    assert result["incomplete"] == {}

    r = cli("status", repo, "--json")
    assert r.exit_code == 0, r.output
    status = json.loads(r.stdout)
    assert status["ok"] is True
    roles = {role["role"]: role for role in status["roles"]}
    assert roles["targets"]["version"] == 2
    assert roles["targets"]["signatures"] == 1
    assert roles["targets"]["targets"] == 1
    assert roles["root"]["keys"][0]["signer_uri"].startswith("file:keys/root-")

    r = cli("publish", repo, out, "--json")
    assert r.exit_code == 0, r.output
    written = json.loads(r.stdout)["written"]
    assert written[-1] == "metadata/timestamp.json"
    assert written[0].startswith("targets/acme-gw-r2/1.4.2/")
    assert (out / "metadata" / "2.targets.json").is_file()
    assert (out / "metadata" / "2.snapshot.json").is_file()
    assert (out / "metadata" / "1.root.json").is_file()

    r = cli("verify", out, "--root", out / "metadata" / "1.root.json", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["targets"] == {"acme-gw-r2/1.4.2/gateway.bin": 50_000}

    # publishing again changes nothing
    before = tree_bytes(out)
    r = cli("publish", repo, out, "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["written"] == []
    assert tree_bytes(out) == before


def test_prompted_password(cli: Cli, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    r = cli("init", repo, input="pw-123\npw-123\n")
    assert r.exit_code == 0, r.output
    cli("add", repo, make_image(tmp_path / "a.bin"), "--hardware-id", "b", "--version", "1")
    r = cli("sign", repo, input="pw-123\n")
    assert r.exit_code == 0, r.output
    assert "Signed targets v2" in r.stdout
    r = cli("status", repo)
    assert r.exit_code == 0, r.output


def test_sha512_on_request_and_published_under_both(cli: Cli, tmp_path: Path, repo: Path) -> None:
    image = make_image(tmp_path / "x.bin", 1000)
    r = cli(
        "add", repo, image, "--hardware-id", "b", "--version", "2.0", "--hash", "sha512", "--json"
    )
    assert r.exit_code == 0, r.output
    hashes = json.loads(r.stdout)[0]["hashes"]
    assert list(hashes) == ["sha256", "sha512"]
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    out = tmp_path / "out"
    assert cli("publish", repo, out).exit_code == 0
    for digest in hashes.values():
        assert (
            out / "targets" / "b" / "2.0" / f"{digest}.x.bin"
        ).read_bytes() == image.read_bytes()


def test_remove_then_publish(cli: Cli, tmp_path: Path, signed_repo: Path) -> None:
    out = tmp_path / "out"
    assert cli("publish", signed_repo, out).exit_code == 0
    r = cli("remove", signed_repo, "board-a/1.0.0/fw.bin")
    assert r.exit_code == 0, r.output
    assert list((signed_repo / "targets").iterdir()) == []  # store cleaned
    assert cli("sign", signed_repo, "--password-env", PASSWORD_ENV).exit_code == 0
    assert cli("publish", signed_repo, out).exit_code == 0
    r = cli("verify", out, "--root", out / "metadata" / "1.root.json", "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["targets"] == {}


@pytest.mark.parametrize("key_type", ["ed25519", "ecdsa-p256", "ecdsa-p384", "rsa-pss"])
def test_key_types_interoperate(cli: Cli, tmp_path: Path, password: str, key_type: str) -> None:
    repo, out = tmp_path / "repo", tmp_path / "out"
    r = cli("init", repo, "--key-type", key_type, "--password-env", PASSWORD_ENV)
    assert r.exit_code == 0, r.output
    root = Metadata.from_file(str(repo / "metadata" / "root.json")).signed
    schemes = {k.scheme for k in root.keys.values()}
    expected = {
        "ed25519": "ed25519",
        "ecdsa-p256": "ecdsa-sha2-nistp256",
        "ecdsa-p384": "ecdsa-sha2-nistp384",
        "rsa-pss": "rsassa-pss-sha256",
    }[key_type]
    assert schemes == {expected}
    cli("add", repo, make_image(tmp_path / "a.bin"), "--hardware-id", "b", "--version", "1")
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    assert cli("publish", repo, out).exit_code == 0
    r = cli("verify", out, "--root", out / "metadata" / "1.root.json")
    assert r.exit_code == 0, r.output


def test_init_options_keys_thresholds_expiry(cli: Cli, tmp_path: Path, password: str) -> None:
    repo = tmp_path / "repo"
    r = cli(
        "init",
        repo,
        "--password-env",
        PASSWORD_ENV,
        "--keys",
        "root=3",
        "--threshold",
        "root=2",
        "--keys",
        "targets=2",
        "--expiry",
        "targets=30d",
        "--expiry",
        "timestamp=6h",
    )
    assert r.exit_code == 0, r.output
    md = Metadata.from_file(str(repo / "metadata" / "root.json"))
    root = md.signed
    assert len(root.roles["root"].keyids) == 3
    assert root.roles["root"].threshold == 2
    assert len(root.roles["targets"].keyids) == 2
    assert root.consistent_snapshot is True
    assert len(md.signatures) == 3
    # only public keys and signer URIs in the repository's metadata
    for key in root.keys.values():
        assert key.unrecognized_fields[SIGNER_URI_FIELD].endswith("?encrypted=true")
        assert set(key.keyval) == {"public"}
    ts = Metadata.from_file(str(repo / "metadata" / "timestamp.json")).signed
    tg = Metadata.from_file(str(repo / "metadata" / "targets.json")).signed
    assert (tg.expires - ts.expires).days in (29, 30)
    # key files: encrypted PEM, owner-only, git-ignored
    key_files = sorted((repo / "keys").glob("*.pem"))
    assert len(key_files) == 3 + 2 + 1 + 1
    for key_file in key_files:
        assert is_encrypted(key_file.read_bytes())
        assert key_file.stat().st_mode & 0o077 == 0
    assert (repo / "keys" / ".gitignore").read_text().splitlines()[-1] == "*"
    for meta in (repo / "metadata").rglob("*.json"):
        assert b"PRIVATE" not in meta.read_bytes()


def test_keys_outside_repository(
    cli: Cli, tmp_path: Path, password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`init --keys-dir` takes the offline (root) keys; online keys stay in REPO/keys; the
    published root names key files without any local path (issue 11)."""
    repo, keys = tmp_path / "repo", tmp_path / "offline-keys"
    r = cli("init", repo, "--password-env", PASSWORD_ENV, "--keys-dir", keys)
    assert r.exit_code == 0, r.output
    assert [p.name.split("-")[0] for p in keys.glob("*.pem")] == ["root"]
    assert sorted(p.name.split("-")[0] for p in (repo / "keys").glob("*.pem")) == [
        "snapshot",
        "targets",
        "timestamp",
    ]
    cli("add", repo, make_image(tmp_path / "a.bin"), "--hardware-id", "b", "--version", "1")
    r = cli("sign", repo, "--password-env", PASSWORD_ENV)
    assert r.exit_code == 0, r.output
    assert FirmwareRepository(repo).is_complete("timestamp")
    # a root change on this machine finds the offline key through REPO/keys/.key-dirs
    old = Metadata.from_file(str(repo / "metadata" / "root.json")).signed.roles["timestamp"]
    r = cli("key", "rotate", repo, "timestamp", old.keyids[0][:12], "--password-env", PASSWORD_ENV)
    assert r.exit_code == 0, r.output
    assert "root v2: signed" in r.output
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    out = tmp_path / "out"
    assert cli("publish", repo, out).exit_code == 0
    for published in (out / "metadata").glob("*.json"):
        text = published.read_text()
        assert str(tmp_path) not in text and "offline-keys" not in text, published
    # another machine (a clone without REPO/keys/.key-dirs): root is not at hand there...
    clone = tmp_path / "clone"
    shutil.copytree(repo, clone)
    (clone / "keys" / ".key-dirs").unlink()
    old = Metadata.from_file(str(clone / "metadata" / "root.json")).signed.roles["timestamp"]
    args = ("key", "rotate", clone, "timestamp", old.keyids[0][:12], "--password-env", PASSWORD_ENV)
    r = cli(*args)
    assert r.exit_code == 0 and "root v3: 0/1 signatures" in r.output, r.output
    # ...until its holder says where the key is
    monkeypatch.setenv("FIRMTUF_KEYS_PATH", str(keys))
    r = cli("sign", clone, "root", "--password-env", PASSWORD_ENV)
    assert r.exit_code == 0, r.output
    assert FirmwareRepository(clone).is_complete("root")


def test_threshold_two_signed_by_two_holders(cli: Cli, tmp_path: Path, password: str) -> None:
    """Targets needs 2 signatures; each holder has one key: publish waits for both."""
    repo, out = tmp_path / "repo", tmp_path / "out"
    cli(
        "init",
        repo,
        "--password-env",
        PASSWORD_ENV,
        "--keys",
        "targets=2",
        "--threshold",
        "targets=2",
    )
    root = Metadata.from_file(str(repo / "metadata" / "root.json")).signed
    key_b = repo / "keys" / f"targets-{root.roles['targets'].keyids[1][:12]}.pem"
    away = tmp_path / "holder-b.pem"
    key_b.rename(away)

    cli("add", repo, make_image(tmp_path / "a.bin"), "--hardware-id", "b", "--version", "1")
    r = cli("sign", repo, "--password-env", PASSWORD_ENV)
    assert r.exit_code == 0, r.output
    assert "targets: 1/2 signatures, needs 1 more" in r.stdout
    assert "not found" in r.stdout
    r = cli("status", repo)
    assert r.exit_code == 10
    assert "targets: under-signed: 1/2 signatures" in r.stderr
    r = cli("publish", repo, out)
    assert r.exit_code == 8
    assert "targets under-signed" in r.stderr
    assert not out.exists()

    away.rename(key_b)  # holder B signs
    r = cli("sign", repo, "--password-env", PASSWORD_ENV, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["incomplete"] == {}
    assert Metadata.from_file(str(repo / "metadata" / "targets.json")).signed.version == 2
    assert cli("publish", repo, out).exit_code == 0
    assert cli("verify", out, "--root", out / "metadata" / "1.root.json").exit_code == 0


def test_sign_named_role_reissues(cli: Cli, signed_repo: Path) -> None:
    r = cli("sign", signed_repo, "timestamp", "--password-env", PASSWORD_ENV, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["new_versions"] == {"timestamp": 3}
    r = cli("sign", signed_repo, "--password-env", PASSWORD_ENV)
    assert r.exit_code == 0
    assert "Nothing to sign" in r.stdout


def test_status_expired(cli: Cli, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = cli("status", repo)
    assert r.exit_code == 0, r.output  # fresh: a 1-day timestamp is not "expiring"
    later = status_module.utcnow() + timedelta(days=2)
    monkeypatch.setattr(status_module, "utcnow", lambda: later)
    r = cli("status", repo)
    assert r.exit_code == 10
    assert "timestamp: expired" in r.stderr


def test_status_warns_within_window(
    cli: Cli, tmp_path: Path, password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    cli(
        "init",
        repo,
        "--password-env",
        PASSWORD_ENV,
        "--expiry",
        "snapshot=30d",
        "--expiry",
        "timestamp=30d",
    )
    later = status_module.utcnow() + timedelta(days=25)
    monkeypatch.setattr(status_module, "utcnow", lambda: later)
    r = cli("status", repo, "--json")
    assert r.exit_code == 10
    roles = {role["role"]: role for role in json.loads(r.stdout)["roles"]}
    assert roles["timestamp"]["problems"] == []
    # 5 days minus the time the test took; shown in whole days
    assert roles["timestamp"]["warnings"] in (["expires in 5 days"], ["expires in 4 days"])
    assert roles["targets"]["warnings"] == []
    r = cli("status", repo, "--warn", "2d")
    assert r.exit_code == 0, r.output


def test_verify_working_repository(cli: Cli, signed_repo: Path, tmp_path: Path) -> None:
    root = signed_repo / "metadata" / "root_history" / "1.root.json"
    r = cli("verify", signed_repo, "--root", root, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["targets"] == {"board-a/1.0.0/fw.bin": 10_000}
    cli("add", signed_repo, make_image(tmp_path / "b.bin"), "--hardware-id", "x", "--version", "1")
    r = cli("verify", signed_repo, "--root", root)
    assert r.exit_code == 8
    assert "under-signed" in r.stderr


def test_snapshot_threshold_signed_by_two_holders(cli: Cli, tmp_path: Path, password: str) -> None:
    """Each holder signs the same snapshot draft: the first signature is kept."""
    repo, out = tmp_path / "repo", tmp_path / "out"
    cli(
        "init",
        repo,
        "--password-env",
        PASSWORD_ENV,
        "--keys",
        "snapshot=2",
        "--threshold",
        "snapshot=2",
    )
    key_a, key_b = sorted((repo / "keys").glob("snapshot-*.pem"))
    away_b = tmp_path / "b.pem"
    key_b.rename(away_b)
    cli("add", repo, make_image(tmp_path / "a.bin"), "--hardware-id", "b", "--version", "1")
    r = cli("sign", repo, "--password-env", PASSWORD_ENV, "--json")
    assert r.exit_code == 0, r.output
    first = json.loads(r.stdout)
    assert first["new_versions"] == {"snapshot": 2}
    assert "snapshot" in first["incomplete"] and "timestamp" in first["incomplete"]

    away_a = tmp_path / "a.pem"
    key_a.rename(away_a)
    away_b.rename(key_b)
    r = cli("sign", repo, "--password-env", PASSWORD_ENV, "--json")
    assert r.exit_code == 0, r.output
    second = json.loads(r.stdout)
    assert second["incomplete"] == {}
    assert second["new_versions"] == {"timestamp": 2}
    snapshot = Metadata.from_file(str(repo / "metadata" / "snapshot.json"))
    assert snapshot.signed.version == 2
    assert len(snapshot.signatures) == 2
    assert cli("publish", repo, out).exit_code == 0
    assert cli("verify", out, "--root", out / "metadata" / "1.root.json").exit_code == 0
