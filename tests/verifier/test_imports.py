"""The device-side import contract: stdlib + cryptography (+ requests lazily), nothing else."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "verifier"
# urllib3 is requests' transport (a declared dependency too): HttpFetcher's deadline-bound
# connection pool is built from its classes.
ALLOWED_THIRD_PARTY = {"cryptography", "requests", "urllib3"}


def test_import_verifier_loads_no_heavy_modules() -> None:
    code = (
        "import sys, verifier; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'requests', 'urllib3', 'cryptography', 'tuf', 'securesystemslib', 'click', "
        "'signer', 'orjson', 'hashlib', 'logging'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent
    )
    assert out.stdout.strip() == "[]"


def test_source_imports_only_allowed_modules() -> None:
    stdlib = set(sys.stdlib_module_names)
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in stdlib or top in ALLOWED_THIRD_PARTY or top == "verifier", (
                    f"{path.name} imports {name}"
                )
