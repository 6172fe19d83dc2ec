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


def _ids(page: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', page.read_text()))


def _commands(group: click.Group, prefix: str) -> list[str]:
    names = []
    for name, command in sorted(group.commands.items()):
        names.append(f"{prefix}-{name}")
        if isinstance(command, click.Group):
            names += _commands(command, f"{prefix}-{name}")
    return names


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
    commands = _commands(main, "firmtuf")
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


def test_site_uses_no_external_fonts(site: Path) -> None:
    """The site is read offline (USB stick, company network): no web fonts."""
    for page in site.rglob("*.html"):
        assert "fonts.googleapis.com" not in page.read_text(), page


def test_no_hand_written_option_tables() -> None:
    """Options are documented once, in the commands' help, rendered by mkdocs-click."""
    for page in (ROOT / "docs").rglob("*.md"):
        for line in page.read_text().splitlines():
            assert not re.match(r"\|\s*option\s*\|", line), f"{page}: {line}"
