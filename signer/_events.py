"""Signing events: several key holders sign the same metadata, one after the other.

An event is a folder inside the working repository (so a shared directory or a git
branch carries it; no server)::

    REPO/sign-events/NAME/event.json                    roles, versions, base digests
    REPO/sign-events/NAME/drafts/<role>.json            the metadata to sign, frozen
    REPO/sign-events/NAME/signatures/<role>/<keyid>.json   one file per signature

``start`` freezes the roles whose current metadata lacks signatures (root after a key
change, targets after ``add``, ...). Each holder's ``sign`` signs the frozen draft bytes
(so signatures never invalidate each other) and adds only its own signature files, which
never conflict between holders in a shared folder or between git branches. ``finish``
checks every threshold (for root, the new and the previous root's) and writes the signed
metadata into the repository; until then the repository holds the unsigned draft, which
``publish`` refuses. The repository must not change under an open event: every command
checks the digests recorded by ``start``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib import parse

from securesystemslib.signer import CryptoSigner, Key, SecretsHandler, Signature, Signer, SSlibKey
from tuf.api.metadata import Metadata, Root, Snapshot, Timestamp

from signer._errors import (
    ConflictError,
    InvalidInputError,
    KeyProblemError,
    MetadataError,
    SigningIncompleteError,
    UntrustedKeyError,
)
from signer._event_guard import EVENTS_DIR, event_roles
from signer._fsutil import atomic_write, remove_tree, staged_dir, write_all_or_nothing
from signer._keyops import delegator_of
from signer._keys import Keyring
from signer._repository import FirmwareRepository, role_filename, utcnow
from signer._signers import (
    fingerprint,
    load_signer,
    public_key_from_private_uri,
    read_key_file,
    sign_verified,
    signer_uri,
)

EVENT_FORMAT = 1
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass
class RoleProgress:
    """How far one role of an event is signed."""

    role: str
    version: int
    threshold: int
    signed: list[str]
    missing: int
    waiting_for: dict[str, str | None]
    """Key id -> signer URI of each trusted key that has not signed yet."""
    previous_threshold: int | None = None
    previous_missing: int = 0
    """Root only: the previous root's threshold and what it still lacks."""
    changes: list[str] = field(default_factory=list)
    """Root only: key and threshold changes against the previous root, for review."""

    @property
    def complete(self) -> bool:
        return self.missing == 0 and self.previous_missing == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "version": self.version,
            "threshold": self.threshold,
            "signed": self.signed,
            "missing": self.missing,
            "waiting_for": self.waiting_for,
            "previous_threshold": self.previous_threshold,
            "previous_missing": self.previous_missing,
            "changes": self.changes,
            "complete": self.complete,
        }


@dataclass
class EventStatus:
    """Who signed what in an event and how many signatures are still needed."""

    name: str
    created: str
    roles: list[RoleProgress] = field(default_factory=list)
    signed_now: dict[str, list[str]] = field(default_factory=dict)
    """Role -> key ids whose signature this command added (``sign``)."""
    rejected: dict[str, str] = field(default_factory=dict)
    """Signature file -> why it does not count (malformed, foreign key, does not verify)."""

    @property
    def complete(self) -> bool:
        return all(r.complete for r in self.roles)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "created": self.created,
            "complete": self.complete,
            "roles": [r.to_dict() for r in self.roles],
            "signed_now": self.signed_now,
            "rejected": self.rejected,
        }


