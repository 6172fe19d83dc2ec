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

from signer._client import ClientRefusal, ClientReport, verify_published
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
from signer._init import ExternalKey, init_repository
from signer._keyops import KeyChange, KeyInfo, NewKey, change_keys, list_keys
from signer._keys import KEY_TYPES, Keyring
from signer._publish import PublishReport, publish
from signer._refresh import RefreshResult, refresh
from signer._repository import DEFAULT_EXPIRY, FirmwareRepository, SignResult
from signer._signers import SIGNER_URI_FIELD
from signer._status import RepositoryStatus, RoleStatus, repository_status
from signer._targets import AddedTarget, add_firmware, remove_target

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
