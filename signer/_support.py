"""Support periods (ADR 0009): one signed declaration per hardware id.

The declaration of hardware id ``H`` is the target ``H/support/period.json`` in the role
a device's delegation search for that name reaches, so the team whose role is trusted
for ``H``'s firmware is the one that declares its support period. A period may be
extended; shortening needs ``shorten=True``, and every earlier declaration stays in the
signed ``history``.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from tuf.api.metadata import TargetFile

from signer import _latest
from signer._delegations import check_hardware_ids_admitted
from signer._errors import ConflictError, MetadataError
from signer._firmware import (
    SUPPORT_KEY,
    SUPPORT_SUFFIX,
    SupportDeclaration,
    SupportEntry,
    support_target_name,
    validate_hardware_id,
    validate_target_name,
    validate_url,
)
from signer._fsutil import atomic_write
from signer._repository import FirmwareRepository, store_name, utcnow

_FORMAT = "%Y-%m-%d"


@dataclass(frozen=True)
class SupportInfo:
    """A declaration as the repository holds it."""

    declaration: SupportDeclaration
    target: str
    role: str
    signed: bool
    """False while the role holding it is an unsigned draft (devices do not see it yet)."""

    def to_dict(self) -> dict[str, Any]:
        decl = self.declaration
        shortened = decl.shortened_from
        return {
            **decl.to_dict(),
            "ends_at": decl.ends_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "shortened_from": None if shortened is None else shortened.isoformat(),
            "target": self.target,
            "role": self.role,
            "signed": self.signed,
        }

    def describe(self, now: datetime) -> str:
        """One line for people: the period, its state, and a shortening when there was one."""
        decl = self.declaration
        state = "ENDED" if decl.ends_at <= now else "until"
        text = f"{decl.hardware_id}: {state} {decl.support_until:{_FORMAT}}"
        if decl.url:
            text += f"  {decl.url}"
        text += f"  ({self.role}{'' if self.signed else ', unsigned draft'})"
        if decl.shortened_from is not None:
            text += (
                f"  SHORTENED from {decl.shortened_from:{_FORMAT}} "
                f"on {decl.current.declared:{_FORMAT}}"
            )
        return text


@dataclass(frozen=True)
class SupportChange:
    """What :func:`set_support` did."""

    info: SupportInfo
    previous: SupportDeclaration | None
    changed: bool
    """False when the same period and URL were already declared (nothing written)."""

    @property
    def kind(self) -> str:
        """``declared`` (first), ``extended``, ``shortened``, ``updated`` (URL), ``unchanged``."""
        if not self.changed:
            return "unchanged"
        if self.previous is None:
            return "declared"
        before, after = self.previous.support_until, self.info.declaration.support_until
        return "extended" if after > before else "shortened" if after < before else "updated"

    def to_dict(self) -> dict[str, Any]:
        return {
            "change": self.kind,
            "previous_until": None
            if self.previous is None
            else self.previous.support_until.isoformat(),
            **self.info.to_dict(),
        }


@dataclass(frozen=True)
class _Entry:
    role: str
    declaration: SupportDeclaration | None
    """None: the target is not a support declaration."""


def _current(repo: FirmwareRepository, name: str) -> _Entry | None:
    """The entry a device finds for target ``name``, or None."""
    for role in repo.graph.search(name):
        info = repo.metadata(role).signed.targets.get(name)
        if info is not None:
            return _Entry(role, SupportDeclaration.from_target(name, info))
    return None


def set_support(
    repo: FirmwareRepository,
    hardware_id: str,
    until: date,
    *,
    url: str | None = None,
    shorten: bool = False,
    role: str | None = None,
    now: datetime | None = None,
) -> SupportChange:
    """Declare that ``hardware_id`` gets security updates until ``until`` (inclusive) and save.

    The role holding the declaration becomes an unsigned draft, as with `add`. The URL
    is kept from the current declaration unless ``url`` is given.

    Raises:
        InvalidInputError: bad hardware id or URL; ``role`` unknown or not delegated the
            declaration's name; a delegation on the way to the role is bound to hardware
            ids that exclude ``hardware_id``.
        ConflictError: ``until`` is earlier than the declared date and ``shorten`` is
            False; the name is taken by a target that is not a declaration; ``role`` is
            not the role holding the current declaration.
    """
    validate_hardware_id(hardware_id, new=True)
    if url is not None:
        validate_url(url)
    name = support_target_name(hardware_id)
    validate_target_name(name)
    when = (now or utcnow()).replace(microsecond=0)
    role, previous = _declared(repo, name, hardware_id, until, role=role, shorten=shorten)
    target_role = repo.graph.route(name, role)
    # Devices take a declaration only from roles whose delegations admit its hardware
    # (docs/adr/0008), as for firmware.
    check_hardware_ids_admitted(name, [hardware_id], repo.graph.path(name, target_role))
    if previous is not None and url is None:
        url = previous.url
    if previous is not None and (previous.support_until, previous.url) == (until, url):
        info = SupportInfo(previous, name, target_role, repo.is_complete(target_role))
        return SupportChange(info, previous, changed=False)
    history = () if previous is None else (*previous.history, previous.current)
    declaration = SupportDeclaration(hardware_id, SupportEntry(until, when, url), history)
    _write(repo, target_role, name, declaration)
    info = SupportInfo(declaration, name, target_role, signed=False)
    return SupportChange(info, previous, changed=True)


def _declared(
    repo: FirmwareRepository,
    name: str,
    hardware_id: str,
    until: date,
    *,
    role: str | None,
    shorten: bool,
) -> tuple[str | None, SupportDeclaration | None]:
    """(role, declaration) of the current declaration ``name`` (``role`` and None when
    there is none), checked: a declaration, in ``role`` if given, not shortened unless
    ``shorten``.

    Raises:
        ConflictError: see :func:`set_support`.
    """
    found = _current(repo, name)
    if found is None:
        return role, None
    found_role, previous = found.role, found.declaration
    if previous is None:
        raise ConflictError(f"target {name!r} exists and is not a support declaration")
    if role is not None and role != found_role:
        raise ConflictError(
            f"the support declaration of {hardware_id!r} is in role {found_role} "
            "(the one devices read): omit --role"
        )
    if until < previous.support_until and not shorten:
        raise ConflictError(
            f"{until.isoformat()} would shorten the support period of {hardware_id!r} "
            f"(declared until {previous.support_until.isoformat()}); give --shorten to "
            "shorten it (recorded in its history and shown by status)"
        )
    return found_role, previous


def remove_support(repo: FirmwareRepository, hardware_id: str) -> SupportInfo:
    """Withdraw ``hardware_id``'s support declaration and save (devices then see none).

    Raises:
        ConflictError: no declaration for ``hardware_id``.
    """
    name = support_target_name(hardware_id)
    found = _current(repo, name)
    declaration = None if found is None else found.declaration
    if found is None or declaration is None:
        raise ConflictError(f"no support declaration for hardware id {hardware_id!r}")
    role = found.role
    bins = repo.graph.bins()
    newest = _latest.newest_in_bins(repo, bins) if role in bins else None
    with repo.edit_targets(role) as targets:
        del targets.targets[name]
    repo.save()
    if newest is not None:
        _latest.record_added(repo, bins, newest, {})
    return SupportInfo(declaration, name, role, signed=False)


def _write(repo: FirmwareRepository, role: str, name: str, declaration: SupportDeclaration) -> None:
    data = declaration.to_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    info = TargetFile(
        len(data),
        {"sha256": sha256},
        name,
        unrecognized_fields={"custom": {SUPPORT_KEY: declaration.to_dict()}},
    )
    bins = repo.graph.bins()
    newest = _latest.newest_in_bins(repo, bins) if role in bins else None
    stored = repo.targets_dir / store_name(sha256, name)
    created = not stored.exists()
    if created:
        atomic_write(stored, data)
    try:
        with repo.edit_targets(role) as targets:
            targets.targets[name] = info
        repo.save()
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                stored.unlink()
        raise
    if newest is not None:
        _latest.record_added(repo, bins, newest, {})


def list_support(repo: FirmwareRepository, *, skip_malformed: bool = False) -> list[SupportInfo]:
    """Every support declaration of the repository, by hardware id.

    Raises:
        MetadataError: a declaration is malformed (unless ``skip_malformed``: `status`
            reports it as a problem of its role).
    """
    found: dict[str, SupportInfo] = {}
    signed: dict[str, bool] = {}
    for role, name, info in repo.iter_targets():
        if not name.endswith(SUPPORT_SUFFIX) and SUPPORT_KEY not in info.custom:
            continue
        try:
            declaration = SupportDeclaration.from_target(name, info)
        except MetadataError:
            if skip_malformed:
                continue
            raise
        if declaration is None or name in found:
            continue
        if role not in signed:
            signed[role] = repo.is_complete(role)
        found[name] = SupportInfo(declaration, name, role, signed[role])
    return sorted(found.values(), key=lambda s: s.declaration.hardware_id)


def support_window(repo: FirmwareRepository, role: str, warn: timedelta) -> timedelta:
    """How long before its end a support period is reported as ending: the refresh
    window of the role declaring it (half its validity), or ``warn`` when longer."""
    return max(warn, repo.config.expiry_for(role) / 2)


def support_warnings(
    repo: FirmwareRepository, declarations: list[SupportInfo], now: datetime, warn: timedelta
) -> list[tuple[str, str]]:
    """``(role, warning)`` for every period that ends within its role's refresh window."""
    warnings = []
    for item in declarations:
        decl = item.declaration
        left = decl.ends_at - now
        if timedelta(0) < left <= support_window(repo, item.role, warn):
            days = max(left.days, 0)
            warnings.append(
                (
                    item.role,
                    f"support for {decl.hardware_id!r} ends after {decl.support_until:{_FORMAT}} "
                    f"(in {days} day{'s' if days != 1 else ''}): extend it with 'firmtuf "
                    "support set' or let it end",
                )
            )
    return warnings
