"""Shared pieces of the click commands: error mapping, options, parsers."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from securesystemslib.signer import SecretsHandler

from signer import (
    KEY_TYPES,
    PASSWORD_SECRET,
    PIN_SECRET,
    ExternalKey,
    InvalidInputError,
    KeyProblemError,
    public_key_from_pem,
)
from signer.cli._outcome import command_outcome, json_written, remember_json

F = TypeVar("F", bound=Callable[..., Any])

PASSWORD_ENV_HELP = "Read the key file password from environment variable NAME, not a prompt."  # noqa: S105 - help text
PIN_ENV_HELP = "Read the HSM PIN from environment variable NAME, not a prompt."
_SECRET_LABELS = {PASSWORD_SECRET: "Key file password", PIN_SECRET: "HSM PIN"}


class FirmtufGroup(click.Group):
    """The `firmtuf` group: turns library errors into one-line click errors.

    With ``--json`` the error is also printed on stdout as ``{"error": {...}}`` (see
    :mod:`signer.cli._outcome`); Ctrl-C exits 130 and a closed stdout pipe 141, silently.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BaseException as e:
            outcome = command_outcome(ctx, e)
            if outcome is e:
                raise
            raise outcome from e


def password_env_option(f: F) -> F:
    return click.option("--password-env", metavar="NAME", default=None, help=PASSWORD_ENV_HELP)(f)


def json_option(f: F) -> F:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        callback=remember_json,
        help='Print JSON for scripts (errors too: {"error": {...}}).',
    )(f)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))
    json_written()


class Secrets:
    """Where a signing command reads its secrets: the variables ``--password-env`` and
    ``--pin-env`` name, or one hidden prompt per secret."""

    def __init__(self, password_env: str | None, pin_env: str | None) -> None:
        self.password_env = password_env
        self.pin_env = pin_env
        self._handler: SecretsHandler | None = None

    @property
    def handler(self) -> SecretsHandler:
        """The command's one secrets handler (each secret asked once, then kept)."""
        if self._handler is None:
            self._handler = secrets_handler(self.password_env, self.pin_env)
        return self._handler

    def new_key_password(self) -> str:
        """The password for key files the command generates (see :func:`new_key_password`)."""
        return new_key_password(self.password_env)


