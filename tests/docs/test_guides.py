"""The getting-started pages run as written: docs/quickstart.md against a repository
served on 127.0.0.1, docs/install.md from a clone to a hash-pinned wheel that works.

(docs/dashboard.md runs here too, docs/key-management.md in test_key_management.py; the
other guides run in their own folders' tests: ci-publishing.md and
offline-updates.md in tests/docs/test_publishing_guides.py, and the device guide's example in
tests/docs/test_device_guide.py.)"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from signer._demo import serve_directory
from tests.docs._guide import DOCS, ROOT, guide_script, run_guide, user_env

PW = "FIRMTUF_DOCS_PASSWORD"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _shim_venv(work: Path) -> None:
    """`.venv/bin/firmtuf` for the README's command, whose venv-and-install half the test
    command itself performs (tests/run.sh); repeating it here would need the index."""
    venv = work / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "firmtuf").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m signer "$@"\n')
    (venv / "firmtuf").chmod(0o755)


def test_quickstart(tmp_path: Path) -> None:
    work, www = tmp_path / "work", tmp_path / "www"
    work.mkdir()
    www.mkdir()
    (work / "build").mkdir()
    (work / "build" / "gateway.bin").write_bytes(b"\x7fELF gateway 1.4.2" * 500)
    _shim_venv(work)
    with serve_directory(www) as base:
        script = guide_script(
            "quickstart.md",
            [
                (0, "python3 -m venv .venv && .venv/bin/pip install -q -e '.[signer]' && ", ""),
                (1, "firmtuf init fw-repo\n", f"firmtuf init fw-repo --password-env {PW}\n"),
                (2, "firmtuf init fw-repo ", f"firmtuf init fw-repo-p256 --password-env {PW} "),
                (2, "/media/offline-keys", "offline-keys"),
                (4, "firmtuf sign fw-repo\n", f"firmtuf sign fw-repo --password-env {PW}\n"),
                (6, "/srv/www/firmware", str(www / "firmware")),
                (7, "https://updates.example.com/", base),
            ],
            expect_blocks=8,
        )
        proc = run_guide(script, work, user_env(tmp_path, {PW: "correct horse"}))
    out = proc.stdout
    assert "acme-gw-r2/1.4.2/gateway.bin" in out  # add, then verify downloads it
    assert "OK: " in out, out  # firmtuf verify over HTTP from the published tree
    assert (www / "firmware" / "metadata" / "timestamp.json").is_file()
    # The second init made what the guide says: three ECDSA root keys outside the repo.
    root = json.loads((work / "fw-repo-p256" / "metadata" / "root.json").read_text())
    assert len(root["signed"]["roles"]["root"]["keyids"]) == 3
    assert root["signed"]["roles"]["root"]["threshold"] == 2
    assert {k["keytype"] for k in root["signed"]["keys"].values()} == {"ecdsa"}
    # --keys-dir takes the offline (root) keys only; the online keys stay in the repository.
    assert len(list((work / "offline-keys").glob("root-*.pem"))) == 3
    assert not [p for p in (work / "offline-keys").glob("*.pem") if not p.name.startswith("root-")]
    assert len(list((work / "fw-repo-p256" / "keys").glob("*.pem"))) == 3


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """The project as a remote the guide clones from, with the tag it checks out."""
    remote = tmp_path / "firmtuf.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(ROOT), str(remote)], check=True)
    subprocess.run(["git", "-C", str(remote), "tag", f"v{VERSION}", "HEAD"], check=True)
    return remote


def test_install_from_source_and_pinned_wheel(tmp_path: Path, source: Path) -> None:
    assert VERSION == "0.1.0", "install.md names the wheel of version 0.1.0: update it"
    work = tmp_path / "work"
    work.mkdir()
    site = tmp_path / "site-packages"
    env = user_env(
        tmp_path,
        # Offline: the wheel is built with the test environment's setuptools.
        {"PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    # From source, then the wheel, in the clone (the guide's `cd firmtuf` carries over).
    script = guide_script(
        "install.md",
        [
            (0, "https://git.example.com/acme/firmtuf.git", str(source)),
            (
                0,
                "python3 -m venv .venv && .venv/bin/pip install -q -e '.[signer]'\n",
                'mkdir -p .venv/bin && ln -s "$(command -v firmtuf)" .venv/bin/firmtuf\n',
            ),
            (2, "pip install --require-hashes -r requirements.txt",
                f"pip install -q --require-hashes --no-deps --target {site} -r requirements.txt"),
            (3, "python3 -c", f"PYTHONPATH={site} python3 -c"),
            (3, "firmtuf demo", f"PYTHONPATH={site} python3 -m signer demo"),
        ],
        expect_blocks=4,
    )  # fmt: skip
    blocks = script.split("\n\n")
    first = run_guide("\n".join(blocks[:2]), work, env)
    clone = work / "firmtuf"
    wheel = clone / "dist" / f"firmtuf-{VERSION}-py3-none-any.whl"
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert f"{digest}  dist/{wheel.name}" in first.stdout
    assert "Usage: firmtuf" in first.stdout

    # requirements.txt as the guide writes it, with this wheel's path and hash.
    text = (DOCS / "install.md").read_text()
    req = re.search(r"```text\n# requirements.txt\n(.*?)```", text, re.DOTALL)
    assert req, "install.md has no requirements.txt example"
    requirements = (
        req.group(1)
        .replace(f"file:///opt/wheels/{wheel.name}", wheel.as_uri())
        .replace("<the hash printed above>", digest)
    )
    assert digest in requirements and wheel.as_uri() in requirements
    (clone / "requirements.txt").write_text(requirements)
    # A wheel with other bytes under the same name is refused.
    good = wheel.read_bytes()
    wheel.write_bytes(good + b"\0")
    refused = subprocess.run(
        ["bash", "-c", blocks[2]], cwd=clone, env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "DO NOT MATCH" in refused.stderr, refused.stderr
    assert not site.exists() or not any(site.iterdir())
    wheel.write_bytes(good)

    run_guide(blocks[2], clone, env)
    # Checked from another directory, so the checkout cannot shadow the installed wheel.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    check = run_guide(blocks[3], elsewhere, env)
    assert re.search(r"<class 'verifier\.[\w.]*Updater'>", check.stdout), check.stdout
    assert "refused" in check.stdout.lower(), check.stdout
    where = run_guide(
        f"PYTHONPATH={site} python3 -c 'import signer, verifier; print(signer.__file__, "
        "verifier.__file__)'",
        elsewhere,
        env,
    )
    assert all(p.startswith(str(site)) for p in where.stdout.split()), where.stdout


def test_dashboard_page(tmp_path: Path) -> None:
    """docs/dashboard.md's commands on a repository with one release."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "gateway.bin").write_bytes(b"\x7fELF gateway" * 300)
    env = user_env(tmp_path, {PW: "correct horse"})
    run_guide(
        f"firmtuf init fw-repo --password-env {PW} >/dev/null\n"
        "firmtuf add fw-repo gateway.bin --hardware-id acme-gw-r2 --version 1.4.2\n"
        f"firmtuf sign fw-repo --password-env {PW}",
        work,
        env,
    )
    run_guide(guide_script("dashboard.md", [], expect_blocks=1), work, env)
    for page in (work / "status.html", work / "www" / "firmtuf-status.html"):
        html = page.read_text()
        assert "acme-gw-r2/1.4.2/gateway.bin" in html and 'id="overall">OK' in html, page
    assert (work / "www" / "metadata" / "timestamp.json").is_file()


