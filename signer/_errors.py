"""The error family of the signing tool: one class per kind of problem, one exit code each.

The CLI turns a :class:`FirmtufError` into a one-line message on stderr and exits with the
error's ``exit_code`` (documented in docs/cli.md). Anything else escaping a command is a bug.
"""

from __future__ import annotations


class FirmtufError(Exception):
    """Base of every error the signing tool reports to its user."""

    exit_code = 1


class WriteError(FirmtufError, OSError):
    """A file could not be written durably: disk full, read-only file system, an I/O error,
    or a directory that would not sync (the rename might not survive a power cut).

    The command stops there and leaves the repository as it was. Also an ``OSError``
    (with ``errno``, ``strerror`` and ``filename``), so code that handles I/O errors
    handles this one too; exit code 1, the code of every I/O error.
    """

    exit_code = 1

    def __str__(self) -> str:  # the message given, not OSError's "[Errno N] ..." form
        return str(self.args[0]) if self.args else ""


class InvalidInputError(FirmtufError):
    """A value given by the user is wrong: missing image, bad target name, bad version, ..."""

    exit_code = 3


class RepositoryLocationError(FirmtufError):
    """REPO is not a firmtuf repository, or `init` was pointed at a non-empty directory."""

    exit_code = 4


class KeyProblemError(FirmtufError):
    """A signing key cannot be used: wrong password, missing key file, unusable signer URI."""

    exit_code = 5


class KeyNotAtHandError(KeyProblemError):
    """The private key of a stored signer URI is not reachable here (e.g. variable unset).

    A ``Keyring`` reports such a key as not at hand instead of failing the command.
    """


class WrongPasswordError(KeyProblemError):
    """The password does not decrypt an encrypted key file."""


class MetadataError(FirmtufError):
    """Repository metadata on disk is malformed, inconsistent or fails its signature check."""

    exit_code = 6


class ConflictError(FirmtufError):
    """The change conflicts with the repository: duplicate target, downgrade, unknown name."""

    exit_code = 7


class PublishError(FirmtufError):
    """The repository cannot be published: unsigned, expired or not verifying."""

    exit_code = 8


class VerificationError(FirmtufError):
    """A published repository does not verify as a device would check it."""

    exit_code = 9


class UnhealthyError(FirmtufError):
    """`status` found a role expired, under-signed, stale or expiring soon."""

    exit_code = 10


# -- key management and signing events ----------------------------------------------------
class UntrustedKeyError(KeyProblemError):
    """The key given to sign with is not a key of the role (or of any role to sign)."""


class SigningIncompleteError(FirmtufError):
    """A signing event still lacks signatures: it cannot be finished (nothing published)."""

    exit_code = 11


class UnreachableError(FirmtufError):
    """`verify`: the published repository could not be reached (nothing was judged)."""

    exit_code = 12


class PublishConflictError(PublishError, ConflictError):
    """Another publisher published the same version with other content first (two CI
    runners, two clones): nothing of this publish is referenced; pull, sign, publish."""

    exit_code = 7
