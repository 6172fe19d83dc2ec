"""Several firmtuf commands at once on one repository (issue 11: lost releases).

Before the repository lock, six `firmtuf add` processes at once printed `Added ...` and
exited 0 while their target was absent from targets.json in 3 runs of 6. Now every
command that changes a repository holds REPO/.firmtuf.lock: the others wait (or, with
``--lock-wait 0``, exit 7 having changed nothing). Every trial checks the rule the issue
states: each exit-0 change is present, each other command exited 7.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from tuf.api.metadata import Metadata

from signer import init_repository
from signer._lock import LOCK_FILE
from signer.cli import main
from signer.cli._locking import LOCK_ATTRIBUTE
from tests.signer.conftest import PASSWORD_ENV, Cli, make_image

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKERS = 6
TRIALS = int(os.environ.get("FIRMTUF_CONCURRENCY_TRIALS", "12"))
"""Trials per test (12 by default, a few seconds; raise it for a long soak)."""


class Workers:
    """N long-lived `firmtuf` processes, each running one command per trial."""

    def __init__(self, count: int, env: dict[str, str]) -> None:
        full_env = {**os.environ, **env, "PYTHONPATH": str(PROJECT_ROOT)}
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.signer.cli_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=full_env,
                cwd=PROJECT_ROOT,
            )
            for _ in range(count)
        ]
        for proc in self.procs:
            assert proc.stdout is not None
            assert json.loads(proc.stdout.readline()) == {"ready": True}

    def run_all(self, commands: list[list[str]]) -> list[dict[str, object]]:
        """Send every worker its command at once; return the results in order."""
        for proc, argv in zip(self.procs, commands, strict=True):
            assert proc.stdin is not None
            proc.stdin.write(json.dumps([str(a) for a in argv]) + "\n")
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.flush()
        results = []
        for proc in self.procs:
            assert proc.stdout is not None
            results.append(json.loads(proc.stdout.readline()))
        return results

    def close(self) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.close()
        for proc in self.procs:
            proc.wait(timeout=30)


WORKER_PASSWORD = secrets.token_urlsafe(12)


@pytest.fixture(scope="module")
def workers() -> Iterator[Workers]:
    """One pool for the module: starting a worker costs about a second of imports."""
    pool = Workers(WORKERS, {PASSWORD_ENV: WORKER_PASSWORD})
    try:
        yield pool
    finally:
        pool.close()


def _targets(repo: Path) -> dict[str, object]:
    md = Metadata.from_file(str(repo / "metadata" / "targets.json"))
    return dict(md.signed.targets)


@pytest.mark.parametrize("wait", ["30", "0"])
def test_parallel_adds_lose_nothing(tmp_path: Path, workers: Workers, wait: str) -> None:
    """Six `add` at once, many trials: exit 0 means present; anything else is exit 7."""
    outcomes = {0: 0, 7: 0}
    for trial in range(TRIALS):
        repo = tmp_path / f"repo-{trial}"
        init_repository(repo, password=WORKER_PASSWORD)
        commands = []
        for i in range(WORKERS):
            image = make_image(tmp_path / f"img-{trial}-{i}" / "fw.bin", 2048)
            fields = ["--hardware-id", f"hw-{i}", "--version", f"1.0.{trial}"]
            commands.append(["--lock-wait", wait, "add", repo, image, *fields])
        results = workers.run_all(commands)
        present = _targets(repo)
        for i, result in enumerate(results):
            name = f"hw-{i}/1.0.{trial}/fw.bin"
            if result["code"] == 0:
                assert name in present, f"trial {trial}: {name} reported added but is absent"
                assert f"Added {name}" in str(result["out"])
            else:
                assert result["code"] == 7, result
                assert "busy" in str(result["err"]), result
                assert name not in present
            outcomes[int(str(result["code"]))] += 1
    if wait == "30":
        assert outcomes[7] == 0, "with a wait every add gets its turn"
    assert outcomes[0] > 0


def test_parallel_add_and_sign(tmp_path: Path, workers: Workers) -> None:
    """Adds racing signs: every reported addition is in targets.json afterwards, and the
    signed state is consistent (a final sign publishes every target)."""
    for trial in range(TRIALS // 2):
        repo = tmp_path / f"repo-{trial}"
        init_repository(repo, password=WORKER_PASSWORD)
        commands: list[list[str]] = []
        for i in range(WORKERS):
            if i % 2:
                commands.append(["sign", repo, "--password-env", PASSWORD_ENV])
            else:
                image = make_image(tmp_path / f"img-{trial}-{i}" / "fw.bin", 2048)
                commands.append(["add", repo, image, "--hardware-id", f"hw-{i}", "--version", "1"])
        results = workers.run_all(commands)
        for result in results:
            assert result["code"] == 0, result
        present = _targets(repo)
        for i in range(0, WORKERS, 2):
            assert f"hw-{i}/1/fw.bin" in present
        final = workers.run_all([["sign", repo, "--password-env", PASSWORD_ENV]] * WORKERS)
        assert all(r["code"] in (0, 5) for r in final), final
        status = workers.run_all([["status", repo]] * WORKERS)
        assert all(r["code"] == 0 for r in status), status


HOLDER = """
import sys, time
from signer._lock import repository_lock
with repository_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(600)
"""


def test_killed_holder_leaves_no_stale_lock(tmp_path: Path, password: str, cli: Cli) -> None:
    """A command killed with SIGKILL while holding the lock blocks nobody afterwards."""
    repo = tmp_path / "repo"
    init_repository(repo, password=password)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(repo)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        busy = cli(
            "--lock-wait",
            "0.2",
            "add",
            repo,
            make_image(tmp_path / "a.bin"),
            "--hardware-id",
            "hw",
            "--version",
            "1",
        )
        assert busy.exit_code == 7
        assert "busy" in busy.output and f"pid {holder.pid}" in busy.output
        assert _targets(repo) == {}
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert (repo / LOCK_FILE).exists()  # the file stays; the lock went with the process
    started = time.monotonic()
    result = cli(
        "--lock-wait",
        "0",
        "add",
        repo,
        make_image(tmp_path / "b.bin"),
        "--hardware-id",
        "hw",
        "--version",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 60
    assert "hw/1/b.bin" in _targets(repo)


def test_readers_share_the_lock(tmp_path: Path, workers: Workers) -> None:
    """Six `status` at once with --lock-wait 0: readers never wait for each other."""
    repo = tmp_path / "repo"
    init_repository(repo, password=WORKER_PASSWORD)
    for _ in range(3):
        results = workers.run_all([["--lock-wait", "0", "status", repo]] * WORKERS)
        assert [r["code"] for r in results] == [0] * WORKERS, results


def _commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield " ".join((*path, name)), command


def test_every_repository_command_declares_its_lock() -> None:
    """A new command naming a repository cannot forget the lock: it must say how it uses it."""
    changing = {"add", "remove", "sign", "refresh", "delegate", "bins", "key add"}
    changing |= {"key remove", "key rotate", "sign-event start", "sign-event sign"}
    changing |= {"sign-event finish", "sign-event cancel", "support set", "support remove"}
    for name, command in _commands(main):
        arguments = {p.name for p in command.params if isinstance(p, click.Argument)}
        mode = getattr(command.callback, LOCK_ATTRIBUTE, None)
        if arguments & {"repo", "source", "directory"}:
            assert mode is not None, f"firmtuf {name} names a repository but declares no lock"
        if name in changing:
            assert mode == "exclusive", name