# Pages with blocks a user would copy (```sh, ```python), the test that runs them, and how
# many there are: a new block fails here until its page's test runs it too.
EXECUTED = {
    "quickstart.md": ("tests/docs/test_guides.py", 8),
    "install.md": ("tests/docs/test_guides.py", 4),
    "dashboard.md": ("tests/docs/test_guides.py", 1),
    "key-management.md": ("tests/docs/test_key_management.py", 13),
    "ci-publishing.md": ("tests/docs/test_publishing_guides.py", 5),
    "offline-updates.md": ("tests/docs/test_publishing_guides.py", 2),
    "troubleshooting.md": ("tests/docs/test_troubleshooting.py", 8),
    "device-guide.md": ("tests/docs/test_device_guide.py", 1),
    "sbom-and-support.md": ("tests/docs/test_sbom_guide.py", 5),
}
# Blocks deliberately not run, and why.
NOT_EXECUTED = {
    "benchmarks.md": "the measurement itself (20-25 min); every benchmark runs at tiny sizes "
    "in tests/benchmarks/test_quick.py",
}
_FENCE_OPEN = re.compile(r"^```(\S*)")


def _fences(page: Path) -> list[str]:
    """The info string of every fenced block of ``page`` ('' for none)."""
    kinds, inside = [], False
    for line in page.read_text().splitlines():
        match = _FENCE_OPEN.match(line)
        if match:
            if not inside:
                kinds.append(match.group(1))
            inside = not inside
    return kinds


