"""Two CI runners publishing at once (issue 11): two clones of one repository, each with
its own new release signed as the same versions, publish to one bucket or directory.

Before: immutability was a check-then-put on a listing, so both could "succeed" and
overwrite each other's N.targets.json (devices then saw hash mismatches). Now versioned
metadata and images are created with conditional writes (S3 ``If-None-Match: *``; a
directory: link(2), plus a lock) and ``timestamp.json`` replaced only over the ETag the
publisher listed (``If-Match``): exactly one publisher wins, the other exits 7, and the
published tree verifies with the winner's release in it.
"""

from __future__ import annotations

import functools
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from signer import FirmwareRepository, init_repository
from signer._client import verify_published
from signer._errors import ConflictError, FirmtufError
from signer._publish import publish
from signer._remote import publish_to_store
from signer._s3 import S3Store
from signer._s3_fetcher import S3Fetcher
from tests.signer.conftest import add_and_sign, make_image

TRIALS = 6
PASSWORD = "two runners"


def _clones(tmp: Path) -> tuple[Path, Path]:
    """Two clones of one repository, each with a different release signed on top."""
    base = tmp / "base"
    init_repository(base, password=PASSWORD)
    add_and_sign(base, PASSWORD, make_image(tmp / "img" / "base.bin"), "gw", "1.0.0")
    a, b = tmp / "a", tmp / "b"
    shutil.copytree(base, a)
    shutil.copytree(base, b)
    add_and_sign(a, PASSWORD, make_image(tmp / "img-a" / "a.bin"), "gw", "2.0.0")
    add_and_sign(b, PASSWORD, make_image(tmp / "img-b" / "b.bin"), "gw", "2.1.0")
    return a, b


