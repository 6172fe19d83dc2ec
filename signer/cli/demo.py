"""`firmtuf demo [DIR]`."""

from __future__ import annotations

from pathlib import Path

import click

from signer import run_demo
from signer.cli._locking import locks_repo


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@locks_repo("none", "directory")
def demo(directory: Path | None) -> None:
    """Show the whole job on local defaults, with nothing else to install.

    Makes keys, a repository and a sample firmware; signs, publishes and serves it on
    127.0.0.1 (ephemeral port); shows a device accepting it and refusing a tampered copy.
    DIR (must be empty or absent) keeps the files; without it a temporary directory is
    used and removed.
    """
    run_demo(directory, click.echo)
