"""MkDocs hooks.

- Every ADR in docs/adr/ is in the navigation, in number order: a new decision record
  appears on the site without anyone editing mkdocs.yml (the strict build refuses pages
  left out of the navigation).
- Pages link to figures kept beside the benchmark results (outside docs/), so the links
  work on a Git host; the site gets a copy of each linked file under the same relative path
  the pages use.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

_ROOT = Path(__file__).resolve().parents[1]
_LINK = re.compile(r"\]\(\.\./(benchmarks/results/[^)\s]+)\)")


_ADR_SECTION = "Design decisions"


def on_config(config: Any) -> Any:
    adrs = sorted(
        p.relative_to(_ROOT / "docs").as_posix() for p in (_ROOT / "docs" / "adr").glob("*.md")
    )
    for entry in config["nav"]:
        if isinstance(entry, dict) and _ADR_SECTION in entry:
            entry[_ADR_SECTION] = adrs
    return config


def on_files(files: Files, config: Any) -> Files:
    # Exactly the files the pages link (a figure, a results table): a link to one that
    # does not exist stays unresolved and the strict build names it.
    linked = {
        m.group(1) for p in (_ROOT / "docs").glob("*.md") for m in _LINK.finditer(p.read_text())
    }
    for rel in sorted(linked):
        if (_ROOT / rel).is_file():
            files.append(File.generated(config, f"_outside/{rel}", abs_src_path=str(_ROOT / rel)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    depth = page.file.src_uri.count("/")
    prefix = "../" * depth
    return _LINK.sub(lambda m: f"]({prefix}_outside/{m.group(1)})", markdown)
