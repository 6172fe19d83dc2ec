"""`firmtuf support set|list|remove REPO ...`: signed support periods per hardware id."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from signer import (
    FirmwareRepository,
    InvalidInputError,
    list_support,
    parse_date,
    remove_support,
    set_support,
)
from signer.cli._common import echo_json, json_option
from signer.cli._locking import locks_repo


@click.group()
def support() -> None:
    """Declare, list and withdraw the support period of each hardware id (signed, read
    by devices with Updater.support())."""


@support.command("set")
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("hardware_id", metavar="HARDWARE_ID")
@click.option(
    "--until",
    "until_text",
    required=True,
    metavar="DATE",
    help="Last day (YYYY-MM-DD, UTC) of security updates for HARDWARE_ID.",
)
@click.option("--url", default=None, metavar="URL", help="http(s) URL of the support policy.")
@click.option(
    "--shorten",
    is_flag=True,
    help="Allow a date earlier than the declared one (kept in the declaration's history).",
)
@click.option(
    "--role",
    default=None,
    metavar="ROLE",
    help="Targets role to declare in (default: the role delegated the declaration's name).",
)
@json_option
@locks_repo("exclusive")
def set_command(
    repo: Path,
    hardware_id: str,
    until_text: str,
    url: str | None,
    shorten: bool,
    role: str | None,
    as_json: bool,
) -> None:
    """Declare that HARDWARE_ID gets security updates until --until (unsigned until
    `firmtuf sign`).

    The declaration is the target HARDWARE_ID/support/period.json of the role a device's
    delegation search for it reaches. A later date extends the period; an earlier one is
    refused (exit 7) unless --shorten. The URL is kept unless --url is given.
    """
    until = parse_date(until_text, "--until")
    change = set_support(
        FirmwareRepository(repo), hardware_id, until, url=url, shorten=shorten, role=role
    )
    if as_json:
        echo_json(change.to_dict())
        return
    decl = change.info.declaration
    verb = {
        "declared": "Declared",
        "extended": "Extended",
        "shortened": "SHORTENED",
        "updated": "Updated",
        "unchanged": "Unchanged:",
    }[change.kind]
    since = "" if change.previous is None else f" (was {change.previous.support_until})"
    click.echo(
        f"{verb} support for {hardware_id} until {decl.support_until}{since} in {change.info.role}"
    )
    if change.kind == "unchanged":
        return
    if decl.ends_at <= datetime.now(UTC):
        click.echo(
            f"Warning: {decl.support_until} is past: devices show support as ended", err=True
        )
    if change.kind == "shortened":
        click.echo("The earlier date stays in the declaration's history; status shows it.")
    click.echo(f"Next: firmtuf sign {repo}")


@support.command("list")
@click.argument("repo", type=click.Path(path_type=Path))
@json_option
@locks_repo("shared")
def list_command(repo: Path, as_json: bool) -> None:
    """List the support period of every hardware id of REPO, with its history."""
    declared = list_support(FirmwareRepository(repo))
    if as_json:
        echo_json([item.to_dict() for item in declared])
        return
    if not declared:
        click.echo("No support period declared (firmtuf support set REPO HARDWARE_ID --until DATE)")
        return
    now = datetime.now(UTC)
    for item in declared:
        click.echo(item.describe(now))
        for entry in item.declaration.history:
            url = f"  {entry.url}" if entry.url else ""
            click.echo(
                f"    earlier: until {entry.support_until} "
                f"(declared {entry.declared:%Y-%m-%d %H:%M} UTC){url}"
            )


@support.command("remove")
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("hardware_id", metavar="HARDWARE_ID")
@click.option(
    "--withdraw",
    is_flag=True,
    help="Confirm: devices will see no support period for HARDWARE_ID at all.",
)
@locks_repo("exclusive")
def remove_command(repo: Path, hardware_id: str, withdraw: bool) -> None:
    """Withdraw the support declaration of HARDWARE_ID (unsigned until `firmtuf sign`).

    Meant for a declaration made by mistake (wrong hardware id); to end support, declare
    the last day with `support set --until` instead, which devices can show.
    """
    if not withdraw:
        raise InvalidInputError(
            "removing a support declaration hides the period from devices: give --withdraw, "
            "or end support with 'firmtuf support set --until DATE'"
        )
    removed = remove_support(FirmwareRepository(repo), hardware_id)
    click.echo(
        f"Withdrew the support declaration of {hardware_id} (was until "
        f"{removed.declaration.support_until}, in {removed.role})"
    )
    click.echo(f"Next: firmtuf sign {repo}")
