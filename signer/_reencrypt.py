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
from signer._keyops import _key_groups, _keys_of
from signer._keys import (
    EncryptedFileSigner,
    Keyring,
    signer_uri,
    write_private_file,
)
from signer._repository import FirmwareRepository
from signer._signers import PASSWORD_SECRET


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
    for name, delegator, members in _key_groups(repo):
        keys, _ = _keys_of(repo, delegator, members[0])
        for key in keys:
            found.setdefault(key.keyid, (key, []))[1].append(name)
    return found


def _file_keys(
    repo: FirmwareRepository, keys: dict[str, tuple[Key, list[str]]]
) -> list[tuple[Key, list[str], Path]]:
    """(key, roles, key file path) for every key with a ``file:`` signer URI."""
    keyring = Keyring(repo.path)
    found = []
    for key, roles in keys.values():
        uri = signer_uri(key)
        if uri is None or parse.urlparse(uri).scheme != EncryptedFileSigner.SCHEME:
            continue
        path = Path(parse.unquote(parse.urlparse(keyring.resolve_uri(uri)).path))
        found.append((key, roles, path))
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
    keys = _keys_with_roles(repo)
    todo: list[tuple[KeyFileResult, list[Key], Path, bytes]] = []
    results: list[KeyFileResult] = []
    seen: set[Path] = set()
    # Files given on the command line are a holder's own copies: only those are rewritten
    # (the repository's other key files keep their password).
    listed = (
        []
        if extra_files
        else [(key.keyid, roles, [key], path) for key, roles, path in _file_keys(repo, keys)]
    )
    everyone = [key for key, _ in keys.values()]
    given = [("?", ["(given)"], everyone, Path(p)) for p in extra_files]
    for keyid, roles, candidates, path in listed + given:
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        if not path.is_file():
            if keyid == "?":
                raise InvalidInputError(f"key file {path} does not exist")
            results.append(KeyFileResult(str(path), keyid, roles, "-", None, "not at hand"))
            continue
        pem = path.read_bytes()
        info = describe(pem)
        if info is None and keyid == "?":
            raise InvalidInputError(f"{path} is not a private key file")
        result = KeyFileResult(str(path), keyid, roles, _label(pem), None, "")
        if info is None or not info.encrypted:
            result.action = "unencrypted"
            results.append(result)
            continue
        unchanged = info.name == "openssh-bcrypt" and info.rounds == target_rounds
        if unchanged and new_password is None and not force:
            result.action = "already strong"
            results.append(result)
            continue
        todo.append((result, candidates, path, pem))

    # Decrypt everything before writing anything: a wrong password changes nothing.
    password = secrets_handler(PASSWORD_SECRET) if todo else None
    decrypted = []
    for result, candidates, path, pem in todo:
        private_key = load_private_key(pem, password, str(path))
        key = _trusted_key(candidates, private_key, path)
        result.keyid = key.keyid
        decrypted.append((result, key, path, private_key))
    for result, key, path, private_key in decrypted:
        pem = dump_private_key(private_key, new_password or password, rounds=target_rounds)
        # The new bytes must give back the trusted key before they replace the old file.
        _trusted_key([key], load_private_key(pem, new_password or password, str(path)), path)
        write_private_file(path, pem)
        result.after = _label(pem)
        result.action = "rewritten"
        results.append(result)
    return sorted(results, key=lambda r: r.path)


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
