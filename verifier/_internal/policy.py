"""Firmware policy (docs/adr/0001): which trusted firmware target a device may install.

No I/O and no trust decisions: the targets handed in here were found by the delegation
search in verified metadata, with the delegations on their search path. The rules:
every delegation on the path admits the device's hardware id (docs/adr/0008), the image
names that hardware, is newer than installed (unless the unsafe downgrade is allowed),
its security counter is never below the device's, the ``min_version`` it needs is met;
the newest acceptable target wins, by version then security counter. A component's
recorded state (docs/adr/0010) adds: never a target it marked failed or has staged.
Recording an install keeps the stored counter monotonic.
"""

from __future__ import annotations

from enum import StrEnum

from verifier._config import DevicePolicy
from verifier._errors import MetadataFormatError, PolicyError
from verifier._internal.device_state import MAX_REJECTED, Installed, PendingInstall, Rejected
from verifier._internal.metadata import admits_hardware_id
from verifier._internal.names import check_target_name
from verifier._internal.version import FirmwareVersion

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from collections.abc import Iterable
    from typing import Any

    from verifier._internal.device_state import ComponentState
    from verifier._internal.firmware import FirmwareInfo
    from verifier._internal.metadata import Delegation, TargetFile

    Candidate = tuple[TargetFile, tuple[Delegation, ...]]


class RefusalReason(StrEnum):
    """Why ``check()`` did not offer a firmware for this hardware (``Refusal.reason``)."""

    NOT_NEWER = "not-newer"
    """Not newer than the installed version (routine: every older release)."""
    SECURITY_COUNTER = "security-counter"
    """Its security counter is below the device's (anti-rollback)."""
    MIN_VERSION = "min-version"
    """It needs a newer installed version first (``min_version``)."""
    MARKED_FAILED = "marked-failed"
    """This component marked it failed (``mark_failed``); a newer image is offered."""
    PENDING = "pending"
    """It is staged and waits for ``confirm()`` or ``mark_failed()``."""
    DELEGATION = "delegation"
    """A delegation on its search path may not ship to this hardware (ADR 0008)."""
    MALFORMED = "malformed"
    """Its ``custom.firmtuf`` is malformed and does not name this hardware (skipped)."""


ROUTINE = frozenset((RefusalReason.NOT_NEWER, RefusalReason.PENDING, RefusalReason.MALFORMED))
"""Refusals that are the normal state of a device (logged at debug, the others warn)."""


class Refusal:
    """A firmware for this hardware that ``check()`` did not offer, and why.

    Attributes:
        target: the target, as trusted metadata describes it.
        reason: a :class:`RefusalReason`.
        message: the reason in words.
    """

    __slots__ = ("message", "reason", "target")

    def __init__(self, target: TargetFile, reason: RefusalReason, message: str) -> None:
        self.target = target
        self.reason = reason
        self.message = message

    def __repr__(self) -> str:
        return f"Refusal({self.target.path!r}, {self.reason.value!r}, {self.message!r})"


class CheckReport:
    """What ``Updater.check_report()`` found.

    Attributes:
        target: the newest firmware this device may install, or None.
        refused: every firmware for this hardware that was not offered, in name order.
    """

    __slots__ = ("refused", "target")

    def __init__(self, target: TargetFile | None, refused: list[Refusal]) -> None:
        self.target = target
        self.refused = refused

    def __repr__(self) -> str:
        chosen = None if self.target is None else self.target.path
        return f"CheckReport(target={chosen!r}, refused={len(self.refused)})"


def refusal(policy: DevicePolicy, fw: FirmwareInfo) -> tuple[RefusalReason, str] | None:
    """Why ``fw`` (for this hardware) may not be installed under ``policy``, or None.

    An old release is ``NOT_NEWER`` (routine) even when its counter is lower too: only a
    newer version the counter refuses is worth a warning.
    """
    if fw.version <= policy.installed_version and not policy.unsafe_allow_downgrade:
        return RefusalReason.NOT_NEWER, (
            f"version {fw.version} is not newer than installed {policy.installed_version}"
        )
    if fw.security_counter < policy.security_counter:
        return RefusalReason.SECURITY_COUNTER, (
            f"security counter {fw.security_counter} is below the device's "
            f"{policy.security_counter}"
        )
    if fw.min_version is not None and policy.installed_version < fw.min_version:
        return RefusalReason.MIN_VERSION, f"needs installed version >= {fw.min_version}"
    return None


def problem(policy: DevicePolicy, fw: FirmwareInfo) -> str | None:
    """Why ``fw`` (for this hardware) may not be installed under ``policy``, or None."""
    found = refusal(policy, fw)
    return None if found is None else found[1]


def binding_problem(hardware_id: str, path: tuple[Delegation, ...]) -> str | None:
    """Why a delegation on ``path`` may not ship to ``hardware_id`` (ADR 0008), or None."""
    for entry in path:
        if not admits_hardware_id(entry.hardware_ids, hardware_id):
            bound = ", ".join(entry.hardware_ids or ())
            return (
                f"delegation {entry.name!r} may not ship to hardware {hardware_id!r} "
                f"(bound to {bound})"
            )
    return None


def verify(policy: DevicePolicy, target: TargetFile, path: tuple[Delegation, ...] = ()) -> None:
    """Raises PolicyError unless ``target`` (found through ``path``) is firmware
    ``policy`` may install.

    Raises:
        PolicyError: a delegation on the path may not ship to this hardware, not
            firmware, wrong hardware id, downgrade, counter or min_version.
        MetadataFormatError: ``custom.firmtuf`` is malformed.
    """
    bound = binding_problem(policy.hardware_id, path)
    if bound is not None:
        raise PolicyError(f"{target.path}: {bound}")
    fw = _firmware_for(policy, target)
    why = problem(policy, fw)
    if why is not None:
        raise PolicyError(f"{target.path}: {why}")


