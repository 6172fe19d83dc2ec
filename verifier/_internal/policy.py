"""Firmware policy (docs/adr/0001): which trusted firmware target a device may install.

No I/O and no trust decisions: the targets handed in here were found by the delegation
search in verified metadata, with the delegations on their search path. The rules:
every delegation on the path admits the device's hardware id (docs/adr/0008), the image
names that hardware, is newer than installed (unless the unsafe downgrade is allowed),
its security counter is never below the device's, the ``min_version`` it needs is met;
the newest acceptable target wins, by version then security counter. Recording an
install keeps the stored counter monotonic.
"""

from __future__ import annotations

from verifier._config import DevicePolicy
from verifier._errors import MetadataFormatError, PolicyError
from verifier._internal.firmware import check_target_name
from verifier._internal.metadata import admits_hardware_id

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from collections.abc import Iterable
    from typing import Any

    from verifier._internal.firmware import FirmwareInfo
    from verifier._internal.metadata import Delegation, TargetFile

    Candidate = tuple[TargetFile, tuple[Delegation, ...]]


def problem(policy: DevicePolicy, fw: FirmwareInfo) -> str | None:
    """Why ``fw`` (for this hardware) may not be installed under ``policy``, or None."""
    if fw.security_counter < policy.security_counter:
        return (
            f"security counter {fw.security_counter} is below the device's "
            f"{policy.security_counter}"
        )
    if fw.version <= policy.installed_version and not policy.unsafe_allow_downgrade:
        return f"version {fw.version} is not newer than installed {policy.installed_version}"
    if fw.min_version is not None and policy.installed_version < fw.min_version:
        return f"needs installed version >= {fw.min_version}"
    return None


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
    fw = target.firmware
    if fw is None:
        raise PolicyError(f"{target.path} is not firmware (no custom.firmtuf)")
    if policy.hardware_id not in fw.hardware_ids:
        raise PolicyError(f"{target.path} is not for hardware {policy.hardware_id!r}")
    why = problem(policy, fw)
    if why is not None:
        raise PolicyError(f"{target.path}: {why}")


def choose(
    policy: DevicePolicy,
    candidates: Iterable[Candidate],
    refused: list[tuple[str, str]] | None = None,
) -> TargetFile | None:
    """The newest candidate ``policy`` accepts (by version, then security counter).

    A candidate that names this hardware but is refused (binding, version, counter,
    ``min_version``) is recorded in ``refused`` as ``(name, reason)``; so is a malformed
    firmware entry that is not this device's: it does not stop this device's update.

    Raises:
        MetadataFormatError: a malformed firmware entry that names this hardware id.
        UnsafeTargetNameError: a firmware for this hardware has an unsafe name.
    """
    hardware_id = policy.hardware_id
    best: tuple[Any, ...] | None = None
    chosen: TargetFile | None = None
    for target, path in candidates:
        if binding_problem(hardware_id, path) is not None:
            # Not this device's to consider, whatever the entry says (or how malformed).
            if _names_hardware(target, hardware_id) and refused is not None:
                refused.append((target.path, str(binding_problem(hardware_id, path))))
            continue
        try:
            fw = target.firmware
        except MetadataFormatError as e:
            if _names_hardware(target, hardware_id):
                raise
            if refused is not None:
                refused.append((target.path, f"malformed, not for this hardware: {e}"))
            continue
        if fw is None or hardware_id not in fw.hardware_ids:
            continue
        check_target_name(target.path)
        why = problem(policy, fw)
        if why is not None:
            if refused is not None:
                refused.append((target.path, why))
            continue
        key = (fw.version, fw.security_counter)
        if best is None or key > best:
            best, chosen = key, target
    return chosen


def _names_hardware(target: TargetFile, hardware_id: str) -> bool:
    """Whether a (possibly malformed) firmware entry names ``hardware_id``."""
    raw = (target.custom or {}).get("firmtuf")
    ids = raw.get("hardware_ids") if isinstance(raw, dict) else None
    return ids == hardware_id or (isinstance(ids, list) and hardware_id in ids)


def record_install(
    policy: DevicePolicy | None, target: TargetFile, stored: dict[str, object] | None
) -> tuple[dict[str, object], DevicePolicy | None]:
    """The device state after installing ``target`` and the matching policy.

    The security counter never decreases: it is the highest of the target's, the
    stored one and the policy's.

    Raises:
        PolicyError: ``target`` is not firmware.
    """
    fw = target.firmware
    if fw is None:
        raise PolicyError(f"{target.path} is not firmware (no custom.firmtuf)")
    counter = fw.security_counter
    if stored is not None:
        counter = max(counter, int(stored["security_counter"]))  # type: ignore[call-overload]
    if policy is not None:
        counter = max(counter, policy.security_counter)
        policy = DevicePolicy(
            policy.hardware_id, fw.version, counter, policy.unsafe_allow_downgrade
        )
    state: dict[str, object] = {
        "name": target.path,
        "version": fw.version.text,
        "security_counter": counter,
    }
    return state, policy
