"""`firmtuf bins REPO N`."""

from __future__ import annotations

from pathlib import Path

import click

from signer import FirmwareRepository, bin_prefix, convert_to_bins
from signer.cli._common import NewRoleKeys, echo_json, hardware_id_option, json_option, key_options
from signer.cli._locking import locks_repo


@click.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("count", type=int)
@click.option(
    "--role",
    default="targets",
    show_default=True,
    help="Role whose targets move into the bins.",
)
@hardware_id_option
@key_options
@json_option
@locks_repo("exclusive")
def bins(
    repo: Path,
    count: int,
    role: str,
    hardware_ids: tuple[str, ...],
    keys: NewRoleKeys,
    as_json: bool,
) -> None:
    """Convert ROLE of REPO to COUNT hash bins (a power of two; TAP 15 succinct roles).

    ROLE's targets move into the bins they hash to; every bin is signed with the new bin
    key(s); ROLE becomes a draft for `firmtuf sign`. Adding an image afterwards rewrites
    one bin, snapshot and timestamp.
    """
    repository = FirmwareRepository(repo)
    chosen = keys.resolve(bin_prefix(role))
    result = convert_to_bins(
        repository,
        count,
        role=role,
        threshold=keys.threshold,
        new_keys=chosen.generate,
        external_keys=chosen.external,
        key_type=keys.key_type,
        password=chosen.password,
        hardware_ids=hardware_ids,
    )
    if as_json:
        echo_json(result.to_dict())
        return
    click.echo(
        f"{role} now delegates to {count} hash bins {result.bins[0]} .. {result.bins[-1]} "
        f"({len(result.keyids)} key(s), threshold {keys.threshold}); "
        f"{result.moved_targets} target(s) moved; ships to "
        f"{', '.join(result.hardware_ids) if result.hardware_ids else 'any hardware id'}"
    )
    for path in result.key_files:
        click.echo(f"  new key file {path}")
    click.echo(f"Next: firmtuf sign {repo}")
