"""`firmtuf publish REPO [OUT_DIR] [--to DEST]`."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from signer import (
    DASHBOARD_FILE,
    FirmwareRepository,
    InvalidInputError,
    build_dashboard,
    repository_status,
    write_dashboard,
)
from signer import publish as publish_repository
from signer.cli._common import echo_json, json_option
from signer.cli._locking import locks_repo
from signer.cli._remote import endpoint_option, publish_remote


@click.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("out_dir", type=click.Path(path_type=Path), required=False)
@click.option(
    "--to",
    "dest",
    metavar="DEST",
    default=None,
    help="Where to publish: a directory (same as OUT_DIR) or s3://bucket/prefix.",
)
@endpoint_option
@click.option(
    "--dashboard",
    is_flag=True,
    help=f"Also write the release dashboard ({DASHBOARD_FILE}) next to the published tree, "
    "after it. Off by default: the page shows key ids and signer URIs to whoever can read "
    "the tree.",
)
@json_option
@click.pass_context
@locks_repo("shared")
def publish(
    ctx: click.Context,
    repo: Path,
    out_dir: Path | None,
    dest: str | None,
    endpoint_url: str | None,
    dashboard: bool,
    as_json: bool,
) -> None:
    """Write REPO's servable tree into OUT_DIR or DEST (checked first; timestamp.json last).

    DEST defaults to [publish] to of firmtuf.toml.
    """
    if out_dir is not None and ctx.get_parameter_source("dest") is ParameterSource.DEFAULT_MAP:
        dest = None  # OUT_DIR on the command line wins over firmtuf.toml
    if out_dir is not None and dest is not None:
        raise InvalidInputError("give OUT_DIR or --to, not both")
    if out_dir is None and dest is None:
        raise InvalidInputError("missing destination: give OUT_DIR or --to DEST")
    if dest is not None and "://" in dest:
        publish_remote(FirmwareRepository(repo), dest, endpoint_url, as_json, dashboard)
        return
    out_dir = out_dir if out_dir is not None else Path(str(dest))
    repository = FirmwareRepository(repo)
    report = publish_repository(repository, out_dir)
    page = out_dir / DASHBOARD_FILE
    if dashboard:
        write_dashboard(build_dashboard(repository, repository_status(repository)), page)
    if as_json:
        data = report.to_dict()
        if dashboard:
            data["dashboard"] = str(page)
        echo_json(data)
        return
    versions = ", ".join(f"{r} v{v}" for r, v in report.versions.items())
    click.echo(
        f"Published {out_dir}: {len(report.written)} file(s) written, "
        f"{len(report.unchanged)} unchanged ({versions})"
    )
    if dashboard:
        click.echo(f"Dashboard: {page}")
