"""`firmtuf add REPO IMAGE...`."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click

from signer import (
    FirmwareFields,
    FirmwareRepository,
    ProgressCallback,
    StageCallback,
    add_firmware,
)
from signer.cli._advice import image_warnings
from signer.cli._common import echo_json, json_option
from signer.cli._locking import locks_repo

PROGRESS_THRESHOLD = 8 << 20
"""Show progress when the images add up to at least this many bytes."""

LOG_EVERY_SECONDS = 5.0
"""Without a terminal, a progress line at least this often (and at each tenth done)."""

_STAGES = {"sync": "Syncing the stored image to disk", "metadata": "Updating targets metadata"}


class _LineProgress:
    """Progress as plain lines, for a stderr that is not a terminal (CI logs)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.tenth = 0
        self.last = time.monotonic()

    def update(self, n: int) -> None:
        self.done += n
        tenth = self.done * 10 // self.total
        now = time.monotonic()
        if tenth > self.tenth or now - self.last >= LOG_EVERY_SECONDS:
            self.tenth = tenth
            self.last = now
            click.echo(
                f"Hashing and storing: {self.done >> 20} of {self.total >> 20} MiB "
                f"({self.done * 100 // self.total}%)",
                err=True,
            )


@contextlib.contextmanager
def _progress(
    images: tuple[Path, ...],
) -> Iterator[tuple[ProgressCallback | None, StageCallback | None]]:
    total = sum(p.stat().st_size for p in images if p.is_file())
    if total < PROGRESS_THRESHOLD:
        yield None, None
        return

    def stage(name: str) -> None:
        click.echo(f"{_STAGES.get(name, name)}...", err=True)

    if not sys.stderr.isatty():
        yield _LineProgress(total).update, stage
        return
    with click.progressbar(length=total, label="Hashing and storing", file=sys.stderr) as bar:
        started = [False]

        def tty_stage(name: str) -> None:
            # The bar's line is finished first, so the stage starts a line of its own.
            if not started[0]:
                started[0] = True
                bar.render_finish()
            stage(name)

        yield bar.update, tty_stage


@click.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--hardware-id",
    "hardware_ids",
    multiple=True,
    required=True,
    metavar="ID",
    help="Device model the image runs on. Repeatable.",
)
@click.option(
    "--version",
    "version",
    required=True,
    metavar="V",
    help="Firmware version (N.N.N[-pre], compared as a version).",
)
@click.option(
    "--security-counter",
    type=int,
    default=None,
    metavar="N",
    help="Anti-rollback counter (0 to 2^63-1).",
)
@click.option(
    "--min-version",
    default=None,
    metavar="V",
    help="Version a device must already run to install this one.",
)
@click.option("--notes", default=None, metavar="TEXT", help="Release notes (informational).")
@click.option(
    "--name",
    default=None,
    metavar="PATH",
    help="Target name (default HARDWARE_ID/VERSION/FILE_NAME); one image only.",
)
@click.option(
    "--hash",
    "hashes",
    multiple=True,
    type=click.Choice(["sha256", "sha512"]),
    help="Extra hash to record (sha256 is always recorded).",
)
@click.option(
    "--allow-downgrade",
    is_flag=True,
    help="Accept a version that is not newer than an existing one.",
)
@click.option(
    "--role",
    default=None,
    metavar="ROLE",
    help="Targets role to add to (default: the role delegated the name).",
)
@click.option(
    "--sbom",
    type=click.Path(path_type=Path),
    default=None,
    metavar="FILE",
    help="SBOM of the release (CycloneDX or SPDX JSON, at most 8 MiB), stored as its own "
    "target and linked from every image.",
)
@click.option(
    "--sbom-name",
    default=None,
    metavar="PATH",
    help="Target name of the SBOM (default HARDWARE_ID/VERSION/SBOM_FILE_NAME).",
)
@json_option
@locks_repo("exclusive")
def add(
    repo: Path,
    images: tuple[Path, ...],
    hardware_ids: tuple[str, ...],
    version: str,
    security_counter: int | None,
    min_version: str | None,
    notes: str | None,
    name: str | None,
    hashes: tuple[str, ...],
    allow_downgrade: bool,
    role: str | None,
    sbom: Path | None,
    sbom_name: str | None,
    as_json: bool,
) -> None:
    """Add firmware IMAGES to REPO as targets (unsigned until `firmtuf sign`).

    With --sbom, the SBOM is checked (a JSON object naming its format as CycloneDX or
    SPDX do) before anything is written; exit 3 when it is not one.
    """
    repository = FirmwareRepository(repo)
    for warning in image_warnings(images):
        click.echo(f"Warning: {warning}", err=True)
    fields = FirmwareFields(hardware_ids, version, security_counter, min_version, notes)
    with _progress(images) as (progress, stage):
        added = add_firmware(
            repository,
            images,
            fields,
            name=name,
            hash_algorithms=hashes,
            allow_downgrade=allow_downgrade,
            progress=progress,
            role=role,
            sbom=sbom,
            sbom_name=sbom_name,
            stage=stage,
        )
    if as_json:
        echo_json([a.to_dict() for a in added])
        return
    for target in added:
        what = "SBOM " if target.kind == "sbom" else ""
        click.echo(
            f"Added {what}{target.name} to {target.role} "
            f"({target.length} bytes, sha256 {target.hashes['sha256']})"
        )
    click.echo(f"Next: firmtuf sign {repo}")
