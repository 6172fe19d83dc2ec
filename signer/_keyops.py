"""Key management of a working repository: add, remove and rotate the keys of a role.

A role's keys live in its delegator: root for the top-level roles (root itself
included), the delegating targets role for a delegated role. A key change edits the
delegator (a new root version needs the previous root's threshold and its own, see
``FirmwareRepository.signature_state``) and, when the change leaves the role's current
metadata short of signatures (a key rotated out, a threshold raised), re-issues that
metadata as a new version signed by the keys at hand. Snapshot and timestamp follow with
``firmtuf sign`` as after any change.

Each new key is printed with its key id and fingerprint (SHA-256 of the DER public key,
see :func:`signer._signers.fingerprint`) so the people at a key ceremony can compare it
aloud.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from securesystemslib.signer import CryptoSigner, Key, SecretsHandler, Signer, SSlibKey
from tuf.api.metadata import Root, Targets

from signer._compat import check_signer_supports
from signer._errors import ConflictError, InvalidInputError
from signer._keys import Keyring, file_uri, generate_key, write_key_file
from signer._repository import KEYS_DIR, TOP_LEVEL_ROLES, FirmwareRepository
from signer._signers import SIGNER_URI_FIELD, fingerprint, public_key_from_private_uri, signer_uri


@dataclass
class KeyInfo:
    """A public key as a key ceremony shows it."""

    role: str
    keyid: str
    fingerprint: str
    keytype: str
    scheme: str
    signer_uri: str | None

    @classmethod
    def of(cls, role: str, key: Key) -> KeyInfo:
        return cls(role, key.keyid, fingerprint(key), key.keytype, key.scheme, signer_uri(key))

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "keyid": self.keyid,
            "fingerprint": self.fingerprint,
            "keytype": self.keytype,
            "scheme": self.scheme,
            "signer_uri": self.signer_uri,
        }


@dataclass
class NewKey:
    """Where the new key of a key change comes from.

    Either generated (``key_type`` + ``password``, written as an encrypted key file), or
    an existing private key named by ``uri``: its public key is given (``public_key``,
    needed for cloud KMS) or read from the backend (``hsm:`` token, ``envvar:``).
    """

    key_type: str = "ed25519"
    password: str | None = None
    keys_dir: Path | None = None
    uri: str | None = None
    public_key: SSlibKey | None = None


@dataclass
class KeyChange:
    """What a key command did."""

    role: str
    added: list[KeyInfo] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    threshold: int = 1
    keyids: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    """Role -> version of the metadata this change created or updated."""
    incomplete: dict[str, str] = field(default_factory=dict)
    """Role -> signatures it still lacks (signed later, e.g. in a signing event)."""
    key_files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    """Key id -> why it could not sign (token absent, ...); thresholds met without it."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "skipped": self.skipped,
            "role": self.role,
            "added": [k.to_dict() for k in self.added],
            "removed": self.removed,
            "threshold": self.threshold,
            "keyids": self.keyids,
            "versions": self.versions,
            "incomplete": self.incomplete,
            "key_files": self.key_files,
        }


@dataclass(frozen=True)
class KeyGroup:
    """Roles that share one set of keys and one threshold, and who delegates them."""

    name: str
    """The role's name; for the bins of a succinct delegation, their name prefix."""
    delegator: str
    """The role whose metadata lists the keys (root for top-level roles)."""
    members: list[str]
    """The roles themselves (one, or every bin)."""


def key_groups(repo: FirmwareRepository) -> Iterator[KeyGroup]:
    """The key group of every role, in pre-order.

    A delegated role is its own group; the bins of a succinct delegation are one group
    named by their prefix: they share one set of keys and one threshold (TAP 15).
    """
    for role in TOP_LEVEL_ROLES:
        yield KeyGroup(role, Root.type, [role])
    for parent, delegations in repo.graph.delegating():
        if delegations.roles is not None:
            for child in delegations.roles:
                yield KeyGroup(child, parent, [child])
        elif delegations.succinct_roles is not None:
            succinct = delegations.succinct_roles
            yield KeyGroup(succinct.name_prefix, parent, list(succinct.get_roles()))


def resolve_role(repo: FirmwareRepository, role: str) -> KeyGroup:
    """The key group of ``role``: named ``role`` or, for hash bins, the group's prefix.

    ``role`` is a top-level or delegated role, or a group of hash bins given by its name
    prefix (``bins``) or any bin's name (``bins-3f``): a key change applies to every bin.

    Raises:
        InvalidInputError: ``role`` is not a role of the repository.
    """
    known = []
    for group in key_groups(repo):
        if role == group.name or role in group.members:
            return group
        known.append(group.name)
    raise InvalidInputError(f"unknown role {role!r} (roles: {', '.join(known)})")


def delegator_of(repo: FirmwareRepository, role: str) -> str:
    """Name of the role whose metadata lists the keys of ``role`` (see resolve_role).

    Raises:
        InvalidInputError: ``role`` is not a role of the repository.
    """
    return resolve_role(repo, role).delegator


