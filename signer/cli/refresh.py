"""`firmtuf refresh REPO`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from signer import FirmwareRepository
from signer import refresh as refresh_repository
from signer.cli._common import (
    DurationType,
    Secrets,
    echo_json,
    json_option,
    secrets_options,
)
from signer.cli._locking import locks_repo


@click.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Renew snapshot and timestamp even if not due.")
@click.option(
    "--within",
    type=DurationType(),
    default=None,
    help="Renew a role expiring within this duration (default: half its validity).",
)
@secrets_options
@json_option
@locks_repo("exclusive")
def refresh(
    repo: Path,
    force: bool,
    within: timedelta | None,
    secrets: Secrets,
    as_json: bool,
) -> None:
    """Renew REPO's snapshot and timestamp with their online keys when due.

    Safe to run from cron every few minutes: nothing is written unless the signed targets
    changed, a role expires within the window, or --force is given.
    """
    repository = FirmwareRepository(repo, secrets_handler=secrets.handler)
    result = refresh_repository(repository, force=force, within=within)
    if as_json:
        echo_json(result.to_dict())
        return
    if not result.changed:
        click.echo("Nothing due.")
    for role, version in result.new_versions.items():
        click.echo(f"Renewed {role} v{version}: {result.reasons[role]}")
    for role, expires in result.expires.items():
        click.echo(f"  {role} expires {expires:%Y-%m-%d %H:%M} UTC")
    if result.waiting:
        click.echo(f"Waiting for signatures (not in snapshot yet): {', '.join(result.waiting)}")
