"""`firmtuf remove REPO NAME`."""

from __future__ import annotations

from pathlib import Path

import click

from signer._repository import FirmwareRepository
from signer._targets import remove_target
from signer.cli._locking import locks_repo


@click.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("name")
@locks_repo("exclusive")
def remove(repo: Path, name: str) -> None:
    """Remove target NAME from REPO (unsigned until `firmtuf sign`)."""
    remove_target(FirmwareRepository(repo), name)
    click.echo(f"Removed {name}")
    click.echo(f"Next: firmtuf sign {repo}")
