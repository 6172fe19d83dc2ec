"""The release dashboard (`firmtuf status --html`, `firmtuf publish --dashboard`): the
page's data, its escaping of attacker-chosen text, and the commands that write it. The
page in a real browser: tests/signer/test_dashboard_browser.py."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tuf.api.metadata import Metadata, TargetFile

from signer import FirmwareRepository, repository_status
from signer._dashboard import DASHBOARD_FILE, build_dashboard, render_dashboard, visible
from tests.signer.conftest import PASSWORD_ENV, Cli, make_image

HOSTILE_NAME = "acme-gw-r2/9.9.9/<script>window.pwned=1</script>\"'\u202egnp.exe.bin"
HOSTILE_NOTES = '<img src=x onerror="window.pwned=2"> \' " \u202e\u200b done'


def add_hostile_target(repo: Path) -> None:
    """A target as a delegated key holder could write it: name and notes are free text."""
    path = repo / "metadata" / "targets.json"
    md = Metadata.from_bytes(path.read_bytes())
    info = TargetFile.from_data(HOSTILE_NAME, b"payload")
    fields = {"hardware_ids": ["acme-gw-r2"], "version": "9.9.9", "security_counter": 9,
              "notes": HOSTILE_NOTES}  # fmt: skip
    info.unrecognized_fields = {"custom": {"firmtuf": fields}}
    md.signed.targets[HOSTILE_NAME] = info  # type: ignore[attr-defined]
    md.signatures.clear()  # an unsigned draft, as `add` leaves it
    path.write_bytes(md.to_bytes())


def release(
    cli: Cli, repo: Path, tmp: Path, hw: str, version: str, counter: int = 1, *extra: str
) -> None:
    image = make_image(tmp / f"{hw}-{version}.bin", 3000)
    r = cli("add", repo, image, "--hardware-id", hw, "--version", version,
            "--security-counter", str(counter), *extra)  # fmt: skip
    assert r.exit_code == 0, r.output
    r = cli("sign", repo, "--password-env", PASSWORD_ENV)
    assert r.exit_code == 0, r.output


def _csp_hashes(html: str) -> dict[str, str]:
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp, "no Content-Security-Policy"
    return dict(re.findall(r"(script|style)-src 'sha256-([^']+)'", csp.group(1)))


def test_newest_firmware_per_hardware_id(cli: Cli, repo: Path, tmp_path: Path) -> None:
    release(cli, repo, tmp_path, "acme-gw-r2", "1.0.0")
    release(cli, repo, tmp_path, "acme-gw-r2", "1.10.0", 4)
    release(cli, repo, tmp_path, "acme-gw-r2", "1.9.0-rc.1", 3, "--allow-downgrade")
    release(cli, repo, tmp_path, "acme-mcu", "0.3.0")
    r = FirmwareRepository(repo)
    d = build_dashboard(r, repository_status(r))
    rows = {f.hardware_id: f for f in d.firmware}
    assert sorted(rows) == ["acme-gw-r2", "acme-mcu"]
    gw = rows["acme-gw-r2"]
    assert (gw.version, gw.security_counter, gw.versions) == ("1.10.0", 4, 3)
    assert gw.target == "acme-gw-r2/1.10.0/acme-gw-r2-1.10.0.bin" and gw.role_signed
    assert gw.support is None and d.support == []  # nothing declared a support period
    assert len(gw.sha256) == 64 and gw.length == 3000
    assert d.ok and d.events == []


def _support(cli: Cli, repo: Path, hw: str, until: date, *extra: str) -> None:
    r = cli("support", "set", repo, hw, "--until", until.isoformat(), *extra)
    assert r.exit_code == 0, r.output


def test_support_periods_from_the_signed_declarations(cli: Cli, repo: Path, tmp_path: Path) -> None:
    """The column and the section show what `firmtuf support` declared, in the state
    `firmtuf status` warns in: the declaring role's refresh window (targets: 365 days of
    validity, so support ending within 182 days is "ending")."""
    today = datetime.now(UTC).date()
    release(cli, repo, tmp_path, "acme-gw-r2", "1.0.0")
    release(cli, repo, tmp_path, "acme-mcu", "0.3.0")
    release(cli, repo, tmp_path, "acme-old", "0.1.0")
    _support(cli, repo, "acme-gw-r2", today + timedelta(days=900),
             "--url", "https://acme.example/support?p=gw&x=\"1\"")  # fmt: skip
    _support(cli, repo, "acme-gw-r2", today + timedelta(days=1000))  # extended: history 1
    _support(cli, repo, "acme-mcu", today + timedelta(days=30))
    _support(cli, repo, "acme-sensor", today + timedelta(days=400))  # no firmware here
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    signed = build_dashboard(FirmwareRepository(repo), repository_status(FirmwareRepository(repo)))
    assert all(s.signed for s in signed.support) and len(signed.support) == 3
    _support(cli, repo, "acme-mcu", today + timedelta(days=20), "--shorten")  # targets: a draft

    r = FirmwareRepository(repo)
    status = repository_status(r)
    d = build_dashboard(r, status)
    rows = {f.hardware_id: f for f in d.firmware}
    gw, mcu = rows["acme-gw-r2"].support, rows["acme-mcu"].support
    assert rows["acme-old"].support is None
    assert gw and mcu
    assert (gw.until, gw.state, gw.left_days, gw.changes, gw.role) == (
        today + timedelta(days=1000), "ok", 1000, 1, "targets")  # fmt: skip
    assert gw.url == 'https://acme.example/support?p=gw&x="1"'
    assert (mcu.until, mcu.state, mcu.shortened_from, mcu.signed) == (
        today + timedelta(days=20), "ending", today + timedelta(days=30), False)  # fmt: skip
    assert [s.hardware_id for s in d.support] == ["acme-gw-r2", "acme-mcu", "acme-sensor"]
    assert [s.hardware_id for s in d.support_without_firmware] == ["acme-sensor"]
    # `status` warns about the same period the page marks "ending".
    assert any("support for 'acme-mcu' ends" in w for role in status.roles for w in role.warnings)

    html = render_dashboard(d)
    cell = re.search(r'<td class="support support-ending">(.*?)</td>', html, re.S)
    assert cell and (today + timedelta(days=20)).isoformat() in cell.group(1)
    assert "shortened from" in cell.group(1) and "draft, not signed yet" in cell.group(1)
    assert html.count('class="support-row ') == 3
    # The URL is a link (escaped in the attribute), never something the page loads.
    assert (
        'href="https://acme.example/support?p=gw&amp;x=&#34;1&#34;" rel="noopener noreferrer"'
        in html
    )
    assert not re.search(r"""src\s*=\s*["']?(https?:|//)""", html)
    assert "Declared for hardware ids without firmware in this repository" in html

    # A day after it ends, the period is shown as ended.
    later = repository_status(r, now=datetime.combine(
        today + timedelta(days=22), datetime.min.time(), UTC))  # fmt: skip
    ended = {s.hardware_id: s for s in build_dashboard(r, later).support}
    assert (ended["acme-mcu"].state, ended["acme-mcu"].left_days) == ("ended", 0)
    assert "ended " in render_dashboard(build_dashboard(r, later))


