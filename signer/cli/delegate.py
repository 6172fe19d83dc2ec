"""`firmtuf delegate REPO ROLE --paths PATTERN...`."""

from __future__ import annotations

from pathlib import Path

import click

from signer import FirmwareRepository, delegate_role
from signer.cli._common import NewRoleKeys, echo_json, hardware_id_option, json_option, key_options
from signer.cli._locking import locks_repo


@click.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("role")
@click.option(
    "--paths",
    "paths",
    multiple=True,
    required=True,
    metavar="PATTERN",
    help="Target paths the role is trusted for, e.g. 'product-a/*'. Repeatable.",
)
@click.option(
    "--parent",
    default="targets",
    show_default=True,
    help="Role that delegates (targets or another delegated role).",
)
@click.option(
    "--terminating",
    is_flag=True,
    help="A client searching a matching path looks in no other role after this one.",
)
@hardware_id_option
@key_options
@json_option
@locks_repo("exclusive")
def delegate(
    repo: Path,
    role: str,
    paths: tuple[str, ...],
    parent: str,
    terminating: bool,
    hardware_ids: tuple[str, ...],
    keys: NewRoleKeys,
    as_json: bool,
) -> None:
    """Delegate target PATHS of REPO to a new role ROLE with its own keys.

    The new role is signed with its new keys; the parent becomes a draft for `firmtuf sign`.
    """
    repository = FirmwareRepository(repo)
    chosen = keys.resolve(role)
    result = delegate_role(
        repository,
        role,
        paths,
        parent=parent,
        threshold=keys.threshold,
        terminating=terminating,
        new_keys=chosen.generate,
        external_keys=chosen.external,
        key_type=keys.key_type,
        password=chosen.password,
        hardware_ids=hardware_ids,
    )
    if as_json:
        echo_json(result.to_dict())
        return
    bound = ", ".join(result.hardware_ids) if result.hardware_ids else "any hardware id"
    click.echo(
        f"Delegated {', '.join(result.paths or [])} from {parent} to {role} "
        f"({len(result.keyids)} key(s), threshold {keys.threshold}"
        f"{', terminating' if terminating else ''}; ships to {bound})"
    )
    for path in result.key_files:
        click.echo(f"  new key file {path}")
    short = [p for p in result.paths or [] if p.count("/") < 2]
    if short:
        # TUF patterns match segment by segment: '*' never spans a '/'.
        click.echo(
            f"Note: {short[0]!r} matches names with {short[0].count('/') + 1} path segment(s); "
            "default target names HARDWARE_ID/VERSION/FILE need e.g. 'product-a/*/*'"
        )
    click.echo(f"Next: firmtuf sign {repo}")
