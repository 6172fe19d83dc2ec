"""Issue 10 item 4: log levels. Debug for routine steps, info for what an operator may
want once (a resume), warning for fallbacks and refusals, never error for normal
operation; and logging is not even imported on a device that did not ask for it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import verifier
from tests.repository import Repository

PACKAGE = Path(__file__).parents[2] / "verifier"


def fw(version: str, counter: int = 0) -> dict[str, object]:
    return {"firmtuf": {"hardware_ids": ["gw"], "version": version, "security_counter": counter}}


@pytest.fixture
def repo() -> Repository:
    sim = Repository()
    sim.add_target("gw/2.0/fw.bin", b"two" * 1000, custom=fw("2.0", 1))
    sim.publish()
    return sim


def test_a_normal_update_logs_nothing_above_info(
    repo: Repository, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    md = tmp_path / "md"
    with caplog.at_level("DEBUG", logger="verifier"):
        for _ in range(2):  # a first update, then a poll with nothing new
            up = repo.updater(md, policy=verifier.DevicePolicy.from_metadata_dir(md, "gw", "1"))
            target = up.check()
            if target is not None:
                up.download(target, tmp_path / "fw.bin")
                up.stage(target)
                up.confirm()
        repo.update_timestamp()  # a new timestamp, nothing else
        repo.updater(md).refresh()
    levels = {r.levelname for r in caplog.records}
    assert levels <= {"DEBUG", "INFO"}, [r.message for r in caplog.records]
    assert "DEBUG" in levels
    info = [r.message for r in caplog.records if r.levelname == "INFO"]
    assert info == [
        "check gw: offering gw/2.0/fw.bin",
        "gw: staged gw/2.0/fw.bin",
        "gw: confirmed gw/2.0/fw.bin",
    ]


def test_an_expired_stored_timestamp_is_routine(
    repo: Repository, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    md = tmp_path / "md"
    repo.updater(md).refresh()
    later = repo.updater(md, clock=lambda: 4102444800.0)  # 2100: everything stored expired
    repo.timestamp.signed.expires = repo.timestamp.signed.expires.replace(year=2101)
    repo.snapshot.signed.expires = repo.snapshot.signed.expires.replace(year=2101)
    repo.targets.signed.expires = repo.targets.signed.expires.replace(year=2101)
    repo.root.signed.expires = repo.root.signed.expires.replace(year=2101)
    repo.commit_root()
    repo.publish()
    with caplog.at_level("DEBUG", logger="verifier"):
        later.refresh()
    assert not [r for r in caplog.records if r.levelno >= 30], caplog.text
    assert any("not final" in r.message and r.levelname == "DEBUG" for r in caplog.records)


def test_a_damaged_stored_file_is_a_warning(
    repo: Repository, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    md = tmp_path / "md"
    repo.updater(md).refresh()
    doc = json.loads((md / "timestamp.json").read_bytes())
    doc["signatures"] = []
    (md / "timestamp.json").write_text(json.dumps(doc))
    with caplog.at_level("DEBUG", logger="verifier"):
        repo.updater(md).refresh()
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert "stored timestamp not usable" in warning.message


def test_the_verifier_never_logs_at_error_level() -> None:
    """Normal operation raises typed errors; what is an error is the agent's call."""
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("error", "exception", "critical"):
                base = node.value
                name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
                assert name not in ("log", "logging", "logger", "_logger"), (
                    f"{path.name}:{node.lineno} logs at {node.attr}"
                )


def test_an_update_does_not_import_logging(repo: Repository, tmp_path: Path) -> None:
    """Debug lines cost a device nothing unless the agent set up logging."""
    md = tmp_path / "md"
    repo.updater(md).refresh()  # a store with metadata, in this process
    www = tmp_path / "www"
    for name in ("timestamp.json", "2.snapshot.json", "2.targets.json"):
        (www / "metadata").mkdir(parents=True, exist_ok=True)
        (www / "metadata" / name).write_bytes(repo.files["https://repo.test/metadata/" + name])
    code = (
        "import sys, verifier\n"
        f"up = verifier.Updater({str(md)!r}, 'https://repo.test/metadata/', "
        f"fetcher=verifier.DirectoryFetcher({str(www)!r}, 'https://repo.test/'))\n"
        "up.refresh()\n"
        "assert up.get_targetinfo('gw/2.0/fw.bin') is not None\n"
        "print('logging' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
