"""`firmtuf status REPO`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from signer import (
    FirmwareRepository,
    ImageCheck,
    InvalidInputError,
    UnhealthyError,
    build_dashboard,
    repository_status,
    write_dashboard,
)
from signer.cli._common import DurationType, echo_json, json_option
from signer.cli._locking import locks_repo


@click.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.option(
    "--warn",
    type=DurationType(),
    default="7d",
    show_default=True,
    help="Warn about roles expiring within this duration (e.g. 7d, 36h).",
)
@click.option(
    "--no-images",
    is_flag=True,
    help="Do not hash the stored images (faster; the output says they were not checked).",
)
@click.option(
    "--html",
    "html",
    metavar="OUT.html",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the release dashboard, a self-contained HTML page, to OUT.html "
    "(written even when the exit code is 10).",
)
@json_option
@locks_repo("shared")
def status(repo: Path, warn: timedelta, no_images: bool, html: Path | None, as_json: bool) -> None:
    """Show roles, keys, thresholds, signatures, versions and expiry of REPO.

    Every stored image is hashed against its metadata (unless --no-images). Exits 10 when
    a role is expired, under-signed, stale, expires within --warn, lists a corrupt
    image, or declares a support period ending within its refresh window (half the
    role's validity, or --warn when longer). Support periods are listed, with any
    shortening.
    """
    repository = FirmwareRepository(repo)
    report = repository_status(repository, warn=warn, check_images=not no_images)
    if html is not None:
        try:
            write_dashboard(build_dashboard(repository, report), html)
        except OSError as e:
            raise InvalidInputError(f"cannot write {html}: {e.strerror or e}") from None
    if as_json:
        echo_json(report.to_dict())
    else:
        for role in report.roles:
            mark = "ok" if role.ok else "ATTENTION"
            extra = f", {role.targets} target(s)" if role.targets is not None else ""
            if role.binding is not None:
                extra += f", ships to {role.binding.describe()}"
            click.echo(
                f"{role.role:<10} v{role.version:<4} expires {role.expires:%Y-%m-%d %H:%M} UTC  "
                f"signatures {role.signatures}/{role.threshold}{extra}  [{mark}]"
            )
            for key in role.keys:
                signed = "signed" if key.signed else "not signed"
                uri = key.signer_uri or "-"
                click.echo(f"    key {key.keyid[:12]} {key.keytype:<8} {signed:<11} {uri}")
            for problem in role.problems:
                click.echo(f"    problem: {problem}")
            for warning in role.warnings:
                click.echo(f"    warning: {warning}")
        click.echo(_images_line(report.images))
        for item in report.support:
            click.echo(f"support    {item.describe(report.checked_at)}")
    if not report.ok:
        bad = next(r for r in report.roles if not r.ok)
        count = sum(len(r.problems) + len(r.warnings) for r in report.roles)
        more = f" (and {count - 1} more)" if count > 1 else ""
        raise UnhealthyError(f"{bad.role}: {'; '.join(bad.problems + bad.warnings)}{more}")


def _images_line(images: ImageCheck) -> str:
    if not images.checked:
        return "images     not checked (--no-images); run 'firmtuf status' without it to hash them"
    text = f"images     {images.images} checked"
    if images.corrupt:
        text += f", {len(images.corrupt)} CORRUPT: {', '.join(sorted(images.corrupt))}"
    if images.missing:
        text += (
            f", {len(images.missing)} not in the local store "
            "(publish fetches them from the published store, or refuses)"
        )
    return text
