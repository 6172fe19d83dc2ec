"""Publishing a working repository to a remote store (S3-compatible object storage).

``publish`` (signer/_publish.py) checks a new tree against what is already published:
immutable versions, and a client that trusts the published state must accept the new one
(no rollback). For a remote store the published state is first mirrored into a local
staging directory (metadata only: small), the local publish runs against that mirror with
all of its checks, and the staging tree is then uploaded in the safe order with
:func:`signer._store.sync_tree`, skipping what the store already holds.

Images already published need not be kept locally (CI keeps only the metadata in git):
an image missing from the content store is fetched from the store and checked against
the signed length and hashes first.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuf.api.exceptions import LengthOrHashMismatchError

from signer._errors import InvalidInputError, PublishError
from signer._fsutil import atomic_write, staged_file
from signer._publish import publish
from signer._repository import FirmwareRepository
from signer._store import LocalFile, LocalStore, Store, SyncReport, sync_tree
from signer._tree import METADATA, target_key


@dataclass
class RemotePublishReport:
    """What :func:`publish_to_store` uploaded (in upload order) and left unchanged."""

    url: str
    uploaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "uploaded": self.uploaded,
            "unchanged": self.unchanged,
            "versions": self.versions,
        }


def _mirror_metadata(store: Store, stage: Path) -> None:
    for key in store.listing():
        if not key.startswith(METADATA):
            continue
        name = key.removeprefix(METADATA)
        if "/" in name or name in ("", ".", "..") or "\\" in name:
            raise PublishError(f"unexpected object {key!r} in {store.url}")
        data = store.read(key)
        if data is not None:
            atomic_write(stage.joinpath(*key.split("/")), data, sync_dir=False)


def _hydrate_images(repo: FirmwareRepository, store: Store) -> list[str]:
    """Fetch images missing from the local content store from the published tree.

    CI keeps only metadata in git; the images live in the published store. Each fetched
    image is checked against the length and hashes the targets metadata lists before it
    enters the content store.
    """
    fetched: list[str] = []
    for _role, name, info in repo.iter_targets():
        dest = repo.stored_image(name, info)
        if dest.is_file():
            continue
        key = target_key(name, info.hashes["sha256"])
        chunks = store.stream(key)
        if chunks is None:
            continue  # publish() reports the missing image
        with staged_file(dest) as staged:
            for chunk in chunks:
                staged.write(chunk)
            staged.sync()
            try:
                with open(staged.path, "rb") as f:
                    info.verify_length_and_hashes(f)
            except LengthOrHashMismatchError:
                raise PublishError(
                    f"{store.url}/{key} does not match target {name!r}; not using it"
                ) from None
            staged.commit()
        fetched.append(name)
    return fetched


def publish_to_store(
    repo: FirmwareRepository,
    store: Store,
    *,
    on_upload: Callable[[LocalFile], None] | None = None,
) -> RemotePublishReport:
    """Publish ``repo`` to ``store`` with the local publish's checks and the safe order.

    Raises:
        PublishError: the repository is not publishable, the new tree would roll back or
            change what is published, or the store failed midway (what was uploaded is
            not referenced until ``timestamp.json``: devices keep the previous state;
            run the command again to finish).
    """
    with tempfile.TemporaryDirectory(prefix="firmtuf-stage-") as tmp:
        stage = Path(tmp)
        _mirror_metadata(store, stage)
        _hydrate_images(repo, store)
        local = publish(repo, stage)
        sync: SyncReport = sync_tree(stage, store, on_upload=on_upload)
    return RemotePublishReport(
        url=store.url,
        uploaded=sync.uploaded,
        unchanged=sync.skipped,
        versions=dict(local.versions),
    )


def open_store(url: str, *, endpoint_url: str | None = None) -> Store:
    """Return the store for ``url``: ``s3://bucket/prefix`` or a local directory path."""
    if url.startswith("s3://"):
        from signer._s3 import S3Store  # boto3 only when S3 is used

        return S3Store.from_url(url, endpoint_url=endpoint_url)
    if "://" in url:
        raise InvalidInputError(
            f"unsupported destination {url!r} (use a directory or s3://bucket/prefix)"
        )
    return LocalStore(Path(url))
