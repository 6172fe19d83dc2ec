"""Every test the threat model and the standards mapping cite as evidence exists: a
renamed or deleted test must fail here, not leave an auditor a dangling reference."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click
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
    rows = [row[0] for row in _mapping_rows()]
    wanted = [f"5.3-{n}" for n in range(1, 17)]
    wanted += [f"8259A-SU-{n}" for n in range(1, 7)]
    wanted += ["Part I (2)(c)", "Part I (2)(f)", "Part II (1)", "Part II (7)", "Part II (8)"]
    wanted += ["CR 3.10", "CR 3.10 RE(1)", "CR 3.14", "CR 3.14 RE(1)"]
    wanted += ["full verification", "partial verification", "rollback attacks prevented"]
    wanted += [f"800-193 {part}" for part in ("Protection", "Detection", "Recovery")]
    for requirement in wanted:
        assert any(row.startswith(requirement) for row in rows), requirement
    for principle in ("Security beyond the device", "Industry-driven baselines",
                      "Global harmonisation", "The long-term commitment"):  # fmt: skip
        assert f"**{principle}.**" in text, principle


def _mapping_rows() -> list[list[str]]:
    text = (ROOT / "docs" / "standards.md").read_text()
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| ") and "|---" not in line]  # fmt: skip
    return [
        r for r in rows if len(r) == 6 and r[0] not in ("#", "provision", "item", "requirement")
    ]


_EVIDENCE = re.compile(r"`tests/[\w/]+\.py|`firmtuf [a-z]|\]\([\w/.#-]+\)")


def test_every_mapping_row_has_a_status_and_evidence() -> None:
    """Each row's status is one the page defines, and a row that claims firmtuf's part
    (met, shared, not met) names evidence: a test id, a command or a page. Only a row
    outside what an update library can do (device maker) may leave it empty."""
    rows = _mapping_rows()
    assert len(rows) >= 60
    for requirement, *_, evidence, status in rows:
        kind = next((k for k in ("met", "shared", "device maker", "not met") if
                     status.startswith(k)), None)  # fmt: skip
        assert kind, f"{requirement}: status {status!r} is not one the page defines"
        if kind != "device maker":
            assert _EVIDENCE.search(evidence), f"{requirement} ({status}) cites no evidence"


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


# Commands and API names the pages cite, checked against the code itself: a renamed
# command or option, or a method that moved, fails here instead of misleading a reader.
_PAGES = sorted((ROOT / "docs").rglob("*.md"))
_COMMAND = re.compile(r"`(firmtuf [^`]*)`")
_PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_.]*")  # `firmtuf COMMAND --help`, `firmtuf X.Y.Z`
_NAME = re.compile(r"`((?:verifier\.)?(?:Updater|Config|TargetFile|DevicePolicy)\.\w+)(?:\(\))?`")
# Named on a page as work still open (the page says so); not checked until it lands.
PLANNED: dict[str, str] = {}  # name -> the issue that adds it


def _command_problems(text: str) -> list[str]:
    from signer.cli import main

    problems = []
    for words in (m.group(1).split()[1:] for m in _COMMAND.finditer(text)):
        # `firmtuf key add/remove/rotate REPO`: each alternative is a command.
        commands: list[click.Command] = [main]
        i = 0
        while i < len(words) and not words[i].startswith("-"):
            if _PLACEHOLDER.fullmatch(words[i]) or not all(
                isinstance(c, click.Group) for c in commands
            ):
                break
            names = words[i].split("/")
            found = [g.commands.get(n) for g in commands for n in names]  # type: ignore[attr-defined]
            if None in found:
                problems.append(f"firmtuf {' '.join(words[: i + 1])}: no such command")
                break
            commands = [c for c in found if c is not None]
            i += 1
        for word in words[i:]:
            option = word.strip("[]|.,").split("=")[0]
            if not option.startswith("--") or option == "--help":
                continue
            for command in commands:
                opts = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
                if option not in opts:
                    problems.append(f"firmtuf {' '.join(words)}: {command.name} has no {option}")
    return problems


@pytest.mark.parametrize("page", _PAGES, ids=lambda p: p.relative_to(ROOT / "docs").as_posix())
def test_every_cited_command_and_option_exists(page: Path) -> None:
    assert not _command_problems(page.read_text()), _command_problems(page.read_text())


def test_the_command_check_finds_a_stale_citation() -> None:
    assert _command_problems("`firmtuf status --json` and `firmtuf key add/rotate REPO`") == []
    assert _command_problems("`firmtuf stat REPO`") == ["firmtuf stat: no such command"]
    assert _command_problems("`firmtuf key add/rotat REPO`") == [
        "firmtuf key add/rotat: no such command"
    ]
    assert _command_problems("`firmtuf add [--sbom FILE] [--hardware-ids X]`") == [
        "firmtuf add [--sbom FILE] [--hardware-ids X]: add has no --hardware-ids"
    ]


def test_every_cited_api_name_exists() -> None:
    import verifier

    missing = []
    for page in _PAGES:
        if page.parent.name == "adr":  # a decision record may describe what comes next
            continue
        for name in _NAME.findall(page.read_text()):
            owner, attribute = name.removeprefix("verifier.").split(".")
            if name.removeprefix("verifier.") not in PLANNED and not hasattr(
                getattr(verifier, owner), attribute
            ):
                missing.append(f"{page.name}: {name}")
    assert not missing, missing