def test_every_guide_block_is_run_by_a_test() -> None:
    for page in sorted(DOCS.rglob("*.md")):
        name = page.relative_to(DOCS).as_posix()
        kinds = _fences(page)
        # A block says what it is: a bare fence could be a command nobody runs.
        assert "" not in kinds, f"{name}: a ``` block without a language (sh, python, text...)"
        runnable = sum(kind in ("sh", "bash", "console", "python", "py") for kind in kinds)
        if name in NOT_EXECUTED or not runnable:
            continue
        assert name in EXECUTED, f"{name} has {runnable} sh/python blocks no test runs"
        test_file, count = EXECUTED[name]
        assert runnable == count, (
            f"{name} has {runnable} sh/python blocks, {count} known to run in {test_file}: "
            "make that test run the new ones, then update EXECUTED"
        )
        assert name in (ROOT / test_file).read_text(), f"{test_file} does not read {name}"


def _layout(block: str) -> list[re.Pattern[str]]:
    """The path patterns of a layout listing in docs/cli.md, as regular expressions."""
    patterns = []
    for line in block.splitlines():
        names = re.split(r", | \.\.\. ", line.split("  ")[0])
        folder = names[0].rsplit("/", 1)[0] if "/" in names[0] else ""
        for name in names:
            full = name if "/" in name else f"{folder}/{name}"
            regex = re.escape(full.split("/", 1)[1]).replace("N", r"\d+")
            regex = regex.replace("\\<", "<").replace("\\>", ">").replace("<dir>", ".+")
            regex = re.sub(r"<[^>]+>", "[^/]+", regex)
            patterns.append(re.compile(regex + (".+" if full.endswith("/") else "")))
    return patterns


def test_repository_layouts_are_what_the_commands_write(tmp_path: Path) -> None:
    """docs/cli.md's two listings: every entry exists and every file is listed."""
    listings = re.findall(r"```text\n((?:REPO|OUT)/.*?)```", (DOCS / "cli.md").read_text(), re.S)
    assert len(listings) == 2, "docs/cli.md's repository layouts moved: update this test"
    work = tmp_path / "work"
    work.mkdir()
    (work / "gateway.bin").write_bytes(b"\x7fELF gateway" * 300)
    env = user_env(tmp_path, {PW: "correct horse"})
    run_guide(
        f"firmtuf init REPO --keys-dir offline --password-env {PW} >/dev/null\n"
        "firmtuf add REPO gateway.bin --hardware-id acme-gw-r2 --version 1.4.2 >/dev/null\n"
        "firmtuf sign-event start REPO release >/dev/null",  # an open event: its folder
        work,
        env,
    )
    for listing, top in zip(listings, ("REPO", "OUT"), strict=True):
        if top == "OUT":
            run_guide(
                f"firmtuf sign-event sign REPO release --password-env {PW} >/dev/null\n"
                "firmtuf sign-event finish REPO release >/dev/null\n"
                f"firmtuf sign REPO --password-env {PW} >/dev/null\n"
                "firmtuf publish REPO OUT --dashboard >/dev/null",
                work,
                env,
            )
        patterns = _layout(listing)
        files = [p.relative_to(work / top).as_posix() for p in (work / top).rglob("*")
                 if p.is_file()]  # fmt: skip
        for pattern in patterns:
            assert any(pattern.fullmatch(f) for f in files), f"{top}: nothing is {pattern.pattern}"
        for f in files:
            assert any(p.fullmatch(f) for p in patterns), f"{top}/{f} is not in docs/cli.md"
