"""`firmtuf sign-event start|sign|status|finish|cancel|list REPO [NAME]`."""

from __future__ import annotations

from pathlib import Path

import click

from signer import (
    EventStatus,
    FirmwareRepository,
    SignEvent,
    broken_events,
    cancel_event,
    finish_event,
    list_events,
    sign_event,
    start_event,
)
from signer.cli._common import Secrets, echo_json, json_option, secrets_options
from signer.cli._locking import locks_repo


def echo_status(status: EventStatus) -> None:
    for path, why in status.rejected.items():
        click.echo(f"Note: {path} does not count: {why} (its holder can sign again)", err=True)
    for keyid_role, keyids in status.signed_now.items():
        for keyid in keyids:
            click.echo(f"Signed {keyid_role} with key {keyid[:12]}")
    click.echo(f"Signing event {status.name} (started {status.created}):")
    for role in status.roles:
        signed = ", ".join(k[:12] for k in role.signed) or "nobody"
        line = f"  {role.role} v{role.version}: {len(role.signed)} signature(s) [{signed}]"
        line += f", threshold {role.threshold}, needs {role.missing} more"
        if role.previous_threshold is not None:
            line += (
                f"; previous root threshold {role.previous_threshold}, "
                f"needs {role.previous_missing} more"
            )
        click.echo(line)
        for change in role.changes:
            click.echo(f"    change: {change}")
        if not role.complete:
            for keyid, uri in role.waiting_for.items():
                click.echo(f"    can still sign: {keyid[:12]} {uri or '-'}")
    if status.complete:
        click.echo("Complete: run 'firmtuf sign-event finish'.")
    else:
        click.echo("Incomplete: more key holders must run 'firmtuf sign-event sign'.")


@click.group("sign-event")
def sign_event_group() -> None:
    """Collect signatures of several key holders on the same metadata (no server).

    start freezes the unsigned drafts in REPO/sign-events/NAME (share the folder or
    commit it to git); each holder runs sign with their own key; status shows who
    signed; finish checks every threshold and writes the signed metadata into REPO.
    """


@sign_event_group.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("name")
@click.option("--role", "roles", multiple=True, help="Role to sign (default: every unsigned role).")
@json_option
@locks_repo("exclusive")
def start(repo: Path, name: str, roles: tuple[str, ...], as_json: bool) -> None:
    """Start signing event NAME with the roles of REPO that lack signatures."""
    status = start_event(FirmwareRepository(repo), name, list(roles) or None)
    if as_json:
        echo_json(status.to_dict())
        return
    echo_status(status)
    click.echo(f"Next: each key holder runs 'firmtuf sign-event sign {repo} {name}'")


@sign_event_group.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("name")
@click.option(
    "--key-file",
    "key_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Sign with this PEM private key file (encrypted or not). Repeatable.",
)
@click.option(
    "--uri",
    "uris",
    multiple=True,
    metavar="URI",
    help="Sign with this signer URI (hsm:ID?label=TOKEN, envvar:NAME, KMS). Repeatable.",
)
@secrets_options
@json_option
@locks_repo("exclusive")
def sign(
    repo: Path,
    name: str,
    key_files: tuple[Path, ...],
    uris: tuple[str, ...],
    secrets: Secrets,
    as_json: bool,
) -> None:
    """Add your signatures to event NAME (default: the keys at hand by their URIs)."""
    status = sign_event(
        FirmwareRepository(repo),
        name,
        key_files=list(key_files),
        uris=list(uris),
        secrets_handler=secrets.handler,
    )
    if as_json:
        echo_json(status.to_dict())
        return
    if not status.signed_now:
        click.echo("Nothing added: these keys had already signed.")
    echo_status(status)


@sign_event_group.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("name")
@json_option
@locks_repo("shared")
def status(repo: Path, name: str, as_json: bool) -> None:
    """Show who signed what in event NAME and how many signatures are missing."""
    report = SignEvent(FirmwareRepository(repo), name).status()
    if as_json:
        echo_json(report.to_dict())
        return
    echo_status(report)


@sign_event_group.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("name")
@json_option
@locks_repo("exclusive")
def finish(repo: Path, name: str, as_json: bool) -> None:
    """Check thresholds and write the signed metadata of event NAME into REPO."""
    report = finish_event(FirmwareRepository(repo), name)
    if as_json:
        echo_json(report.to_dict())
        return
    for path, why in report.rejected.items():
        click.echo(f"Note: {path} did not count: {why}", err=True)
    for role in report.roles:
        click.echo(f"Finished {role.role} v{role.version} ({len(role.signed)} signature(s))")
    click.echo(f"Next: firmtuf sign {repo} (renews snapshot and timestamp), then publish")


@sign_event_group.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("name")
@locks_repo("exclusive")
def cancel(repo: Path, name: str) -> None:
    """Drop event NAME and its signatures (REPO is left as it is)."""
    cancel_event(FirmwareRepository(repo), name)
    click.echo(f"Cancelled signing event {name}")


@sign_event_group.command("list")
@click.argument("repo", type=click.Path(path_type=Path))
@json_option
@locks_repo("shared")
def list_(repo: Path, as_json: bool) -> None:
    """List the open signing events of REPO."""
    repository = FirmwareRepository(repo)
    names = list_events(repository)
    broken = broken_events(repository)
    if as_json:
        echo_json(names)
        return
    for name in names:
        click.echo(name)
    for name in broken:
        click.echo(
            f"{name} (broken: no readable event.json; 'firmtuf sign-event cancel' removes it)"
        )
