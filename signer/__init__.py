"""firmtuf signing tool (release-engineer side).

The ``firmtuf`` command (``signer.cli``) is a thin layer over this API::

    repo = init_repository("repo", password="pw")
    add_firmware(repo, ["fw.bin"], FirmwareFields(("acme-gw-r2",), "1.4.2"))
    signing = FirmwareRepository("repo", secrets_handler=lambda secret: "pw")
    result = signing.sign()          # SignResult: what was signed, what still lacks keys
    signing.save()                   # nothing is written before save()
    publish(FirmwareRepository("repo"), "out")
    verify_published("out", Path("out/metadata/1.root.json").read_bytes())

Everything else lives in private modules and may change.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from signer._client import ClientRefusal, ClientReport, verify_published
    from signer._dashboard import (
        Dashboard,
        FirmwareRow,
        SupportPeriod,
        build_dashboard,
        render_dashboard,
        write_dashboard,
    )
    from signer._delegations import DelegationResult, convert_to_bins, delegate_role
    from signer._errors import (
        ConflictError,
        FirmtufError,
        InvalidInputError,
        KeyProblemError,
        MetadataError,
        PublishError,
        RepositoryLocationError,
        SigningIncompleteError,
        UnhealthyError,
        UntrustedKeyError,
        VerificationError,
        WrongPasswordError,
    )
    from signer._events import (
        EventStatus,
        RoleProgress,
        SignEvent,
        finish_event,
        sign_event,
        start_event,
    )
    from signer._firmware import FirmwareFields, validate_target_name
    from signer._init import init_repository
    from signer._keyops import KeyChange, KeyInfo, NewKey, change_keys, list_keys
    from signer._keys import KEY_TYPES, ExternalKey, Keyring
    from signer._publish import PublishReport, publish
    from signer._refresh import RefreshResult, refresh
    from signer._repository import DEFAULT_EXPIRY, FirmwareRepository, SignResult
    from signer._signers import SIGNER_URI_FIELD
    from signer._status import RepositoryStatus, RoleStatus, repository_status
    from signer._targets import AddedTarget, add_firmware, remove_target

# Imported on first use: the package loads on a device-only install (no tuf, no click),
# so `firmtuf` there can say which extra to install instead of failing on an import.
_EXPORTS: dict[str, str] = {
    "ClientRefusal": "signer._client",
    "ClientReport": "signer._client",
    "verify_published": "signer._client",
    "Dashboard": "signer._dashboard",
    "FirmwareRow": "signer._dashboard",
    "SupportPeriod": "signer._dashboard",
    "build_dashboard": "signer._dashboard",
    "render_dashboard": "signer._dashboard",
    "write_dashboard": "signer._dashboard",
    "DelegationResult": "signer._delegations",
    "convert_to_bins": "signer._delegations",
    "delegate_role": "signer._delegations",
    "ConflictError": "signer._errors",
    "FirmtufError": "signer._errors",
    "InvalidInputError": "signer._errors",
    "KeyProblemError": "signer._errors",
    "MetadataError": "signer._errors",
    "PublishError": "signer._errors",
    "RepositoryLocationError": "signer._errors",
    "SigningIncompleteError": "signer._errors",
    "UnhealthyError": "signer._errors",
    "UntrustedKeyError": "signer._errors",
    "VerificationError": "signer._errors",
    "WrongPasswordError": "signer._errors",
    "EventStatus": "signer._events",
    "RoleProgress": "signer._events",
    "SignEvent": "signer._events",
    "finish_event": "signer._events",
    "sign_event": "signer._events",
    "start_event": "signer._events",
    "FirmwareFields": "signer._firmware",
    "validate_target_name": "signer._firmware",
    "ExternalKey": "signer._keys",
    "init_repository": "signer._init",
    "KeyChange": "signer._keyops",
    "KeyInfo": "signer._keyops",
    "NewKey": "signer._keyops",
    "change_keys": "signer._keyops",
    "list_keys": "signer._keyops",
    "KEY_TYPES": "signer._keys",
    "SIGNER_URI_FIELD": "signer._signers",
    "Keyring": "signer._keys",
    "PublishReport": "signer._publish",
    "publish": "signer._publish",
    "RefreshResult": "signer._refresh",
    "refresh": "signer._refresh",
    "DEFAULT_EXPIRY": "signer._repository",
    "FirmwareRepository": "signer._repository",
    "SignResult": "signer._repository",
    "RepositoryStatus": "signer._status",
    "RoleStatus": "signer._status",
    "repository_status": "signer._status",
    "AddedTarget": "signer._targets",
    "add_firmware": "signer._targets",
    "remove_target": "signer._targets",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    # repository
    "FirmwareRepository",
    "init_repository",
    "ExternalKey",
    "DEFAULT_EXPIRY",
    "KEY_TYPES",
    "SIGNER_URI_FIELD",
    "Keyring",
    # firmware targets
    "FirmwareFields",
    "AddedTarget",
    "add_firmware",
    "remove_target",
    "validate_target_name",
    # signing, status, publishing, verifying
    "SignResult",
    "RepositoryStatus",
    "RoleStatus",
    "repository_status",
    "PublishReport",
    "publish",
    "ClientReport",
    "ClientRefusal",
    "verify_published",
    # the release dashboard (`firmtuf status --html`)
    "Dashboard",
    "FirmwareRow",
    "SupportPeriod",
    "build_dashboard",
    "render_dashboard",
    "write_dashboard",
    # delegations and scale
    "delegate_role",
    "convert_to_bins",
    "DelegationResult",
    "refresh",
    "RefreshResult",
    # errors
    "FirmtufError",
    "InvalidInputError",
    "RepositoryLocationError",
    "KeyProblemError",
    "WrongPasswordError",
    "MetadataError",
    "ConflictError",
    "PublishError",
    "VerificationError",
    "UnhealthyError",
    "UntrustedKeyError",
    "SigningIncompleteError",
    # key management and signing events
    "change_keys",
    "list_keys",
    "NewKey",
    "KeyChange",
    "KeyInfo",
    "SignEvent",
    "EventStatus",
    "RoleProgress",
    "start_event",
    "sign_event",
    "finish_event",
]
