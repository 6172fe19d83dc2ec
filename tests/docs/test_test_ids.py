"""Every test the threat model and the standards mapping cite as evidence exists: a
renamed or deleted test must fail here, not leave an auditor a dangling reference."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CITING = ["threat-model.md", "standards.md"]
# `tests/x/test_y.py` or `tests/x/test_y.py::test_z` (or ::Class::test_z), in backticks.
_ID = re.compile(r"`(tests/[\w/]+\.py)(?:::([\w:]+)(?:\[[^\]`]*\])?)?`")


def cited(page: str) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in _ID.finditer((ROOT / "docs" / page).read_text())]


def _defined(path: Path, node_id: str) -> bool:
    scope: list[ast.stmt] = ast.parse(path.read_text()).body
    for part in node_id.split("::"):
        found = next(
            (
                n
                for n in scope
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and n.name == part
            ),
            None,
        )
        if found is None:
            return False
        scope = found.body if isinstance(found, ast.ClassDef) else []
    return True


@pytest.mark.parametrize("page", CITING)
def test_every_cited_test_exists(page: str) -> None:
    ids = cited(page)
    assert ids, f"{page} cites no test"
    missing = []
    for file, name in ids:
        path = ROOT / file
        if not path.is_file() or (name is not None and not _defined(path, name)):
            missing.append(f"{file}::{name}" if name else file)
    assert not missing, f"{page} cites tests that do not exist: {missing}"


def test_cited_tests_are_collected_tests() -> None:
    """A cited name is a pytest test (test_ prefix), so the evidence actually runs."""
    for page in CITING:
        for _, name in cited(page):
            if name is not None:
                assert name.split("::")[-1].startswith("test_"), (page, name)


def test_mapping_has_a_row_for_every_listed_requirement() -> None:
    """The requirements the mapping must cover, each as its own table row."""
    text = (ROOT / "docs" / "standards.md").read_text()
    rows = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    wanted = [f"5.3-{n}" for n in range(1, 17)]
    wanted += [f"8259A-SU-{n}" for n in range(1, 7)]
    wanted += ["Part I (2)(c)", "Part I (2)(f)", "Part II (1)", "Part II (7)", "Part II (8)"]
    wanted += ["CR 3.10", "CR 3.10 RE(1)", "CR 3.14", "CR 3.14 RE(1)"]
    wanted += ["full verification", "partial verification", "rollback attacks prevented"]
    wanted += [f"800-193 {part}" for part in ("Protection", "Detection", "Recovery")]
    for requirement in wanted:
        assert any(row.startswith(requirement) for row in rows), requirement
    for row in (line for line in text.splitlines() if line.startswith("| ") and "|---" not in line):
        cells = [c.strip() for c in row.strip("|").split("|")]
        if len(cells) == 6 and cells[0] not in ("#", "provision", "item", "requirement"):
            assert cells[5], f"row without a status: {cells[0]}"
    for principle in ("Security beyond the device", "Industry-driven baselines",
                      "Global harmonisation", "The long-term commitment"):  # fmt: skip
        assert f"**{principle}.**" in text, principle


@pytest.mark.parametrize("page", CITING)
def test_every_table_row_is_inside_a_table(page: str) -> None:
    """A blank line inside a table ends it: the rows after it render as a paragraph of
    pipes, and their evidence drops out of the table an auditor reads."""
    lines = (ROOT / "docs" / page).read_text().splitlines()
    run: list[str] = []
    for line in [*lines, ""]:
        if line.startswith("|"):
            run.append(line)
            continue
        if run:
            assert len(run) >= 2 and re.fullmatch(r"\|[\s:|-]+\|", run[1]), (
                f"{page}: table without a header row: {run[0][:80]}"
            )
        run = []
