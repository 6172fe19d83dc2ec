"""`firmtuf publish REPO OUT_DIR`."""

from __future__ import annotations

from pathlib import Path

import click

from signer._publish import publish as publish_repository
from signer._repository import FirmwareRepository
from signer.cli._common import echo_json, json_option


@click.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("out_dir", type=click.Path(path_type=Path))
@json_option
def publish(repo: Path, out_dir: Path, as_json: bool) -> None:
    """Write REPO's servable tree into OUT_DIR (checked first; timestamp.json last)."""
    report = publish_repository(FirmwareRepository(repo), out_dir)
    if as_json:
        echo_json(report.to_dict())
        return
    versions = ", ".join(f"{r} v{v}" for r, v in report.versions.items())
    click.echo(
        f"Published {out_dir}: {len(report.written)} file(s) written, "
        f"{len(report.unchanged)} unchanged ({versions})"
    )
