"""A repository carrying support periods and SBOMs (ADR 0009) breaks no other client:
python-tuf's ngclient and firmtuf verifiers released before them update from it, pick
the same firmware and download every target; the current verifier reads both.

Published by the `firmtuf` CLI, served by a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from click.testing import CliRunner
from tuf.ngclient import Updater as TufUpdater

import verifier
from signer.cli import main
from tests.loopback import serve_directory
from tests.sbom_documents import cyclonedx, write

PASSWORD_ENV = "FIRMTUF_ORACLE_PASSWORD"
HW = "acme-gw-r2"
FW = f"{HW}/1.4.2/gateway.bin"
SBOM = f"{HW}/1.4.2/gateway.cdx.json"
PERIOD = f"{HW}/support/period.json"
REPO_ROOT = Path(__file__).resolve().parents[3]

OLD_VERIFIERS = {
    # main before the verifier knew of ADR 0009: the core rewrite, and the one before it
    "core-split": "34b6cfe85e642ffadd746316b30517f7cf867ba6",
    "pre-core": "59fdf2f0653d2435003ceb8bb0133eceb57f7d79",
}


def firmtuf(*args: str | Path) -> None:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, bytes, bytes]]:
    """(base URL, trusted root, SBOM bytes) of a published release with an SBOM, a
    support period that was extended then shortened, and an older release without."""
    tmp = tmp_path_factory.mktemp("interop")
    old = os.environ.get(PASSWORD_ENV)
    os.environ[PASSWORD_ENV] = secrets.token_urlsafe(12)
    try:
        repo, out = tmp / "repo", tmp / "out"
        pw = ("--password-env", PASSWORD_ENV)
        firmtuf("init", repo, *pw)
        old_image = tmp / "old.bin"
        old_image.write_bytes(os.urandom(3000))
        firmtuf("add", repo, old_image, "--hardware-id", HW, "--version", "1.0.0")
        image = tmp / "gateway.bin"
        image.write_bytes(os.urandom(5000))
        sbom = write(tmp / "gateway.cdx.json", cyclonedx())
        firmtuf("add", repo, image, "--hardware-id", HW, "--version", "1.4.2", "--sbom", sbom)
        firmtuf("support", "set", repo, HW, "--until", "2031-12-31", "--url", "https://a.example/p")
        firmtuf("support", "set", repo, HW, "--until", "2032-12-31")
        firmtuf("support", "set", repo, HW, "--until", "2030-06-30", "--shorten")
        firmtuf("sign", repo, *pw)
        firmtuf("publish", repo, out)
        root = (out / "metadata" / "1.root.json").read_bytes()
        with serve_directory(out) as base:
            yield base, root, sbom.read_bytes()
    finally:
        if old is None:
            os.environ.pop(PASSWORD_ENV, None)
        else:
            os.environ[PASSWORD_ENV] = old


def test_python_tuf_client_accepts_and_downloads_everything(
    served: tuple[str, bytes, bytes], tmp_path: Path
) -> None:
    base, root, sbom = served
    client = TufUpdater(
        str(tmp_path), base + "metadata/", str(tmp_path), base + "targets/", bootstrap=root
    )
    client.refresh()
    for name in (FW, SBOM, PERIOD, f"{HW}/1.0.0/old.bin"):
        info = client.get_targetinfo(name)
        assert info is not None, name
        client.download_target(info, str(tmp_path / name.replace("/", "_")))
    assert (tmp_path / SBOM.replace("/", "_")).read_bytes() == sbom
    declared = json.loads((tmp_path / PERIOD.replace("/", "_")).read_bytes())
    assert declared["support_until"] == "2030-06-30"
    assert [h["support_until"] for h in declared["history"]] == ["2031-12-31", "2032-12-31"]


def test_current_verifier_reads_support_and_sbom(
    served: tuple[str, bytes, bytes], tmp_path: Path
) -> None:
    base, root, sbom = served
    up = verifier.Updater(
        tmp_path, base + "metadata/", base + "targets/",
        policy=verifier.DevicePolicy(HW, "1.0.0"), bootstrap=root,
    )  # fmt: skip
    up.refresh()
    fw = up.check()
    assert fw is not None and fw.path == FW
    assert up.sbom(fw) == sbom
    period = up.support()
    assert period is not None
    assert (period.until, period.shortened_from, period.url) == (
        "2030-06-30",
        "2032-12-31",
        "https://a.example/p",
    )


_OLD_DEVICE = """
import json, sys
from pathlib import Path
import verifier
assert not hasattr(verifier.Updater, "sbom"), verifier.__file__  # really the old one
base, root, work = sys.argv[1], Path(sys.argv[2]).read_bytes(), Path(sys.argv[3])
up = verifier.Updater(work / "md", base + "metadata/", base + "targets/",
                      policy=verifier.DevicePolicy("acme-gw-r2", "1.0.0"), bootstrap=root)
up.refresh()
fw = up.check()
up.download(fw, work / "fw.bin")
got = {"picked": fw.path}
for name in sys.argv[4:]:
    info = up.get_targetinfo(name)
    dest = work / name.replace("/", "_")
    got[name] = None if info is None else up.download(info, dest).stat().st_size
print(json.dumps(got))
"""


@pytest.mark.parametrize("label", sorted(OLD_VERIFIERS))
def test_an_older_verifier_still_updates(
    served: tuple[str, bytes, bytes], tmp_path: Path, label: str
) -> None:
    commit = OLD_VERIFIERS[label]
    found = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "cat-file", "-e", f"{commit}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        pytest.skip(f"this clone lacks commit {commit[:12]} (shallow?): no older verifier to run")
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", commit, "verifier"],
        capture_output=True,
        check=True,
    ).stdout
    old = tmp_path / "old"
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(old, filter="data")
    base, root, sbom = served
    (tmp_path / "root.json").write_bytes(root)
    env = {**os.environ, "PYTHONPATH": str(old)}
    run = subprocess.run(
        [sys.executable, "-c", _OLD_DEVICE, base, str(tmp_path / "root.json"), str(tmp_path),
         SBOM, PERIOD],
        capture_output=True, text=True, env=env, check=False, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert got["picked"] == FW  # neither the SBOM nor the declaration is taken for firmware
    assert got[SBOM] == len(sbom)
    assert got[PERIOD] is not None
