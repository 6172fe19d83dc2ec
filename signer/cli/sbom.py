"""`firmtuf sbom REPO_OR_URL HARDWARE_ID VERSION`: the verified SBOM of a release."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from signer._fsutil import atomic_write
from signer._repository import CONFIG_FILE, FirmwareRepository
from signer._sbom import ReleaseSbom, release_sbom
from signer.cli._common import echo_json, json_option
from signer.cli._locking import locks_repo


@click.command()
@click.argument("source", metavar="REPO_OR_URL")
@click.argument("hardware_id", metavar="HARDWARE_ID")
@click.argument("version", metavar="VERSION")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    metavar="FILE",
    help="Write the SBOM to FILE (atomically) instead of standard output.",
)
@json_option
@locks_repo("shared", "source")
def sbom(
    source: str, hardware_id: str, version: str, output: Path | None, as_json: bool
) -> None:
    """Print or write the SBOM of firmware VERSION of HARDWARE_ID, checked against the
    signed metadata: the bytes are exactly the ones the firmware's link names.

    From a working repository (a directory with firmtuf.json) the stored SBOM is checked
    against the repository's metadata; a note on stderr says when it is not signed yet.
    With --json, prints what was checked (target, length, hashes, format) instead of the
    document, which then needs --output. Exit 7: no such release or it has no SBOM; 9:
    the SBOM does not verify.
    """
    if not (Path(source) / CONFIG_FILE).is_file():
        raise click.UsageError(f"{source} is not a working repository (no {CONFIG_FILE})")
    found = release_sbom(FirmwareRepository(source), hardware_id, version)
    _deliver(found, output, as_json)


def _deliver(found: ReleaseSbom, output: Path | None, as_json: bool) -> None:
    if not found.signed:
        click.echo(
            f"Note: the release or its SBOM is an unsigned draft: devices do not see "
            f"{found.target} yet",
            err=True,
        )
    if output is not None:
        atomic_write(output, found.data)
    if as_json:
        echo_json({**found.to_dict(), "written": None if output is None else str(output)})
    elif output is not None:
        click.echo(
            f"Wrote {output}: {found.target} ({found.format} {found.spec_version}, "
            f"{found.length} bytes, sha256 {found.hashes['sha256']})"
        )
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(found.data)
        sys.stdout.buffer.flush()
