"""`firmtuf bundle PUBLISHED OUT.tar --target NAME...`."""

from __future__ import annotations

from pathlib import Path

import click

from signer import build_bundle
from signer.cli._common import echo_json, json_option


@click.command()
@click.argument("published", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--target",
    "targets",
    multiple=True,
    required=True,
    metavar="NAME",
    help="Target to ship (repeatable).",
)
@click.option(
    "--from-root-version",
    type=int,
    default=1,
    show_default=True,
    help="Oldest root version the devices trust; the bundle carries the chain from it.",
)
@click.option(
    "--all-roles",
    is_flag=True,
    help="Also ship every delegated role not on the chosen targets' search paths (for "
    "clients that read every role, such as python-tuf's or older firmtuf verifiers).",
)
@json_option
def bundle(
    published: Path,
    out: Path,
    targets: tuple[str, ...],
    from_root_version: int,
    all_roles: bool,
    as_json: bool,
) -> None:
    """Write an offline update bundle (a tar for USB sticks) from a PUBLISHED directory.

    The bundle carries every role a device's delegation search reads for the chosen
    targets; warnings (stderr, JSON "warnings") name expired metadata and newer firmware
    the repository lists for the same hardware that the bundle does not carry.
    """
    report = build_bundle(
        published, out, list(targets), from_root_version=from_root_version, all_roles=all_roles
    )
    if as_json:
        echo_json(report.to_dict())
        return
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"Wrote {report.path}: {len(report.members)} member(s), "
        f"{len(report.targets)} target(s), {report.size} bytes"
    )
