"""firmtuf device verifier: a lean TUF 1.0.x client for firmware updates.

Runtime imports: the standard library and ``cryptography`` (loaded on first signature
check); the default transport :class:`HttpFetcher` is ``http.client`` + ``ssl``
(imported on the first request); ``requests`` only inside :class:`RequestsFetcher`
(extra ``firmtuf[requests]``). Never ``tuf`` or ``securesystemslib``.

Public API (stable; everything else, including ``verifier._internal``, may change)::

    up = Updater(metadata_dir, metadata_base_url, target_base_url,
                 fetcher=None, config=None, policy=None, bootstrap=None, clock=None)
    up.refresh() -> None                        # TUF client workflow, top-level roles
    up.get_targetinfo(name) -> TargetFile | None  # TUF delegation search
    up.check() -> TargetFile | None             # newest firmware for the DevicePolicy
    up.verify_policy(target) -> None            # raises PolicyError
    up.download(target, dest, partial_path=None, progress=None) -> Path  # verified, atomic
    up.find_cached_target(target, path) -> Path | None
    up.check_report() -> CheckReport            # the choice, and each Refusal with its reason
    up.stage(target, image=None)                # two-phase install: staged (pending) ...
    up.confirm() -> DevicePolicy                # ... committed after the reboot, offline
    up.mark_failed(target=None, reason=...)     # ... or rejected: check() skips it
    up.pending() -> PendingInstall | None
    up.mark_installed(target) -> DevicePolicy   # one step: installed version + counter
    up.discard_partials(keep=None) -> int       # remove partial downloads
    up.walk_roles() -> Iterator[TrustedRole]    # every trusted targets role, pre-order
    up.trusted_versions() -> dict[str, int]
    up.verify_remote_target(target) -> None     # fetch + check, nothing stored
    up.support(hardware_id=None) -> SupportPeriod | None  # declared support period
    up.sbom_target(target) -> TargetFile | None # the firmware's linked SBOM, checked
    up.sbom(target) -> bytes | None             # fetched and verified (bounded)
    verify_root(data) -> None                   # a root a device can start from
    atomic_write(path, data, sync_dir=True)     # the durable write the verifier uses
    StagedFile(dest).write(...).commit()        # ... streamed (the signer builds on it)
    fsync_dir(directory)                        # make a rename durable (raises StorageError)
    check_target_name(name) -> None             # the one target-name rule (both sides)
    admits_hardware_id(patterns, hardware_id)   # the delegation hardware-id binding rule
    TrustStore(metadata_dir).role_path(role)    # where a device stores a role (or None)
    DevicePolicy.from_metadata_dir(metadata_dir, hardware_id, factory_version)
    Updater.from_bundle(bundle_path, metadata_dir, policy=..., bootstrap=...,
                        limits=BundleLimits(...), clock=None, unsafe_ignore_expiry=False)

Fetchers: subclass ``Fetcher`` and write only ``_fetch(url, offset, deadline)``; the
base enforces length caps, the request ``Deadline`` (from ``Config``) and wraps errors.

Errors: ``VerifierError`` is the base. ``RepositoryError`` (do not trust what was served):
``MetadataFormatError`` (``UnsupportedKeyError``), ``UnsignedMetadataError``,
``ExpiredMetadataError``, ``BadVersionNumberError`` (``EqualVersionNumberError``),
``LengthOrHashMismatchError``, ``PolicyError``, ``UnsafeTargetNameError``, ``BundleError``,
``SbomError``.
``DownloadError`` (transport): ``DownloadHTTPError``, ``DownloadLengthMismatchError``
(too large), ``DownloadIncompleteError`` (ended before the signed length),
``SlowRetrievalError``. Also ``CryptoUnavailableError`` and ``StorageError``
(``TrustStoreLockedError``: another agent holds the trust store; ``InsufficientSpaceError``).
"""

from verifier._config import Config, DevicePolicy
from verifier._errors import (
    BadVersionNumberError,
    CryptoUnavailableError,
    DownloadError,
    DownloadHTTPError,
    DownloadIncompleteError,
    DownloadLengthMismatchError,
    EqualVersionNumberError,
    ExpiredMetadataError,
    InsufficientSpaceError,
    LengthOrHashMismatchError,
    MetadataFormatError,
    PolicyError,
    RepositoryError,
    SbomError,
    SlowRetrievalError,
    StorageError,
    TrustStoreLockedError,
    UnsafeTargetNameError,
    UnsignedMetadataError,
    UnsupportedKeyError,
    VerifierError,
)
from verifier._fetcher import Deadline, DirectoryFetcher, Fetcher, MemoryFetcher
from verifier._http import HttpFetcher
from verifier._internal.bundle import BundleError, BundleLimits
from verifier._internal.device_state import PendingInstall
from verifier._internal.firmware import FirmwareInfo
from verifier._internal.metadata import HARDWARE_BINDING_FIELD, TargetFile, admits_hardware_id
from verifier._internal.names import check_target_name
from verifier._internal.policy import CheckReport, Refusal, RefusalReason
from verifier._internal.storage import StagedFile, fsync_dir
from verifier._internal.storage import durable_write as atomic_write
from verifier._internal.store import TrustStore
from verifier._internal.support import SbomLink, SupportPeriod
from verifier._internal.version import FirmwareVersion, VersionError, parse_version
from verifier._updater import TrustedRole, Updater, verify_root

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices
    from verifier._requests import RequestsFetcher


def __getattr__(name: str) -> object:
    # RequestsFetcher (extra `requests`) is loaded on first use: a device on the default
    # transport never pays for its module (PEP 562).
    if name == "RequestsFetcher":
        from verifier._requests import RequestsFetcher

        globals()[name] = RequestsFetcher
        return RequestsFetcher
    raise AttributeError(f"module 'verifier' has no attribute {name!r}")


__all__ = [
    "Updater",
    "TrustedRole",
    "verify_root",
    "atomic_write",
    "StagedFile",
    "fsync_dir",
    "Deadline",
    "TrustStore",
    "HARDWARE_BINDING_FIELD",
    "admits_hardware_id",
    "check_target_name",
    "Config",
    "DevicePolicy",
    "TargetFile",
    "FirmwareInfo",
    "SupportPeriod",
    "SbomLink",
    "BundleLimits",
    "CheckReport",
    "Refusal",
    "RefusalReason",
    "PendingInstall",
    "Fetcher",
    "HttpFetcher",
    "RequestsFetcher",
    "DirectoryFetcher",
    "MemoryFetcher",
    "FirmwareVersion",
    "VersionError",
    "parse_version",
    "VerifierError",
    "RepositoryError",
    "MetadataFormatError",
    "UnsupportedKeyError",
    "UnsignedMetadataError",
    "ExpiredMetadataError",
    "BadVersionNumberError",
    "EqualVersionNumberError",
    "LengthOrHashMismatchError",
    "PolicyError",
    "UnsafeTargetNameError",
    "BundleError",
    "SbomError",
    "CryptoUnavailableError",
    "StorageError",
    "TrustStoreLockedError",
    "InsufficientSpaceError",
    "DownloadError",
    "DownloadHTTPError",
    "DownloadIncompleteError",
    "DownloadLengthMismatchError",
    "SlowRetrievalError",
]
