"""S3-compatible object storage as a publishing store (extra ``firmtuf[s3]``).

Endpoint, region and credentials come from the usual AWS configuration (environment
variables ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, profiles) or the
``endpoint_url`` argument. A custom endpoint (MinIO, Ceph, moto, R2...) is addressed
path-style (``http://host/bucket/key``), which every S3-compatible server understands.

Objects carry their SHA-256 in the ``x-amz-meta-sha256`` header so an unchanged file is
recognised without downloading it, also for multipart objects whose ETag is not an MD5.
Cache-Control is set for CDNs: ``timestamp.json`` and ``root.json`` must not be cached
for long (devices poll them), everything else is immutable once published.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from signer._errors import InvalidInputError, PublishError
from signer._store import LocalFile, PreconditionFailedError, RemoteObject
from signer._tree import METADATA, MUTABLE_KEYS, TARGETS

_MUTABLE_MAX_AGE = 60
_IMMUTABLE = "public, max-age=31536000, immutable"
_DELETE_BATCH = 1000
_CHUNK = 1 << 20


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")`` (prefix may be empty)."""
    if not url.startswith("s3://"):
        raise InvalidInputError(f"not an s3:// URL: {url!r}")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    if not bucket:
        raise InvalidInputError(f"no bucket in {url!r} (expected s3://bucket/prefix)")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise InvalidInputError(f"bad prefix in {url!r}")
    return bucket, prefix


def _cache_control(key: str) -> str:
    if key.endswith(".html"):  # the release dashboard: a report that changes each publish
        return "no-cache"
    if key in MUTABLE_KEYS:
        return f"public, max-age={_MUTABLE_MAX_AGE}"
    return _IMMUTABLE


def _content_type(key: str) -> str:
    if key.endswith(".html"):
        return "text/html; charset=utf-8"
    return "application/json" if key.endswith(".json") else "application/octet-stream"


class S3Store:
    """A published tree under ``s3://bucket/prefix``."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None = None) -> S3Store:
        """Open ``s3://bucket/prefix`` with a boto3 client from the AWS environment.

        Raises:
            PublishError: bad URL, or boto3 is not installed.
        """
        bucket, prefix = parse_s3_url(url)
        try:
            import boto3
            from botocore.config import Config
        except ImportError as e:
            raise PublishError("S3 publishing needs boto3: pip install 'firmtuf[s3]'") from e
        endpoint = (
            endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
        )
        config = Config(
            s3={"addressing_style": "path" if endpoint else "auto"},
            retries={"max_attempts": 5, "mode": "standard"},
            # boto's default is 60 s per connection attempt: an unreachable endpoint
            # would hold a CI job for minutes before "could not reach".
            connect_timeout=10,
            read_timeout=60,
        )
        client = boto3.client("s3", endpoint_url=endpoint or None, config=config)
        return cls(client, bucket, prefix)

    def object_key(self, key: str) -> str:
        """The bucket key of tree key ``key`` (under the store's prefix)."""
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as e:
            raise self._failure(what, e) from e
        except BotoCoreError as e:
            raise PublishError(f"S3 {what} failed on {self.url}: {e}") from e

    def _failure(self, what: str, error: Any) -> PublishError:
        code = error.response.get("Error", {}).get("Code", "error")
        return PublishError(f"S3 {what} failed on {self.url}: {code}")

    def listing(self) -> dict[str, RemoteObject]:
        out: dict[str, RemoteObject] = {}
        base = self.object_key("")
        for top in (METADATA, TARGETS):
            token: str | None = None
            while True:
                kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": base + top}
                if token:
                    kwargs["ContinuationToken"] = token
                page = self._call("list", self.client.list_objects_v2, **kwargs)
                for obj in page.get("Contents", []):
                    key = obj["Key"][len(base) :]
                    out[key] = RemoteObject(int(obj["Size"]), str(obj.get("ETag", "")).strip('"'))
                if not page.get("IsTruncated"):
                    break
                token = page.get("NextContinuationToken")
        return out

    def is_same(self, local: LocalFile, remote: RemoteObject) -> bool:
        if remote.size != local.size:
            return False
        if remote.etag == local.md5:
            return True
        head = self._call(
            "head", self.client.head_object, Bucket=self.bucket, Key=self.object_key(local.key)
        )
        # Only the listed object counts: one written since (another publisher's) is not
        # what this publish's checks were made against.
        if str(head.get("ETag", "")).strip('"') != str(remote.etag or "").strip('"'):
            return False
        return bool(head.get("Metadata", {}).get("sha256") == local.sha256)

    def read(self, key: str) -> bytes | None:
        chunks = self.stream(key)
        return None if chunks is None else b"".join(chunks)

    def stream(self, key: str) -> Iterator[bytes] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise PublishError(f"S3 get failed on {self.url}/{key}: {e}") from e

        def chunks() -> Iterator[bytes]:
            try:
                yield from obj["Body"].iter_chunks(_CHUNK)
            except BotoCoreError as e:
                raise PublishError(f"S3 download of {key} failed: {e}") from e
            finally:
                obj["Body"].close()

        return chunks()

    def put(
        self, local: LocalFile, *, if_absent: bool = False, if_match: str | None = None
    ) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        conditions: dict[str, str] = {}
        if if_absent:
            conditions["IfNoneMatch"] = "*"
        elif if_match:
            conditions["IfMatch"] = if_match
        with open(local.path, "rb") as body:
            try:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=self.object_key(local.key),
                    Body=body,
                    ContentLength=local.size,
                    ContentType=_content_type(local.key),
                    CacheControl=_cache_control(local.key),
                    Metadata={"sha256": local.sha256},
                    **conditions,
                )
            except ClientError as e:
                code = e.response.get("Error", {}).get("Code", "")
                status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                # 412: the condition failed; 409: a concurrent conditional write won.
                if conditions and (
                    code in ("PreconditionFailed", "ConditionalRequestConflict")
                    or status in (409, 412)
                ):
                    raise PreconditionFailedError(local.key) from e
                raise self._failure("upload", e) from e
            except BotoCoreError as e:
                raise PublishError(f"S3 upload failed on {self.url}: {e}") from e

    def delete(self, keys: list[str]) -> None:
        for i in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": self.object_key(k)} for k in keys[i : i + _DELETE_BATCH]]
            resp = self._call(
                "delete",
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": batch, "Quiet": True},
            )
            if resp.get("Errors"):
                first = resp["Errors"][0]
                raise PublishError(f"S3 delete failed for {first.get('Key')}: {first.get('Code')}")
