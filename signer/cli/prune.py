"""`firmtuf prune DEST --keep N`."""

from __future__ import annotations

import click

from signer import InvalidInputError, open_store
from signer import prune as prune_store
from signer.cli._common import echo_json, json_option
from signer.cli._remote import endpoint_option


@click.command()
@click.argument("dest", metavar="[DEST]", required=False)
@click.option(
    "--keep",
    type=int,
    required=True,
    help="Versions of snapshot and of each targets role to keep (at least 1).",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@endpoint_option
@json_option
def prune(
    dest: str | None, keep: int, dry_run: bool, endpoint_url: str | None, as_json: bool
) -> None:
    """Delete old metadata versions and unreferenced images from a published DEST.

    DEST is a published directory or s3://bucket/prefix. Root versions, root.json and
    timestamp.json are never deleted; everything the live timestamp and the kept
    versions reference stays. DEST and --keep default to [publish] to / keep of
    firmtuf.toml.
    """
    if dest is None:
        raise InvalidInputError("missing DEST (or [publish] to in firmtuf.toml)")
    report = prune_store(open_store(dest, endpoint_url=endpoint_url), keep, dry_run=dry_run)
    if as_json:
        echo_json(report.to_dict())
        return
    verb = "Would delete" if dry_run else "Deleted"
    for key in report.deleted:
        click.echo(f"  {key}")
    click.echo(
        f"{verb} {len(report.deleted)} file(s) from {report.url}; kept "
        f"{len(report.kept_metadata)} metadata version(s)"
    )