class SignEvent:
    """One signing event of a repository, loaded and checked against the repository."""

    def __init__(self, repo: FirmwareRepository, name: str) -> None:
        self.repo = repo
        self.name = _check_name(name)
        self.path = repo.path / EVENTS_DIR / name
        try:
            info = json.loads((self.path / "event.json").read_bytes())
        except FileNotFoundError:
            raise InvalidInputError(
                f"no signing event {name!r} in {repo.path} "
                f"(start one with 'firmtuf sign-event start {repo.path} {name}')"
            ) from None
        except (OSError, ValueError) as e:
            raise MetadataError(f"{self.path / 'event.json'}: unreadable: {e}") from None
        if not isinstance(info, dict) or info.get("firmtuf_sign_event") != EVENT_FORMAT:
            raise MetadataError(f"{self.path / 'event.json'}: not a signing event")
        self.rejected: dict[str, str] = {}
        """Signature file -> why it was left out (see :meth:`assembled`)."""
        self.created: str = str(info.get("created", ""))
        self.roles: list[str] = list(info["roles"])
        base: dict[str, str] = dict(info["base"])
        self.drafts: dict[str, bytes] = {}
        for role in self.roles:
            self.drafts[role] = (self.path / "drafts" / role_filename(role)).read_bytes()
        for role in self.roles:
            # The drafts are the repository's own bytes: a draft edited in the shared
            # folder would make holders sign something nobody reviewed.
            if _sha256(self.drafts[role]) != base.get(role):
                raise MetadataError(
                    f"{self.path / 'drafts' / role_filename(role)} differs from the "
                    f"{role} metadata the event was started with (edited?)"
                )
        for role, digest in base.items():
            try:
                current = _sha256(repo.metadata_path(role).read_bytes())
            except FileNotFoundError:
                current = ""
            if current != digest:
                raise ConflictError(
                    f"{role} metadata in {repo.path} changed since signing event {name!r} "
                    "started; its signatures would not count: cancel it and start a new one"
                )

    def draft(self, role: str) -> Metadata:
        return Metadata.from_bytes(self.drafts[role])

    def signature_files(self, role: str) -> dict[str, Path]:
        folder = self.path / "signatures" / parse.quote(role, "")
        if not folder.is_dir():
            return {}
        return {p.stem: p for p in sorted(folder.glob("*.json"))}

    def assembled(self, role: str) -> Metadata:
        """The draft with every collected signature that verifies.

        A signature file that is malformed, from a key the role does not trust, or does
        not verify (edited, truncated, forged) is left out and recorded in
        :attr:`rejected` (path -> why): the valid ones may still meet the threshold, and
        its holder can sign again (which replaces the file).
        """
        md = self.draft(role)
        trusted = {k.keyid: k for k in self.repo.signing_keys(role)}
        for keyid, path in self.signature_files(role).items():
            try:
                sig = Signature.from_dict(json.loads(path.read_bytes()))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
                self.rejected[str(path)] = f"not a signature ({e})"
                continue
            key = trusted.get(sig.keyid)
            if sig.keyid != keyid or key is None:
                self.rejected[str(path)] = f"signature of a key {role} does not trust"
                continue
            try:
                key.verify_signature(sig, md.signed_bytes)
            except Exception:  # noqa: BLE001 - any failure: the file is not a valid signature
                self.rejected[str(path)] = "signature does not verify"
                continue
            md.signatures[keyid] = sig
        return md

    def progress(self, role: str) -> RoleProgress:
        md = self.assembled(role)
        keys = {k.keyid: k for k in self.repo.signing_keys(role)}
        if role == Root.type:
            root = md.signed
            if not isinstance(root, Root):  # pragma: no cover - drafts come from the repo
                raise MetadataError(f"draft of {role} is not root metadata")
            previous = self.repo.previous_root(root)
            result = root.get_root_verification_result(previous, md.signed_bytes, md.signatures)
            # first: the previous root's keys, second: this root's own keys.
            return RoleProgress(
                role,
                root.version,
                result.second.threshold,
                sorted(result.signed),
                result.second.missing,
                {k: signer_uri(keys[k]) for k in sorted(result.unsigned)},
                result.first.threshold if previous is not None else None,
                result.first.missing if previous is not None else 0,
                root_changes(previous, root) if previous is not None else [],
            )
        state = self.repo.signature_state(role, md)
        return RoleProgress(
            role,
            md.signed.version,
            state.threshold,
            state.signed,
            state.missing,
            {k: signer_uri(keys[k]) for k in state.unsigned},
        )

    def status(self) -> EventStatus:
        self.rejected.clear()
        status = EventStatus(self.name, self.created, [self.progress(r) for r in self.roles])
        status.rejected = dict(self.rejected)
        return status


def root_changes(previous: Root, root: Root) -> list[str]:
    """Human-readable key and threshold changes from ``previous`` to ``root``."""
    changes = []
    for role, new_role in root.roles.items():
        old_role = previous.roles.get(role)
        old_ids = set(old_role.keyids) if old_role else set()
        for keyid in new_role.keyids:
            if keyid not in old_ids:
                key = root.get_key(keyid)
                changes.append(
                    f"{role}: adds key {keyid[:12]} fingerprint {fingerprint(key)} "
                    f"({signer_uri(key) or 'no signer URI'})"
                )
        changes.extend(
            f"{role}: removes key {keyid[:12]}" for keyid in sorted(old_ids - set(new_role.keyids))
        )
        if old_role and old_role.threshold != new_role.threshold:
            changes.append(f"{role}: threshold {old_role.threshold} -> {new_role.threshold}")
    if previous.expires != root.expires:
        changes.append(f"root expires {root.expires:%Y-%m-%d %H:%M} UTC")
    return changes


def _check_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name):
        raise InvalidInputError(
            f"bad signing event name {name!r}: use letters, digits, '.', '_', '-' (max 64)"
        )
    return name


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def list_events(repo: FirmwareRepository) -> list[str]:
    """Names of the open signing events of ``repo``."""
    folder = repo.path / EVENTS_DIR
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "event.json").is_file())


