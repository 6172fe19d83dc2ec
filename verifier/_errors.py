"""Error classes of the verifier: who is at fault decides the family.

``RepositoryError``: the repository (or someone between it and the device) served metadata
or a target that must not be trusted. ``DownloadError``: the transport failed. Everything
derives from ``VerifierError``.
"""

from __future__ import annotations


class VerifierError(Exception):
    """Base class of every error the verifier raises."""


class RepositoryError(VerifierError):
    """Metadata or a target file failed a check: do not trust it."""


class MetadataFormatError(RepositoryError):
    """Metadata is not valid JSON or does not follow the TUF format (wrong field or type)."""


class UnsupportedKeyError(MetadataFormatError):
    """Metadata lists a key whose type or signature scheme this verifier does not support.

    No longer raised: such keys are kept as keys that never verify (TUF 4.2 lets adopters
    define key types), so a threshold of known keys still verifies. Kept for callers
    that name it.
    """


class UnsignedMetadataError(RepositoryError):
    """Metadata is not signed by a threshold of the keys trusted for its role."""


class ExpiredMetadataError(RepositoryError):
    """Metadata expired at the reference time of this update (freeze attack)."""


class BadVersionNumberError(RepositoryError):
    """A version number is not the expected one (rollback or mix-and-match)."""


class EqualVersionNumberError(BadVersionNumberError):
    """The new metadata has the same version as the trusted one (nothing new)."""


class LengthOrHashMismatchError(RepositoryError):
    """Downloaded bytes differ in length or hash from what trusted metadata says."""


class PolicyError(RepositoryError):
    """A firmware target does not fit the device policy (hardware id, downgrade, counter)."""


class SbomError(RepositoryError):
    """A firmware's SBOM cannot be trusted: the linked target is missing or is not the one
    the firmware links (length or hashes), or it is larger than ``Config.sbom_max_length``."""


class UnsafeTargetNameError(RepositoryError):
    """A target name is not a safe relative POSIX path (``..``, ``/abs``, backslash)."""


class CryptoUnavailableError(VerifierError):
    """The cryptographic primitive a key needs cannot be loaded on this system."""


class StorageError(VerifierError):
    """The trusted metadata directory cannot be read or written.

    Attributes:
        errno: the ``errno`` of the ``OSError`` behind it (``ENOSPC``: disk full,
            ``EROFS``: read-only), or None when the cause was not an OS error.
    """

    @property
    def errno(self) -> int | None:
        cause = self.__cause__
        if isinstance(cause, StorageError):  # wrapped once more on the way up
            return cause.errno
        return cause.errno if isinstance(cause, OSError) else None


class TrustStoreLockedError(StorageError):
    """Another agent held the trust-store lock for longer than ``Config.lock_timeout``.

    Nothing was read or written; try again later.
    """


class InsufficientSpaceError(StorageError):
    """Not enough free space for a download (checked against the signed length first).

    Attributes:
        path: the directory that lacks the space.
        needed: bytes the download needs there (with the reserve kept for metadata).
        available: bytes free there.
    """

    def __init__(self, message: str, path: str, needed: int, available: int) -> None:
        super().__init__(message)
        self.path = path
        self.needed = needed
        self.available = available


class DownloadError(VerifierError):
    """Transport failure while fetching metadata or a target."""


class DownloadHTTPError(DownloadError):
    """The server answered with an HTTP error status.

    Attributes:
        status_code: the HTTP status code.
    """

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class DownloadLengthMismatchError(DownloadError):
    """The server sent more bytes than allowed (endless-data attack) or fewer than expected."""


class SlowRetrievalError(DownloadError):
    """The server sent data slower than the configured minimum speed."""
