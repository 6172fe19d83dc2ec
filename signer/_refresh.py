"""`firmtuf refresh`: keep snapshot and timestamp fresh with their online keys (cron-safe).

A run changes nothing unless something is due, so it can run every few minutes:

* snapshot: renewed when the fully signed targets roles changed since it was made, when
  it expires within the window, or with ``force``. While a targets role is an unsigned
  draft the snapshot keeps describing the last fully signed state (its expiry is still
  renewed): refresh never publishes what release engineers have not signed.
* timestamp: renewed when the snapshot was renewed (or changed), when it expires within
  the window, or with ``force``.

The window defaults to half of each role's validity period (12 hours for the default
1-day timestamp). Only snapshot, timestamp and the roles listing what changed are read:
a repository of thousands of hash bins is refreshed without reading the bins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tuf.api.metadata import Snapshot, Timestamp

from signer._errors import KeyProblemError, MetadataError
from signer._repository import FirmwareRepository, utcnow

_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class RefreshResult:
    """What :func:`refresh` did.

    Attributes:
        new_versions: role -> version created by this run (empty: nothing was due).
        reasons: role -> why it was renewed.
        waiting: targets roles whose unsigned drafts the snapshot does not include yet.
        expires: snapshot and timestamp expiry after the run.
    """

    new_versions: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    waiting: list[str] = field(default_factory=list)
    expires: dict[str, datetime] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.new_versions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "new_versions": self.new_versions,
            "reasons": self.reasons,
            "waiting": self.waiting,
            "expires": {r: e.strftime(_FORMAT) for r, e in self.expires.items()},
        }


def _due(
    repo: FirmwareRepository, role: str, now: datetime, within: timedelta | None
) -> str | None:
    expires = repo.metadata(role).signed.expires
    window = within if within is not None else repo.config.expiry_for(role) / 2
    if expires <= now:
        return f"expired {expires.strftime(_FORMAT)}"
    if expires - now <= window:
        return f"expires {expires.strftime(_FORMAT)}, within {_human(window)}"
    return None


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m"


def refresh(
    repo: FirmwareRepository,
    *,
    force: bool = False,
    within: timedelta | None = None,
    now: datetime | None = None,
) -> RefreshResult:
    """Renew snapshot and/or timestamp when due (see module docstring), then save.

    Args:
        repo: the repository, opened with a secrets handler or keyring that reaches the
            snapshot and timestamp keys.
        force: renew both even when nothing is due.
        within: renew a role expiring within this period (default: half its validity).
        now: the time to judge expiry against (default: now).

    Raises:
        KeyProblemError: a renewal was due but the snapshot or timestamp keys (their
            threshold) are not at hand; nothing is written.
        ConflictError: another command changed the repository meanwhile.
    """
    now = now or utcnow()
    result = RefreshResult()
    result.waiting = [r for r in repo.targets_roles() if not repo.is_complete(r)]
    snapshot_before = repo.metadata(Snapshot.type).signed.version
    why = _snapshot_due(repo, result.waiting, force=force, now=now, within=within)
    if why is not None:
        _renew_snapshot(repo, keep_content=bool(result.waiting))
        result.reasons[Snapshot.type] = why
    renewed = repo.metadata(Snapshot.type).signed.version != snapshot_before
    why = _timestamp_due(repo, renewed, force=force, now=now, within=within)
    if why is not None:
        try:
            repo.do_timestamp(force=True)
        except ValueError as e:
            raise MetadataError(f"cannot make a new timestamp: {e}") from None
        result.reasons[Timestamp.type] = why
    for role in result.reasons:
        _check_signed(repo, role, result.reasons[role])
        result.new_versions[role] = repo.metadata(role).signed.version
    if result.reasons:
        repo.save()
    for role in (Snapshot.type, Timestamp.type):
        result.expires[role] = repo.metadata(role).signed.expires
    return result


def _snapshot_due(
    repo: FirmwareRepository,
    waiting: list[str],
    *,
    force: bool,
    now: datetime,
    within: timedelta | None,
) -> str | None:
    """Why snapshot must be renewed now, or None."""
    if force:
        return "forced"
    if not waiting and repo.stale_reason(Snapshot.type):
        return f"targets changed: {repo.stale_reason(Snapshot.type)}"
    return _due(repo, Snapshot.type, now, within)


def _renew_snapshot(repo: FirmwareRepository, *, keep_content: bool) -> None:
    """A new snapshot: of the current roles, or (``keep_content``, while a targets role
    waits for signatures) the same content with a new version and expiry."""
    try:
        if keep_content:
            with repo.edit_snapshot():
                pass
        else:
            repo.do_snapshot(force=True)
    except ValueError as e:
        raise MetadataError(f"cannot make a new snapshot: {e}") from None


def _timestamp_due(
    repo: FirmwareRepository,
    snapshot_renewed: bool,
    *,
    force: bool,
    now: datetime,
    within: timedelta | None,
) -> str | None:
    """Why timestamp must be renewed now, or None."""
    if force:
        return "forced"
    if snapshot_renewed:
        return "snapshot renewed"
    if repo.stale_reason(Timestamp.type):
        return f"snapshot changed: {repo.stale_reason(Timestamp.type)}"
    return _due(repo, Timestamp.type, now, within)


def _check_signed(repo: FirmwareRepository, role: str, why: str) -> None:
    """Refuse a renewal its online keys could not sign (before anything is written)."""
    if not repo.is_complete(role):
        state = repo.signature_state(role)
        raise KeyProblemError(
            f"{role} is due ({why}) but only {len(state.signed)} of "
            f"{state.threshold} signature(s) could be made: its online key(s) are not "
            "at hand; nothing was written"
        )