def choose(
    policy: DevicePolicy,
    candidates: Iterable[Candidate],
    state: ComponentState | None = None,
) -> CheckReport:
    """The newest candidate ``policy`` accepts (by version, then security counter), and
    the candidates for this hardware it refused (binding, version, counter,
    ``min_version``; with ``state``, targets this component marked failed or has
    staged). A malformed firmware entry that is not this device's is refused too
    (``MALFORMED``): it does not stop this device's update.

    Raises:
        MetadataFormatError: a malformed firmware entry that names this hardware id.
        UnsafeTargetNameError: a firmware for this hardware has an unsafe name.
    """
    hardware_id = policy.hardware_id
    best: tuple[Any, ...] | None = None
    chosen: TargetFile | None = None
    refused: list[Refusal] = []
    for target, path in candidates:
        bound = binding_problem(hardware_id, path)
        if bound is not None:
            # Not this device's to consider, whatever the entry says (or how malformed).
            if _names_hardware(target, hardware_id):
                refused.append(Refusal(target, RefusalReason.DELEGATION, bound))
            continue
        try:
            fw = target.firmware
        except MetadataFormatError as e:
            if _names_hardware(target, hardware_id):
                raise
            message = f"malformed, not for this hardware: {e}"
            refused.append(Refusal(target, RefusalReason.MALFORMED, message))
            continue
        if fw is None or hardware_id not in fw.hardware_ids:
            continue
        check_target_name(target.path)
        why = refusal(policy, fw)
        if why is None and state is not None:
            why = _state_refusal(state, target)
        if why is not None:
            refused.append(Refusal(target, *why))
            continue
        key = (fw.version, fw.security_counter)
        if best is None or key > best:
            best, chosen = key, target
    return CheckReport(chosen, refused)


def _names_hardware(target: TargetFile, hardware_id: str) -> bool:
    """Whether a (possibly malformed) firmware entry names ``hardware_id``."""
    raw = (target.custom or {}).get("firmtuf")
    ids = raw.get("hardware_ids") if isinstance(raw, dict) else None
    return ids == hardware_id or (isinstance(ids, list) and hardware_id in ids)


def _state_refusal(state: ComponentState, target: TargetFile) -> tuple[RefusalReason, str] | None:
    rejected = state.rejection_of(target)
    if rejected is not None:
        return RefusalReason.MARKED_FAILED, f"marked failed on this device: {rejected.reason}"
    if state.pending is not None and state.pending.target == target:
        return RefusalReason.PENDING, "staged, waiting for confirm() or mark_failed()"
    return None


def _firmware_for(policy: DevicePolicy, target: TargetFile) -> FirmwareInfo:
    fw = target.firmware
    if fw is None:
        raise PolicyError(f"{target.path} is not firmware (no custom.firmtuf)")
    if policy.hardware_id not in fw.hardware_ids:
        raise PolicyError(f"{target.path} is not for hardware {policy.hardware_id!r}")
    return fw


def record_install(policy: DevicePolicy, target: TargetFile, state: ComponentState) -> DevicePolicy:
    """Record ``target`` as what the component runs; returns the matching policy.

    The security counter never decreases: it is the highest of the target's, the
    stored one and the policy's. A pending install is cleared (this one replaces it)
    and the target is no longer rejected.

    Raises:
        PolicyError: ``target`` is not firmware for this hardware id.
    """
    fw = _firmware_for(policy, target)
    counter = max(fw.security_counter, policy.security_counter)
    if state.installed is not None:
        counter = max(counter, state.installed.security_counter)
    state.installed = Installed(target.path, fw.version, counter)
    state.pending = None
    state.rejected = [
        r for r in state.rejected if not r.matches(target) and _newer(r.version, fw.version)
    ]
    return DevicePolicy(policy.hardware_id, fw.version, counter, policy.unsafe_allow_downgrade)


def record_stage(
    policy: DevicePolicy, target: TargetFile, state: ComponentState, image: str | None, now: float
) -> None:
    """Record ``target`` as staged (replacing any earlier staged install).

    Raises:
        PolicyError: ``target`` is not firmware for this hardware id.
    """
    _firmware_for(policy, target)
    state.pending = PendingInstall(target, image, now)


def record_failure(
    policy: DevicePolicy, target: TargetFile, state: ComponentState, reason: str
) -> None:
    """Record ``target`` as rejected on this component (``check()`` skips it); a pending
    install of it is cleared. At most ``MAX_REJECTED`` are kept, the newest.

    Raises:
        PolicyError: ``target`` is not firmware for this hardware id.
    """
    fw = _firmware_for(policy, target)
    if state.pending is not None and state.pending.target == target:
        state.pending = None
    kept = [r for r in state.rejected if not r.matches(target)]
    kept.append(Rejected(target.path, dict(target.hashes), fw.version.text, reason))
    state.rejected = kept[-MAX_REJECTED:]


def effective(policy: DevicePolicy, state: ComponentState) -> DevicePolicy:
    """``policy`` with the stored security counter if it is higher (it never goes down,
    whatever counter the agent built its policy with)."""
    stored = state.installed
    if stored is None or stored.security_counter <= policy.security_counter:
        return policy
    return DevicePolicy(
        policy.hardware_id,
        policy.installed_version,
        stored.security_counter,
        policy.unsafe_allow_downgrade,
    )


def _newer(version: str, than: FirmwareVersion) -> bool:
    try:
        return FirmwareVersion(version) > than
    except ValueError:
        return False
