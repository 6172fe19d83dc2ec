"""docs/device-guide.md's example, run as written against a repository `firmtuf publish`
wrote, served over HTTP on 127.0.0.1 (only paths, URLs and the two hooks replaced)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.loopback import serve_directory
from tests.signer.conftest import PASSWORD_ENV, Cli, make_image

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "device-guide.md"


def _example() -> str:
    blocks = re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(), re.MULTILINE | re.DOTALL)
    assert blocks, "device-guide.md has no python example"
    return str(blocks[0])


def _run(code: str, md: Path, root: Path, base: str, dest: Path) -> dict[str, Any]:
    code = (
        code.replace('"/data/firmtuf"', repr(str(md)))
        .replace('"/etc/firmtuf/root.json"', repr(str(root)))
        .replace("https://updates.example.com/", base)
        .replace('"/data/update.bin"', repr(str(dest)))
    )
    installed: list[bytes] = []
    reports: list[tuple[str, Exception]] = []
    namespace: dict[str, Any] = {
        "install": lambda image: installed.append(Path(image).read_bytes()),
        "report": lambda kind, e: reports.append((kind, e)),
    }
    exec(compile(code, str(GUIDE), "exec"), namespace)  # noqa: S102 - our own documentation
    return {"installed": installed, "reports": reports}


def test_device_guide_example_updates_then_finds_nothing_newer(
    cli: Cli, repo: Path, tmp_path: Path
) -> None:
    assert len(_example().splitlines()) <= 30
    image = make_image(tmp_path / "gateway.bin", 50_000)
    r = cli("add", repo, image, "--hardware-id", "acme-gw-r2", "--version", "1.4.2",
            "--security-counter", "3")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert cli("sign", repo, "--password-env", PASSWORD_ENV).exit_code == 0
    www = tmp_path / "www"
    assert cli("publish", repo, www).exit_code == 0
    root = www / "metadata" / "1.root.json"
    md, dest = tmp_path / "device", tmp_path / "update.bin"

    with serve_directory(www) as base:
        first = _run(_example(), md, root, base, dest)
        assert first == {"installed": [image.read_bytes()], "reports": []}
        state = json.loads((md / "firmtuf" / "components" / "acme-gw-r2.json").read_text())
        installed = state["installed"]
        assert (installed["version"], installed["security_counter"]) == ("1.4.2", 3)
        # Next boot: 1.4.2 runs, nothing newer is offered.
        dest.unlink()
        again = _run(_example(), md, root, base, dest)
        assert again == {"installed": [], "reports": []}

    # A tampered image is reported as a repository problem and never installed.
    (md / "firmtuf" / "components" / "acme-gw-r2.json").unlink()
    stored = next(p for p in (www / "targets").rglob("*") if p.is_file())
    data = stored.read_bytes()
    stored.write_bytes(bytes([data[0] ^ 0xFF]) + data[1:])  # always a different byte
    with serve_directory(www) as base:
        bad = _run(_example(), md, root, base, dest)
    assert bad["installed"] == []
    [(kind, error)] = bad["reports"]
    assert kind == "repository" and "hash mismatch" in str(error)
