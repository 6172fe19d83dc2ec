"""Newest firmware version per hardware id across hash bins, cached for `firmtuf add`.

`add` refuses a version that is not newer than an existing one for the same hardware id.
In a repository of hash bins the targets of one hardware id are spread over every bin,
and reading them all would cost what bins are meant to save. So the newest version per
hardware id of the binned targets is cached in ``REPO/firmtuf-index.json`` (a local
cache: git-ignore it or not, it is rebuilt when it does not match) together with a
fingerprint of every bin's version. A cache whose fingerprint differs from the bins on
disk (another clone's changes, a hand edit) is rebuilt by reading every bin once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from signer._errors import ConflictError
from signer._firmware import FirmwareFields, parse_firmware_version
from signer._fsutil import atomic_write
from signer._repository import FirmwareRepository

INDEX_FILE = "firmtuf-index.json"
_FORMAT = 1

Newest = dict[str, tuple[str, str]]
"""Hardware id -> (newest version, target name)."""


def index_path(repo: FirmwareRepository) -> Path:
    return repo.path / INDEX_FILE


def _fingerprint(repo: FirmwareRepository, bins: Iterable[str]) -> str:
    h = hashlib.sha256()
    for role in sorted(bins):
        h.update(f"{role}:{repo.role_version(role)}\n".encode())
    return h.hexdigest()


def _read(path: Path) -> tuple[str, Newest] | None:
    try:
        data = json.loads(path.read_bytes())
        if data.get("format") != _FORMAT:
            return None
        newest = {hw: (str(v[0]), str(v[1])) for hw, v in data["newest"].items()}
        return str(data["fingerprint"]), newest
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None


def _merge(newest: Newest, name: str, fields: FirmwareFields) -> None:
    for hw in fields.hardware_ids:
        known = newest.get(hw)
        if known is None or fields.parsed_version > parse_firmware_version(known[0]):
            newest[hw] = (fields.version, name)


def newest_in_bins(repo: FirmwareRepository, bins: set[str]) -> Newest:
    """Newest version per hardware id among the targets of ``bins`` (cached)."""
    cached = _read(index_path(repo))
    if cached is not None and cached[0] == _fingerprint(repo, bins):
        return cached[1]
    return _scan(repo, bins)


def rebuild(repo: FirmwareRepository, bins: set[str]) -> None:
    """Read every bin and store the cache (after bulk changes, e.g. a conversion)."""
    record_added(repo, bins, _scan(repo, bins), {})


def _scan(repo: FirmwareRepository, bins: set[str]) -> Newest:
    newest: Newest = {}
    for role in sorted(bins):
        for name, info in repo.metadata(role).signed.targets.items():
            fields = FirmwareFields.from_target(name, info)
            if fields is not None:
                _merge(newest, name, fields)
    return newest


def check_newer_in_bins(newest: Newest, fields: FirmwareFields) -> None:
    """Raise ConflictError when ``fields.version`` is not newer for a shared hardware id."""
    for hw in fields.hardware_ids:
        known = newest.get(hw)
        if known is not None and not fields.parsed_version > parse_firmware_version(known[0]):
            raise ConflictError(
                f"version {fields.version} is not newer than {known[0]} "
                f"({known[1]}) for hardware id {hw!r}; use --allow-downgrade to add it"
            )


def record_added(
    repo: FirmwareRepository, bins: set[str], newest: Newest, added: dict[str, FirmwareFields]
) -> None:
    """Store the cache after ``added`` (target name -> fields) went into bins and was saved."""
    for name, fields in added.items():
        _merge(newest, name, fields)
    data = {
        "format": _FORMAT,
        "fingerprint": _fingerprint(repo, bins),
        "newest": {hw: list(v) for hw, v in sorted(newest.items())},
    }
    # A cache: failing to write it only costs a rebuild next time.
    with contextlib.suppress(OSError):
        atomic_write(index_path(repo), json.dumps(data, indent=1).encode())


def forget(repo: FirmwareRepository) -> None:
    """Drop the cache (after a removal: the next `add` rebuilds it)."""
    with contextlib.suppress(OSError):
        index_path(repo).unlink()