def broken_events(repo: FirmwareRepository) -> list[str]:
    """Event folders without a readable ``event.json`` (only ``cancel`` works on them)."""
    folder = repo.path / EVENTS_DIR
    if not folder.is_dir():
        return []
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith(".") and event_roles(p) is None
    )


def start_event(repo: FirmwareRepository, name: str, roles: list[str] | None = None) -> EventStatus:
    """Freeze the roles that lack signatures (or ``roles``) as the drafts of event ``name``.

    Snapshot and timestamp are left out while what they describe is still changing; they
    are renewed by ``firmtuf sign`` (online keys) once the event is finished.

    Raises:
        InvalidInputError: bad name, unknown role, or nothing to sign.
        ConflictError: the event exists already, or a named role is fully signed.
    """
    _check_name(name)
    path = repo.path / EVENTS_DIR / name
    if path.exists():
        raise ConflictError(f"signing event {name!r} exists already ({path})")
    chosen = _roles_to_freeze(repo, roles)
    _check_not_collected_elsewhere(repo, chosen)
    base: dict[str, str] = {}
    drafts: dict[str, bytes] = {}
    for role in chosen:
        for dependency in (role, delegator_of(repo, role)):
            data = repo.metadata_path(dependency).read_bytes()
            base[dependency] = _sha256(data)
            if dependency == role:
                drafts[role] = data
    info = {
        "firmtuf_sign_event": EVENT_FORMAT,
        "name": name,
        "created": utcnow().isoformat().replace("+00:00", "Z"),
        "roles": chosen,
        "base": base,
    }
    _write_event(path, info, drafts)
    return SignEvent(repo, name).status()


def _roles_to_freeze(repo: FirmwareRepository, roles: list[str] | None) -> list[str]:
    """``roles`` checked (known, not fully signed), or every role lacking signatures
    except a snapshot/timestamp whose content is still changing.

    Raises:
        InvalidInputError: an unknown role, or nothing to sign.
        ConflictError: a named role is fully signed.
    """
    known = [Root.type, *repo.targets_roles(), Snapshot.type, Timestamp.type]
    if roles:
        for role in roles:
            if role not in known:
                raise InvalidInputError(f"unknown role {role!r} (roles: {', '.join(known)})")
            if repo.is_complete(role):
                raise ConflictError(
                    f"{role} is fully signed: change it first (firmtuf key, add, remove)"
                )
        chosen = [r for r in known if r in roles]
    else:
        chosen = [
            r
            for r in known
            if not repo.is_complete(r)
            and not (r in (Snapshot.type, Timestamp.type) and repo.stale_reason(r))
        ]
    if not chosen:
        raise InvalidInputError("nothing to sign: every role is fully signed")
    return chosen


def _check_not_collected_elsewhere(repo: FirmwareRepository, chosen: list[str]) -> None:
    """Refuse a second event collecting signatures for the same role."""
    for other in list_events(repo):
        parsed = event_roles(repo.path / EVENTS_DIR / other)
        shared = [r for r in chosen if parsed is not None and r in parsed[0]]
        if shared:
            raise ConflictError(
                f"signing event {other!r} already collects signatures for {shared[0]}; "
                f"sign there (firmtuf sign-event sign {repo.path} {other}) or cancel it"
            )


def _write_event(path: Path, info: dict[str, Any], drafts: dict[str, bytes]) -> None:
    """Create the event folder whole: staged beside it, then renamed into place."""
    with staged_dir(path, "start") as staging:
        for role, data in drafts.items():
            atomic_write(staging / "drafts" / role_filename(role), data, sync_dir=False)
        (staging / "signatures").mkdir()
        atomic_write(staging / "event.json", json.dumps(info, indent=2).encode())


def _match(trusted: list[Key], public: Key) -> Key | None:
    for key in trusted:
        if key.keytype == public.keytype and key.keyval == public.keyval:
            return key
    return None


