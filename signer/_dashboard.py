"""The release dashboard: one self-contained HTML page of a repository's state.

Per hardware id the newest firmware, every role's version, expiry (a countdown, coloured
at the refresh window) and signatures against its threshold, the open signing events
and whom they wait on, and a timeline of metadata expiry. Built from the same data as
`firmtuf status` (so the page and the exit code agree) and rendered by Jinja2 with
autoescaping: target names, hardware ids and notes are text an attacker may have chosen
(anyone holding a delegated role's key writes them). The page loads nothing from the
network, and its Content-Security-Policy allows only its own inline script (by hash), so
even a value that escaped the escaping could not run.
"""

from __future__ import annotations

import base64
import hashlib
import math
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from signer._errors import FirmtufError, MetadataError
from signer._events import RoleProgress, SignEvent, list_events
from signer._firmware import FirmwareFields
from signer._fsutil import atomic_write
from signer._repository import FirmwareRepository
from signer._status import RepositoryStatus, RoleStatus
from signer._store import LocalFile, Store
from signer._support import SupportInfo, support_window

DASHBOARD_FILE = "firmtuf-status.html"
"""Name of the page `firmtuf publish --dashboard` writes next to the published tree."""


@dataclass(frozen=True)
class SupportPeriod:
    """The signed support period of a hardware id (ADR 0009): security updates are
    promised until the end of ``until`` (UTC)."""

    hardware_id: str
    until: date
    """The last day of support."""
    url: str | None
    """Where the manufacturer publishes its support policy (text the declaring role chose)."""
    role: str
    """The role whose signed declaration it is (the role responsible for the hardware)."""
    signed: bool
    """False while that role is an unsigned draft (devices do not see it yet)."""
    state: str
    """``ok``, ``ending`` (inside the declaring role's refresh window: `status` warns)
    or ``ended``."""
    left_days: int
    """Whole days until support ends (0 once it has ended)."""
    shortened_from: date | None = None
    """The end date this declaration shortened, or None."""
    changes: int = 0
    """How many earlier declarations its signed history keeps."""


@dataclass
class FirmwareRow:
    """The newest firmware of one hardware id in the repository."""

    hardware_id: str
    target: str
    role: str
    version: str
    security_counter: int | None
    min_version: str | None
    notes: str | None
    length: int
    sha256: str
    role_signed: bool
    """False while the role holding the target is an unsigned draft (not yet live)."""
    versions: int = 1
    """How many firmware versions of this hardware id the repository holds."""
    support: SupportPeriod | None = None


@dataclass
class EventRow:
    """An open signing event: how far each role is signed and whom it waits on."""

    name: str
    created: str
    roles: list[RoleProgress] = field(default_factory=list)
    problem: str | None = None
    """Why the event cannot be used (the repository changed since it started, ...)."""


@dataclass
class Dashboard:
    """Everything the page shows, computed once at ``status.checked_at``."""

    status: RepositoryStatus
    firmware: list[FirmwareRow]
    events: list[EventRow]
    firmware_problems: list[str]
    windows: dict[str, timedelta]
    """Per role, the warning window `status` applies: min(warn, half its validity)."""
    support: list[SupportPeriod] = field(default_factory=list)
    """Every declared support period, by hardware id (with or without firmware)."""

    @property
    def support_without_firmware(self) -> list[SupportPeriod]:
        """Declarations of hardware ids the repository holds no firmware for."""
        with_firmware = {row.hardware_id for row in self.firmware}
        return [s for s in self.support if s.hardware_id not in with_firmware]

    @property
    def ok(self) -> bool:
        return self.status.ok


def build_dashboard(repo: FirmwareRepository, status: RepositoryStatus) -> Dashboard:
    """The dashboard of ``repo``: ``status`` (from :func:`repository_status`, so the page
    and `firmtuf status` agree) plus the newest firmware per hardware id and the open
    signing events.

    Raises:
        MetadataError: metadata cannot be read at all.
    """
    firmware, problems = _newest_firmware(repo)
    windows = {r.role: min(status.warn, repo.config.expiry_for(r.role) / 2) for r in status.roles}
    support = [_support_period(repo, item, status) for item in status.support]
    by_hardware = {s.hardware_id: s for s in support}
    for row in firmware:
        row.support = by_hardware.get(row.hardware_id)
    return Dashboard(status, firmware, _events(repo), problems, windows, support)


def _support_period(
    repo: FirmwareRepository, item: SupportInfo, status: RepositoryStatus
) -> SupportPeriod:
    """The page's view of a declaration: its state at ``status.checked_at`` under the
    same window `firmtuf status` warns in."""
    decl = item.declaration
    left = decl.ends_at - status.checked_at
    if left <= timedelta(0):
        state = "ended"
    elif left <= support_window(repo, item.role, status.warn):
        state = "ending"
    else:
        state = "ok"
    return SupportPeriod(
        hardware_id=decl.hardware_id,
        until=decl.support_until,
        url=decl.url,
        role=item.role,
        signed=item.signed,
        state=state,
        left_days=max(left.days, 0),
        shortened_from=decl.shortened_from,
        changes=len(decl.history),
    )