def keys_of(repo: FirmwareRepository, delegator_name: str, member: str) -> tuple[list[Key], int]:
    delegator = _delegator(repo.metadata(delegator_name).signed)
    delegated = delegator.get_delegated_role(member)
    return [delegator.get_key(k) for k in delegated.keyids], delegated.threshold


def role_keys(repo: FirmwareRepository, role: str) -> tuple[list[Key], int]:
    """The keys trusted for ``role`` and its threshold (as the current metadata says)."""
    group = resolve_role(repo, role)
    return keys_of(repo, group.delegator, group.members[0])


def list_keys(repo: FirmwareRepository) -> list[KeyInfo]:
    """Every key of every role, role by role; a group of hash bins once, by its prefix."""
    infos: list[KeyInfo] = []
    for group in key_groups(repo):
        keys, _ = keys_of(repo, group.delegator, group.members[0])
        infos.extend(KeyInfo.of(group.name, key) for key in keys)
    return infos


def find_key(repo: FirmwareRepository, role: str, prefix: str) -> Key:
    """The key of ``role`` whose id starts with ``prefix`` (at least 8 hex digits).

    Raises:
        InvalidInputError: the prefix is too short, or matches no key or several.
    """
    prefix = prefix.lower()
    if len(prefix) < 8:
        raise InvalidInputError(f"key id {prefix!r}: give at least 8 hex digits")
    keys, _ = role_keys(repo, role)
    matches = [k for k in keys if k.keyid.startswith(prefix)]
    if not matches:
        raise InvalidInputError(f"{role} has no key {prefix}")
    if len(matches) > 1:  # pragma: no cover - needs a sha256 prefix collision
        raise InvalidInputError(f"key id {prefix} is ambiguous in {role}")
    return matches[0]


@dataclass(frozen=True)
class _PreparedKey:
    """The new key of a key change, ready to be added."""

    public: Key
    """Its public key, with its signer URI."""
    generated: CryptoSigner | None = None
    """Its private key when generated here (written to ``key_file`` on success)."""
    key_file: Path | None = None


def _prepare_new_key(
    repo_path: Path, role: str, new: NewKey, secrets_handler: SecretsHandler | None
) -> _PreparedKey:
    """The new public key (with signer URI), its signer if generated, and its key file."""
    if new.uri is None:
        if not new.password:
            raise InvalidInputError("a password is needed to encrypt the new key file")
        signer = generate_key(new.key_type)
        public = signer.public_key
        keys_dir = new.keys_dir or repo_path / KEYS_DIR
        key_path = keys_dir / f"{role}-{public.keyid[:12]}.pem"
        public.unrecognized_fields[SIGNER_URI_FIELD] = (
            f"file:{KEYS_DIR}/{key_path.name}?encrypted=true"
            if new.keys_dir is None
            else file_uri(key_path, repo_path)
        )
        return _PreparedKey(public, signer, key_path)
    uri = new.uri
    if ":" not in uri or not uri.partition(":")[0].isidentifier():
        raise InvalidInputError(f"{uri!r} is not a signer URI (scheme:...)")
    key: Key | None = new.public_key
    if key is None:  # read from the backend: a token, a variable
        found = public_key_from_private_uri(uri, secrets_handler)
        if found is None:
            raise InvalidInputError(
                f"{uri.partition(':')[0]}: keys cannot be read here; give --public-key FILE.pem"
            )
        uri, key = found
    check_signer_supports(uri, key)
    key.unrecognized_fields[SIGNER_URI_FIELD] = uri
    return _PreparedKey(key)


def _check_threshold(role: str, threshold: int, count: int) -> None:
    if count == 0:
        raise ConflictError(f"cannot remove the last key of {role}: a role needs a key")
    if not 1 <= threshold <= count:
        raise InvalidInputError(
            f"threshold of {role} must be between 1 and its {count} key(s), got {threshold}"
        )


def change_keys(
    repo_path: Path | str,
    role: str,
    *,
    add: NewKey | None = None,
    remove: str | None = None,
    threshold: int | None = None,
    secrets_handler: SecretsHandler | None = None,
) -> KeyChange:
    """Add a key to ``role``, remove one (key id prefix), or both (a rotation).

    The delegator (root for top-level roles) gets a new version; the role's own metadata
    is re-issued when the change leaves it short of signatures. Everything is signed with
    the keys at hand (the new key included) and written all or nothing; a generated key
    file is written first and removed again should the metadata not be saved.

    Raises:
        InvalidInputError: unknown role or key, threshold out of range, bad URI.
        ConflictError: removing the last key of a role, adding a key it already has.
        KeyProblemError: a key at hand cannot sign (wrong password or PIN, ...).
        MetadataError: the repository metadata is broken.
    """
    repo_path = Path(repo_path)
    probe = FirmwareRepository(repo_path)
    # For hash bins ``role`` becomes the group's name prefix (key file names, output).
    group = resolve_role(probe, role)
    delegator_name, role, members = group.delegator, group.name, group.members
    new = None if add is None else _prepare_new_key(repo_path, role, add, secrets_handler)
    signers: dict[str, Signer] = {}
    if new is not None and new.generated is not None:
        signers[new.public.keyid] = new.generated
    repo = FirmwareRepository(repo_path, keyring=Keyring(repo_path, secrets_handler, signers))
    old_key = find_key(repo, role, remove) if remove is not None else None
    affected = [] if role == delegator_name else members
    # Read every affected role now: "complete" must be judged against the keys as they
    # are before the change, not taken from the snapshot afterwards.
    was_complete = {r: repo.signature_state(r).complete for r in affected}
    change = KeyChange(role)
    with repo.edit(delegator_name) as delegator:
        _change_delegation(
            _delegator(delegator),
            role,
            members[0],
            change,
            new=new,
            old=old_key,
            threshold=threshold,
        )
    for name in affected:
        if not repo.signature_state(name).complete:
            _reissue(repo, name, bump=was_complete[name])
    _record_change(repo, change, [delegator_name, *affected])
    if new is not None:
        change.added.append(KeyInfo.of(role, new.public))
    if old_key is not None:
        change.removed.append(old_key.keyid)
    _save_with_key_file(repo, change, new, None if add is None else add.password)
    return change


