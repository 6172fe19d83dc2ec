"""`firmtuf init REPO`."""

from __future__ import annotations

from pathlib import Path

import click

from signer import (
    KEY_TYPES,
    ExternalKey,
    check_template_target,
    init_repository,
    public_key_from_pem,
    repository_status,
    write_template,
)
from signer.cli._advice import setup_warnings
from signer.cli._common import (
    Secrets,
    echo_json,
    json_option,
    parse_duration,
    read_small_file,
    role_values,
    secrets_options,
)
from signer.cli._locking import locks_repo


@click.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.option(
    "--key-type",
    type=click.Choice(list(KEY_TYPES)),
    default="ed25519",
    show_default=True,
    help="Type of the generated keys.",
)
@click.option(
    "--keys",
    "key_counts",
    multiple=True,
    metavar="ROLE=N",
    help="Number of keys to generate for ROLE (default 1). Repeatable.",
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="ROLE=N",
    help="Signatures ROLE needs (default 1). Repeatable.",
)
@click.option(
    "--expiry",
    "expiries",
    multiple=True,
    metavar="ROLE=DURATION",
    help="Validity of ROLE's metadata, e.g. targets=90d, timestamp=12h. "
    "Defaults: root 365d, targets 91d, snapshot 7d, timestamp 1d.",
)
@click.option(
    "--bins",
    type=int,
    default=None,
    metavar="N",
    help="Put targets in N hash bins (power of two) for large repositories; see `firmtuf bins`.",
)
@click.option(
    "--keys-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the offline (root) key files, e.g. a USB stick; online keys stay in "
    "REPO/keys (git-ignored). Default: every key in REPO/keys.",
)
@click.option(
    "--signer",
    "signers",
    multiple=True,
    type=(str, str, click.Path(path_type=Path)),
    metavar="ROLE URI PUBKEY.pem",
    help="Use an existing key for ROLE: its securesystemslib signer URI and PEM "
    "public key. Repeatable.",
)
@secrets_options
@click.option(
    "--template",
    is_flag=True,
    help="Also write the CI template (firmtuf.toml, GitHub/GitLab CI, ci/*.sh, README) "
    "into REPO's parent directory.",
)
@json_option
@locks_repo("none")
def init(
    repo: Path,
    key_type: str,
    key_counts: tuple[str, ...],
    thresholds: tuple[str, ...],
    expiries: tuple[str, ...],
    bins: int | None,
    keys_dir: Path | None,
    signers: tuple[tuple[str, str, Path], ...],
    secrets: Secrets,
    template: bool,
    as_json: bool,
) -> None:
    """Create a new repository REPO with root, targets, snapshot and timestamp roles."""
    template_dir = repo.absolute().parent
    if template:
        check_template_target(template_dir)
    counts = role_values(key_counts, int, "N")
    limits = role_values(thresholds, int, "N")
    expiry = role_values(expiries, parse_duration, "DURATION")
    external = []
    for role, uri, pub_path in signers:
        pem = read_small_file(pub_path, "public key")
        external.append(ExternalKey(role, uri, public_key_from_pem(pem)))
    generates = any(
        counts.get(role, 0 if any(e.role == role for e in external) else 1) > 0
        for role in ("root", "targets", "snapshot", "timestamp")
    )
    password = secrets.new_key_password() if generates else None
    repository = init_repository(
        repo,
        password=password,
        key_type=key_type,
        keys=counts,
        thresholds=limits,
        expiry=expiry,
        keys_dir=keys_dir,
        external_keys=external,
        secrets_handler=secrets.handler,
        bins=bins,
    )
    if template:
        write_template(template_dir)
    for warning in setup_warnings(repository):
        click.echo(f"Warning: {warning}", err=True)
    status = repository_status(repository)
    if as_json:
        echo_json(status.to_dict())
        return
    click.echo(f"Created repository {repo}")
    for info in status.roles:
        state = "signed" if not info.problems else info.problems[0]
        click.echo(
            f"  {info.role:<10} {len(info.keys)} key(s), threshold {info.threshold}, "
            f"expires {info.expires:%Y-%m-%d}, {state}"
        )
    click.echo(f"Next: firmtuf add {repo} IMAGE --hardware-id ID --version V")