def test_draft_firmware_is_marked_not_signed(cli: Cli, repo: Path, tmp_path: Path) -> None:
    image = make_image(tmp_path / "fw.bin", 100)
    assert cli("add", repo, image, "--hardware-id", "hw", "--version", "2.0.0").exit_code == 0
    r = FirmwareRepository(repo)
    d = build_dashboard(r, repository_status(r))
    [row] = d.firmware
    assert not row.role_signed and not d.ok
    html = render_dashboard(d)
    assert "draft, not signed yet" in html and "NEEDS ATTENTION" in html


def test_colours_follow_the_status_warning_window(cli: Cli, repo: Path, tmp_path: Path) -> None:
    release(cli, repo, tmp_path, "hw", "1.0.0")
    r = FirmwareRepository(repo)
    ts_expires = r.metadata("timestamp").signed.expires
    # Timestamp (1 day): window is half its validity. 1 h left: warning; past: expired.
    states = {}
    for label, now in (("fresh", ts_expires - timedelta(hours=20)),
                       ("late", ts_expires - timedelta(hours=1)),
                       ("past", ts_expires + timedelta(minutes=1))):  # fmt: skip
        status = repository_status(r, now=now)
        html = render_dashboard(build_dashboard(r, status))
        row = re.search(r'<tr class="role-row (\w+)" data-role="timestamp">(.*?)</tr>', html, re.S)
        assert row, html
        cell = re.search(r'class="countdown (\w+)"', row.group(2))
        assert cell
        states[label] = (row.group(1), cell.group(1), status.ok)
    assert states["fresh"] == ("ok", "ok", True)
    assert states["late"] == ("warn", "warn", False)
    assert states["past"][:2] == ("expired", "expired")