def _record_change(repo: FirmwareRepository, change: KeyChange, roles: list[str]) -> None:
    """The new version, signature gap and skipped keys of each role the change touched."""
    for name in roles:
        change.versions[name] = repo.metadata(name).signed.version
        gap = signature_gap(repo, name)
        if gap is not None:
            change.incomplete[name] = gap
        change.skipped.update(repo.skipped_keys(name))


def _change_delegation(
    delegator: Root | Targets,
    role: str,
    member: str,
    change: KeyChange,
    *,
    new: _PreparedKey | None,
    old: Key | None,
    threshold: int | None,
) -> None:
    """Add ``new``, revoke ``old`` and set ``threshold`` in ``delegator``'s entry for
    ``member`` (for hash bins: shared by the group ``role``).

    Raises:
        ConflictError: the role trusts the new key already, the key is used by another
            role with another signer URI, or the change would remove the last key.
        InvalidInputError: the threshold is out of range.
    """
    if new is not None:
        key = new.public
        if key.keyid in delegator.get_delegated_role(member).keyids:
            raise ConflictError(f"{role} already trusts key {key.keyid[:8]}")
        known = delegator.keys if isinstance(delegator, Root) else _targets_keys(delegator)
        if key.keyid in known and signer_uri(known[key.keyid]) != signer_uri(key):
            raise ConflictError(
                f"key {key.keyid[:8]} is already used by another role with signer "
                f"{signer_uri(known[key.keyid])}; one key has one signer URI"
            )
        delegator.add_key(key, member)
    if old is not None:
        delegator.revoke_key(old.keyid, member)
    delegated = delegator.get_delegated_role(member)
    if threshold is not None:
        delegated.threshold = threshold
    _check_threshold(role, delegated.threshold, len(delegated.keyids))
    change.threshold = delegated.threshold
    change.keyids = list(delegated.keyids)


def _save_with_key_file(
    repo: FirmwareRepository, change: KeyChange, new: _PreparedKey | None, password: str | None
) -> None:
    """Write a generated key's file, then the metadata; the file goes again should the
    metadata not be saved."""
    key_path = None if new is None else new.key_file
    if new is not None and new.generated is not None and key_path is not None:
        if key_path.exists():  # pragma: no cover - needs a key id collision
            raise ConflictError(f"key file {key_path} already exists")
        write_key_file(new.generated, key_path, password)
        change.key_files.append(str(key_path))
    try:
        repo.save()
    except BaseException:
        if key_path is not None:
            with contextlib.suppress(OSError):
                key_path.unlink()
        raise


def _reissue(repo: FirmwareRepository, role: str, *, bump: bool) -> None:
    """New version of ``role``'s metadata (same content, fresh expiry), signed anew."""
    md = repo.open(role)
    if bump:
        md.signed.version += 1
    md.signed.expires = repo.now + repo.config.expiry_for(role)
    md.signatures.clear()
    repo.stage(role, md)
    repo.add_signatures(role)


def _delegator(signed: object) -> Root | Targets:
    if not isinstance(signed, Root | Targets):  # pragma: no cover - _load checks types
        raise InvalidInputError("delegating metadata has the wrong type")
    return signed


def _targets_keys(targets: Targets) -> dict[str, Key]:
    return dict(targets.delegations.keys) if targets.delegations else {}


def signature_gap(repo: FirmwareRepository, role: str) -> str | None:
    """What ``role``'s current metadata still lacks, or None when fully signed.

    For root both thresholds are spelled out: its own and the previous root's.
    """
    state = repo.signature_state(role)
    if state.complete:
        return None
    md = repo.metadata(role)
    root = md.signed
    if isinstance(root, Root):
        previous = repo.previous_root(root)
        result = root.get_root_verification_result(previous, md.signed_bytes, md.signatures)
        own, old = result.second, result.first  # first: the previous root's keys
        text = f"{len(own.signed)}/{own.threshold} signatures of its keys"
        if previous is not None:
            text += f", {len(old.signed)}/{old.threshold} of the previous root's keys"
        return text
    return state.describe()
