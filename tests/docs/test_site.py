"""The documentation site builds with `mkdocs build --strict` (a broken link, a page left
out of the navigation or a bad docstring reference fails), and its generated references
cover every command and every public name."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

import signer
import verifier
from signer.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_the_site_config_refuses_what_breaks_a_reader(tmp_path: Path) -> None:
    """mkdocs.yml's own settings (strict, validation) on a small site: a page outside the
    navigation, a link to a missing page, a missing anchor and a link out of docs/ each
    fail the build; a GitHub-style anchor resolves. (Never `-q`: MkDocs then stops
    counting warnings and a strict build passes.)"""
    docs = tmp_path / "d"
    docs.mkdir()
    (docs / "index.md").write_text(
        "# Home\n\n[a](missing.md) [b](other.md#no-such-heading) "
        "[c](other.md#sign--publish) [d](../README.md)\n"
    )
    (docs / "other.md").write_text("# Other\n\n## Sign & publish\n")
    (docs / "orphan.md").write_text("# Orphan\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text(
        f"INHERIT: {ROOT / 'mkdocs.yml'}\ndocs_dir: d\nhooks: []\nplugins: [search]\n"
        "nav: [index.md, other.md]\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-f", str(config), "--site-dir",
         str(tmp_path / "site")],
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log
    assert "Aborted with 4 warnings in strict mode" in log, log
    assert 'not included in the "nav" configuration:\n  - orphan.md' in log
    for link in ("'missing.md'", "'../README.md'", "anchor '#no-such-heading'"):
        assert link in log, link
    assert "sign--publish" not in log  # GitHub: "sign--publish", MkDocs: "sign-publish"


def _ids(page: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', page.read_text()))


def _command_paths(group: click.Group, above: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, command in sorted(group.commands.items()):
        paths.append((*above, name))
        if isinstance(command, click.Group):
            paths += _command_paths(command, (*above, name))
    return paths


def test_every_markdown_page_is_built(site: Path) -> None:
    pages = list((ROOT / "docs").rglob("*.md"))
    assert len(pages) >= 16
    for page in pages:
        rel = page.relative_to(ROOT / "docs").with_suffix("")
        built = site / ("index.html" if rel.name == "index" else rel / "index.html")
        assert built.is_file(), f"{page} was not built"


def test_cli_reference_has_every_command_and_option(site: Path) -> None:
    page = site / "reference" / "cli" / "index.html"
    ids, html = _ids(page), page.read_text()
    commands = ["-".join(("firmtuf", *path)) for path in _command_paths(main)]
    assert len(commands) > 20
    assert set(commands) <= ids
    for command in main.commands.values():
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--"):
                    assert opt in html, f"{command.name} {opt} missing from the CLI reference"


@pytest.mark.parametrize("package", [verifier, signer], ids=lambda p: p.__name__)
def test_api_reference_has_every_public_name(site: Path, package: object) -> None:
    name = package.__name__  # type: ignore[attr-defined]
    page = site / "reference" / name / "index.html"
    ids = _ids(page)
    missing = [n for n in package.__all__ if f"{name}.{n}" not in ids]  # type: ignore[attr-defined]
    assert not missing, f"not in the {name} API reference: {missing}"


def test_docstrings_render_sections(site: Path) -> None:
    """Google-style sections become rendered tables, not literal 'Raises:' text."""
    html = (site / "reference" / "verifier" / "index.html").read_text()
    assert 'doc-section-title">Raises:' in html
    assert not re.search(r"<p>\s*(Args|Returns|Raises):", html)


def test_every_image_and_local_link_on_the_site_resolves(site: Path) -> None:
    """Figures kept outside docs/ (benchmarks/results/) are copied in by docs/site_hooks.py
    under the path the page links; every image and local href of every page is a file."""
    images = 0
    for page in site.rglob("*.html"):
        for attr, ref in re.findall(r'\b(src|href)="([^"#?]+)', page.read_text()):
            if re.match(r"[a-z]+:|/|data:", ref):
                continue
            target = (page.parent / ref).resolve()
            assert target.is_file() or (target / "index.html").is_file(), f"{page}: {ref}"
            images += attr == "src" and ref.endswith((".png", ".svg"))
    assert images >= 1  # benchmarks.md's figure


def test_site_uses_no_external_fonts(site: Path) -> None:
    """The site is read offline (USB stick, company network): no web fonts."""
    for page in site.rglob("*.html"):
        assert "fonts.googleapis.com" not in page.read_text(), page


def test_changelog_names_every_command() -> None:
    """A new command (or subcommand) comes with its changelog entry: each is named in a
    backticked span of docs/changelog.md (`firmtuf key reencrypt`, `key list/add`, ...)."""
    spans = re.findall(r"`([^`]+)`", (ROOT / "docs" / "changelog.md").read_text())
    words = [set(re.split(r"[\s/]+", span)) for span in spans]
    missing = [" ".join(path) for path in _command_paths(main)
               if not any(set(path) <= w for w in words)]  # fmt: skip
    assert len(_command_paths(main)) > 20
    assert not missing, f"docs/changelog.md has no entry naming: {missing}"


def test_no_hand_written_option_tables() -> None:
    """Options are documented once, in the commands' help, rendered by mkdocs-click: no
    option tables, and no synopsis listing a command's optional options (`[--json]`)."""
    for page in (ROOT / "docs").rglob("*.md"):
        text = page.read_text()
        for line in text.splitlines():
            assert not re.match(r"\|\s*option\s*\|", line), f"{page}: {line}"
        for span in re.findall(r"`firmtuf [^`]*`", text):
            assert not re.search(r"\[(--|options)", span), (
                f"{page.name}: {span} lists options by hand; name the command and its "
                "arguments, and describe options in prose (the reference lists them all)"
            )
