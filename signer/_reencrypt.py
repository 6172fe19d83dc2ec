"""`firmtuf key reencrypt`: rewrite key files with the current KDF (or a new password).

Key files written before bcrypt-pbkdf (PKCS#8, PBKDF2 at 2,048 iterations) fall quickly to
a password search once copied. This rewrites every encrypted key file of a repository that
is at hand (``file:`` signer URIs; keys held by other people on their machines are
listed as not at hand) in the format of :mod:`signer._keyfile`.

Every file is decrypted first, so a wrong password changes nothing. Each new file is
checked to decrypt to the very key the repository trusts before it replaces the old one
(temp file, fsync, rename): a key is never lost to a failed rewrite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib import parse

from securesystemslib.exceptions import KeyMismatchError
from securesystemslib.signer import CryptoSigner, Key, SecretsHandler, SSlibKey

from signer._errors import InvalidInputError, KeyProblemError
from signer._keyfile import describe, dump_private_key, kdf_rounds, load_private_key
from signer._keyops import key_groups, keys_of
from signer._keys import Keyring, write_private_file
from signer._repository import FirmwareRepository
from signer._signers import PASSWORD_SECRET, EncryptedFileSigner, signer_uri


@dataclass
class KeyFileResult:
    """What happened to one key file."""

    path: str
    keyid: str
    roles: list[str]
    before: str
    after: str | None
    action: str
    """``rewritten``, ``already strong``, ``unencrypted`` or ``not at hand``."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "keyid": self.keyid,
            "roles": self.roles,
            "before": self.before,
            "after": self.after,
            "action": self.action,
        }


def _label(pem: bytes) -> str:
    info = describe(pem)
    if info is None:
        return "unknown format"
    if info.rounds is not None:
        return f"{info.name}, {info.rounds} rounds"
    return info.name


def _keys_with_roles(repo: FirmwareRepository) -> dict[str, tuple[Key, list[str]]]:
    """keyid -> (key, roles it signs for), a group of hash bins counted once."""
    found: dict[str, tuple[Key, list[str]]] = {}
    for group in key_groups(repo):
        keys, _ = keys_of(repo, group.delegator, group.members[0])
        for key in keys:
            found.setdefault(key.keyid, (key, []))[1].append(group.name)
    return found


@dataclass(frozen=True)
class _KeyFile:
    """A key file to consider: the repository's (one known key) or one given by its
    holder (any key of the repository may be in it)."""

    path: Path
    keyid: str
    roles: list[str]
    candidates: list[Key]
    given: bool = False


@dataclass(frozen=True)
class _Rewrite:
    """A key file that will be rewritten, read before anything is written."""

    result: KeyFileResult
    file: _KeyFile
    pem: bytes


def _repository_files(repo: FirmwareRepository) -> list[_KeyFile]:
    """Every key of the repository with a ``file:`` signer URI, with its file."""
    keyring = Keyring(repo.path)
    found = []
    for key, roles in _keys_with_roles(repo).values():
        uri = signer_uri(key)
        if uri is None or parse.urlparse(uri).scheme != EncryptedFileSigner.SCHEME:
            continue
        path = Path(parse.unquote(parse.urlparse(keyring.resolve_uri(uri)).path))
        found.append(_KeyFile(path, key.keyid, roles, [key]))
    return found


def reencrypt_key_files(
    repo: FirmwareRepository,
    secrets_handler: SecretsHandler,
    *,
    rounds: int | None = None,
    new_password: str | None = None,
    extra_files: Sequence[Path] = (),
    force: bool = False,
) -> list[KeyFileResult]:
    """Rewrite the repository's encrypted key files at hand with the current KDF.

    Args:
        repo: the working repository whose keys (``file:`` signer URIs) to rewrite.
        secrets_handler: asked once for the current key file password.
        rounds: bcrypt-pbkdf rounds (default ``$FIRMTUF_KDF_ROUNDS`` or the default).
        new_password: encrypt with this password instead of the current one.
        extra_files: rewrite only these key files (a holder's own copy), each holding
            a key of the repository; the repository's key files are left alone.
        force: rewrite files that already use the KDF at these rounds.

    Raises:
        WrongPasswordError: the password does not decrypt one of the files (none changed).
        InvalidInputError: a given file is not a key file.
        KeyProblemError: a file holds no key of the repository (none changed).
    """
    target_rounds = kdf_rounds(rounds)
    if extra_files:
        # A holder's own copies: only those are rewritten (the repository's other key
        # files keep their password).
        everyone = [key for key, _ in _keys_with_roles(repo).values()]
        files = [_KeyFile(Path(p), "?", ["(given)"], everyone, given=True) for p in extra_files]
    else:
        files = _repository_files(repo)
    results: list[KeyFileResult] = []
    todo: list[_Rewrite] = []
    seen: set[Path] = set()
    for file in files:
        if file.path.resolve() in seen:
            continue
        seen.add(file.path.resolve())
        outcome = _triage(file, target_rounds, rewrite=new_password is not None or force)
        if isinstance(outcome, _Rewrite):
            todo.append(outcome)
        else:
            results.append(outcome)
    if todo:
        password = secrets_handler(PASSWORD_SECRET)
        results += _rewrite(todo, password, new_password or password, target_rounds)
    return sorted(results, key=lambda r: r.path)


def _triage(file: _KeyFile, target_rounds: int, *, rewrite: bool) -> KeyFileResult | _Rewrite:
    """What to do with one key file: a final result, or a rewrite.

    ``rewrite``: also rewrite files that already use the KDF at ``target_rounds``.

    Raises:
        InvalidInputError: a given file is absent or not a private key file.
    """
    if not file.path.is_file():
        if file.given:
            raise InvalidInputError(f"key file {file.path} does not exist")
        return KeyFileResult(str(file.path), file.keyid, file.roles, "-", None, "not at hand")
    pem = file.path.read_bytes()
    info = describe(pem)
    if info is None and file.given:
        raise InvalidInputError(f"{file.path} is not a private key file")
    result = KeyFileResult(str(file.path), file.keyid, file.roles, _label(pem), None, "")
    if info is None or not info.encrypted:
        result.action = "unencrypted"
        return result
    if info.name == "openssh-bcrypt" and info.rounds == target_rounds and not rewrite:
        result.action = "already strong"
        return result
    return _Rewrite(result, file, pem)


def _rewrite(
    todo: list[_Rewrite], password: str, new_password: str, rounds: int
) -> list[KeyFileResult]:
    """Decrypt every file first (a wrong password changes nothing), then rewrite each,
    checking the new bytes give back the trusted key before they replace the old file."""
    decrypted = []
    for item in todo:
        private_key = load_private_key(item.pem, password, str(item.file.path))
        key = _trusted_key(item.file.candidates, private_key, item.file.path)
        item.result.keyid = key.keyid
        decrypted.append((item, key, private_key))
    for item, key, private_key in decrypted:
        path = item.file.path
        pem = dump_private_key(private_key, new_password, rounds=rounds)
        _trusted_key([key], load_private_key(pem, new_password, str(path)), path)
        write_private_file(path, pem)
        item.result.after = _label(pem)
        item.result.action = "rewritten"
    return [item.result for item in todo]


def _trusted_key(candidates: list[Key], private_key: Any, path: Path) -> Key:
    """The key among ``candidates`` whose private part ``private_key`` is."""
    for candidate in candidates:
        if not isinstance(candidate, SSlibKey):
            continue
        try:
            CryptoSigner(private_key, candidate)
        except (KeyMismatchError, ValueError):
            continue
        return candidate
    raise KeyProblemError(f"key file {path} holds no key of this repository; nothing rewritten")