def _race(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run ``jobs`` in threads started together; each result is a value or the error."""
    results: list[Any] = [None] * len(jobs)
    start = threading.Barrier(len(jobs))

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = jobs[i]()
        except FirmtufError as e:
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _one_winner(results: list[Any]) -> int:
    failures = [r for r in results if isinstance(r, FirmtufError)]
    # Each publisher's outcome on its own line: pytest cuts a long repr in the middle,
    # which hid the second publisher's report when this failed in a whole run.
    outcomes = "\n".join(
        f"publisher {i}: {r!r}" if isinstance(r, FirmtufError) else f"publisher {i}: {vars(r)}"
        for i, r in enumerate(results)
    )
    assert len(failures) == 1, outcomes
    assert isinstance(failures[0], ConflictError) and failures[0].exit_code == 7, failures
    return next(i for i, r in enumerate(results) if not isinstance(r, FirmtufError))


def _hold_first_puts(stores: list[S3Store]) -> None:
    """Make both publishers list the bucket before either uploads: the tightest race."""
    gate = threading.Barrier(len(stores))
    for store in stores:
        state = {"first": True}

        def hook(state: dict[str, bool] = state, **_: Any) -> None:
            if state["first"]:
                state["first"] = False
                gate.wait(timeout=60)

        store.client.meta.events.register("before-call.s3.PutObject", hook)


@pytest.mark.s3
def test_the_s3_test_server_decides_conditional_writes_atomically(
    s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race tests hold only if the server, like S3, decides a conditional write
    atomically: moto alone checks then stores, so both racing writers could pass."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from moto.s3.models import S3Backend

    store = S3Backend.put_object

    def slow_store(self: Any, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.2)  # widens moto's window between its check and its store
        return store(self, *args, **kwargs)

    monkeypatch.setattr(S3Backend, "put_object", slow_store)
    clients = [
        boto3.client("s3", endpoint_url=s3_endpoint, config=Config(s3={"addressing_style": "path"}))
        for _ in range(2)
    ]

    def put(i: int) -> str:
        try:
            clients[i].put_object(Bucket=bucket, Key="k", Body=b"%d" % i, IfNoneMatch="*")
        except ClientError as e:
            return str(e.response["ResponseMetadata"]["HTTPStatusCode"])
        return "created"

    results = _race([functools.partial(put, i) for i in range(2)])
    assert sorted(results) == ["412", "created"], results


@pytest.mark.s3
@pytest.mark.parametrize("tight", [True, False], ids=["both-listed-first", "free-running"])
def test_two_publishers_one_bucket(
    tmp_path: Path, s3_endpoint: str, bucket: str, tight: bool
) -> None:
    for trial in range(TRIALS):
        work = tmp_path / str(trial)
        a, b = _clones(work)
        url = f"s3://{bucket}/t{trial}-{tight}"
        # both clones start from the same published state
        publish_to_store(
            FirmwareRepository(work / "base"), S3Store.from_url(url, endpoint_url=s3_endpoint)
        )
        stores = [S3Store.from_url(url, endpoint_url=s3_endpoint) for _ in (a, b)]
        if tight:
            _hold_first_puts(stores)
        results = _race(
            [
                functools.partial(publish_to_store, FirmwareRepository(a), stores[0]),
                functools.partial(publish_to_store, FirmwareRepository(b), stores[1]),
            ]
        )
        winner = _one_winner(results)
        root = (work / "base" / "metadata" / "root_history" / "1.root.json").read_bytes()
        reader = S3Store.from_url(url, endpoint_url=s3_endpoint)
        report = verify_published(url, root, fetcher=S3Fetcher(reader))
        expected = "gw/2.0.0/a.bin" if winner == 0 else "gw/2.1.0/b.bin"
        lost = "gw/2.1.0/b.bin" if winner == 0 else "gw/2.0.0/a.bin"
        assert expected in report.targets and lost not in report.targets


def test_two_publishers_one_directory(tmp_path: Path) -> None:
    for trial in range(TRIALS):
        work = tmp_path / str(trial)
        a, b = _clones(work)
        out = work / "out"
        publish(FirmwareRepository(work / "base"), out)
        results = _race(
            [
                functools.partial(publish, FirmwareRepository(a), out),
                functools.partial(publish, FirmwareRepository(b), out),
            ]
        )
        winner = _one_winner(results)
        root = (out / "metadata" / "1.root.json").read_bytes()
        report = verify_published(str(out), root)
        expected = "gw/2.0.0/a.bin" if winner == 0 else "gw/2.1.0/b.bin"
        assert expected in report.targets and len(report.targets) == 2


def test_directory_never_replaces_versioned_metadata(tmp_path: Path) -> None:
    """Without the lock (another tool, another machine): link(2) still never replaces."""
    from signer import _publish as publish_module

    a, b = _clones(tmp_path)
    out = tmp_path / "out"
    publish(FirmwareRepository(tmp_path / "base"), out)
    publish(FirmwareRepository(a), out)
    version = FirmwareRepository(a).metadata("targets").signed.version
    published = out / "metadata" / f"{version}.targets.json"
    before = published.read_bytes()
    files = publish_module.plan(FirmwareRepository(b))
    content = next(f.content for f in files if f.key == f"metadata/{version}.targets.json")
    assert content != before
    with pytest.raises(ConflictError, match="another publisher"):
        publish_module._write(published, content, exclusive=True)
    assert published.read_bytes() == before
    assert not list((out / "metadata").glob(".tmp-*"))


@pytest.mark.s3
def test_a_publisher_never_replaces_what_the_others_timestamp_just_referenced(
    tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    """The interleaving the free-running race hit: B mirrors the published metadata, A
    uploads its N.targets.json, B lists (A's file looks like an interrupted publish's
    leftover, unreferenced, which B may replace), A's timestamp lands, B uploads. B must
    give up instead of swapping A's now-referenced N.targets.json for its own: both clones
    sign byte-identical snapshot and timestamp, so nothing else would tell."""
    a, b = _clones(tmp_path)
    url = f"s3://{bucket}/interleaved"
    publish_to_store(
        FirmwareRepository(tmp_path / "base"), S3Store.from_url(url, endpoint_url=s3_endpoint)
    )
    a_before_timestamp, b_checked = threading.Event(), threading.Event()
    a_result: list[Any] = []

    def hold_a(item: Any) -> None:
        if item.key == "metadata/timestamp.json":
            a_before_timestamp.set()
            b_checked.wait(timeout=60)

    a_thread = threading.Thread(
        target=lambda: a_result.append(
            publish_to_store(
                FirmwareRepository(a),
                S3Store.from_url(url, endpoint_url=s3_endpoint),
                on_upload=hold_a,
            )
        )
    )
    store_b = S3Store.from_url(url, endpoint_url=s3_endpoint)
    listing, calls = store_b.listing, []

    def list_once_a_is_before_its_timestamp() -> Any:
        calls.append(1)
        if len(calls) == 2:  # the first lists for the mirror, the second for the upload
            a_thread.start()
            assert a_before_timestamp.wait(timeout=60)
        return listing()

    def let_a_finish(item: Any) -> None:
        if not b_checked.is_set():
            b_checked.set()
            a_thread.join(timeout=60)

    store_b.listing = list_once_a_is_before_its_timestamp  # type: ignore[method-assign]
    with pytest.raises(ConflictError) as refused:
        publish_to_store(FirmwareRepository(b), store_b, on_upload=let_a_finish)
    assert refused.value.exit_code == 7
    assert b_checked.is_set() and a_result and not a_thread.is_alive()
    reader = S3Store.from_url(url, endpoint_url=s3_endpoint)
    root = (tmp_path / "base" / "metadata" / "root_history" / "1.root.json").read_bytes()
    report = verify_published(url, root, fetcher=S3Fetcher(reader))
    assert "gw/2.0.0/a.bin" in report.targets and "gw/2.1.0/b.bin" not in report.targets
