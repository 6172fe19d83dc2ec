"""docs/key-management.md runs as written: the fingerprint recomputed with OpenSSH and
OpenSSL, the root-key ceremony by three people in three git checkouts of one repository,
the SoftHSM2 token and its key (shell and Python), a CI key from an environment variable,
and an AWS KMS key (against moto on 127.0.0.1). Each published result is checked by
firmtuf's verifier as a device that trusted the first root.

Edits a test makes (passwords from the environment instead of prompts, temp paths, the
real key ids for the page's placeholders) must match the page's text (tests/docs/_guide.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from signer import init_repository
from tests.docs._guide import guide_blocks, python_blocks, run_guide, user_env
from tests.signer.keys.conftest import firmtuf_client, keyids, softhsm_module

PAGE = "key-management.md"
BLOCKS = 12
FP_ECDSA, FP_ED25519, OP_START, ALICE, BOB, OP_FINISH = range(6)
HSM_TOKEN, HSM_USE, CI_ROTATE, CI_JOB, KMS_ADMIN, KMS_USE = range(6, 12)
PW = "FIRMTUF_GUIDE_PASSWORD"
SECRET = "guide password"


def _blocks(edits: list[tuple[int, str, str]] | None = None) -> list[str]:
    return guide_blocks(PAGE, edits or [], expect_blocks=BLOCKS)


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    return user_env(tmp, {PW: SECRET, **extra})


def _cli_json(env: dict[str, str], cwd: Path, *args: str) -> Any:
    proc = run_guide(" ".join(["firmtuf", *args, "--json"]), cwd, env)
    return json.loads(proc.stdout)


def test_fingerprint_is_recomputed_with_openssh_and_openssl(tmp_path: Path) -> None:
    env = _env(tmp_path)
    blocks = _blocks(
        [
            (FP_ECDSA, "ssh-keygen -y -f my-key.pem", f'ssh-keygen -y -P "${PW}" -f my-key.pem'),
            (FP_ED25519, "ssh-keygen -y -f my-ed25519-key.pem",
             f'ssh-keygen -y -P "${PW}" -f my-ed25519-key.pem'),
        ]
    )  # fmt: skip
    for index, key_type, name in ((FP_ECDSA, "ecdsa-p256", "my-key.pem"),
                                  (FP_ED25519, "ed25519", "my-ed25519-key.pem")):  # fmt: skip
        repo = tmp_path / key_type
        init_repository(repo, password=SECRET, key_type=key_type)
        [keyid] = keyids(repo, "root")
        shutil.copy(repo / "keys" / f"root-{keyid[:12]}.pem", tmp_path / name)
        listed = {k["keyid"]: k for k in _cli_json(env, tmp_path, "key", "list", str(repo))}
        digest = run_guide(blocks[index], tmp_path, env).stdout.split()[0]
        assert digest == listed[keyid]["fingerprint"].replace(" ", ""), key_type

    # The printed shape the page shows is what `key list` prints.
    text = (Path(__file__).parents[2] / "docs" / PAGE).read_text()
    shown = re.search(r"```text\n(key id .*?)```", text, re.S)
    assert shown, "the page no longer shows a key id and fingerprint"
    shape = re.compile(r"key id      [0-9a-f]{64}\nfingerprint( [0-9a-f]{4}){16}\n")
    assert shape.fullmatch(shown.group(1))
    printed = run_guide(f"firmtuf key list {tmp_path / 'ed25519'}", tmp_path, env).stdout
    assert shape.search(re.sub(r"^ +", "", printed, flags=re.M))


def _published(out: Path, role: str) -> Any:
    """The newest version of ``role`` in a published tree (consistent snapshots)."""
    if role in ("root", "timestamp"):
        return json.loads((out / "metadata" / f"{role}.json").read_bytes())
    newest = max((out / "metadata").glob(f"*.{role}.json"), key=lambda p: int(p.name.split(".")[0]))
    return json.loads(newest.read_bytes())


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_root_key_ceremony_in_three_checkouts(tmp_path: Path) -> None:
    """Operator, Alice and Bob each in their own checkout and home; git between them."""
    people = {name: tmp_path / name for name in ("operator", "alice", "bob")}
    for home in people.values():
        home.mkdir()
    carol = tmp_path / "media-carol"
    carol.mkdir()
    git_id = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
              "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}  # fmt: skip
    env = {name: _env(home, HOME=str(home), **git_id) for name, home in people.items()}

    remote = tmp_path / "remote.git"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    checkout = {name: home / "fw" for name, home in people.items()}
    op = checkout["operator"]
    op.mkdir()
    repo = op / "repo"
    init_repository(repo, password=SECRET, keys={"root": 2}, thresholds={"root": 2})
    alice_key, bob_key = keyids(repo, "root")
    for name, keyid in (("alice", alice_key), ("bob", bob_key)):
        (repo / "keys" / f"root-{keyid[:12]}.pem").rename(people[name] / f"{name}.pem")
    _git(op, "init", "-q", "-b", "main")
    _git(op, "add", "repo")
    _git(op, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "init")
    _git(op, "remote", "add", "origin", str(remote))
    _git(op, "push", "-q", "-u", "origin", "main")
    for name in ("alice", "bob"):
        _git(people[name], "clone", "-q", str(remote), "fw")
    assert not (checkout["alice"] / "repo" / "keys").exists()  # keys/ never leaves a machine
    first_root = tmp_path / "1.root.json"
    shutil.copy(repo / "metadata" / "root_history" / "1.root.json", first_root)

    password = f" --password-env {PW}"
    blocks = _blocks(
        [
            (OP_START, "firmtuf key rotate repo root 2ff6e857 --keys-dir /media/carol",
             f"firmtuf key rotate repo root {alice_key[:8]} --keys-dir {carol}{password}"),
            (ALICE, "--key-file ~/alice.pem", f"--key-file ~/alice.pem{password}"),
            (BOB, "--key-file ~/bob.pem", f"--key-file ~/bob.pem{password}"),
            (OP_FINISH, "firmtuf sign repo ", f"firmtuf sign repo{password} "),
        ]
    )  # fmt: skip
    started = run_guide(blocks[OP_START], op, env["operator"])
    new_fingerprint = re.search(
        r"Added a key to root:\n.*\n +fingerprint +((?:[0-9a-f]{4} ?){16})", started.stdout
    )
    assert new_fingerprint, started.stdout
    [carol_file] = carol.glob("root-*.pem")  # the new key went to Carol's medium only
    assert not list((repo / "keys").glob("root-*.pem"))

    alice = run_guide(blocks[ALICE], checkout["alice"], env["alice"])
    # Alice can compare what the operator read out with what she is about to sign.
    assert new_fingerprint.group(1).strip() in alice.stdout, alice.stdout
    assert "Signed root with key" in alice.stdout
    bob = run_guide(blocks[BOB], checkout["bob"], env["bob"])
    assert "Complete" in bob.stdout

    run_guide(blocks[OP_FINISH], op, env["operator"])
    out = op / "out"
    root = json.loads((out / "metadata" / "2.root.json").read_bytes())["signed"]
    new_key = carol_file.name.removeprefix("root-").removesuffix(".pem")
    assert alice_key not in root["roles"]["root"]["keyids"]
    assert bob_key in root["roles"]["root"]["keyids"]
    assert any(k.startswith(new_key) for k in root["roles"]["root"]["keyids"])
    # Everyone's checkout can pull the finished state: the event is gone, root v2 is in.
    _git(checkout["alice"], "pull", "-q")
    assert not (checkout["alice"] / "repo" / "sign-events" / "rotate-root-2026").exists()
    assert (checkout["alice"] / "repo" / "metadata" / "root_history" / "2.root.json").is_file()

    device = firmtuf_client(out, tmp_path / "device")
    assert (tmp_path / "device" / "metadata" / "root.json").read_bytes() == first_root.read_bytes()
    device.refresh()
    assert device.trusted_versions()["root"] == 2


@pytest.mark.skipif(softhsm_module() is None, reason="softhsm2 is not installed")
def test_hsm_section_with_a_softhsm_token(tmp_path: Path) -> None:
    module = softhsm_module()
    assert module is not None
    work = tmp_path / "work"
    (work / "build").mkdir(parents=True)
    (work / "build" / "gateway.bin").write_bytes(os.urandom(4096))
    init_repository(work / "repo", password=SECRET)
    tokens, conf = tmp_path / "tokens", tmp_path / "softhsm2.conf"
    password = f" --password-env {PW}"
    edits = [
        (HSM_TOKEN, "apt-get install softhsm2", ": apt-get install softhsm2"),
        (HSM_TOKEN, "/tmp/tokens", str(tokens)),
        (HSM_TOKEN, "/tmp/softhsm2.conf", str(conf)),
        (HSM_USE, "--pin-env HSM_PIN\nfirmtuf sign", f"--pin-env HSM_PIN{password}\nfirmtuf sign"),
        (HSM_USE, "firmtuf sign repo --pin-env HSM_PIN",
         f"firmtuf sign repo --pin-env HSM_PIN{password}"),
        (HSM_USE, "firmtuf sign repo && ", f"firmtuf sign repo{password} && "),
    ]  # fmt: skip
    if module != "/usr/lib/softhsm/libsofthsm2.so":
        edits.append((HSM_TOKEN, "/usr/lib/softhsm/libsofthsm2.so", module))
    blocks = _blocks(edits)
    [generate] = python_blocks(PAGE)
    script = f"{blocks[HSM_TOKEN]}\npython3 - <<'EOF'\n{generate}EOF\n{blocks[HSM_USE]}"
    env = _env(tmp_path)
    run_guide(script, work, env)

    targets = _published(work / "out", "targets")
    root = json.loads((work / "out" / "metadata" / "root.json").read_bytes())["signed"]
    hsm_keys = [k for k, v in root["keys"].items()
                if v.get("x-firmtuf-signer-uri") == "hsm:1?label=firmtuf-test"]  # fmt: skip
    assert len(hsm_keys) == 1 and hsm_keys[0] in root["roles"]["targets"]["keyids"]
    assert hsm_keys[0] in {s["keyid"] for s in targets["signatures"]}
    assert "acme-gw-r2/1.4.3/gateway.bin" in targets["signed"]["targets"]
    device = firmtuf_client(work / "out", tmp_path / "device")
    device.refresh()
    assert device.get_targetinfo("acme-gw-r2/1.4.3/gateway.bin") is not None


def test_ci_key_from_an_environment_variable(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    repo = work / "repo"
    init_repository(repo, password=SECRET)
    [old] = keyids(repo, "timestamp")
    blocks = _blocks(
        [
            (CI_ROTATE, "timestamp OLDKEYID --uri envvar:FIRMTUF_TIMESTAMP_KEY",
             f"timestamp {old[:12]} --uri envvar:FIRMTUF_TIMESTAMP_KEY --password-env {PW}"),
        ]
    )  # fmt: skip
    env = _env(tmp_path)
    # One shell: the variable `export`ed while rotating is the CI job's secret.
    run_guide(f"{blocks[CI_ROTATE]}\n{blocks[CI_JOB]}", work, env)
    assert not (work / "ts.pem").exists()
    [new] = keyids(repo, "timestamp")
    assert new != old
    timestamp = json.loads((work / "out" / "metadata" / "timestamp.json").read_bytes())
    assert [s["keyid"] for s in timestamp["signatures"]] == [new]
    device = firmtuf_client(work / "out", tmp_path / "device")
    device.refresh()

    # Without the variable (a laptop), the key is not at hand and `sign` says why.
    image = work / "fw.bin"
    image.write_bytes(b"fw" * 100)
    run_guide(f"firmtuf add repo {image} --hardware-id hw --version 1.0.0", work, env)
    laptop = run_guide(f"firmtuf sign repo --password-env {PW}", work, env)
    assert "environment variable FIRMTUF_TIMESTAMP_KEY is not set" in laptop.stdout + laptop.stderr


def test_aws_kms_key(tmp_path: Path) -> None:
    """The cloud admin's two `aws kms` calls are made with boto3 against moto (the aws
    CLI is not a dependency of the tests); the release engineer's block runs as written."""
    import boto3

    from tests.signer.keys.moto_kms import correct_moto_kms_sign, environment, moto_server

    admin = _blocks()[KMS_ADMIN]
    assert "aws kms create-key --key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY" in admin
    assert "aws kms create-alias --alias-name alias/firmtuf-snapshot" in admin
    work = tmp_path / "work"
    work.mkdir()
    repo = work / "repo"
    init_repository(repo, password=SECRET)
    [old] = keyids(repo, "snapshot")
    password = f" --password-env {PW}"
    blocks = _blocks(
        [
            (KMS_USE, "snapshot OLD_KEYID --uri awskms:alias/firmtuf-snapshot",
             f"snapshot {old[:12]} --uri awskms:alias/firmtuf-snapshot{password}"),
            (KMS_USE, "firmtuf sign repo && ", f"firmtuf sign repo{password} && "),
        ]
    )  # fmt: skip
    with moto_server() as url, correct_moto_kms_sign():
        aws = environment(url)
        kms = boto3.client(
            "kms",
            endpoint_url=url,
            region_name=aws["AWS_DEFAULT_REGION"],
            aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=aws["AWS_SESSION_TOKEN"],
        )
        key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"][
            "KeyId"
        ]
        kms.create_alias(AliasName="alias/firmtuf-snapshot", TargetKeyId=key_id)
        run_guide(blocks[KMS_USE], work, _env(tmp_path, **aws))
    root = json.loads((work / "out" / "metadata" / "root.json").read_bytes())["signed"]
    [new] = root["roles"]["snapshot"]["keyids"]
    assert root["keys"][new]["x-firmtuf-signer-uri"] == "awskms:alias/firmtuf-snapshot"
    snapshot = _published(work / "out", "snapshot")
    assert [s["keyid"] for s in snapshot["signatures"]] == [new]
    device = firmtuf_client(work / "out", tmp_path / "device")
    device.refresh()
