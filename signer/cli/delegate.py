"""`firmtuf delegate REPO ROLE --paths PATTERN...`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from signer import (
    KEY_TYPES,
    ExternalKey,
    FirmwareRepository,
    InvalidInputError,
    delegate_role,
    public_key_from_pem,
)
from signer.cli._common import (
    PASSWORD_ENV_HELP,
    echo_json,
    json_option,
    new_key_password,
    read_small_file,
)
from signer.cli._locking import locks_repo

F = TypeVar("F", bound=Callable[..., Any])


def hardware_id_option(f: F) -> F:
    """``--hardware-id`` (shared by `delegate` and `bins`): the delegation's binding."""
    return click.option(
        "--hardware-id",
        "hardware_ids",
        multiple=True,
        metavar="ID",
        help="Bind the delegation: devices accept its firmware only for these hardware "
        "ids (fnmatch patterns such as 'acme-gw-*' allowed). Repeatable. Default: any.",
    )(f)


def key_options(f: F) -> F:
    """Options choosing a new role's keys (shared by `delegate` and `bins`)."""
    for option in reversed(
        [
            click.option(
                "--keys",
                "key_count",
                type=int,
                default=None,
                metavar="N",
                help="Number of keys to generate (default 1, or 0 with --signer).",
            ),
            click.option(
                "--signer",
                "signers",
                multiple=True,
                type=(str, click.Path(path_type=Path)),
                metavar="URI PUBKEY.pem",
                help="Use an existing key: signer URI and PEM public key. Repeatable.",
            ),
            click.option(
                "--threshold", type=int, default=1, show_default=True, help="Signatures needed."
            ),
            click.option(
                "--key-type",
                type=click.Choice(list(KEY_TYPES)),
                default="ed25519",
                show_default=True,
                help="Type of the generated keys.",
            ),
            click.option("--password-env", metavar="NAME", default=None, help=PASSWORD_ENV_HELP),
        ]
    ):
        f = option(f)
    return f


def external_keys(role: str, signers: tuple[tuple[str, Path], ...]) -> list[ExternalKey]:
    keys = []
    for uri, pub_path in signers:
        pem = read_small_file(pub_path, "public key")
        keys.append(ExternalKey(role, uri, public_key_from_pem(pem)))
    return keys


def role_keys_from_options(
    role: str,
    key_count: int | None,
    signers: tuple[tuple[str, Path], ...],
    password_env: str | None,
) -> tuple[list[ExternalKey], int, str | None]:
    """(external keys, number of keys to generate, their password) from ``key_options``.

    Without ``--keys``, one key is generated unless ``--signer`` keys were given.
    """
    external = external_keys(role, signers)
    count = key_count if key_count is not None else (0 if external else 1)
    if count < 0:
        raise InvalidInputError("--keys must not be negative")
    return external, count, new_key_password(password_env) if count > 0 else None


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
    key_count: int | None,
    signers: tuple[tuple[str, Path], ...],
    threshold: int,
    key_type: str,
    password_env: str | None,
    as_json: bool,
) -> None:
    """Delegate target PATHS of REPO to a new role ROLE with its own keys.

    The new role is signed with its new keys; the parent becomes a draft for `firmtuf sign`.
    """
    repository = FirmwareRepository(repo)
    external, count, password = role_keys_from_options(role, key_count, signers, password_env)
    result = delegate_role(
        repository,
        role,
        paths,
        parent=parent,
        threshold=threshold,
        terminating=terminating,
        new_keys=count,
        external_keys=external,
        key_type=key_type,
        password=password,
        hardware_ids=hardware_ids,
    )
    if as_json:
        echo_json(result.to_dict())
        return
    bound = ", ".join(result.hardware_ids) if result.hardware_ids else "any hardware id"
    click.echo(
        f"Delegated {', '.join(result.paths or [])} from {parent} to {role} "
        f"({len(result.keyids)} key(s), threshold {threshold}"
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
