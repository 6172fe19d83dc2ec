"""`firmtuf sbom REPO_OR_URL HARDWARE_ID VERSION`: the verified SBOM of a release."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from signer import ReleaseSbom, RepositoryLocationError, read_release_sbom
from signer.cli._common import echo_json, json_option, read_small_file
from signer.cli._locking import locks_repo
from signer.cli._remote import endpoint_option
from verifier import Config


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
@click.option(
    "--root",
    "root_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Trusted root to start from: fetch and verify the SBOM as a device does "
    "(required for a published repository).",
)
@endpoint_option
@json_option
@locks_repo("shared", "source")
def sbom(
    source: str,
    hardware_id: str,
    version: str,
    output: Path | None,
    root_path: Path | None,
    endpoint_url: str | None,
    as_json: bool,
) -> None:
    """Print or write the SBOM of firmware VERSION of HARDWARE_ID, verified: exactly the
    bytes the firmware's signed link names.

    With --root, REPO_OR_URL (directory, http(s) URL, s3://bucket/prefix, or a working
    repository: the tree `firmtuf publish` would write) is read by firmtuf's verifier as
    a device reads it (Updater.sbom). Without, REPO_OR_URL must be a working repository:
    its stored SBOM is checked against its metadata, and a note on stderr says when the
    release is not signed yet. With --json, prints what was checked (targets, length,
    hashes, format) instead of the document, which then needs --output. Exit 7: no such
    release, or it has no SBOM; 9: the SBOM does not verify; 12: could not reach.
    """
    root = (
        None if root_path is None else read_small_file(root_path, "root", Config().root_max_length)
    )
    try:
        found = read_release_sbom(
            source, hardware_id, version, trusted_root=root, endpoint_url=endpoint_url
        )
    except RepositoryLocationError:
        if root is not None:
            raise
        raise click.UsageError(
            f"{source} is not a working repository: give --root ROOT.json"
        ) from None
    _deliver(found, output, as_json)


def _deliver(found: ReleaseSbom, output: Path | None, as_json: bool) -> None:
    if not found.signed:
        click.echo(
            f"Note: the release or its SBOM is an unsigned draft: devices do not see "
            f"{found.target} yet",
            err=True,
        )
    if output is not None:
        found.write(output)
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
