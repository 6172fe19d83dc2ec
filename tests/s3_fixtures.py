"""A real S3 API server (moto) on 127.0.0.1 for the tests that publish to S3 (signer
publishing, the CI publishing guide): one server for the session, a bucket per test."""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

_bucket_ids = itertools.count()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on an ephemeral port of 127.0.0.1, stopped after the session."""
    from moto.server import ThreadedMotoServer

    _atomic_conditional_puts()
    # werkzeug logs every request to stderr otherwise.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    saved = {k: os.environ.get(k) for k in _AWS_ENV}
    os.environ.update(_AWS_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _atomic_conditional_puts() -> None:
    """Make moto's PutObject atomic, as S3's conditional writes are.

    moto checks ``If-None-Match`` / ``If-Match`` and then stores the object as two steps
    with no lock, and its threaded server runs requests at once: two racing publishers
    could both pass the check (test_concurrent_publish failed so on 2026-12-02, both
    publishers "won"). Real S3 decides a conditional write atomically, and the publisher
    relies on that, so the test server must too.
    """
    from moto.s3.responses import S3Response

    put: Callable[..., Any] = S3Response.put_object
    if getattr(put, "_firmtuf_atomic", False):
        return
    lock = threading.Lock()

    def atomic_put(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return put(self, *args, **kwargs)

    atomic_put._firmtuf_atomic = True  # type: ignore[attr-defined]
    S3Response.put_object = atomic_put  # type: ignore[method-assign]


_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def s3_client(s3_endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=s3_endpoint, config=Config(s3={"addressing_style": "path"})
    )


@pytest.fixture
def bucket(s3_client: Any) -> str:
    """A fresh, empty bucket per test, publicly readable like a CDN origin."""
    name = f"fw-{os.getpid()}-{next(_bucket_ids)}"
    public_bucket(s3_client, name)
    return name


def public_bucket(s3_client: Any, name: str) -> None:
    """Create bucket `name`, publicly readable like a CDN origin."""
    s3_client.create_bucket(Bucket=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{name}/*",
            }
        ],
    }
    s3_client.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
