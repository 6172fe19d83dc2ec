"""The release dashboard in a real headless browser (Debian's chromium, driven through
chromedriver with Selenium; tests/run.sh installs both when running as root): the page
loads from a file with no console errors and no network request, its own script runs
under its Content-Security-Policy, it shows the expected rows, a hostile target name is
shown as text, and a screenshot is taken and checked."""

from __future__ import annotations

import shutil
import struct
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from signer._dashboard import DASHBOARD_FILE
from tests.signer.conftest import PASSWORD_ENV, Cli
from tests.signer.test_dashboard import HOSTILE_NAME, add_hostile_target, release

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="Debian's chromium and chromium-driver are not installed (tests/run.sh installs "
    "them when run as root)",
)
WIDTH, HEIGHT = 1280, 1600
# Flags that work on this kind of machine (root, no GPU, no network beyond loopback).
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--window-size={WIDTH},{HEIGHT}"]  # fmt: skip


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def _open(browser: Any, page: Path) -> list[dict[str, Any]]:
    browser.get_log("browser")  # drop what an earlier page logged
    browser.get(page.as_uri())
    deadline = time.monotonic() + 10
    while browser.execute_script("return document.body.dataset.live") != "1":
        assert time.monotonic() < deadline, "the page's own script did not run (CSP?)"
        time.sleep(0.05)
    return list(browser.get_log("browser"))


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture
def dashboard(cli: Cli, tmp_path: Path, password: str) -> Path:
    """A repository with two products, a targets threshold of two and an open signing
    event waiting on both targets keys, a timestamp that has expired, and a hostile
    target; its dashboard written by `firmtuf status --html`."""
    repo = tmp_path / "repo"
    r = cli("init", repo, "--keys", "targets=2", "--threshold", "targets=2",
            "--expiry", "timestamp=2s", "--password-env", PASSWORD_ENV)  # fmt: skip
    assert r.exit_code == 0, r.output
    release(cli, repo, tmp_path, "acme-gw-r2", "1.4.2", 7)
    release(cli, repo, tmp_path, "acme-mcu", "0.3.0", 1)
    until = (datetime.now(UTC).date() + timedelta(days=400)).isoformat()
    r = cli("support", "set", repo, "acme-gw-r2", "--until", until,
            "--url", "https://acme.example/support/gw")  # fmt: skip
    assert r.exit_code == 0, r.output
    add_hostile_target(repo)
    r = cli("sign-event", "start", repo, "release-9.9.9", "--role", "targets")
    assert r.exit_code == 0, r.output
    time.sleep(2.5)  # the 2-second timestamp expires
    page = tmp_path / "status.html"
    assert cli("status", repo, "--html", page).exit_code == 10
    return page


def test_dashboard_in_chromium(browser: Any, dashboard: Path, tmp_path: Path) -> None:
    logs = _open(browser, dashboard)
    errors = [e for e in logs if e.get("level") in ("SEVERE", "ERROR")]
    assert not errors, errors
    js = browser.execute_script
    # Nothing was fetched: the page is one file.
    assert js("return performance.getEntriesByType('resource').length") == 0
    assert js("return document.scripts.length") == 1
    assert js("return document.images.length") == 0
    assert js("return typeof window.pwned") == "undefined"

    rows = js(
        "return [...document.querySelectorAll('tr.firmware-row')].map(r =>"
        " [...r.cells].map(c => c.textContent.trim()))"
    )
    by_hw = {row[0]: row for row in rows}
    assert sorted(by_hw) == ["acme-gw-r2", "acme-mcu"]
    assert by_hw["acme-mcu"][2] == "0.3.0" and by_hw["acme-mcu"][3] == "1"
    assert by_hw["acme-mcu"][8] == "not declared"  # support period column (ADR 0009)
    until = (datetime.now(UTC).date() + timedelta(days=400)).isoformat()
    gw_support = by_hw["acme-gw-r2"][8]
    assert gw_support.startswith(until) and "draft, not signed yet" in gw_support
    support = js(
        "return [...document.querySelectorAll('tr.support-row')].map(r =>"
        " [r.className, r.cells[0].textContent, r.cells[3].querySelector('a').href])"
    )
    assert support == [["support-row support-ok", "acme-gw-r2", "https://acme.example/support/gw"]]

    # The hostile target is the newest for acme-gw-r2: its name and notes are text.
    gw = by_hw["acme-gw-r2"]
    shown = HOSTILE_NAME.replace("\u202e", "<U+202E>")
    assert gw[1] == shown and "<script>window.pwned=1</script>" in gw[1]
    assert "<img src=x onerror=" in gw[9] and "<U+200B>" in gw[9]

    roles = js(
        "return Object.fromEntries([...document.querySelectorAll('tr.role-row')].map(r =>"
        " [r.dataset.role, [r.className, r.cells[3].className, r.cells[4].textContent.trim()]]))"
    )
    assert set(roles) == {"root", "targets", "snapshot", "timestamp"}
    assert "expired" in roles["timestamp"][0] and "expired" in roles["timestamp"][1]
    assert roles["targets"][2] == "0 / 2" and "problem" in roles["targets"][0]
    assert "ok" in roles["root"][0] and roles["root"][2] == "1 / 1"

    waiting = js("return [...document.querySelectorAll('tr.event-row')].map(r => r.textContent)")
    assert len(waiting) == 1 and "release-9.9.9" in waiting[0] and "needs 2 more" in waiting[0]
    assert waiting[0].count("file:keys/targets-") == 2  # whom the event waits on
    assert js("return document.getElementById('overall').textContent") == "NEEDS ATTENTION"
    # The support policy link is only a link: following it is the reader's choice.
    assert js("return performance.getEntriesByType('resource').length") == 0
    assert js("return document.querySelectorAll('#timeline rect').length") == 4

    shot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(shot))
    assert _png_size(shot) == (WIDTH, js("return window.innerHeight"))
    assert shot.stat().st_size > 30_000  # a rendered page, not a blank one


def test_published_dashboard_in_chromium(
    browser: Any, cli: Cli, repo: Path, tmp_path: Path
) -> None:
    release(cli, repo, tmp_path, "acme-gw-r2", "2.0.0", 2)
    www = tmp_path / "www"
    assert cli("publish", repo, www, "--dashboard").exit_code == 0
    logs = _open(browser, www / DASHBOARD_FILE)
    assert not [e for e in logs if e.get("level") in ("SEVERE", "ERROR")], logs
    assert browser.execute_script("return document.getElementById('overall').textContent") == "OK"
    countdowns = browser.execute_script(
        "return [...document.querySelectorAll('td.countdown')].map(c => c.className)"
    )
    assert countdowns and all(c.endswith(" ok") or c == "countdown ok" for c in countdowns)
