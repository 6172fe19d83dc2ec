"""The `firmtuf` process as scripts and shells see it (issue 11): --version, JSON errors,
Ctrl-C, a closed pipe, a prompt with no terminal, a device-only install."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from signer import init_repository
from signer._lock import LOCK_FILE, repository_lock
from tests.signer.conftest import PASSWORD_ENV, Cli, make_image

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}


def _default_sigint() -> None:
    # A shell's background job inherits SIGINT ignored, and Python then installs no
    # handler: give the command the terminal's default, as an interactive user has.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def firmtuf(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "signer", *(str(a) for a in args)],
        env=kwargs.pop("env", ENV),  # type: ignore[arg-type]
        preexec_fn=_default_sigint,
        **kwargs,  # type: ignore[call-overload]
    )


def _wait_until_waiting_for_lock(pid: int, lock_file: Path) -> None:
    """Until process ``pid`` has the lock file open (it is past its imports, polling)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        fds = Path(f"/proc/{pid}/fd")
        try:
            if any(Path(os.readlink(fd)) == lock_file.resolve() for fd in fds.iterdir()):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("the command never reached the repository lock")


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.output.startswith("firmtuf 0.")


def test_json_errors_are_json_with_the_same_exit_code(tmp_path: Path, cli: Cli) -> None:
    result = cli("status", tmp_path / "nowhere", "--json")
    assert result.exit_code == 4
    error = json.loads(result.stdout)["error"]
    assert error["code"] == 4
    assert error["type"] == "RepositoryLocationError"
    assert "not a firmtuf repository" in error["message"]
    assert "not a firmtuf repository" in result.stderr  # the one line stays
    # without --json: stdout stays empty
    plain = cli("status", tmp_path / "nowhere")
    assert plain.exit_code == 4 and plain.stdout == ""


def test_json_error_of_a_key_problem(tmp_path: Path, cli: Cli, password: str) -> None:
    repo = tmp_path / "repo"
    init_repository(repo, password=password)
    cli("add", repo, make_image(tmp_path / "fw.bin"), "--hardware-id", "hw", "--version", "1")
    result = cli("sign", repo, "--password-env", "FIRMTUF_UNSET_VARIABLE", "--json")
    assert result.exit_code == 5
    assert json.loads(result.stdout)["error"]["code"] == 5


def test_ctrl_c_exits_130_and_writes_nothing(tmp_path: Path, password: str) -> None:
    repo = tmp_path / "repo"
    init_repository(repo, password=password)
    before = (repo / "metadata" / "targets.json").read_bytes()
    image = make_image(tmp_path / "fw.bin")
    with repository_lock(repo):  # the command waits for this lock: interrupt it there
        proc = firmtuf(
            "--lock-wait",
            "120",
            "add",
            repo,
            image,
            "--hardware-id",
            "hw",
            "--version",
            "1",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        _wait_until_waiting_for_lock(proc.pid, repo / LOCK_FILE)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    assert b"Interrupted" in err
    assert (repo / "metadata" / "targets.json").read_bytes() == before


def test_closed_pipe_is_silent(tmp_path: Path, password: str) -> None:
    repo = tmp_path / "repo"
    init_repository(repo, password=password)
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `firmtuf key list REPO | head -0`: nobody reads
    proc = firmtuf("key", "list", repo, stdout=write_end, stderr=subprocess.PIPE)
    os.close(write_end)
    _, err = proc.communicate(timeout=60)
    assert err == b""
    assert proc.returncode == 141


def test_password_prompt_without_a_terminal_is_a_key_problem(tmp_path: Path, password: str) -> None:
    repo = tmp_path / "repo"
    init_repository(repo, password=password)
    image = make_image(tmp_path / "a.bin")
    argv = ["add", str(repo), str(image), "--hardware-id", "hw", "--version", "1"]
    subprocess.run(
        [sys.executable, "-m", "signer", *argv],
        env=ENV,
        check=True,
        capture_output=True,
    )
    env = {k: v for k, v in ENV.items() if k != PASSWORD_ENV}
    proc = firmtuf(
        "sign",
        repo,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 5, err
    assert b"--password-env" in err and b"Traceback" not in err


DEVICE_ONLY = """
import importlib.abc, runpy, sys

class DeviceOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("tuf", "securesystemslib", "click"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, DeviceOnly())
import signer, verifier  # both packages load: the verifier is all a device needs
sys.argv = ["firmtuf", "status", "repo"]
runpy.run_module("signer", run_name="__main__")
"""


def test_device_only_install_names_the_extra() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", DEVICE_ONLY], env=ENV, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "pip install 'firmtuf[signer]'" in lines[0]
