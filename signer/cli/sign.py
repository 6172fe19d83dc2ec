"""`firmtuf sign REPO [ROLE]`."""

from __future__ import annotations

from pathlib import Path

import click

from signer import FirmwareRepository, events_covering
from signer.cli._common import Secrets, echo_json, json_option, secrets_options
from signer.cli._locking import locks_repo


@click.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("role", required=False)
@secrets_options
@click.option(
    "--force",
    is_flag=True,
    help="Sign even roles an open signing event covers (that event becomes stale).",
)
@json_option
@locks_repo("exclusive")
def sign(
    repo: Path,
    role: str | None,
    secrets: Secrets,
    force: bool,
    as_json: bool,
) -> None:
    """Sign what changed in REPO with the keys at hand.

    Without ROLE: roles lacking signatures are signed, then snapshot and timestamp are
    renewed when what they describe changed. With ROLE: only that role is signed, or
    re-issued with a fresh expiry date when it is already fully signed.
    """
    repository = FirmwareRepository(repo, secrets_handler=secrets.handler)
    repository.event_guard = not force
    result = repository.sign(role)
    stale = events_covering(repository.path, list(repository.changed_roles)) if force else {}
    repository.save()
    for name in sorted(set(stale.values())):
        click.echo(
            f"Note: signing event {name!r} is now stale: cancel it and start a new one",
            err=True,
        )
    for keyid, why in result.skipped.items():
        click.echo(
            f"Note: key {keyid[:8]} did not sign ({why}); threshold met without it", err=True
        )
    if as_json:
        echo_json(result.to_dict())
        return
    if not result.signed and not result.incomplete:
        click.echo("Nothing to sign: every role is fully signed and current.")
        return
    for name, keyids in result.signed.items():
        version = repository.metadata(name).signed.version
        click.echo(f"Signed {name} v{version} with {len(keyids)} key(s)")
    for name, why in result.incomplete.items():
        click.echo(f"Not yet publishable: {name}: {why}")
    if not result.incomplete:
        click.echo(f"Next: firmtuf publish {repo} OUT_DIR")
