"""`firmtuf sign-event`: several key holders sign the same drafts, no server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Root

from signer import FirmwareRepository, init_repository
from tests.signer.keys.conftest import (
    PASSWORD_ENV,
    Cli,
    keyids,
    make_image,
    ngclient,
    run_process,
    tree_bytes,
)


@pytest.fixture
def two_holder_repo(tmp_path: Path, password: str) -> tuple[Path, Path, Path]:
    """Root with two keys (threshold 2); each private key moved to its holder's folder."""
    repo = tmp_path / "repo"
    init_repository(repo, password=password, keys={"root": 2}, thresholds={"root": 2})
    holders = []
    for keyid, name in zip(keyids(repo, "root"), ("alice", "bob"), strict=True):
        home = tmp_path / name
        home.mkdir()
        (repo / "keys" / f"root-{keyid[:12]}.pem").rename(home / "root.pem")
        holders.append(home / "root.pem")
    return repo, holders[0], holders[1]


def test_multi_party_root_rotation_in_separate_processes(
    cli: Cli, two_holder_repo: tuple[Path, Path, Path], password: str, tmp_path: Path
) -> None:
    repo, alice, bob = two_holder_repo
    out = tmp_path / "out"
    assert cli("publish", repo, out).exit_code == 0
    client = ngclient(out, tmp_path / "client")
    client.refresh()

    old_alice = keyids(repo, "root")[0]
    rotated = cli("key", "rotate", repo, "root", old_alice[:12], "--password-env", PASSWORD_ENV)
    assert rotated.exit_code == 0, rotated.output
    assert "root v2: 1/2 signatures of its keys, 0/2 of the previous root's keys" in rotated.output
    started = cli("sign-event", "start", repo, "rotate-root", "--json")
    assert started.exit_code == 0, started.output
    status = json.loads(started.stdout)
    (root_progress,) = status["roles"]
    assert root_progress["role"] == "root" and root_progress["version"] == 2
    assert root_progress["previous_threshold"] == 2 and root_progress["previous_missing"] == 2

    env = {"HOLDER_PASSWORD": password}
    first = run_process(
        "sign-event", "sign", repo, "rotate-root", "--key-file", alice,
        "--password-env", "HOLDER_PASSWORD", env=env,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "Signed root with key" in first.stdout
    halfway = run_process("sign-event", "status", repo, "rotate-root", "--json", env=env)
    progress = json.loads(halfway.stdout)["roles"][0]
    assert progress["previous_missing"] == 1 and not progress["complete"]
    # Half signed: neither finish nor publish gets the new root out.
    early = run_process("sign-event", "finish", repo, "rotate-root", env=env)
    assert early.returncode == 11, early.stderr
    assert "needs 1 more signature" in early.stderr
    assert cli("publish", repo, out).exit_code == 8

    second = run_process(
        "sign-event", "sign", repo, "rotate-root", "--key-file", bob,
        "--password-env", "HOLDER_PASSWORD", env=env,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "Complete" in second.stdout
    signature_files = sorted(
        (repo / "sign-events" / "rotate-root" / "signatures" / "root").iterdir()
    )
    assert len(signature_files) == 2

    finished = cli("sign-event", "finish", repo, "rotate-root")
    assert finished.exit_code == 0, finished.output
    assert not (repo / "sign-events" / "rotate-root").exists()
    v1 = Metadata[Root].from_file(str(repo / "metadata" / "root_history" / "1.root.json"))
    v2 = Metadata[Root].from_file(str(repo / "metadata" / "root.json"))
    v1.signed.verify_delegate("root", v2.signed_bytes, v2.signatures)
    v2.signed.verify_delegate("root", v2.signed_bytes, v2.signatures)
    assert old_alice not in v2.signed.roles["root"].keyids

    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    assert cli("publish", repo, out).exit_code == 0
    client = ngclient(out, tmp_path / "client")
    client.refresh()
    trusted = Metadata[Root].from_file(str(tmp_path / "client" / "metadata" / "root.json"))
    assert trusted.signed.version == 2


def test_targets_threshold_signed_by_two_holders(cli: Cli, tmp_path: Path, password: str) -> None:
    repo = tmp_path / "repo"
    init_repository(repo, password=password, keys={"targets": 2}, thresholds={"targets": 2})
    homes = []
    for i, keyid in enumerate(keyids(repo, "targets")):
        home = tmp_path / f"holder{i}"
        home.mkdir()
        (repo / "keys" / f"targets-{keyid[:12]}.pem").rename(home / "targets.pem")
        homes.append(home / "targets.pem")
    image = make_image(tmp_path / "fw.bin")
    assert cli("add", repo, image, "--hardware-id", "board-a", "--version", "2.0.0").exit_code == 0
    started = cli("sign-event", "start", repo, "fw-2.0.0")
    assert started.exit_code == 0, started.output
    assert "targets v2" in started.output
    for home in homes:
        signed = cli("sign-event", "sign", repo, "fw-2.0.0", "--key-file", home,
                     "--password-env", PASSWORD_ENV)  # fmt: skip
        assert signed.exit_code == 0, signed.output
    again = cli("sign-event", "sign", repo, "fw-2.0.0", "--key-file", homes[0],
                "--password-env", PASSWORD_ENV)  # fmt: skip
    assert again.exit_code == 0 and "already signed" in again.output
    assert cli("sign-event", "finish", repo, "fw-2.0.0").exit_code == 0
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    out = tmp_path / "out"
    assert cli("publish", repo, out).exit_code == 0
    client = ngclient(out, tmp_path / "client")
    client.refresh()
    assert client.get_targetinfo("board-a/2.0.0/fw.bin") is not None


def test_keys_at_hand_sign_and_list_and_cancel(cli: Cli, repo: Path, password: str) -> None:
    assert cli("key", "add", repo, "root", "--uri", "envvar:ABSENT_ROOT_KEY_VAR",
               "--public-key", _pem_of_new_key(repo.parent), "--threshold", "2",
               "--password-env", PASSWORD_ENV).exit_code == 0  # fmt: skip
    assert cli("sign-event", "start", repo, "ev1").exit_code == 0
    assert cli("sign-event", "list", repo).output.split() == ["ev1"]
    signed = cli("sign-event", "sign", repo, "ev1", "--password-env", PASSWORD_ENV)
    # The file key had signed during `key add`; nothing new is at hand.
    assert signed.exit_code == 0, signed.output
    assert "already signed" in signed.output
    status = cli("sign-event", "status", repo, "ev1")
    assert "envvar:ABSENT_ROOT_KEY_VAR" in status.output
    assert "needs 1 more" in status.output
    assert cli("sign-event", "cancel", repo, "ev1").exit_code == 0
    assert cli("sign-event", "list", repo).output == ""


def _pem_of_new_key(directory: Path) -> Path:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    path = directory / "extra.pub.pem"
    path.write_bytes(key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return path


# -- bad input: clear error, exit code, repository unchanged -----------------------------


def test_untrusted_key_is_refused(
    cli: Cli, two_holder_repo: tuple[Path, Path, Path], tmp_path: Path, password: str
) -> None:
    repo, _alice, _bob = two_holder_repo
    assert cli("key", "rotate", repo, "root", keyids(repo, "root")[0],
               "--password-env", PASSWORD_ENV).exit_code == 0  # fmt: skip
    assert cli("sign-event", "start", repo, "ev").exit_code == 0
    stranger = tmp_path / "stranger"
    init_repository(stranger, password=password)
    stranger_key = next((stranger / "keys").glob("targets-*.pem"))
    before = tree_bytes(repo)
    result = cli("sign-event", "sign", repo, "ev", "--key-file", stranger_key,
                 "--password-env", PASSWORD_ENV)  # fmt: skip
    assert result.exit_code == 5
    assert "is not a key of any role of signing event 'ev'" in result.stderr
    assert tree_bytes(repo) == before


def test_wrong_password_for_key_file(
    cli: Cli, two_holder_repo: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, alice, _bob = two_holder_repo
    assert cli("key", "rotate", repo, "root", keyids(repo, "root")[0],
               "--password-env", PASSWORD_ENV).exit_code == 0  # fmt: skip
    assert cli("sign-event", "start", repo, "ev").exit_code == 0
    monkeypatch.setenv("WRONG_PW", "not-the-password")
    before = tree_bytes(repo)
    result = cli(
        "sign-event", "sign", repo, "ev", "--key-file", alice, "--password-env", "WRONG_PW"
    )
    assert result.exit_code == 5
    assert "wrong password" in result.stderr
    assert tree_bytes(repo) == before


def test_event_on_changed_repository_is_refused(
    cli: Cli, two_holder_repo: tuple[Path, Path, Path]
) -> None:
    repo, alice, _bob = two_holder_repo
    assert cli("key", "rotate", repo, "root", keyids(repo, "root")[0],
               "--password-env", PASSWORD_ENV).exit_code == 0  # fmt: skip
    assert cli("sign-event", "start", repo, "ev").exit_code == 0
    # Another change to root while the event is open is refused...
    refused = cli("key", "add", repo, "targets", "--password-env", PASSWORD_ENV)
    assert refused.exit_code == 7, refused.output
    assert "signing event 'ev' is open on root" in refused.stderr
    # ...but one that arrives another way (a git pull, an old firmtuf) makes it stale.
    repository = FirmwareRepository(repo)
    repository.event_guard = False
    with repository.edit("root") as root:
        root.version += 0  # re-issued: new expiry, new (unsigned) bytes
    repository.save()
    before = tree_bytes(repo)
    for args in (
        ("sign", repo, "ev", "--key-file", alice, "--password-env", PASSWORD_ENV),
        ("status", repo, "ev"),
        ("finish", repo, "ev"),
    ):
        result = cli("sign-event", *args)
        assert result.exit_code == 7, result.output
        assert "changed since signing event 'ev' started" in result.stderr
    assert tree_bytes(repo) == before


def test_forged_signature_file_is_refused(
    cli: Cli, two_holder_repo: tuple[Path, Path, Path]
) -> None:
    repo, alice, bob = two_holder_repo
    assert cli("key", "rotate", repo, "root", keyids(repo, "root")[0],
               "--password-env", PASSWORD_ENV).exit_code == 0  # fmt: skip
    assert cli("sign-event", "start", repo, "ev").exit_code == 0
    for holder in (alice, bob):
        assert cli("sign-event", "sign", repo, "ev", "--key-file", holder,
                   "--password-env", PASSWORD_ENV).exit_code == 0  # fmt: skip
    sig_file = next((repo / "sign-events" / "ev" / "signatures" / "root").glob("*.json"))
    sig = json.loads(sig_file.read_bytes())
    sig["sig"] = ("00" if sig["sig"][:2] != "00" else "11") + sig["sig"][2:]
    sig_file.write_text(json.dumps(sig))
    before = tree_bytes(repo)
    result = cli("sign-event", "finish", repo, "ev")
    # 2 of 2 needed, one forged: not complete; the message names the file that does not count
    assert result.exit_code == 11
    assert f"{sig_file}: signature does not verify" in result.stderr
    assert tree_bytes(repo) == before


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("start", "{repo}", "nothing"), 3, "nothing to sign"),
        (("start", "{repo}", "../escape"), 3, "bad signing event name"),
        (("start", "{repo}", "ev", "--role", "targets"), 7, "targets is fully signed"),
        (("start", "{repo}", "ev", "--role", "nobody"), 3, "unknown role 'nobody'"),
        (("status", "{repo}", "missing"), 3, "no signing event 'missing'"),
        (("finish", "{repo}", "missing"), 3, "no signing event 'missing'"),
    ],
)
def test_event_bad_input(
    cli: Cli, repo: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    before = tree_bytes(repo)
    result = cli("sign-event", *(a.format(repo=repo) for a in args))
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert tree_bytes(repo) == before


def test_duplicate_event_name(cli: Cli, repo: Path, password: str, tmp_path: Path) -> None:
    add_image = make_image(tmp_path / "fw.bin")
    assert cli("add", repo, add_image, "--hardware-id", "b", "--version", "1.0.0").exit_code == 0
    assert cli("sign-event", "start", repo, "ev").exit_code == 0
    before = tree_bytes(repo)
    result = cli("sign-event", "start", repo, "ev")
    assert result.exit_code == 7 and "exists already" in result.stderr
    assert tree_bytes(repo) == before


def test_edited_draft_is_refused(cli: Cli, two_holder_repo: tuple[Path, Path, Path]) -> None:
    """A draft changed in the shared folder must not be signed by anyone."""
    repo, alice, _bob = two_holder_repo
    assert cli("key", "rotate", repo, "root", keyids(repo, "root")[0],
               "--password-env", PASSWORD_ENV).exit_code == 0  # fmt: skip
    assert cli("sign-event", "start", repo, "ev").exit_code == 0
    draft = repo / "sign-events" / "ev" / "drafts" / "root.json"
    data = json.loads(draft.read_bytes())
    data["signed"]["roles"]["targets"]["threshold"] = 1
    data["signed"]["expires"] = "2099-01-01T00:00:00Z"
    draft.write_text(json.dumps(data, indent=1))
    before = tree_bytes(repo)
    result = cli("sign-event", "sign", repo, "ev", "--key-file", alice,
                 "--password-env", PASSWORD_ENV)  # fmt: skip
    assert result.exit_code == 6
    assert "differs from the root metadata the event was started with" in result.stderr
    assert tree_bytes(repo) == before


def test_status_shows_root_changes_for_review(
    cli: Cli, two_holder_repo: tuple[Path, Path, Path]
) -> None:
    repo, _alice, _bob = two_holder_repo
    old = keyids(repo, "root")[0]
    rotated = cli("key", "rotate", repo, "root", old, "--threshold", "1", "--json",
                  "--password-env", PASSWORD_ENV)  # fmt: skip
    new = json.loads(rotated.stdout)["added"][0]
    assert cli("sign-event", "start", repo, "ev").exit_code == 0
    status = cli("sign-event", "status", repo, "ev")
    assert status.exit_code == 0
    assert f"root: adds key {new['keyid'][:12]} fingerprint {new['fingerprint']}" in status.output
    assert f"root: removes key {old[:12]}" in status.output
    assert "root: threshold 2 -> 1" in status.output
