"""`firmtuf verify REPO_OR_URL --root ROOT.json`."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import click

from signer import (
    ClientRefusal,
    ClientReport,
    FirmwareRepository,
    InvalidInputError,
    RepositoryLocationError,
    UnhealthyError,
    UnreachableError,
    VerificationError,
    root_problem,
    verify_published,
    verify_working_repository,
)
from signer.cli._common import DurationType, echo_json, json_option, read_small_file
from signer.cli._locking import locks_repo
from signer.cli._remote import endpoint_option
from verifier import Config


def _check(source: str, root: bytes, *, download: bool, endpoint_url: str | None) -> ClientReport:
    if source.startswith(("s3://", "http://", "https://")):
        return verify_published(source, root, download=download, endpoint_url=endpoint_url)
    if not Path(source).is_dir():
        raise InvalidInputError(f"{source} is neither a directory nor an http(s) or s3:// URL")
    try:
        working = FirmwareRepository(source)
    except RepositoryLocationError:
        return verify_published(source, root, download=download)
    return verify_working_repository(working, root, download=download)


def _expiring(report: ClientReport, window: timedelta) -> list[str]:
    limit = time.time() + window.total_seconds()
    return [
        f"{role} expires {time.strftime('%Y-%m-%d %H:%M', time.gmtime(when))} UTC"
        for role, when in sorted(report.expires.items(), key=lambda item: item[1])
        if when < limit
    ]


@click.command()
@click.argument("source", metavar="REPO_OR_URL")
@click.option(
    "--root",
    "root_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Trusted root metadata to start from (e.g. the 1.root.json devices ship).",
)
@click.option(
    "--metadata-only",
    is_flag=True,
    help="Check every role and target entry, but download no image.",
)
@click.option(
    "--valid-for",
    type=DurationType(),
    default=None,
    metavar="DURATION",
    help="Also require every role to stay valid this long (e.g. 2d, 12h; bare number = "
    "days): exit 10 otherwise.",
)
@endpoint_option
@json_option
@locks_repo("shared", "source")
def verify(
    source: str,
    root_path: Path,
    metadata_only: bool,
    valid_for: timedelta | None,
    endpoint_url: str | None,
    as_json: bool,
) -> None:
    """Check a published repository (directory, http(s) URL or s3://bucket/prefix) end to
    end as a device would.

    Given a working repository (a directory with firmtuf.json), checks the tree that
    `firmtuf publish` would write for it. Every firmware's linked SBOM is checked as a
    device checks it (the target its link names, same length and hashes, fetched and
    parsed as CycloneDX or SPDX unless --metadata-only), and every support declaration
    is read as a device reads it. Exit 9: does not verify; 12: could not be reached; 10:
    verifies, but a role expires within --valid-for.
    """
    root = read_small_file(root_path, "root", Config().root_max_length)
    problem = root_problem(root)
    if problem:
        raise InvalidInputError(f"root {root_path} is not a usable trusted root: {problem}")
    try:
        report = _check(source, root, download=not metadata_only, endpoint_url=endpoint_url)
    except ClientRefusal as e:
        if e.unreachable:
            raise UnreachableError(f"could not reach {source}: {e}") from e
        raise VerificationError(f"{source} does not verify: {e}") from e
    expiring = _expiring(report, valid_for) if valid_for is not None else []
    if as_json:
        data = report.to_dict()
        if valid_for is not None:
            data["valid_for_seconds"] = int(valid_for.total_seconds())
            data["expiring"] = expiring
        echo_json(data)
    else:
        versions = ", ".join(f"{r} v{v}" for r, v in report.versions.items())
        checked = "downloaded and checked" if report.images_checked else "listed (not downloaded)"
        click.echo(f"OK: {source} verifies ({versions}); {len(report.targets)} target(s) {checked}")
        if report.sboms:
            sboms = len(set(report.sboms.values()))
            click.echo(
                f"    {sboms} SBOM(s) linked from {len(report.sboms)} firmware target(s) {checked}"
            )
        for hardware_id, until in sorted(report.support.items()):
            click.echo(f"    support for {hardware_id} until {until}")
    if expiring:
        raise UnhealthyError(
            f"{source} verifies now but not for {_human(valid_for)}: {'; '.join(expiring)}"
        )


def _human(period: timedelta | None) -> str:
    seconds = int(period.total_seconds()) if period else 0
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds}s"