def _explicit_signers(
    event: SignEvent,
    key_files: list[Path],
    uris: list[str],
    secrets_handler: SecretsHandler | None,
) -> list[tuple[Key, Signer]]:
    """Signers for the keys given on the command line, each checked to be trusted."""
    trusted: dict[str, Key] = {}
    for role in event.roles:
        trusted.update({k.keyid: k for k in event.repo.signing_keys(role)})
    keys = list(trusted.values())
    what = f"any role of signing event {event.name!r} ({', '.join(event.roles)})"
    result: list[tuple[Key, Signer]] = []
    for path in key_files:
        private = read_key_file(path, secrets_handler)
        try:
            public = SSlibKey.from_crypto(private.public_key())
        except ValueError as e:
            raise KeyProblemError(f"key file {path}: unsupported key: {e}") from None
        key = _match(keys, public)
        if not isinstance(key, SSlibKey):
            raise UntrustedKeyError(f"key {public.keyid[:8]} of {path} is not a key of {what}")
        result.append((key, CryptoSigner(private, key)))
    for uri in uris:
        found = public_key_from_private_uri(uri, secrets_handler)
        if found is not None:
            key = _match(keys, found[1])
            if key is None:
                raise UntrustedKeyError(f"key {found[1].keyid[:8]} of {uri} is not a key of {what}")
            result.append((key, load_signer(found[0], key, secrets_handler)))
            continue
        same = [k for k in keys if signer_uri(k) == uri]
        if not same:
            raise UntrustedKeyError(f"no key with signer URI {uri} is a key of {what}")
        keyring = Keyring(event.repo.path, secrets_handler)
        for key in same:
            signer = keyring.signer_for(key)
            if signer is None:
                raise KeyProblemError(f"{uri}: {keyring.unavailable.get(key.keyid, 'unusable')}")
            result.append((key, signer))
    return result


def sign_event(
    repo: FirmwareRepository,
    name: str,
    *,
    key_files: list[Path] | None = None,
    uris: list[str] | None = None,
    secrets_handler: SecretsHandler | None = None,
) -> EventStatus:
    """Add the signatures of the given keys (or of the keys at hand) to event ``name``.

    Only signature files are written, one per key and role, all or nothing.

    Raises:
        UntrustedKeyError: a given key is not trusted by any role of the event.
        KeyProblemError: no key at hand, wrong password or PIN, token absent.
        ConflictError: the repository changed since the event started.
    """
    event = SignEvent(repo, name)
    explicit = bool(key_files or uris)
    given = _explicit_signers(event, key_files or [], uris or [], secrets_handler)
    keyring = Keyring(repo.path, secrets_handler)
    files: list[tuple[Path, bytes]] = []
    signed: dict[str, list[str]] = {}
    any_signer = bool(given)
    for role in event.roles:
        md = event.assembled(role)
        present = set(md.signatures)
        trusted = {k.keyid: k for k in repo.signing_keys(role)}
        if explicit:
            candidates = [(k, s) for k, s in given if k.keyid in trusted]
        else:
            candidates = []
            for key in trusted.values():
                # Keys that signed already count as at hand: "already signed", not an error.
                signer = keyring.signer_for(key)
                if signer is not None:
                    candidates.append((key, signer))
            any_signer = any_signer or bool(candidates)
        for key, signer in candidates:
            if key.keyid in present:
                continue
            draft = event.draft(role)
            draft.signatures.clear()
            sig = sign_verified(draft, signer, key)
            folder = event.path / "signatures" / parse.quote(role, "")
            files.append((folder / f"{key.keyid}.json", json.dumps(sig.to_dict()).encode()))
            signed.setdefault(role, []).append(key.keyid)
            present.add(key.keyid)
    if not any_signer:
        why = "; ".join(f"{k[:8]}: {v}" for k, v in keyring.unavailable.items())
        raise KeyProblemError(
            f"no key of signing event {name!r} is at hand"
            + (f" ({why})" if why else "")
            + "; give --key-file or --uri"
        )
    write_all_or_nothing(files)
    status = event.status()
    status.signed_now = signed
    return status


def finish_event(repo: FirmwareRepository, name: str) -> EventStatus:
    """Check every threshold and write the signed metadata into the repository.

    The event folder is removed afterwards. Snapshot and timestamp are renewed by a
    following ``firmtuf sign``; ``firmtuf publish`` then serves the result.

    Raises:
        SigningIncompleteError: a role lacks signatures (nothing is written).
        ConflictError: the repository changed since the event started.
    """
    event = SignEvent(repo, name)
    status = event.status()
    if not status.complete:
        gaps = [
            f"{r.role} needs {max(r.missing, r.previous_missing)} more signature(s)"
            for r in status.roles
            if not r.complete
        ]
        rejected = (
            f" ({len(status.rejected)} signature file(s) do not count: "
            f"{'; '.join(f'{p}: {why}' for p, why in status.rejected.items())})"
            if status.rejected
            else ""
        )
        raise SigningIncompleteError(
            f"signing event {name!r} is not complete: {'; '.join(gaps)}{rejected}; "
            "nothing was changed"
        )
    for role in event.roles:
        repo.stage(role, event.assembled(role))
    repo.event_exempt = name
    repo.save()
    remove_tree(event.path)
    return status


def cancel_event(repo: FirmwareRepository, name: str) -> None:
    """Remove event ``name`` and its signatures; the repository is left as it is."""
    path = repo.path / EVENTS_DIR / _check_name(name)
    if not path.is_dir():  # a folder that lost its event.json can still be cancelled
        raise InvalidInputError(f"no signing event {name!r} in {repo.path}")
    remove_tree(path)
