"""docs/sbom-and-support.md runs as written: a build's hand-made CycloneDX SBOM added with
the release, a support period declared, signed, published, verified, the SBOM taken by an
auditor over HTTP on 127.0.0.1, and the page's device example reading both (only paths,
URLs and the key password replaced; every edit must match the page's text)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import verifier
from tests.docs._guide import DOCS, guide_blocks, python_blocks, user_env
from tests.loopback import serve_directory
from tests.shell import run_script

PAGE = "sbom-and-support.md"
PW = "FIRMTUF_GUIDE_PASSWORD"
ROOT_JSON = "fw-repo/metadata/root_history/1.root.json"


def _blocks(www: Path, base: str) -> list[str]:
    sign = ("firmtuf sign fw-repo\n", f"firmtuf sign fw-repo --password-env {PW}\n")
    edits = [
        (1, *sign),
        (2, "/srv/www/firmware", str(www)),
        (2, "https://updates.example.com/", base),
        (3, *sign),
    ]
    return guide_blocks(PAGE, edits, expect_blocks=4)


def _device(work: Path, base: str) -> str:
    blocks = python_blocks(PAGE)
    assert len(blocks) == 1, f"{PAGE}: one python example expected"
    code = blocks[0]
    for old, new in (
        ('"/data/firmtuf"', repr(str(work / "device"))),
        ('"/etc/firmtuf/root.json"', repr(str(work / ROOT_JSON))),
        ("https://updates.example.com/", base),
    ):
        assert old in code, f"{PAGE} device example no longer contains {old!r}"
        code = code.replace(old, new)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOCS / PAGE), "exec"), {})  # noqa: S102 - our own documentation
    return out.getvalue()


def test_release_with_sbom_and_support_period_as_the_guide_shows(tmp_path: Path) -> None:
    work, www = tmp_path / "work", tmp_path / "www"
    work.mkdir()
    env = user_env(tmp_path, {PW: "correct horse"})
    run_script(f"firmtuf init fw-repo --password-env {PW}", work, env)
    (work / "build").mkdir()
    (work / "build" / "gateway.bin").write_bytes(b"\x7fELF gateway 1.5.0" * 800)
    with serve_directory(www) as base:
        blocks = _blocks(www, base)
        run_script(blocks[0], work, env)
        sbom = (work / "build" / "gateway.cdx.json").read_bytes()
        assert json.loads(sbom)["bomFormat"] == "CycloneDX"

        listed = run_script(blocks[1], work, env).stdout
        assert "acme-gw-r2: until 2031-12-31  https://acme.example/support  (targets)" in listed

        published = run_script(blocks[2], work, env).stdout
        assert "1 SBOM(s) linked from 1 firmware target(s) downloaded and checked" in published
        assert "support for acme-gw-r2 until 2031-12-31" in published
        assert (work / "gateway-1.5.0.cdx.json").read_bytes() == sbom  # the build's bytes

        shown = _device(work, base)
        assert shown.splitlines() == [
            "security updates until 2031-12-31 (https://acme.example/support)",
            f"acme-gw-r2/1.5.0/gateway.bin: SBOM of {len(sbom)} bytes",
        ]

        shortened = run_script(blocks[3], work, env)
        assert "refused: exit 7" in shortened.stdout
        assert "would shorten the support period" in shortened.stderr
        assert "until 2030-12-31" in shortened.stdout
        assert "SHORTENED from 2031-12-31" in shortened.stdout
        status = run_script("firmtuf status fw-repo", work, env).stdout
        assert "SHORTENED from 2031-12-31" in status

        # Published, the shortening reaches the device as data, with its history.
        run_script(f"firmtuf publish fw-repo {www}", work, env)
        up = verifier.Updater(
            work / "device",
            base + "metadata/",
            base + "targets/",
            policy=verifier.DevicePolicy("acme-gw-r2", "1.4.2"),
        )
        period = up.support()
        assert period is not None
        assert (period.until, period.shortened_from, period.history) == (
            "2030-12-31",
            "2031-12-31",
            ("2031-12-31",),
        )
