"""`firmtuf status`: health of every role, as data for people and for CI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tuf.api.metadata import Root, Snapshot, Timestamp

from signer._errors import MetadataError
from signer._firmware import check_targets_content
from signer._graph import DelegationBinding
from signer._image_check import ImageCheck, check_stored_images
from signer._repository import FirmwareRepository, utcnow
from signer._signers import signer_uri
from signer._support import SupportInfo, list_support, support_warnings


@dataclass
class KeyStatus:
    """One key of a role."""

    keyid: str
    keytype: str
    scheme: str
    signer_uri: str | None
    signed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "keyid": self.keyid,
            "keytype": self.keytype,
            "scheme": self.scheme,
            "signer_uri": self.signer_uri,
            "signed": self.signed,
        }


@dataclass
class RoleStatus:
    """Health of one role's current metadata."""

    role: str
    version: int
    expires: datetime
    threshold: int
    signatures: int
    keys: list[KeyStatus]
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    targets: int | None = None
    under_signed: bool = False
    """Its threshold (for root also the previous root's) is not met: signing fixes it."""
    binding: DelegationBinding | None = None
    """The hardware-id bindings a delegated role is subject to (None for top-level roles)."""

    @property
    def ok(self) -> bool:
        return not self.problems and not self.warnings

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "role": self.role,
            "version": self.version,
            "expires": self.expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "threshold": self.threshold,
            "signatures": self.signatures,
            "keys": [k.to_dict() for k in self.keys],
            "problems": self.problems,
            "warnings": self.warnings,
        }
        if self.targets is not None:
            data["targets"] = self.targets
        if self.binding is not None:
            data["hardware_ids"] = self.binding.own
            data["hardware_ids_within"] = dict(self.binding.within)
        return data


@dataclass
class RepositoryStatus:
    """Health of a working repository: ``ok`` is False when any role needs attention."""

    path: str
    checked_at: datetime
    warn: timedelta
    roles: list[RoleStatus]
    images: ImageCheck = field(default_factory=lambda: ImageCheck(checked=False))
    support: list[SupportInfo] = field(default_factory=list)
    """Support declarations (ADR 0009); one ending soon is a warning of its role."""

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.roles)

    def to_dict(self) -> dict[str, Any]:
        return {
            "repository": self.path,
            "checked_at": self.checked_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "warn_seconds": int(self.warn.total_seconds()),
            "ok": self.ok,
            "roles": [r.to_dict() for r in self.roles],
            "images": self.images.to_dict(),
            "support": [s.to_dict() for s in self.support],
        }


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600} hours"
    return f"{max(seconds // 60, 0)} minutes"


def repository_status(
    repo: FirmwareRepository,
    *,
    warn: timedelta = timedelta(days=7),
    now: datetime | None = None,
    check_images: bool = False,
) -> RepositoryStatus:
    """Inspect every role: versions, expiry, keys, thresholds, signatures, consistency.

    A role has *problems* when it is expired, under-signed or stale (snapshot/timestamp
    not describing the current roles, malformed firmware fields), and *warnings* when it
    expires within ``warn`` -- or within half its validity period when that is shorter,
    so a fresh 1-day timestamp is not a warning under the default 7 days.

    A support period (ADR 0009) ending within the refresh window of the role declaring
    it (half its validity, or ``warn`` when longer) is a warning of that role.

    With ``check_images`` every stored image is hashed against its metadata: a corrupt
    one is a problem of the role listing it; one absent from the local store is reported
    in ``images.missing`` only (CI checkouts keep images out of git).

    Raises:
        MetadataError: metadata cannot be read at all.
    """
    now = now or utcnow()
    roles = [Root.type, *repo.targets_roles(), Snapshot.type, Timestamp.type]
    bindings = repo.graph.bindings()
    result = [_role_status(repo, role, now, warn, bindings.get(role)) for role in roles]
    report = RepositoryStatus(str(repo.path), now, warn, result)
    report.support = list_support(repo, skip_malformed=True)
    by_role = {r.role: r for r in result}
    for role, warning in support_warnings(repo, report.support, now, warn):
        by_role[role].warnings.append(warning)
    if check_images:
        report.images = check_stored_images(repo)
        for name, role in sorted(report.images.corrupt.items()):
            by_role[role].problems.append(
                f"stored image of {name!r} does not match its metadata (corrupt): "
                f"restore it or remove and re-add the target"
            )
    return report


def _role_status(
    repo: FirmwareRepository,
    role: str,
    now: datetime,
    warn: timedelta,
    binding: DelegationBinding | None,
) -> RoleStatus:
    md = repo.metadata(role)
    state = repo.signature_state(role)
    keys = [
        KeyStatus(key.keyid, key.keytype, key.scheme, signer_uri(key), key.keyid in state.signed)
        for key in repo.signing_keys(role)
    ]
    status = RoleStatus(
        role, md.signed.version, md.signed.expires, state.threshold, len(state.signed), keys
    )
    status.binding = binding
    if not state.complete:
        status.under_signed = True
        status.problems.append(f"under-signed: {state.describe()}")
    if md.signed.expires <= now:
        status.problems.append(f"expired {md.signed.expires:%Y-%m-%d %H:%M} UTC")
    elif md.signed.expires - now <= min(warn, repo.config.expiry_for(role) / 2):
        status.warnings.append(f"expires in {_human(md.signed.expires - now)}")
    if role in (Snapshot.type, Timestamp.type):
        stale = repo.stale_reason(role)
        if stale:
            status.problems.append(f"stale: {stale}")
    if role not in (Root.type, Snapshot.type, Timestamp.type):
        status.targets = len(getattr(md.signed, "targets", {}))
        try:
            check_targets_content(role, md.signed)
        except MetadataError as e:
            status.problems.append(str(e))
    return status
