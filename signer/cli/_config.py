"""``firmtuf.toml``: per-repository defaults for command options, so the same commands
work on a laptop and in CI (see repo_template/ and docs/ci-publishing.md).

The file is found with ``firmtuf --config FILE``, else ``$FIRMTUF_CONFIG``, else
``./firmtuf.toml``. Options given on the command line win over the file. Unknown
sections and keys are errors (a typo must not silently publish somewhere else)::

    [roles.targets]              # firmtuf init: keys, threshold, expiry per role
    keys = 1
    threshold = 1
    expiry = "91d"

    [keys]
    password_env = "FIRMTUF_KEY_PASSWORD"   # init, sign, refresh: key file password

    [firmware]
    hardware_ids = ["acme-gw-r2"]           # firmtuf add: default --hardware-id

    [publish]
    to = "s3://acme-firmware/gw/prod"       # firmtuf publish / prune: destination
    endpoint_url = "https://minio.example"  # optional S3-compatible endpoint
    keep = 10                               # firmtuf prune: --keep

    [refresh]
    within = "12h"                          # firmtuf refresh: --within

    [status]
    warn = "12h"                            # firmtuf status: --warn
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from signer import InvalidInputError
from signer.cli._outcome import click_error

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_NAME = "firmtuf.toml"
CONFIG_ENV = "FIRMTUF_CONFIG"

_ROLES = ("root", "targets", "snapshot", "timestamp")
_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "keys": {"password_env": str},
    "firmware": {"hardware_ids": list},
    "publish": {"to": str, "endpoint_url": str, "keep": int},
    "refresh": {"within": str},
    "status": {"warn": str},
}
_ROLE_SCHEMA: dict[str, type | tuple[type, ...]] = {"keys": int, "threshold": int, "expiry": str}


def find_config(explicit: Path | None) -> Path | None:
    """The config file to use, or None."""
    if explicit is not None:
        return explicit
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    local = Path(CONFIG_NAME)
    return local if local.is_file() else None


def _check(table: Any, schema: dict[str, type | tuple[type, ...]], where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise InvalidInputError(f"{where} must be a table")
    for key, value in table.items():
        if key not in schema:
            raise InvalidInputError(f"unknown key {where}.{key}")
        expected = schema[key]
        if not isinstance(value, expected) or isinstance(value, bool):
            raise InvalidInputError(f"{where}.{key} has the wrong type")
    return table


def load_config(path: Path) -> dict[str, Any]:
    """Parse and validate ``path``; return click's ``default_map`` (command -> defaults).

    Raises:
        InvalidInputError: unreadable file, bad TOML, unknown section or key, wrong type.
    """
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InvalidInputError(f"cannot read {path}: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InvalidInputError(f"{path} is not valid TOML: {e}") from None
    for section in doc:
        if section not in (*_SCHEMA, "roles"):
            raise InvalidInputError(f"{path}: unknown section [{section}]")
    sections = {name: _check(doc.get(name, {}), schema, name) for name, schema in _SCHEMA.items()}
    roles = doc.get("roles", {})
    if not isinstance(roles, dict):
        raise InvalidInputError(f"{path}: [roles] must be a table")

    init: dict[str, Any] = {}
    for role, table in roles.items():
        if role not in _ROLES:
            raise InvalidInputError(f"{path}: unknown role [roles.{role}]")
        _check(table, _ROLE_SCHEMA, f"roles.{role}")
        for key, option in (("keys", "key_counts"), ("threshold", "thresholds")):
            if key in table:
                init.setdefault(option, []).append(f"{role}={table[key]}")
        if "expiry" in table:
            init.setdefault("expiries", []).append(f"{role}={table['expiry']}")

    defaults: dict[str, dict[str, Any]] = {
        name: {} for name in ("init", "sign", "refresh", "add", "publish", "prune", "status")
    }
    defaults["init"].update(init)
    password_env = sections["keys"].get("password_env")
    if password_env:
        for command in ("init", "sign", "refresh"):
            defaults[command]["password_env"] = password_env
    if "hardware_ids" in sections["firmware"]:
        ids = sections["firmware"]["hardware_ids"]
        if not ids or not all(isinstance(i, str) and i for i in ids):
            raise InvalidInputError("firmware.hardware_ids must be a non-empty list of names")
        defaults["add"]["hardware_ids"] = list(ids)
    publish = sections["publish"]
    if publish.get("to"):
        defaults["publish"]["dest"] = publish["to"]
        defaults["prune"]["dest"] = publish["to"]
    if publish.get("endpoint_url"):
        defaults["publish"]["endpoint_url"] = publish["endpoint_url"]
        defaults["prune"]["endpoint_url"] = publish["endpoint_url"]
    if "keep" in publish:
        defaults["prune"]["keep"] = publish["keep"]
    if "within" in sections["refresh"]:
        defaults["refresh"]["within"] = sections["refresh"]["within"]
    if "warn" in sections["status"]:
        defaults["status"]["warn"] = sections["status"]["warn"]
    return {command: values for command, values in defaults.items() if values}


def _apply(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    del param
    path = find_config(value)
    if path is not None:
        try:
            ctx.default_map = load_config(path)
        except InvalidInputError as e:
            raise click_error(InvalidInputError(f"config {path}: {e}")) from None
    return path


def config_option(f: F) -> F:
    """``--config FILE`` on the group: loads defaults before any subcommand parses."""
    return click.option(
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_apply,
        help=f"Defaults for command options (default: ${CONFIG_ENV} or ./{CONFIG_NAME}).",
    )(f)
