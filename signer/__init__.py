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
    from signer._bundle import BundleReport, build_bundle
    from signer._client import ClientRefusal, ClientReport, root_problem, verify_published
    from signer._dashboard import (
        DASHBOARD_FILE,
        Dashboard,
        FirmwareRow,
        SupportPeriod,
        build_dashboard,
        render_dashboard,
        upload_dashboard,
        write_dashboard,
    )
    from signer._delegations import DelegationResult, bin_prefix, convert_to_bins, delegate_role
    from signer._demo import DemoResult, run_demo
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
        UnreachableError,
        UntrustedKeyError,
        VerificationError,
        WriteError,
        WrongPasswordError,
    )
    from signer._event_guard import events_covering
    from signer._events import (
        EventStatus,
        RoleProgress,
        SignEvent,
        broken_events,
        cancel_event,
        finish_event,
        list_events,
        sign_event,
        start_event,
    )
    from signer._firmware import FirmwareFields, parse_date, validate_target_name
    from signer._image_check import ImageCheck
    from signer._init import init_repository
    from signer._keyfile import DEFAULT_KDF_ROUNDS, KDF_ROUNDS_ENV, MAX_KDF_ROUNDS
    from signer._keyops import KeyChange, KeyInfo, NewKey, change_keys, list_keys
    from signer._keys import KEY_TYPES, ExternalKey, Keyring, public_key_from_pem
    from signer._lock import WAIT_ENV, repository_lock
    from signer._publish import PublishReport, publish, verify_working_repository
    from signer._reencrypt import reencrypt_key_files
    from signer._refresh import RefreshResult, refresh
    from signer._release_sbom import read_release_sbom
    from signer._remote import open_store, publish_to_store
    from signer._repository import (
        DEFAULT_EXPIRY,
        FirmwareRepository,
        Pending,
        SignResult,
        SignState,
    )
    from signer._sbom import ReleaseSbom
    from signer._signers import PASSWORD_SECRET, PIN_SECRET, SIGNER_URI_FIELD, register_signers
    from signer._status import RepositoryStatus, RoleStatus, repository_status
    from signer._store import LocalFile, PruneReport, Store, prune
    from signer._support import (
        SupportChange,
        SupportInfo,
        list_support,
        remove_support,
        set_support,
    )
    from signer._targets import (
        AddedTarget,
        ProgressCallback,
        StageCallback,
        add_firmware,
        remove_target,
    )
    from signer._template import check_template_target, write_template

# Imported on first use: the package loads on a device-only install (no tuf, no click),
# so `firmtuf` there can say which extra to install instead of failing on an import.
_EXPORTS: dict[str, str] = {
    "ClientRefusal": "signer._client",
    "read_release_sbom": "signer._release_sbom",
    "ReleaseSbom": "signer._sbom",
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
    "WriteError": "signer._errors",
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
    "register_signers": "signer._signers",
    "Keyring": "signer._keys",
    "PublishReport": "signer._publish",
    "publish": "signer._publish",
    "RefreshResult": "signer._refresh",
    "refresh": "signer._refresh",
    "DEFAULT_EXPIRY": "signer._repository",
    "FirmwareRepository": "signer._repository",
    "SignResult": "signer._repository",
    "SignState": "signer._repository",
    "Pending": "signer._repository",
    "RepositoryStatus": "signer._status",
    "RoleStatus": "signer._status",
    "repository_status": "signer._status",
    "AddedTarget": "signer._targets",
    "add_firmware": "signer._targets",
    "remove_target": "signer._targets",
    "UnreachableError": "signer._errors",
    "DASHBOARD_FILE": "signer._dashboard",
    "upload_dashboard": "signer._dashboard",
    "BundleReport": "signer._bundle",
    "build_bundle": "signer._bundle",
    "PruneReport": "signer._store",
    "Store": "signer._store",
    "LocalFile": "signer._store",
    "prune": "signer._store",
    "open_store": "signer._remote",
    "publish_to_store": "signer._remote",
    "verify_working_repository": "signer._publish",
    "root_problem": "signer._client",
    "SupportInfo": "signer._support",
    "SupportChange": "signer._support",
    "set_support": "signer._support",
    "remove_support": "signer._support",
    "list_support": "signer._support",
    "list_events": "signer._events",
    "cancel_event": "signer._events",
    "broken_events": "signer._events",
    "events_covering": "signer._event_guard",
    "reencrypt_key_files": "signer._reencrypt",
    "repository_lock": "signer._lock",
    "WAIT_ENV": "signer._lock",
    "public_key_from_pem": "signer._keys",
    "ImageCheck": "signer._image_check",
    "write_template": "signer._template",
    "check_template_target": "signer._template",
    "DemoResult": "signer._demo",
    "run_demo": "signer._demo",
    "parse_date": "signer._firmware",
    "ProgressCallback": "signer._targets",
    "StageCallback": "signer._targets",
    "PASSWORD_SECRET": "signer._signers",
    "PIN_SECRET": "signer._signers",
    "DEFAULT_KDF_ROUNDS": "signer._keyfile",
    "KDF_ROUNDS_ENV": "signer._keyfile",
    "MAX_KDF_ROUNDS": "signer._keyfile",
    "bin_prefix": "signer._delegations",
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
    "register_signers",
    # firmware targets
    "FirmwareFields",
    "AddedTarget",
    "add_firmware",
    "remove_target",
    "validate_target_name",
    # signing, status, publishing, verifying
    "SignResult",
    "SignState",
    "Pending",
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
    "upload_dashboard",
    "DASHBOARD_FILE",
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
    "WriteError",
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
    # publishing to stores, bundles, pruning
    "open_store",
    "publish_to_store",
    "Store",
    "LocalFile",
    "prune",
    "PruneReport",
    "build_bundle",
    "BundleReport",
    "verify_working_repository",
    "root_problem",
    # support periods and SBOMs
    "read_release_sbom",
    "ReleaseSbom",
    "SupportInfo",
    "SupportChange",
    "set_support",
    "remove_support",
    "list_support",
    # events, locks, key files
    "list_events",
    "cancel_event",
    "broken_events",
    "events_covering",
    "repository_lock",
    "WAIT_ENV",
    "reencrypt_key_files",
    "public_key_from_pem",
    "PASSWORD_SECRET",
    "PIN_SECRET",
    "DEFAULT_KDF_ROUNDS",
    "KDF_ROUNDS_ENV",
    "MAX_KDF_ROUNDS",
    # setup and inputs
    "write_template",
    "check_template_target",
    "run_demo",
    "DemoResult",
    "parse_date",
    "ProgressCallback",
    "StageCallback",
    "ImageCheck",
    "bin_prefix",
    "UnreachableError",
]
