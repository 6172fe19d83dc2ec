"""The device-side import contract: stdlib + cryptography, nothing else (requests only for
the RequestsFetcher of the `requests` extra)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "verifier"
# requests and urllib3: RequestsFetcher (extra `requests`) builds its deadline-bound
# connection pool from urllib3's classes.
ALLOWED_THIRD_PARTY = {"cryptography", "requests", "urllib3"}


def test_import_verifier_loads_no_heavy_modules() -> None:
    code = (
        "import sys, verifier; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'requests', 'urllib3', 'cryptography', 'tuf', 'securesystemslib', 'click', "
        "'signer', 'orjson', 'hashlib', 'logging', 'http', 'ssl', 'email'}))"
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


_DEVICE_WITHOUT_REQUESTS = """
import sys
sys.modules["requests"] = sys.modules["urllib3"] = None  # not installed
sys.path.insert(0, {root!r})
import verifier
up = verifier.Updater({md!r}, {url!r} + "metadata", {url!r} + "targets")
target = up.get_targetinfo("gw/1.0/fw.bin")
print(up.download(target, {dest!r}).read_bytes().decode())
"""


def test_a_device_without_requests_updates_over_http(tmp_path: Path) -> None:
    """`pip install firmtuf` brings cryptography only: the default transport needs
    nothing else (requests, urllib3 made unimportable in the device process)."""
    from tests.loopback import FileServer
    from tests.repository import Repository

    sim = Repository()
    sim.add_target("gw/1.0/fw.bin", b"image bytes")
    sim.publish()
    md, dest = tmp_path / "md", tmp_path / "fw.bin"
    md.mkdir()
    (md / "root.json").write_bytes(sim.signed_roots[0])
    with FileServer(sim.file) as server:
        code = _DEVICE_WITHOUT_REQUESTS.format(
            root=str(PACKAGE.parent), md=str(md), url=server.url, dest=str(dest)
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "image bytes"


def test_requests_fetcher_is_loaded_on_first_use() -> None:
    """`import verifier` and a default Updater never load the RequestsFetcher module;
    `verifier.RequestsFetcher` (and `from verifier import ...`) still give the class."""
    code = (
        "import sys, verifier; "
        "before = 'verifier._requests' in sys.modules; "
        "from verifier import RequestsFetcher; "
        "from verifier._requests import RequestsFetcher as real; "
        "print(before, RequestsFetcher is real is verifier.RequestsFetcher, "
        "'RequestsFetcher' in dir(verifier))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent
    )
    assert out.stdout.split() == ["False", "True", "True"]


def test_unknown_attribute_is_an_attribute_error() -> None:
    import verifier

    assert not hasattr(verifier, "NoSuchThing")
