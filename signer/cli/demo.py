"""`firmtuf demo [DIR]`."""

from __future__ import annotations

from pathlib import Path

import click

from signer._demo import run_demo


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def demo(directory: Path | None) -> None:
    """Make keys, a repository and a sample firmware; sign, publish and serve it on
    127.0.0.1; show a device accepting it and refusing a tampered copy.

    DIR (must be empty or absent) keeps the files; without it a temporary directory is
    used and removed.
    """
    run_demo(directory, click.echo)
