"""`firmtuf publish --to s3://`, `firmtuf prune` and `firmtuf bundle` through the real CLI,
with a device updating over HTTP from the moto S3 server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from signer.cli import main
from tests.signer.publish._device import device_fetch, device_fetch_bundle

PW = {"FIRMTUF_TEST_PW": "correct horse battery"}


def firmtuf(*args: str | Path, code: int = 0) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args], env=PW)
    assert result.exit_code == code, (result.output, result.exception)
    if code:
        lines = result.output.strip().splitlines()
        assert lines[-1].startswith("Error: "), result.output
        assert "Traceback" not in result.output
    return result


def release(repo: Path, tmp: Path, version: str, data: bytes) -> str:
    image = tmp / f"fw-{version}.bin"
    image.write_bytes(data)
    firmtuf("add", repo, image, "--hardware-id", "gw", "--version", version)
    firmtuf("sign", repo, "--password-env", "FIRMTUF_TEST_PW")
    return f"gw/{version}/fw-{version}.bin"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    firmtuf("init", path, "--password-env", "FIRMTUF_TEST_PW")
    return path


def _root(repo: Path) -> bytes:
    return (repo / "metadata" / "root_history" / "1.root.json").read_bytes()


@pytest.mark.s3
def test_publish_to_s3_then_device_updates_over_http(
    repo: Path, tmp_path: Path, s3_endpoint: str, bucket: str, s3_client: Any
) -> None:
    dest = f"s3://{bucket}/fleet/prod"
    base = f"{s3_endpoint}/{bucket}/fleet/prod"
    name1 = release(repo, tmp_path, "1.0.0", b"one")
    out = firmtuf("publish", repo, "--to", dest, "--endpoint-url", s3_endpoint, "--json")
    report = json.loads(out.stdout)
    assert report["uploaded"][-1] == "metadata/timestamp.json"
    assert report["url"] == dest
    assert device_fetch(base, _root(repo), tmp_path / "dev", name1) == b"one"

    again = firmtuf("publish", repo, "--to", dest, "--endpoint-url", s3_endpoint)
    assert "0 file(s) uploaded" in again.stdout

    before_v2 = tmp_path / "repo-before-v2"
    shutil.copytree(repo, before_v2)
    name2 = release(repo, tmp_path, "2.0.0", b"two")
    out = firmtuf("publish", repo, "--to", dest, "--endpoint-url", s3_endpoint, "--json")
    uploaded = json.loads(out.stdout)["uploaded"]
    assert uploaded[0].startswith("targets/gw/2.0.0/")
    assert uploaded[-1] == "metadata/timestamp.json"
    assert device_fetch(base, _root(repo), tmp_path / "dev", name2) == b"two"

    # The signer's own end-to-end check works against the S3 origin too.
    (tmp_path / "1.root.json").write_bytes(_root(repo))
    firmtuf("verify", base, "--root", tmp_path / "1.root.json")

    # Publishing an older copy of the repository would roll devices back: refused,
    # nothing uploaded.
    listing = s3_client.list_objects_v2(Bucket=bucket)["KeyCount"]
    rollback = firmtuf("publish", before_v2, "--to", dest, "--endpoint-url", s3_endpoint, code=8)
    assert "cannot publish" in rollback.output
    assert s3_client.list_objects_v2(Bucket=bucket)["KeyCount"] == listing

    pruned = firmtuf("prune", dest, "--keep", "1", "--endpoint-url", s3_endpoint, "--json")
    deleted = json.loads(pruned.stdout)["deleted"]
    assert any(k.endswith(".snapshot.json") for k in deleted)
    assert any(k.endswith(".targets.json") for k in deleted)
    # Both images are listed by the live targets: kept. Root versions are never pruned.
    assert not any(k.startswith("targets/") or ".root.json" in k for k in deleted)
    assert device_fetch(base, _root(repo), tmp_path / "dev2", name2) == b"two"


@pytest.mark.s3
def test_unreachable_s3_is_a_one_line_error(repo: Path, tmp_path: Path, s3_endpoint: str) -> None:
    release(repo, tmp_path, "1.0.0", b"one")
    result = firmtuf(
        "publish", repo, "--to", "s3://nobucket-here/x", "--endpoint-url", s3_endpoint, code=8
    )
    assert "NoSuchBucket" in result.output


def test_publish_destination_errors(repo: Path, tmp_path: Path) -> None:
    both = firmtuf("publish", repo, tmp_path / "out", "--to", "s3://b/x", code=3)
    assert "not both" in both.output
    firmtuf("publish", repo, code=3)
    bad = firmtuf("publish", repo, "--to", "ftp://host/x", code=3)
    assert not Path("ftp:").exists()
    assert "unsupported destination" in bad.output


def test_publish_to_directory_with_to_option(repo: Path, tmp_path: Path) -> None:
    release(repo, tmp_path, "1.0.0", b"one")
    firmtuf("publish", repo, "--to", tmp_path / "out")
    assert (tmp_path / "out" / "metadata" / "timestamp.json").is_file()


def test_prune_local_directory(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    names = []
    for i in range(3):
        names.append(release(repo, tmp_path, f"1.{i}.0", f"fw{i}".encode()))
        firmtuf("publish", repo, out)
    firmtuf("remove", repo, names[0])
    firmtuf("sign", repo, "--password-env", "FIRMTUF_TEST_PW")
    firmtuf("publish", repo, out)
    dry = firmtuf("prune", out, "--keep", "1", "--dry-run")
    assert "Would delete" in dry.stdout
    image0 = next((out / "targets" / "gw" / "1.0.0").iterdir())
    assert image0.exists()
    firmtuf("prune", out, "--keep", "1")
    assert not image0.exists()
    firmtuf("verify", out, "--root", repo / "metadata" / "root_history" / "1.root.json")
    bad = firmtuf("prune", out, "--keep", "0", code=3)
    assert "at least 1" in bad.output
    firmtuf("prune", tmp_path / "nothing", "--keep", "2", code=8)


def test_bundle_command_and_reference_client(repo: Path, tmp_path: Path) -> None:
    name = release(repo, tmp_path, "1.0.0", b"one" * 1000)
    out = tmp_path / "out"
    firmtuf("publish", repo, out)
    result = firmtuf("bundle", out, tmp_path / "usb.tar", "--target", name, "--json")
    report = json.loads(result.stdout)
    assert report["targets"] == [name]
    got = device_fetch_bundle(tmp_path / "usb.tar", _root(repo), tmp_path / "dev", name)
    assert got == b"one" * 1000

    assert report["warnings"] == []
    newer = release(repo, tmp_path, "2.0.0", b"two")
    firmtuf("publish", repo, out)
    warned = firmtuf("bundle", out, tmp_path / "old.tar", "--target", name)
    assert f"warning: the repository lists {newer} (2.0.0) for gw, newer than" in warned.stderr
    assert f"add --target {newer}" in warned.stderr
    assert warned.stdout.startswith(f"Wrote {tmp_path / 'old.tar'}")

    unknown = firmtuf("bundle", out, tmp_path / "x.tar", "--target", "nope", code=3)
    assert "no target named 'nope'" in unknown.output
    firmtuf("bundle", tmp_path, tmp_path / "x.tar", "--target", name, code=4)
    assert not (tmp_path / "x.tar").exists()


@pytest.mark.s3
def test_ci_checkout_without_images_fetches_them_from_the_store(
    repo: Path, tmp_path: Path, s3_endpoint: str, bucket: str, s3_client: Any
) -> None:
    """CI keeps only metadata in git: published images come back from the store, checked
    against the signed hashes; a tampered one is refused."""
    dest = f"s3://{bucket}/p"
    name1 = release(repo, tmp_path, "1.0.0", b"one")
    firmtuf("publish", repo, "--to", dest, "--endpoint-url", s3_endpoint)
    store_files = [p for p in (repo / "targets").iterdir() if not p.name.startswith(".")]
    assert len(store_files) == 1
    store_files[0].unlink()

    name2 = release(repo, tmp_path, "2.0.0", b"two")
    firmtuf("publish", repo, "--to", dest, "--endpoint-url", s3_endpoint)
    assert store_files[0].read_bytes() == b"one"
    base = f"{s3_endpoint}/{bucket}/p"
    assert device_fetch(base, _root(repo), tmp_path / "dev", name1) == b"one"
    assert device_fetch(base, _root(repo), tmp_path / "dev", name2) == b"two"

    store_files[0].unlink()
    key = next(
        o["Key"]
        for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"]
        if o["Key"].endswith(".fw-1.0.0.bin")
    )
    s3_client.put_object(Bucket=bucket, Key=key, Body=b"evil")
    release(repo, tmp_path, "3.0.0", b"three")
    bad = firmtuf("publish", repo, "--to", dest, "--endpoint-url", s3_endpoint, code=8)
    assert "does not match target 'gw/1.0.0/fw-1.0.0.bin'" in bad.output
    assert not store_files[0].exists()


@pytest.mark.s3
def test_cli_publish_interrupted_then_rerun(
    repo: Path, tmp_path: Path, s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The network dies during `firmtuf publish --to s3://`: one-line error, devices keep
    the previous release, and running the same command again finishes the job."""
    from signer._s3 import S3Store

    dest = f"s3://{bucket}/p"
    base = f"{s3_endpoint}/{bucket}/p"
    name1 = release(repo, tmp_path, "1.0.0", b"one")
    firmtuf("publish", repo, "--to", dest, "--endpoint-url", s3_endpoint)
    name2 = release(repo, tmp_path, "2.0.0", b"two")

    real_put = S3Store.put
    calls: list[str] = []

    def flaky_put(self: S3Store, local: Any, **conditions: Any) -> None:
        if len(calls) == 2:
            from signer._errors import PublishError

            raise PublishError(f"S3 upload failed on {self.url}: RequestTimeout")
        calls.append(local.key)
        real_put(self, local, **conditions)

    monkeypatch.setattr(S3Store, "put", flaky_put)
    failed = firmtuf("publish", repo, "--to", dest, "--endpoint-url", s3_endpoint, code=8)
    assert "RequestTimeout" in failed.output
    assert calls[0].startswith("targets/gw/2.0.0/")
    assert device_fetch(base, _root(repo), tmp_path / "dev", name2) is None
    assert device_fetch(base, _root(repo), tmp_path / "dev", name1) == b"one"

    monkeypatch.setattr(S3Store, "put", real_put)
    done = firmtuf("publish", repo, "--to", dest, "--endpoint-url", s3_endpoint, "--json")
    report = json.loads(done.stdout)
    assert calls[0] in report["unchanged"] and calls[1] in report["unchanged"]
    assert report["uploaded"][-1] == "metadata/timestamp.json"
    assert device_fetch(base, _root(repo), tmp_path / "dev", name2) == b"two"


def test_config_defaults_and_command_line_precedence(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release(repo, tmp_path, "1.0.0", b"one")
    config = tmp_path / "cfg.toml"
    config.write_text(f'[publish]\nto = "{tmp_path / "from-config"}"\nkeep = 1\n')
    monkeypatch.setenv("FIRMTUF_CONFIG", str(config))
    firmtuf("publish", repo)
    assert (tmp_path / "from-config" / "metadata" / "timestamp.json").is_file()
    # OUT_DIR on the command line wins over [publish] to.
    firmtuf("publish", repo, tmp_path / "explicit")
    assert (tmp_path / "explicit" / "metadata" / "timestamp.json").is_file()
    # prune: DEST and --keep from the config.
    result = firmtuf("prune", "--dry-run", "--json")
    assert json.loads(result.stdout)["url"] == str(tmp_path / "from-config")
    monkeypatch.delenv("FIRMTUF_CONFIG")
    missing = firmtuf("prune", "--keep", "1", code=3)
    assert "missing DEST" in missing.output
