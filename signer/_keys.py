"""Signing keys: generation, encrypted key files, and loading signers by URI.

The repository stores public keys only. Each key in root (and later in delegations)
carries the URI of its private key in the unrecognized field ``x-firmtuf-signer-uri``;
any scheme securesystemslib knows works (``hsm:``, ``awskms:``, ``gcpkms:``, ``file2:``, ...)
plus the ``file:`` scheme firmtuf registers for password-encrypted PKCS#8 PEM files:

    file:keys/targets-1a2b3c4d.pem?encrypted=true

A relative ``file:`` path is relative to the repository directory (the signer backends
and their one, explicit registration, ``register_signers()``, live in
``signer/_signers.py``). Secrets (the key file
password, an HSM PIN) come through a securesystemslib ``SecretsHandler`` callback, called
with the secret's name, so a command line can prompt and a CI job can read a variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib import parse

from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
    load_pem_public_key,
)
from securesystemslib.exceptions import UnsupportedLibraryError
from securesystemslib.signer import (
    CryptoSigner,
    Key,
    SecretsHandler,
    Signer,
    SSlibKey,
)

from signer._compat import check_signer_supports
from signer._errors import InvalidInputError, KeyProblemError
from signer._fsutil import atomic_write
from signer._keyfile import dump_private_key
from signer._signers import (
    EncryptedFileSigner,
    KeyNotAtHandError,
    load_signer,
    signer_uri,
    signing_failure,
    supports_scheme,
)

KEY_TYPES: dict[str, Callable[[], CryptoSigner]] = {
    "ed25519": CryptoSigner.generate_ed25519,
    "ecdsa-p256": lambda: CryptoSigner.generate_ecdsa(scheme="ecdsa-sha2-nistp256"),
    "ecdsa-p384": lambda: CryptoSigner.generate_ecdsa(scheme="ecdsa-sha2-nistp384"),
    "rsa-pss": lambda: CryptoSigner.generate_rsa(scheme="rsassa-pss-sha256", size=3072),
}
"""Key types `firmtuf init --key-type` offers, mapped to their generators."""


@dataclass(frozen=True)
class ExternalKey:
    """A key whose private part lives elsewhere (HSM, KMS, another person's file).

    Attributes:
        role: the top-level role it signs for.
        uri: securesystemslib signer URI of the private key.
        public_key: its public key.
    """

    role: str
    uri: str
    public_key: Key

    def __post_init__(self) -> None:
        check_signer_supports(self.uri, self.public_key)


def generate_key(key_type: str) -> CryptoSigner:
    """Generate a new private key of ``key_type`` (one of :data:`KEY_TYPES`)."""
    try:
        factory = KEY_TYPES[key_type]
    except KeyError:
        raise InvalidInputError(
            f"unknown key type {key_type!r} (choose from {', '.join(KEY_TYPES)})"
        ) from None
    return factory()


def write_key_file(
    signer: CryptoSigner, path: Path, password: str | None, *, rounds: int | None = None
) -> None:
    """Write the private key of ``signer``, encrypted when ``password`` is set.

    Encrypted files use bcrypt-pbkdf with ``rounds`` (default ``$FIRMTUF_KDF_ROUNDS`` or
    :data:`signer._keyfile.DEFAULT_KDF_ROUNDS`); see :mod:`signer._keyfile`. The file is
    created readable by its owner only.
    """
    # CryptoSigner's public way out is unencrypted PKCS#8; re-read it to encrypt it.
    private_key = load_pem_private_key(signer.private_bytes, None)
    pem = dump_private_key(private_key, password, rounds=rounds)
    write_private_file(path, pem)


def write_private_file(path: Path, pem: bytes) -> None:
    """Atomically write key file bytes, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    old_umask = os.umask(0o077)
    try:
        atomic_write(path, pem)
    finally:
        os.umask(old_umask)
    path.chmod(0o600)


def file_uri(path: Path, base_dir: Path, *, encrypted: bool = True) -> str:
    """The ``file:`` signer URI of a key file: relative to ``base_dir`` when inside it, else
    the file's name only, its directory recorded locally (:func:`record_key_dir`).

    The URI is published with the key (root.json): an absolute path would tell every
    device where a holder keeps the key on their machine, and would be wrong on any
    other machine anyway.
    """
    try:
        shown = path.resolve().relative_to(base_dir.resolve()).as_posix()
    except ValueError:
        record_key_dir(base_dir, path.resolve().parent)
        shown = path.name
    query = "true" if encrypted else "false"
    return f"file:{parse.quote(shown)}?encrypted={query}"


KEYS_PATH_ENV = "FIRMTUF_KEYS_PATH"
"""Directories (``os.pathsep``-separated) searched for key files named by ``file:NAME``."""

KEY_DIRS_FILE = ".key-dirs"
"""``REPO/keys/.key-dirs``: key directories of this machine (git-ignored with keys/)."""


def record_key_dir(repo_path: Path, directory: Path) -> None:
    """Remember on this machine that key files of ``repo_path`` live in ``directory``."""
    listing = repo_path / "keys" / KEY_DIRS_FILE
    known = key_dirs(repo_path, include_env=False)
    if directory in known:
        return
    listing.parent.mkdir(parents=True, exist_ok=True)
    ignore = listing.parent / ".gitignore"
    if not ignore.exists():
        atomic_write(ignore, b"# private keys: never commit\n*\n")
    lines = [str(d) for d in [*known, directory]]
    atomic_write(listing, ("\n".join(lines) + "\n").encode())


def key_dirs(repo_path: Path, *, include_env: bool = True) -> list[Path]:
    """Where ``file:NAME`` key files are looked for after ``REPO/NAME``: the directories
    of ``$FIRMTUF_KEYS_PATH``, then those recorded in ``REPO/keys/.key-dirs``."""
    found: list[Path] = []
    if include_env:
        found += [Path(d) for d in os.environ.get(KEYS_PATH_ENV, "").split(os.pathsep) if d]
    try:
        text = (repo_path / "keys" / KEY_DIRS_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    found += [Path(line.strip()) for line in text.splitlines() if line.strip()]
    return found


def public_key_from_pem(pem: bytes) -> SSlibKey:
    """Parse a PEM public key (SubjectPublicKeyInfo) into a securesystemslib key.

    RSA keys get the ``rsassa-pss-sha256`` scheme; ECDSA and Ed25519 the scheme of their curve.
    """
    try:
        crypto_key = load_pem_public_key(pem)
    except ValueError as e:
        raise InvalidInputError(f"not a PEM public key: {e}") from None
    try:
        return SSlibKey.from_crypto(crypto_key)
    except ValueError as e:
        raise InvalidInputError(f"unsupported public key: {e}") from None


class Keyring:
    """The keys at hand for one command: loads signers by URI on demand and caches them.

    A key whose private part is not reachable (file missing, unknown URI scheme, no URI)
    is simply not at hand: :meth:`signer_for` returns None and :attr:`unavailable` says
    why. A wrong password or a key file holding another key is an error, since the user
    meant to sign with it.

    Args:
        base_dir: directory that relative ``file:`` URIs are resolved against.
        secrets_handler: called with a secret's name ("passphrase", "pin") when needed.
        signers: signers already in memory (e.g. keys generated by this command), by keyid.
    """

    def __init__(
        self,
        base_dir: Path,
        secrets_handler: SecretsHandler | None = None,
        signers: dict[str, Signer] | None = None,
    ) -> None:
        self.base_dir = base_dir
        self.secrets_handler = secrets_handler
        self._signers: dict[str, Signer | None] = dict(signers or {})
        self.unavailable: dict[str, str] = {}
        self.failed: set[str] = set()
        """Key ids whose signer was tried and failed (token absent, KMS down, ...)."""

    def resolve_uri(self, uri: str) -> str:
        """Make a relative ``file:`` URI absolute (relative to the repository directory)."""
        parsed = parse.urlparse(uri)
        if parsed.scheme == EncryptedFileSigner.SCHEME and not parsed.path.startswith("/"):
            name = parse.unquote(parsed.path)
            path = (self.base_dir / name).resolve()
            if not path.is_file():  # a key kept outside the repository (offline root key)
                for directory in key_dirs(self.base_dir):
                    if (directory / name).is_file():
                        path = (directory / name).resolve()
                        break
            query = f"?{parsed.query}" if parsed.query else ""
            return f"file:{parse.quote(path.as_posix())}{query}"
        return uri

    def signer_for(self, key: Key) -> Signer | None:
        """Return a signer for ``key`` if its private key is at hand, else None.

        Raises:
            WrongPasswordError: the key file password is wrong.
            KeyProblemError: the private key exists but cannot be used.
        """
        if key.keyid in self._signers:
            return self._signers[key.keyid]
        uri = signer_uri(key)
        signer: Signer | None = None
        if uri is None:
            self.unavailable[key.keyid] = "no signer URI stored with the key"
        else:
            scheme = uri.partition(":")[0]
            if not supports_scheme(scheme):
                self.unavailable[key.keyid] = f"unsupported signer URI scheme {scheme!r}"
            elif scheme == EncryptedFileSigner.SCHEME and not self._file_exists(uri):
                self.unavailable[key.keyid] = f"key file {self._file_path(uri)} not found"
            else:
                try:
                    signer = self._load(uri, key)
                except KeyNotAtHandError as e:  # e.g. envvar: key of another CI job
                    self.unavailable[key.keyid] = str(e)
                    if scheme != "envvar":
                        self.failed.add(key.keyid)
        self._signers[key.keyid] = signer
        return signer

    def _file_path(self, uri: str) -> Path:
        return Path(parse.unquote(parse.urlparse(self.resolve_uri(uri)).path))

    def _file_exists(self, uri: str) -> bool:
        return self._file_path(uri).is_file()

    def _load(self, uri: str, key: Key) -> Signer:
        try:
            return load_signer(self.resolve_uri(uri), key, self.secrets_handler)
        except KeyProblemError:
            raise
        except UnsupportedLibraryError as e:  # e.g. a gcpkms: key where its library is absent
            raise KeyNotAtHandError(f"{uri}: {e}") from e
        except Exception as e:  # signer backends raise anything (network, PKCS#11, ...)
            # A token unplugged, a library unset, a KMS refusing: not at hand (skipped when
            # the threshold is met without it); a wrong PIN or a locked token: an error.
            raise signing_failure(f"key {key.keyid[:8]} ({uri})", e) from e

    def mark_unavailable(self, key: Key, reason: str) -> None:
        """Record that ``key`` cannot sign here after all (e.g. its token was pulled)."""
        self._signers[key.keyid] = None
        self.unavailable[key.keyid] = reason
        self.failed.add(key.keyid)


def static_secret(value: str) -> SecretsHandler:
    """A secrets handler that returns ``value`` for any secret."""

    def handler(secret: str) -> str:
        del secret
        return value

    return handler
