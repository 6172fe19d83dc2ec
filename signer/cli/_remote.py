"""Pieces shared by the commands that talk to remote stores (publish --to, prune) and
read a repository as a device does (verify, sbom)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from signer import (
    FirmwareRepository,
    LocalFile,
    build_dashboard,
    open_store,
    publish_to_store,
    repository_status,
    upload_dashboard,
)
from signer.cli._common import echo_json

F = TypeVar("F", bound=Callable[..., Any])


def endpoint_option(f: F) -> F:
    return click.option(
        "--endpoint-url",
        metavar="URL",
        default=None,
        envvar="FIRMTUF_S3_ENDPOINT_URL",
        help="S3-compatible endpoint (MinIO, Ceph, R2...); default from AWS_ENDPOINT_URL_S3 / "
        "AWS_ENDPOINT_URL, else AWS.",
    )(f)


def publish_remote(
    repo: FirmwareRepository,
    dest: str,
    endpoint_url: str | None,
    as_json: bool,
    dashboard: bool = False,
) -> None:
    store = open_store(dest, endpoint_url=endpoint_url)  # refuses unknown URL schemes

    def progress(item: LocalFile) -> None:
        if not as_json:
            click.echo(f"  upload {item.key} ({item.size} bytes)", err=True)

    report = publish_to_store(repo, store, on_upload=progress)
    if dashboard:
        key = upload_dashboard(store, build_dashboard(repo, repository_status(repo)))
    if as_json:
        data = report.to_dict()
        if dashboard:
            data["dashboard"] = f"{report.url.rstrip('/')}/{key}"
        echo_json(data)
        return
    versions = ", ".join(f"{r} v{v}" for r, v in report.versions.items())
    click.echo(
        f"Published {report.url}: {len(report.uploaded)} file(s) uploaded, "
        f"{len(report.unchanged)} unchanged ({versions})"
    )
    if dashboard:
        click.echo(f"Dashboard: {report.url.rstrip('/')}/{key}")