def secrets_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--password-env`` and ``--pin-env``, handed to the command as ``secrets``
    (a :class:`Secrets`): every signing command reads its secrets the same way."""

    @functools.wraps(f)
    def command(*args: Any, password_env: str | None, pin_env: str | None, **kwargs: Any) -> Any:
        return f(*args, secrets=Secrets(password_env, pin_env), **kwargs)

    with_pin = click.option("--pin-env", metavar="NAME", default=None, help=PIN_ENV_HELP)(command)
    return password_env_option(with_pin)


def _from_env(name: str, what: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise KeyProblemError(f"environment variable {name} is not set (the {what})")
    return value


def secrets_handler(password_env: str | None, pin_env: str | None = None) -> SecretsHandler:
    """Key file password and HSM PIN, each from its variable or one prompt per command
    (asked once, then kept for every key of the command)."""
    cache: dict[str, str] = {}

    def handler(secret: str) -> str:
        if secret not in cache:
            env = pin_env if secret == PIN_SECRET else password_env
            if env:
                cache[secret] = _from_env(env, secret)
            else:
                label = _SECRET_LABELS.get(secret, f"Enter {secret}")
                cache[secret] = ask_secret(label)
        return cache[secret]

    return handler


def new_key_password(password_env: str | None) -> str:
    """The password for key files this command generates: from ``$password_env`` or a
    prompt asked twice."""
    if password_env:
        return _from_env(password_env, "password for the new key files")
    return ask_secret("Password for the new key files", confirm=True)


def ask_secret(label: str, *, confirm: bool = False) -> str:
    """Prompt for a password or PIN (hidden).

    Ctrl-C at the prompt stays an interrupt (exit 130) even inside a signer backend that
    wraps every ``Exception``; a closed standard input (CI, cron) is a key problem (exit
    5) that names the option to use instead.
    """
    try:
        value: str = click.prompt(label, hide_input=True, confirmation_prompt=confirm, err=True)
    except click.Abort as e:
        if isinstance(e.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        raise KeyProblemError(
            f"{label}: standard input is closed; give the secret in a variable "
            "(--password-env NAME, --pin-env NAME)"
        ) from None
    return value


_DURATION_RE = re.compile(r"(\d+)\s*([smhdw]?)")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "": 86400}


def parse_duration(text: str) -> timedelta:
    """``90d``, ``12w``, ``36h``, ``30m``, ``45s``; a bare number is days."""
    match = _DURATION_RE.fullmatch(text.strip())
    if match is None:
        raise click.BadParameter(f"{text!r} is not a duration like 90d, 12w, 36h")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])


class DurationType(click.ParamType):
    name = "DURATION"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except click.BadParameter as e:
            self.fail(str(e.message), param, ctx)


def role_values(values: Iterable[str], convert: Callable[[str], Any], what: str) -> dict[str, Any]:
    """Parse repeated ``ROLE=VALUE`` options."""
    result: dict[str, Any] = {}
    for item in values:
        role, sep, raw = item.partition("=")
        if not sep or not role or not raw:
            raise click.BadParameter(f"{item!r}: expected ROLE={what}")
        try:
            result[role.strip()] = convert(raw.strip())
        except (ValueError, click.BadParameter) as e:
            raise click.BadParameter(f"{item!r}: {e}") from None
    return result


def read_small_file(path: Path, what: str, limit: int = 1 << 20) -> bytes:
    """The bytes of a small file the user names (a root, a public key), at most ``limit``.

    Raises:
        InvalidInputError: unreadable, or larger than ``limit`` (never read whole).
    """
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise InvalidInputError(f"cannot read {what} {path}: {e.strerror}") from None
    if len(data) > limit:
        raise InvalidInputError(f"{what} {path} is larger than {limit // 1024} KiB")
    return data


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


@dataclass(frozen=True)
class RoleKeys:
    """The keys one new role gets: ``external`` (``--signer``) and ``generate`` new key
    files encrypted with ``password`` (None when none are generated)."""

    external: list[ExternalKey]
    generate: int
    password: str | None


@dataclass(frozen=True)
class NewRoleKeys:
    """The keys a new role gets (``--keys``, ``--signer``, ``--threshold``, ``--key-type``,
    ``--password-env`` of `delegate` and `bins`)."""

    key_count: int | None
    signers: tuple[tuple[str, Path], ...]
    threshold: int
    key_type: str
    password_env: str | None

    def resolve(self, role: str) -> RoleKeys:
        """The keys of ``role``.

        Without ``--keys``, one key is generated unless ``--signer`` keys were given; the
        password is asked (or read from ``--password-env``) only when keys are generated.
        """
        external = external_keys(role, self.signers)
        count = self.key_count if self.key_count is not None else (0 if external else 1)
        if count < 0:
            raise InvalidInputError("--keys must not be negative")
        password = new_key_password(self.password_env) if count > 0 else None
        return RoleKeys(external, count, password)


def key_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options choosing a new role's keys, handed to the command as ``keys`` (a
    :class:`NewRoleKeys`; shared by `delegate` and `bins`)."""

    @functools.wraps(f)
    def command(
        *args: Any,
        key_count: int | None,
        signers: tuple[tuple[str, Path], ...],
        threshold: int,
        key_type: str,
        password_env: str | None,
        **kwargs: Any,
    ) -> Any:
        keys = NewRoleKeys(key_count, signers, threshold, key_type, password_env)
        return f(*args, keys=keys, **kwargs)

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
        command = option(command)
    return command


def external_keys(role: str, signers: tuple[tuple[str, Path], ...]) -> list[ExternalKey]:
    keys = []
    for uri, pub_path in signers:
        pem = read_small_file(pub_path, "public key")
        keys.append(ExternalKey(role, uri, public_key_from_pem(pem)))
    return keys
