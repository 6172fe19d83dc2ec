"""`firmtuf key list|add|remove|rotate REPO ROLE`: key ceremonies on the command line."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from signer import (
    DEFAULT_KDF_ROUNDS,
    KDF_ROUNDS_ENV,
    KEY_TYPES,
    MAX_KDF_ROUNDS,
    FirmwareRepository,
    InvalidInputError,
    KeyChange,
    KeyInfo,
    KeyProblemError,
    NewKey,
    change_keys,
    list_keys,
    public_key_from_pem,
    reencrypt_key_files,
)
from signer.cli._common import (
    PASSWORD_ENV_HELP,
    Secrets,
    ask_secret,
    echo_json,
    json_option,
    read_small_file,
    secrets_handler,
    secrets_options,
)
from signer.cli._locking import locks_repo


def new_key_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option(
                "--key-type",
                type=click.Choice(list(KEY_TYPES)),
                default="ed25519",
                show_default=True,
                help="Type of a generated key.",
            ),
            click.option(
                "--keys-dir",
                type=click.Path(path_type=Path),
                default=None,
                help="Where to write a generated key file (default REPO/keys).",
            ),
            click.option(
                "--uri",
                default=None,
                metavar="URI",
                help="Use an existing key instead of generating one: hsm:ID?label=TOKEN, "
                "envvar:NAME, awskms:..., gcpkms:..., azurekms:..., hv:... (Vault), file:...",
            ),
            click.option(
                "--public-key",
                type=click.Path(path_type=Path, dir_okay=False),
                default=None,
                help="PEM public key of --uri (required for KMS URIs).",
            ),
            click.option(
                "--threshold", type=int, default=None, metavar="N", help="New threshold of ROLE."
            ),
        ]
    ):
        f = option(f)
    return f


def _new_key(
    key_type: str,
    keys_dir: Path | None,
    uri: str | None,
    public_key: Path | None,
    secrets: Secrets,
) -> NewKey:
    if public_key is not None and uri is None:
        raise InvalidInputError("--public-key needs --uri (the signer of that key)")
    if uri is not None:
        pub = None
        if public_key is not None:
            pub = public_key_from_pem(read_small_file(public_key, "public key"))
        return NewKey(uri=uri, public_key=pub)
    password = secrets.new_key_password()
    return NewKey(key_type=key_type, password=password, keys_dir=keys_dir)


def echo_key(info: KeyInfo, prefix: str = "") -> None:
    click.echo(f"{prefix}key id      {info.keyid}")
    click.echo(f"{prefix}fingerprint {info.fingerprint}")
    click.echo(f"{prefix}type        {info.keytype} ({info.scheme})")
    click.echo(f"{prefix}signer      {info.signer_uri or '-'}")


def _change(
    repo: Path,
    role: str,
    secrets: Secrets,
    as_json: bool,
    *,
    add: NewKey | None = None,
    remove: str | None = None,
    threshold: int | None,
) -> None:
    """`key add/remove/rotate`: one change of ROLE's keys, signed with the keys at hand."""
    change = change_keys(
        repo, role, add=add, remove=remove, threshold=threshold, secrets_handler=secrets.handler
    )
    echo_change(repo, change, as_json)


def echo_change(repo: Path, change: KeyChange, as_json: bool) -> None:
    for keyid, why in change.skipped.items():
        note = f"Note: key {keyid[:8]} did not sign ({why}); threshold met without it"
        click.echo(note, err=True)
    if as_json:
        echo_json(change.to_dict())
        return
    for info in change.added:
        click.echo(f"Added a key to {change.role}:")
        echo_key(info, "  ")
        click.echo("  Compare the fingerprint with the key holder before anyone signs.")
    for keyid in change.removed:
        click.echo(f"Removed key {keyid} from {change.role}")
    for path in change.key_files:
        click.echo(f"Wrote encrypted key file {path}")
    click.echo(f"{change.role}: {len(change.keyids)} key(s), threshold {change.threshold}")
    for role, version in change.versions.items():
        state = change.incomplete.get(role, "signed")
        click.echo(f"  {role} v{version}: {state}")
    if change.incomplete:
        click.echo(
            f"Next: collect signatures: firmtuf sign-event start {repo} NAME "
            "(or firmtuf sign with the keys at hand)"
        )
    else:
        click.echo(f"Next: firmtuf sign {repo}, then firmtuf publish")


@click.group()
def key() -> None:
    """List, add, remove and rotate the keys of a role (root included); re-encrypt key files."""


