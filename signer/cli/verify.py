"""`firmtuf verify REPO_OR_URL --root ROOT.json`."""

from __future__ import annotations

from pathlib import Path

import click

from signer._client import ClientRefusal, root_problem, verify_published
from signer._errors import InvalidInputError, VerificationError
from signer._publish import verify_working_repository
from signer._repository import CONFIG_FILE, FirmwareRepository
from signer.cli._common import echo_json, json_option, read_small_file
from signer.cli._locking import locks_repo
from verifier import Config


@click.command()
@click.argument("source", metavar="REPO_OR_URL")
@click.option(
    "--root",
    "root_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Trusted root metadata to start from (e.g. the 1.root.json devices ship).",
)
@json_option
@locks_repo("shared", "source")
def verify(source: str, root_path: Path, as_json: bool) -> None:
    """Check a published repository (directory or http(s) URL) end to end as a device would.

    Given a working repository (a directory with firmtuf.json), checks the tree that
    `firmtuf publish` would write for it.
    """
    root = read_small_file(root_path, "root", Config().root_max_length)
    problem = root_problem(root)
    if problem:
        raise InvalidInputError(f"root {root_path} is not a usable trusted root: {problem}")
    if not source.startswith(("http://", "https://")) and not Path(source).is_dir():
        raise InvalidInputError(f"{source} is neither a directory nor an http(s) URL")
    try:
        if (Path(source) / CONFIG_FILE).is_file():
            report = verify_working_repository(FirmwareRepository(source), root)
        else:
            report = verify_published(source, root)
    except ClientRefusal as e:
        raise VerificationError(f"{source} does not verify: {e}") from e
    if as_json:
        echo_json(report.to_dict())
        return
    versions = ", ".join(f"{r} v{v}" for r, v in report.versions.items())
    click.echo(
        f"OK: {source} verifies ({versions}); {len(report.targets)} target(s) downloaded "
        "and checked"
    )
