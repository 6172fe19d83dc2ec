"""`firmtuf verify` as a scheduled CI job uses it (issue 11): metadata only, --valid-for,
s3:// sources, and "could not reach" (exit 12) kept apart from "does not verify" (9)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from signer._s3 import S3Store
from signer._store import sync_tree
from signer.cli import main
from tests.loopback import QuietHandler, serve
from tests.repository import PublishedRepository


def verify(*args: object) -> Result:
    return CliRunner().invoke(main, ["verify", *(str(a) for a in args)])


@pytest.fixture
def published(tmp_path: Path) -> tuple[Path, Path]:
    """A published tree (expires in 7 days) and its first root."""
    repo = PublishedRepository(tmp_path / "signing", expires_in=timedelta(days=7))
    repo.add_target("gw/1.0.0/fw.bin", b"firmware" * 100, hardware_ids=["gw"], version="1.0.0")
    repo.commit()
    out = repo.write(tmp_path / "out")
    root = tmp_path / "1.root.json"
    root.write_bytes(repo.root_bytes)
    return out, root


def _image(out: Path) -> Path:
    return next(p for p in (out / "targets").rglob("*") if p.is_file())


def test_metadata_only_checks_no_image(published: tuple[Path, Path]) -> None:
    out, root = published
    _image(out).unlink()  # a missing image: a full check fails, a metadata check does not
    full = verify(out, "--root", root)
    assert full.exit_code == 9, full.output
    quick = verify(out, "--root", root, "--metadata-only", "--json")
    assert quick.exit_code == 0, quick.output
    report = json.loads(quick.stdout)
    assert report["images_checked"] is False
    assert list(report["targets"]) == ["gw/1.0.0/fw.bin"]
    text = verify(out, "--root", root, "--metadata-only")
    assert "listed (not downloaded)" in text.output


def test_metadata_only_still_refuses_bad_metadata(published: tuple[Path, Path]) -> None:
    out, root = published
    ts = out / "metadata" / "timestamp.json"
    ts.write_bytes(ts.read_bytes().replace(b'"version"', b'"versiom"', 1))
    result = verify(out, "--root", root, "--metadata-only")
    assert result.exit_code == 9


def test_valid_for(published: tuple[Path, Path]) -> None:
    out, root = published
    ok = verify(out, "--root", root, "--valid-for", "3d", "--json")
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    assert data["expiring"] == []
    assert data["valid_for_seconds"] == 3 * 86400
    assert set(data["expires"]) == {"root", "timestamp", "snapshot", "targets"}
    soon = verify(out, "--root", root, "--valid-for", "8d")
    assert soon.exit_code == 10
    assert "verifies now but not for 8d" in soon.output
    assert "timestamp expires" in soon.output and "root expires" in soon.output
    as_json = verify(out, "--root", root, "--valid-for", "192h", "--json")
    assert as_json.exit_code == 10
    assert len(json.loads(as_json.stdout)["expiring"]) == 4  # one JSON document


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Failing(QuietHandler):
    status = 503

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def failing_server() -> Iterator[tuple[str, type[_Failing]]]:
    handler = type("Handler", (_Failing,), {})
    with serve(handler) as url:
        yield url, handler


def test_unreachable_is_not_unverified(
    published: tuple[Path, Path], failing_server: tuple[str, type[_Failing]]
) -> None:
    _, root = published
    refused = verify(f"http://127.0.0.1:{_closed_port()}/", "--root", root, "--json")
    assert refused.exit_code == 12, refused.output
    assert json.loads(refused.stdout)["error"]["type"] == "UnreachableError"
    assert "could not reach" in refused.output
    url, handler = failing_server
    handler.status = 503
    assert verify(url, "--root", root).exit_code == 12
    handler.status = 404  # the server answers: the repository is not there
    assert verify(url, "--root", root).exit_code == 9


@pytest.mark.s3
def test_s3_source(published: tuple[Path, Path], s3_endpoint: str, bucket: str) -> None:
    out, root = published
    url = f"s3://{bucket}/fleet"
    store = S3Store.from_url(url, endpoint_url=s3_endpoint)
    sync_tree(out, store)
    ok = verify(url, "--root", root, "--endpoint-url", s3_endpoint, "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["targets"] == {"gw/1.0.0/fw.bin": 800}
    # a tampered image in the bucket does not verify; metadata-only does not see it
    key = _image(out).relative_to(out).as_posix()
    store.client.put_object(Bucket=bucket, Key=f"fleet/{key}", Body=b"x" * 800)
    bad = verify(url, "--root", root, "--endpoint-url", s3_endpoint)
    assert bad.exit_code == 9, bad.output
    assert "mismatch" in bad.output
    assert (
        verify(url, "--root", root, "--endpoint-url", s3_endpoint, "--metadata-only").exit_code == 0
    )
    # an empty prefix: nothing published there
    missing = verify(f"s3://{bucket}/elsewhere", "--root", root, "--endpoint-url", s3_endpoint)
    assert missing.exit_code == 9


@pytest.mark.s3
def test_s3_endpoint_down_is_unreachable(published: tuple[Path, Path], s3_endpoint: str) -> None:
    _, root = published
    down = f"http://127.0.0.1:{_closed_port()}"
    result = verify("s3://any-bucket/x", "--root", root, "--endpoint-url", down)
    assert result.exit_code == 12, result.output
