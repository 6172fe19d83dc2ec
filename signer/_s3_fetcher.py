"""`firmtuf verify s3://bucket/prefix`: the published tree read through the S3 API.

A scheduled CI job checks what devices will get where it was published, with the
publisher's credentials, before (or instead of) a CDN in front of the bucket. Objects
are streamed (images are not held in memory) and the verifier's length caps apply.

S3 answers map onto the verifier's transport errors the way an HTTP server's would:
``NoSuchKey`` is a 404 (the repository is incomplete: does not verify), ``AccessDenied``
a 403, throttling and server errors 5xx, and a connection that fails a plain
``DownloadError`` (could not reach).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import verifier
from signer._s3 import S3Store

_CHUNK = 1 << 18
_STATUS = {"NoSuchKey": 404, "404": 404, "NoSuchBucket": 404, "AccessDenied": 403, "403": 403}


class S3Fetcher(verifier.Fetcher):
    """Serves ``base_url + key`` from ``store`` (``base_url`` is the ``s3://`` URL + /)."""

    def __init__(self, store: S3Store) -> None:
        self.store = store
        self.base_url = store.url.rstrip("/") + "/"

    def _object(self, url: str, offset: int) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        if not url.startswith(self.base_url):
            raise verifier.DownloadHTTPError(f"{url} is not under {self.base_url}", 404)
        key = url[len(self.base_url) :]
        kwargs: dict[str, Any] = {"Bucket": self.store.bucket, "Key": self.store.object_key(key)}
        if offset:
            kwargs["Range"] = f"bytes={offset}-"
        try:
            return self.store.client.get_object(**kwargs)
        except ClientError as e:
            error = e.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = _STATUS.get(code) or int(
                e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
            )
            raise verifier.DownloadHTTPError(f"{url}: S3 {code or status}", status) from e
        except BotoCoreError as e:
            raise verifier.DownloadError(f"{url}: {e}") from e

    def _fetch(self, url: str, offset: int, deadline: verifier.Deadline) -> Iterator[bytes]:
        # The verifier's Fetcher base caps the length, holds the request to its deadline
        # and wraps botocore's errors (as DownloadError) while the body streams.
        return self._chunks(self._object(url, offset))

    def _chunks(self, obj: Any) -> Iterator[bytes]:
        try:
            yield from obj["Body"].iter_chunks(_CHUNK)
        finally:
            obj["Body"].close()
