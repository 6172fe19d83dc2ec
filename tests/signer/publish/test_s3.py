"""Publishing to S3-compatible storage (a real moto S3 server on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from signer._errors import InvalidInputError, PublishError, RepositoryLocationError
from signer._s3 import S3Store, parse_s3_url
from signer._store import LocalStore, prune, sync_tree, upload_order
from tests.repository import PublishedRepository
from tests.signer.publish._device import device_fetch

pytestmark = pytest.mark.s3


def _store(s3_endpoint: str, bucket: str, prefix: str = "fleet/prod") -> S3Store:
    return S3Store.from_url(f"s3://{bucket}/{prefix}", endpoint_url=s3_endpoint)


def _record_puts(store: S3Store, fail_after: int | None = None) -> list[str]:
    """Record the key of every PutObject; optionally fail the (fail_after+1)-th one."""
    puts: list[str] = []

    def hook(params: dict[str, Any], **_: Any) -> None:
        if fail_after is not None and len(puts) >= fail_after:
            raise ConnectionError("network down (injected)")
        puts.append(params["Key"].removeprefix(store.prefix + "/"))

    store.client.meta.events.register("provide-client-params.s3.PutObject", hook)
    return puts


def _two_releases(repo: PublishedRepository) -> None:
    repo.add_target("gw/1.0.0/fw.bin", b"one" * 100, hardware_ids=["gw"], version="1.0.0")
    repo.commit()


def test_parse_s3_url() -> None:
    assert parse_s3_url("s3://b/a/b/") == ("b", "a/b")
    assert parse_s3_url("s3://b") == ("b", "")
    with pytest.raises(InvalidInputError, match="no bucket"):
        parse_s3_url("s3:///x")
    with pytest.raises(InvalidInputError, match="bad prefix"):
        parse_s3_url("s3://b/a/../c")


def test_upload_order_puts_timestamp_last_and_references_before_referrers(
    repo: PublishedRepository, tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    _two_releases(repo)
    repo.delegate("fw", ["fw/*"])
    repo.add_target("fw/x.bin", b"x", role="fw")
    repo.rotate_root()
    repo.commit()
    store = _store(s3_endpoint, bucket)
    puts = _record_puts(store)
    report = sync_tree(repo.write(tmp_path / "out"), store)

    assert puts == report.uploaded
    assert sorted(puts) == sorted(repo.files)
    assert puts[-1] == "metadata/timestamp.json"
    assert puts[-2] == "metadata/root.json"
    pos = {k: i for i, k in enumerate(puts)}
    last_target = max(i for k, i in pos.items() if k.startswith("targets/"))
    assert last_target < min(i for k, i in pos.items() if k.startswith("metadata/"))
    assert pos["metadata/1.fw.json"] < pos["metadata/3.targets.json"]
    assert pos["metadata/3.targets.json"] < pos["metadata/3.snapshot.json"]
    assert pos["metadata/3.snapshot.json"] < pos["metadata/1.root.json"]
    assert pos["metadata/1.root.json"] < pos["metadata/2.root.json"]
    assert upload_order(reversed(puts)) == puts


def test_objects_carry_sha256_and_cache_control(
    repo: PublishedRepository, tmp_path: Path, s3_endpoint: str, bucket: str, s3_client: Any
) -> None:
    _two_releases(repo)
    sync_tree(repo.write(tmp_path / "out"), _store(s3_endpoint, bucket))
    head = s3_client.head_object(Bucket=bucket, Key="fleet/prod/metadata/timestamp.json")
    data = repo.files["metadata/timestamp.json"]
    assert head["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert head["CacheControl"] == "public, max-age=60"
    head = s3_client.head_object(Bucket=bucket, Key="fleet/prod/metadata/2.snapshot.json")
    assert "immutable" in head["CacheControl"]


def test_unchanged_files_are_not_uploaded_again(
    repo: PublishedRepository, tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    _two_releases(repo)
    out = repo.write(tmp_path / "out")
    sync_tree(out, _store(s3_endpoint, bucket))

    store = _store(s3_endpoint, bucket)
    puts = _record_puts(store)
    report = sync_tree(out, store)
    assert puts == []
    assert report.uploaded == []
    assert sorted(report.skipped) == sorted(repo.files)

    new_key = repo.add_target("gw/1.1.0/fw.bin", b"two", hardware_ids=["gw"], version="1.1.0")
    repo.commit()
    report = sync_tree(repo.write(tmp_path / "out"), store)
    assert puts == [
        new_key,
        "metadata/3.targets.json",
        "metadata/3.snapshot.json",
        "metadata/timestamp.json",
    ]


def test_multipart_object_recognised_by_stored_sha256(
    repo: PublishedRepository, tmp_path: Path, s3_endpoint: str, bucket: str, s3_client: Any
) -> None:
    """A multipart ETag is not an MD5: the x-amz-meta-sha256 header decides."""
    key = repo.add_target("gw/big.bin", b"B" * 1000)
    repo.commit()
    out = repo.write(tmp_path / "out")
    data = (out / key).read_bytes()
    mpu = s3_client.create_multipart_upload(
        Bucket=bucket,
        Key=f"fleet/prod/{key}",
        Metadata={"sha256": hashlib.sha256(data).hexdigest()},
    )
    part = s3_client.upload_part(
        Bucket=bucket, Key=f"fleet/prod/{key}", UploadId=mpu["UploadId"], PartNumber=1, Body=data
    )
    s3_client.complete_multipart_upload(
        Bucket=bucket,
        Key=f"fleet/prod/{key}",
        UploadId=mpu["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    store = _store(s3_endpoint, bucket)
    puts = _record_puts(store)
    sync_tree(out, store)
    assert key not in puts
    assert "metadata/timestamp.json" in puts


def test_device_updates_over_http_from_s3(
    repo: PublishedRepository, tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    _two_releases(repo)
    sync_tree(repo.write(tmp_path / "out"), _store(s3_endpoint, bucket))
    got = device_fetch(
        f"{s3_endpoint}/{bucket}/fleet/prod", repo.root_bytes, tmp_path / "dev", "gw/1.0.0/fw.bin"
    )
    assert got == b"one" * 100


def test_interrupted_publish_leaves_previous_state_served(
    repo: PublishedRepository, tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    """Cut the upload of release 2 after every possible number of PUTs: a device always
    gets a complete, verified state (release 1 until the timestamp lands), and re-running
    the publish completes it."""
    _two_releases(repo)
    v1 = repo.write(tmp_path / "v1")
    repo.add_target("gw/2.0.0/fw.bin", b"new", hardware_ids=["gw"], version="2.0.0")
    repo.rotate_root()
    repo.commit()
    v2 = repo.write(tmp_path / "v2")
    n_new = 6  # image, 3.targets, 3.snapshot, 2.root, root.json, timestamp
    for cut in range(n_new):
        prefix = f"cut{cut}"
        sync_tree(v1, _store(s3_endpoint, bucket, prefix))
        store = _store(s3_endpoint, bucket, prefix)
        puts = _record_puts(store, fail_after=cut)
        with pytest.raises(ConnectionError):
            sync_tree(v2, store)
        assert len(puts) == cut
        url = f"{s3_endpoint}/{bucket}/{prefix}"
        dev = tmp_path / f"dev{cut}"
        assert device_fetch(url, repo.root_bytes, dev, "gw/2.0.0/fw.bin") is None
        assert device_fetch(url, repo.root_bytes, dev, "gw/1.0.0/fw.bin") == b"one" * 100

        report = sync_tree(v2, _store(s3_endpoint, bucket, prefix))
        assert len(report.uploaded) == n_new - cut
        assert device_fetch(url, repo.root_bytes, dev, "gw/2.0.0/fw.bin") == b"new"


def test_refuses_to_replace_versioned_metadata_devices_may_hold(
    repo: PublishedRepository, tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    _two_releases(repo)
    out = repo.write(tmp_path / "out")
    sync_tree(out, _store(s3_endpoint, bucket))
    snap = out / "metadata/2.snapshot.json"
    doc = json.loads(snap.read_bytes())
    doc["signed"]["expires"] = "2099-01-01T00:00:00Z"
    snap.write_text(json.dumps(doc))
    store = _store(s3_endpoint, bucket)
    puts = _record_puts(store)
    with pytest.raises(PublishError, match=r"2\.snapshot\.json was already published"):
        sync_tree(out, store)
    assert puts == []


def test_root_versions_are_immutable(
    repo: PublishedRepository, tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    out = repo.write(tmp_path / "out")
    sync_tree(out, _store(s3_endpoint, bucket))
    (out / "metadata/1.root.json").write_bytes(b'{"signed": {}}')
    with pytest.raises(PublishError, match=r"1\.root\.json .*roots are immutable"):
        sync_tree(out, _store(s3_endpoint, bucket))


def test_unreferenced_leftover_of_interrupted_publish_may_be_replaced(
    repo: PublishedRepository, tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    """A version uploaded before a crash but never referenced by a timestamp can be
    re-signed (e.g. the CI job re-runs with a new expiry)."""
    v1 = repo.write(tmp_path / "v1")
    repo.add_target("gw/a.bin", b"a")
    repo.commit()
    v2 = repo.write(tmp_path / "v2")
    sync_tree(v1, _store(s3_endpoint, bucket))
    store = _store(s3_endpoint, bucket)
    _record_puts(store, fail_after=3)  # image, 2.targets, 2.snapshot, then fail
    with pytest.raises(ConnectionError):
        sync_tree(v2, store)
    doc = json.loads((v2 / "metadata/2.snapshot.json").read_bytes())
    doc["signed"]["expires"] = "2099-01-01T00:00:00Z"
    (v2 / "metadata/2.snapshot.json").write_text(json.dumps(doc))
    report = sync_tree(v2, _store(s3_endpoint, bucket))
    assert "metadata/2.snapshot.json" in report.uploaded


def test_prune_keeps_newest_versions_root_chain_and_referenced_images(
    repo: PublishedRepository, tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    keys = []
    for i in range(4):
        keys.append(repo.add_target(f"gw/{i}.0/fw.bin", f"fw{i}".encode()))
        repo.rotate_root()
        repo.commit()
        repo.repository.md("targets").signed.targets.pop(f"gw/{i}.0/fw.bin")
        repo.dirty.add("targets")
    repo.commit()  # the newest targets lists nothing: older images live only in old versions
    store = _store(s3_endpoint, bucket)
    sync_tree(repo.write(tmp_path / "out"), store)
    assert {k for k in store.listing() if ".snapshot." in k} == {
        f"metadata/{v}.snapshot.json" for v in range(1, 7)
    }

    dry = prune(store, keep=2, dry_run=True)
    assert dry.deleted
    assert set(store.listing()) == set(repo.files)

    report = prune(store, keep=2)
    left = set(store.listing())
    assert set(report.deleted) == set(repo.files) - left
    for v in (1, 2, 3, 4):
        assert f"metadata/{v}.snapshot.json" not in left
        assert f"metadata/{v}.targets.json" not in left
    assert {"metadata/5.snapshot.json", "metadata/6.snapshot.json"} <= left
    assert {"metadata/5.targets.json", "metadata/6.targets.json"} <= left
    assert {f"metadata/{v}.root.json" for v in range(1, 6)} <= left
    # 5.targets.json still lists image 3; images 0-2 were only in pruned versions.
    assert keys[3] in left
    assert not {keys[0], keys[1], keys[2]} & left
    assert (
        device_fetch(
            f"{s3_endpoint}/{bucket}/fleet/prod", repo.root_bytes, tmp_path / "dev", "gw/3.0/fw.bin"
        )
        is None
    )  # the live targets lists nothing, yet a fresh device walks the whole chain

    assert prune(store, keep=2).deleted == []


def test_prune_needs_a_positive_count_and_a_published_repository(
    s3_endpoint: str, bucket: str
) -> None:
    store = _store(s3_endpoint, bucket)
    with pytest.raises(InvalidInputError, match="at least 1"):
        prune(store, keep=0)
    with pytest.raises(PublishError, match="nothing is published"):
        prune(store, keep=3)


def test_local_store_same_order_and_skips(repo: PublishedRepository, tmp_path: Path) -> None:
    _two_releases(repo)
    dest = LocalStore(tmp_path / "served")
    report = sync_tree(repo.write(tmp_path / "out"), dest)
    assert report.uploaded[-1] == "metadata/timestamp.json"
    assert sync_tree(tmp_path / "out", dest).uploaded == []
    for key, data in repo.files.items():
        assert (tmp_path / "served" / key).read_bytes() == data


def test_refuses_a_directory_that_is_not_published(tmp_path: Path) -> None:
    with pytest.raises(RepositoryLocationError, match="not a published repository"):
        sync_tree(tmp_path, LocalStore(tmp_path / "x"))


def test_timestamp_key_rotation_cut_before_timestamp_delays_never_misleads(
    repo: PublishedRepository, tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    """Root versions are uploaded just before the timestamp: a publish cut between them
    makes devices refuse the old timestamp under the new key (they keep their trusted
    state), and the re-run publish lets them update."""
    from verifier import UnsignedMetadataError

    _two_releases(repo)
    sync_tree(repo.write(tmp_path / "v1"), _store(s3_endpoint, bucket))
    url = f"{s3_endpoint}/{bucket}/fleet/prod"
    dev = tmp_path / "dev"
    assert device_fetch(url, repo.root_bytes, dev, "gw/1.0.0/fw.bin") == b"one" * 100

    repo.rotate_key("timestamp")
    repo.add_target("gw/2.0.0/fw.bin", b"two", hardware_ids=["gw"], version="2.0.0")
    repo.commit()
    v2 = repo.write(tmp_path / "v2")
    store = _store(s3_endpoint, bucket)
    puts = _record_puts(store, fail_after=5)  # image, targets, snapshot, 2.root, root.json
    with pytest.raises(ConnectionError):
        sync_tree(v2, store)
    assert puts[-1] == "metadata/root.json"
    with pytest.raises(UnsignedMetadataError):
        device_fetch(url, repo.root_bytes, dev, "gw/2.0.0/fw.bin")

    sync_tree(v2, _store(s3_endpoint, bucket))
    assert device_fetch(url, repo.root_bytes, dev, "gw/2.0.0/fw.bin") == b"two"