def _newest_firmware(repo: FirmwareRepository) -> tuple[list[FirmwareRow], list[str]]:
    rows: dict[str, FirmwareRow] = {}
    counts: dict[str, int] = {}
    problems: list[str] = []
    signed: dict[str, bool] = {}
    for role, name, info in repo.iter_targets():
        try:
            fields = FirmwareFields.from_target(name, info)
        except MetadataError as e:
            problems.append(f"{role}: {e}")
            continue
        if fields is None:
            continue
        if role not in signed:
            signed[role] = repo.signature_state(role).complete
        for hw in fields.hardware_ids:
            counts[hw] = counts.get(hw, 0) + 1
            known = rows.get(hw)
            if (
                known is not None
                and not FirmwareFields((hw,), known.version).parsed_version < fields.parsed_version
            ):
                continue
            rows[hw] = FirmwareRow(
                hardware_id=hw,
                target=name,
                role=role,
                version=fields.version,
                security_counter=fields.security_counter,
                min_version=fields.min_version,
                notes=fields.notes,
                length=info.length,
                sha256=str(info.hashes.get("sha256", "")),
                role_signed=signed[role],
            )
    for hw, row in rows.items():
        row.versions = counts[hw]
    return [rows[hw] for hw in sorted(rows)], problems


def _events(repo: FirmwareRepository) -> list[EventRow]:
    rows = []
    for name in list_events(repo):
        try:
            event = SignEvent(repo, name)
            status = event.status()
        except FirmtufError as e:
            rows.append(EventRow(name, "", problem=str(e)))
            continue
        rows.append(EventRow(status.name, status.created, status.roles))
    return rows


# -- rendering ---------------------------------------------------------------------------

_HOUR = 3600.0
_SCALE_MIN, _SCALE_MAX = _HOUR, 2 * 366 * 86400.0
_TICKS = [("1 h", _HOUR), ("1 d", 86400.0), ("7 d", 7 * 86400.0), ("30 d", 30 * 86400.0),
          ("91 d", 91 * 86400.0), ("1 y", 365 * 86400.0)]  # fmt: skip


def _position(seconds: float) -> float:
    """Where ``seconds`` of remaining validity sits on the timeline (0..1, log scale)."""
    if seconds <= _SCALE_MIN:
        return 0.0
    span = math.log(_SCALE_MAX) - math.log(_SCALE_MIN)
    return min(1.0, (math.log(seconds) - math.log(_SCALE_MIN)) / span)


def _left(seconds: float) -> str:
    if seconds <= 0:
        return "expired"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {rest // 60} min"


def _state(role: RoleStatus, now: datetime) -> str:
    if role.expires <= now:
        return "expired"
    if role.problems:
        return "problem"
    if role.warnings:
        return "warn"
    return "ok"


def visible(text: object) -> str:
    """``text`` with invisible and direction-changing characters shown as code points.

    Bidi overrides (U+202E ...), zero-width and control characters would make a hostile
    target name look like another one; on this page they appear as ``<U+202E>``.
    Escaping is still done by the template (autoescape), after this.
    """
    out = []
    for char in str(text):
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs"):
            out.append(f"<U+{ord(char):04X}>")
        else:
            out.append(char)
    return "".join(out)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("signer", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["visible"] = visible
    return env


def render_dashboard(dashboard: Dashboard) -> str:
    """The dashboard as one self-contained HTML page (inline CSS, inline SVG, one script)."""
    env = _environment()
    # The CSP names the page's own script and style by hash: nothing else can run.
    script = _source("dashboard.js")
    style = _source("dashboard.css")
    status = dashboard.status
    now = status.checked_at
    roles: list[dict[str, Any]] = []
    for role in status.roles:
        left = (role.expires - now).total_seconds()
        window = dashboard.windows[role.role].total_seconds()
        roles.append(
            {
                "status": role,
                "state": _state(role, now),
                "left": _left(left),
                "left_seconds": left,
                "warn_seconds": window,
                "position": _position(left),
                "warn_position": _position(window),
            }
        )
    return env.get_template("dashboard.html.j2").render(
        d=dashboard,
        status=status,
        roles=roles,
        now=now,
        ticks=[(label, _position(s)) for label, s in _TICKS],
        script=script,
        script_hash=_sha256_b64(script),
        style=style,
        style_hash=_sha256_b64(style),
    )


def _source(name: str) -> str:
    return resources.files("signer").joinpath("templates", name).read_text(encoding="utf-8")


def _sha256_b64(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def write_dashboard(dashboard: Dashboard, path: Path) -> None:
    """Write the page atomically (a reader sees the old page or the new one)."""
    atomic_write(path, render_dashboard(dashboard).encode())


def upload_dashboard(store: Store, dashboard: Dashboard) -> str:
    """Put the page into ``store`` beside the published tree; returns its key.

    Uploaded after the tree (never part of it: devices do not read it), replacing the
    previous page unconditionally: it is a report, not a release.
    """
    with tempfile.TemporaryDirectory(prefix="firmtuf-dashboard-") as tmp:
        path = Path(tmp) / DASHBOARD_FILE
        data = render_dashboard(dashboard).encode()
        path.write_bytes(data)
        store.put(
            LocalFile(
                DASHBOARD_FILE,
                path,
                len(data),
                hashlib.sha256(data).hexdigest(),
                hashlib.md5(data, usedforsecurity=False).hexdigest(),
            )
        )
    return DASHBOARD_FILE