def test_hostile_text_is_escaped_and_made_visible(cli: Cli, repo: Path, tmp_path: Path) -> None:
    release(cli, repo, tmp_path, "acme-gw-r2", "1.0.0")
    add_hostile_target(repo)
    r = FirmwareRepository(repo)
    html = render_dashboard(build_dashboard(r, repository_status(r)))
    assert "<script>window" not in html and "<img" not in html
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;window.pwned=2&#34;&gt;" in html
    assert "\u202e" not in html and "\u200b" not in html
    assert "&lt;U+202E&gt;gnp.exe.bin" in html and "&lt;U+200B&gt;" in html
    # Exactly one script, the page's own, allowed by its hash; the style likewise.
    assert html.count("<script") == 1
    script = re.search(r"<script>(.*?)</script>", html, re.S)
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    assert script and style
    hashes = _csp_hashes(html)
    for kind, body in (("script", script.group(1)), ("style", style.group(1))):
        assert hashes[kind] == base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()


def test_visible_shows_invisible_characters() -> None:
    assert visible("a\u202eb\u2066c\x07d\u2028") == "a<U+202E>b<U+2066>c<U+0007>d<U+2028>"
    assert visible("ünïcödé 固件") == "ünïcödé 固件"


def test_page_is_self_contained(cli: Cli, repo: Path, tmp_path: Path) -> None:
    release(cli, repo, tmp_path, "hw", "1.0.0")
    r = FirmwareRepository(repo)
    html = render_dashboard(build_dashboard(r, repository_status(r)))
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html


def test_status_html_command(cli: Cli, repo: Path, tmp_path: Path) -> None:
    release(cli, repo, tmp_path, "acme-gw-r2", "1.4.2", 7)
    out = tmp_path / "report" / "status.html"
    out.parent.mkdir()
    r = cli("status", repo, "--html", out, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["ok"] is True  # --json output is unchanged by --html
    html = out.read_text()
    assert "acme-gw-r2/1.4.2/acme-gw-r2-1.4.2.bin" in html
    assert html.count('class="role-row') == 4
    # Unhealthy: the page is still written, and the exit code still says so.
    add_hostile_target(repo)
    r = cli("status", repo, "--html", out)
    assert r.exit_code == 10
    assert "NEEDS ATTENTION" in out.read_text()


def test_status_html_unwritable_path_is_one_line(cli: Cli, repo: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    r = cli("status", repo, "--html", blocker / "x.html")
    assert r.exit_code == 3
    assert "cannot write" in r.output and "Traceback" not in r.output
    r = cli("status", repo, "--html", tmp_path)  # a directory: a usage error
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert not list(tmp_path.glob("*.part")) and blocker.read_text() == "not a directory"


def test_publish_dashboard_is_opt_in(cli: Cli, repo: Path, tmp_path: Path) -> None:
    release(cli, repo, tmp_path, "acme-gw-r2", "1.0.0")
    www = tmp_path / "www"
    assert cli("publish", repo, www).exit_code == 0
    assert not (www / DASHBOARD_FILE).exists()
    r = cli("publish", repo, www, "--dashboard")
    assert r.exit_code == 0, r.output
    page = (www / DASHBOARD_FILE).read_text()
    assert "acme-gw-r2/1.0.0/acme-gw-r2-1.0.0.bin" in page
    # The page beside the tree changes nothing for devices or the other commands.
    release(cli, repo, tmp_path, "acme-gw-r2", "1.1.0")
    r = cli("publish", repo, www, "--dashboard", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["dashboard"] == str(www / DASHBOARD_FILE)
    assert "acme-gw-r2/1.1.0/" in (www / DASHBOARD_FILE).read_text()
    root = www / "metadata" / "1.root.json"
    assert cli("verify", www, "--root", root).exit_code == 0
    assert cli("prune", www, "--keep", "1").exit_code == 0
    assert (www / DASHBOARD_FILE).is_file()


def test_publish_dashboard_not_written_when_publish_fails(
    cli: Cli, repo: Path, tmp_path: Path
) -> None:
    image = make_image(tmp_path / "fw.bin", 100)
    assert cli("add", repo, image, "--hardware-id", "hw", "--version", "1.0.0").exit_code == 0
    www = tmp_path / "www"
    r = cli("publish", repo, www, "--dashboard")
    assert r.exit_code == 8  # an unsigned draft is not publishable
    assert not (www / DASHBOARD_FILE).exists()
