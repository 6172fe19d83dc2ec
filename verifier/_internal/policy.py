"""Firmware policy (docs/adr/0001): which trusted firmware target a device may install.

No I/O and no trust decisions: the targets handed in here were found by the delegation
search in verified metadata. The rules: right hardware, newer than installed (unless
the unsafe downgrade is allowed), security counter never below the device's, the
``min_version`` the image needs; the newest acceptable target wins, by version then
security counter. Recording an install keeps the stored counter monotonic.
"""

from __future__ import annotations

from verifier._config import DevicePolicy
from verifier._errors import PolicyError
from verifier._internal.firmware import check_target_name

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from collections.abc import Iterable
    from typing import Any

    from verifier._internal.firmware import FirmwareInfo
    from verifier._internal.metadata import TargetFile


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


def verify(policy: DevicePolicy, target: TargetFile) -> None:
    """Raises PolicyError unless ``target`` is firmware ``policy`` may install.

    Raises:
        PolicyError: not firmware, wrong hardware id, downgrade, counter or min_version.
        MetadataFormatError: ``custom.firmtuf`` is malformed.
    """
    fw = target.firmware
    if fw is None:
        raise PolicyError(f"{target.path} is not firmware (no custom.firmtuf)")
    if policy.hardware_id not in fw.hardware_ids:
        raise PolicyError(f"{target.path} is not for hardware {policy.hardware_id!r}")
    why = problem(policy, fw)
    if why is not None:
        raise PolicyError(f"{target.path}: {why}")


def choose(policy: DevicePolicy, candidates: Iterable[TargetFile]) -> TargetFile | None:
    """The newest candidate ``policy`` accepts (by version, then security counter).

    Raises:
        MetadataFormatError: a candidate's ``custom.firmtuf`` is malformed.
        UnsafeTargetNameError: a firmware for this hardware has an unsafe name.
    """
    best: tuple[Any, ...] | None = None
    chosen: TargetFile | None = None
    for target in candidates:
        fw = target.firmware
        if fw is None or policy.hardware_id not in fw.hardware_ids:
            continue
        check_target_name(target.path)
        if problem(policy, fw) is not None:
            continue
        key = (fw.version, fw.security_counter)
        if best is None or key > best:
            best, chosen = key, target
    return chosen


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
