"""What the repository must know of signing events: where they live and which roles an
open one covers, so that no change makes the signatures collected there worthless.

Kept apart from :mod:`signer._events` (which builds on the repository) so that
``FirmwareRepository.save`` can refuse such a change without importing it.
"""

from __future__ import annotations

import json
from pathlib import Path

from signer._errors import ConflictError

EVENTS_DIR = "sign-events"


def event_roles(path: Path) -> tuple[list[str], list[str]] | None:
    """(roles to sign, every role the event depends on) of an event folder, or None."""
    try:
        info = json.loads((path / "event.json").read_bytes())
        roles = [str(r) for r in info["roles"]]
        base = [str(r) for r in info["base"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return roles, base


def events_covering(repo_path: Path, roles: list[str], exempt: str | None = None) -> dict[str, str]:
    """Role -> name of an open signing event whose drafts a change of that role would
    make stale (the role is signed in the event, or delegates to one that is)."""
    folder = repo_path / EVENTS_DIR
    found: dict[str, str] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        if path.name == exempt or not path.is_dir():
            continue
        parsed = event_roles(path)
        if parsed is None:
            continue
        for role in roles:
            if role in parsed[1]:
                found.setdefault(role, path.name)
    return found


def check_no_open_event(repo_path: Path, roles: list[str], exempt: str | None = None) -> None:
    """Refuse a change to ``roles`` that would make an open signing event stale.

    Raises:
        ConflictError: an event (other than ``exempt``) covers one of them.
    """
    covered = events_covering(repo_path, roles, exempt)
    if covered:
        role, name = next(iter(covered.items()))
        raise ConflictError(
            f"signing event {name!r} is open on {role}: this change would make the "
            "signatures collected there worthless (every holder would have to sign "
            f"again). Finish or cancel it first (firmtuf sign-event finish|cancel "
            f"{repo_path} {name}), or use --force and start the event anew"
        )
