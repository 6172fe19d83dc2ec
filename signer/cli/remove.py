"""`firmtuf remove REPO NAME`."""

from __future__ import annotations

from pathlib import Path

import click

from signer import FirmwareRepository, remove_target
from signer.cli._locking import locks_repo


@click.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("name")
@locks_repo("exclusive")
def remove(repo: Path, name: str) -> None:
    """Remove target NAME from REPO (unsigned until `firmtuf sign`).

    A firmware's SBOM goes with it unless another firmware links it. A support
    declaration is withdrawn with `firmtuf support remove`, not here.
    """
    removed = remove_target(FirmwareRepository(repo), name)
    click.echo(f"Removed {name}")
    for other in removed[1:]:
        click.echo(f"Removed {other} (its SBOM, linked from no other firmware)")
    click.echo(f"Next: firmtuf sign {repo}")