@key.command("list")
@click.argument("repo", type=click.Path(path_type=Path))
@json_option
@locks_repo("shared")
def list_(repo: Path, as_json: bool) -> None:
    """Show every key of REPO with its id, fingerprint and signer URI."""
    infos = list_keys(FirmwareRepository(repo))
    if as_json:
        echo_json([i.to_dict() for i in infos])
        return
    for info in infos:
        click.echo(f"{info.role}:")
        echo_key(info, "  ")


@key.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("role")
@new_key_options
@secrets_options
@json_option
@locks_repo("exclusive")
def add(
    repo: Path,
    role: str,
    key_type: str,
    keys_dir: Path | None,
    uri: str | None,
    public_key: Path | None,
    threshold: int | None,
    secrets: Secrets,
    as_json: bool,
) -> None:
    """Add a new key to ROLE: generated, or an existing one given by --uri."""
    FirmwareRepository(repo)  # fail early, before a password prompt
    new = _new_key(key_type, keys_dir, uri, public_key, secrets)
    _change(repo, role, secrets, as_json, add=new, threshold=threshold)


@key.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("role")
@click.argument("keyid")
@click.option("--threshold", type=int, default=None, metavar="N", help="New threshold of ROLE.")
@secrets_options
@json_option
@locks_repo("exclusive")
def remove(
    repo: Path,
    role: str,
    keyid: str,
    threshold: int | None,
    secrets: Secrets,
    as_json: bool,
) -> None:
    """Remove key KEYID (8 or more hex digits) from ROLE."""
    _change(repo, role, secrets, as_json, remove=keyid, threshold=threshold)


@key.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("role")
@click.argument("keyid")
@new_key_options
@secrets_options
@json_option
@locks_repo("exclusive")
def rotate(
    repo: Path,
    role: str,
    keyid: str,
    key_type: str,
    keys_dir: Path | None,
    uri: str | None,
    public_key: Path | None,
    threshold: int | None,
    secrets: Secrets,
    as_json: bool,
) -> None:
    """Replace key KEYID of ROLE with a new key (generated, or given by --uri)."""
    FirmwareRepository(repo)
    new = _new_key(key_type, keys_dir, uri, public_key, secrets)
    _change(repo, role, secrets, as_json, add=new, remove=keyid, threshold=threshold)


@key.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.option(
    "--key-file",
    "key_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Rewrite only this key file (a holder's own copy, holding a key of REPO). Repeatable.",
)
@click.option(
    "--kdf-rounds",
    type=click.IntRange(1, MAX_KDF_ROUNDS),
    default=None,
    metavar="N",
    help=f"bcrypt-pbkdf rounds (default ${KDF_ROUNDS_ENV}, else {DEFAULT_KDF_ROUNDS}: "
    "about 0.5 s per unlock).",
)
@click.option("--password-env", metavar="NAME", default=None, help=PASSWORD_ENV_HELP)
@click.option(
    "--new-password-env",
    metavar="NAME",
    default=None,
    help="Encrypt with the password in variable NAME instead of the current one.",
)
@click.option("--new-password", is_flag=True, help="Prompt for a new password.")
@click.option("--force", is_flag=True, help="Rewrite files that already use these rounds.")
@json_option
@locks_repo("exclusive")
def reencrypt(
    repo: Path,
    key_files: tuple[Path, ...],
    kdf_rounds: int | None,
    password_env: str | None,
    new_password_env: str | None,
    new_password: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Rewrite REPO's encrypted key files at hand with the current KDF (bcrypt-pbkdf).

    Key files of older firmtuf versions (PKCS#8, PBKDF2 at 2,048 iterations) fall quickly
    to a password search once copied. Every file is decrypted before any is written, and
    each new file is checked to hold the same key before it replaces the old one.
    """
    repository = FirmwareRepository(repo)
    if new_password_env and new_password:
        raise InvalidInputError("give --new-password-env or --new-password, not both")
    replacement = None
    if new_password_env:
        replacement = os.environ.get(new_password_env)
        if not replacement:
            raise KeyProblemError(f"environment variable {new_password_env} is not set")
    elif new_password:
        replacement = ask_secret("New password for the key files", confirm=True)
    results = reencrypt_key_files(
        repository,
        secrets_handler(password_env),
        rounds=kdf_rounds,
        new_password=replacement,
        extra_files=key_files,
        force=force,
    )
    if as_json:
        echo_json([r.to_dict() for r in results])
        return
    for r in results:
        after = f" -> {r.after}" if r.after else ""
        click.echo(f"{r.action:<15} {r.path} ({', '.join(r.roles)}; {r.before}{after})")
    rewritten = sum(r.action == "rewritten" for r in results)
    click.echo(f"{rewritten} key file(s) rewritten.")
