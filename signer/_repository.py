"""The working repository on disk and the edits a release engineer makes to it.

Layout of a working repository (see docs/quickstart.md):

    REPO/firmtuf.json                 format marker and expiry period per role
    REPO/metadata/<role>.json         current metadata of each role (maybe partly signed)
    REPO/metadata/root_history/N.root.json   every fully signed root version (for publish)
    REPO/targets/<sha256>.<basename>  content store of firmware images
    REPO/keys/                        default place of encrypted key files (git-ignored)

A command loads what it needs, edits in memory, and writes everything at the end with
:meth:`FirmwareRepository.save` (temp file + fsync + rename per file, in the order
delegated targets, targets, snapshot, timestamp, root): an error before ``save`` leaves
the repository untouched.

Versions: an edit bumps a role's version only when its stored version is fully signed;
a draft that still lacks signatures keeps its version, so a multi-step change (add, add,
sign) makes one new version.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple, TypeVar
from urllib import parse

from securesystemslib.signer import Key, SecretsHandler
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization import DeserializationError
from tuf.repository import Repository

from signer._canonical import CanonicalFileSerializer
from signer._errors import (
    ConflictError,
    InvalidInputError,
    KeyNotAtHandError,
    KeyProblemError,
    MetadataError,
    RepositoryLocationError,
)
from signer._event_guard import check_no_open_event
from signer._firmware import check_targets_content
from signer._fsutil import write_all_or_nothing
from signer._graph import DelegationGraph
from signer._keys import Keyring
from signer._signers import sign_verified

CONFIG_FILE = "firmtuf.json"
"""The working repository's configuration file (its presence marks a working repository)."""
CONFIG_FORMAT = 1
METADATA_DIR = "metadata"
ROOT_HISTORY_DIR = "root_history"
TARGETS_DIR = "targets"
KEYS_DIR = "keys"
TOP_LEVEL_ROLES = (Root.type, Targets.type, Snapshot.type, Timestamp.type)

DEFAULT_EXPIRY: dict[str, timedelta] = {
    Root.type: timedelta(days=365),
    Targets.type: timedelta(days=91),
    Snapshot.type: timedelta(days=7),
    Timestamp.type: timedelta(days=1),
}
"""Default validity period of each role's metadata (`firmtuf init --expiry` overrides)."""

# Canonical JSON: devices check the signatures over a file's raw bytes (no re-encoding).
_SERIALIZER = CanonicalFileSerializer()
_T = TypeVar("_T")


def utcnow() -> datetime:
    """Current time, UTC, whole seconds (metadata expiry has second resolution)."""
    return datetime.now(UTC).replace(microsecond=0)


def store_name(sha256: str, name: str) -> str:
    """File name of an image in the content store (and, hash-prefixed, when published)."""
    return f"{sha256}.{name.rpartition('/')[2]}"


def role_filename(role: str) -> str:
    """File name of a role's metadata (role names are URL-quoted, as clients expect)."""
    return f"{parse.quote(role, '')}.json"


class RoleTarget(NamedTuple):
    """A target as a targets role lists it (what :meth:`FirmwareRepository.iter_targets`
    yields)."""

    role: str
    name: str
    info: TargetFile


@dataclass
class RepositoryConfig:
    """Settings of a working repository, stored in ``REPO/firmtuf.json``."""

    expiry: dict[str, timedelta] = field(default_factory=lambda: dict(DEFAULT_EXPIRY))

    def expiry_for(self, role: str) -> timedelta:
        """Validity period of ``role`` (delegated roles use the targets period)."""
        return self.expiry.get(role, self.expiry[Targets.type])

    def to_dict(self) -> dict[str, Any]:
        return {
            "firmtuf_repository": CONFIG_FORMAT,
            "expiry_seconds": {r: int(d.total_seconds()) for r, d in self.expiry.items()},
        }

    @classmethod
    def from_dict(cls, data: Any) -> RepositoryConfig:
        if not isinstance(data, dict) or data.get("firmtuf_repository") != CONFIG_FORMAT:
            raise MetadataError(f"{CONFIG_FILE}: not a firmtuf repository configuration")
        raw = data.get("expiry_seconds")
        if not isinstance(raw, dict):
            raise MetadataError(f"{CONFIG_FILE}: expiry_seconds missing")
        expiry = dict(DEFAULT_EXPIRY)
        for role, seconds in raw.items():
            if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
                raise MetadataError(f"{CONFIG_FILE}: bad expiry for {role}")
            expiry[role] = timedelta(seconds=seconds)
        return cls(expiry)


@dataclass
class SignatureState:
    """How far a role's current metadata is signed."""

    role: str
    threshold: int
    signed: list[str]
    unsigned: list[str]
    missing: int

    @property
    def complete(self) -> bool:
        return self.missing == 0

    def describe(self) -> str:
        """``"1/2 signatures, needs 1 more"``."""
        return f"{len(self.signed)}/{self.threshold} signatures, needs {self.missing} more"


class SignState(Enum):
    """Why a role is not finished after a signing run (the states of the sign plan,
    as tuf-on-ci's ``SignerState``): control flow tests these, never message text."""

    NEEDS_SIGNATURES = "needs-signatures"
    """Its threshold is not met: holders of its keys must sign."""
    WAITING = "waiting"
    """Snapshot or timestamp: what it describes is not fully signed yet."""


@dataclass(frozen=True)
class Pending:
    """A role a signing run left unfinished, and why (``reason`` is for people)."""

    state: SignState
    reason: str


@dataclass
class SignResult:
    """What :meth:`FirmwareRepository.sign` did, role by role."""

    signed: dict[str, list[str]] = field(default_factory=dict)
    """Role -> keyids that added a signature in this run."""
    new_versions: dict[str, int] = field(default_factory=dict)
    """Role -> version created in this run (snapshot/timestamp refresh, re-issue)."""
    pending: dict[str, Pending] = field(default_factory=dict)
    """Role -> why it still lacks signatures or waits for another role."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Key id -> why it could not sign (token absent, ...) for a role whose threshold
    was met without it."""

    @property
    def incomplete(self) -> dict[str, str]:
        """Role -> why it is unfinished (the ``reason`` of each :attr:`pending` role)."""
        return {role: pending.reason for role, pending in self.pending.items()}

    def needing_signatures(self) -> list[str]:
        """Roles whose threshold is not met (not those merely waiting for another)."""
        return [r for r, p in self.pending.items() if p.state is SignState.NEEDS_SIGNATURES]

    def to_dict(self) -> dict[str, Any]:
        return {
            "signed": self.signed,
            "new_versions": self.new_versions,
            "incomplete": self.incomplete,
            "skipped": self.skipped,
        }


class FirmwareRepository(Repository):
    """A working firmtuf repository on disk (see module docstring for the layout).

    Args:
        path: the repository directory (made by :func:`signer.init_repository`).
        secrets_handler: asked for key file passwords / PINs when signing.
        keyring: alternatively, a prepared :class:`Keyring` (keys at hand).

    Without ``secrets_handler`` and ``keyring`` the repository signs nothing: edits
    leave unsigned drafts for a later :meth:`sign`.

    Raises:
        RepositoryLocationError: ``path`` is not a firmtuf repository.
        MetadataError: its configuration is malformed.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        secrets_handler: SecretsHandler | None = None,
        keyring: Keyring | None = None,
    ) -> None:
        self.path = Path(path)
        config_path = self.path / CONFIG_FILE
        if not config_path.is_file():
            raise RepositoryLocationError(
                f"{self.path} is not a firmtuf repository (no {CONFIG_FILE}; "
                "create one with 'firmtuf init')"
            )
        try:
            raw = json.loads(config_path.read_bytes())
        except (OSError, ValueError) as e:
            raise MetadataError(f"{config_path}: unreadable: {e}") from None
        self.config = RepositoryConfig.from_dict(raw)
        if keyring is None and secrets_handler is not None:
            keyring = Keyring(self.path, secrets_handler)
        self.keyring = keyring
        self._loaded: dict[str, Metadata] = {}
        self._current: dict[str, Metadata] = {}
        self._dirty: list[str] = []
        self._disk: dict[Path, bytes] = {}
        self._now = utcnow()
        self._snapshot_checked: tuple[object, bool] = (None, False)
        self._peeked: dict[str, int | None] = {}
        self._graph: DelegationGraph | None = None
        self.event_guard = True
        """Refuse to save a change that would make an open signing event stale."""
        self.event_exempt: str | None = None
        """The signing event being finished (its own roles may be written)."""

    # -- locations ---------------------------------------------------------------------
    @property
    def metadata_dir(self) -> Path:
        return self.path / METADATA_DIR

    @property
    def targets_dir(self) -> Path:
        return self.path / TARGETS_DIR

    def stored_image(self, name: str, info: TargetFile) -> Path:
        """Path of target ``name``'s image in the content store.

        Raises:
            MetadataError: the target has no sha256 hash (the store is keyed by it).
        """
        sha = info.hashes.get("sha256")
        if sha is None:
            raise MetadataError(f"target {name!r} has no sha256 hash")
        return self.targets_dir / store_name(sha, name)

    def metadata_path(self, role: str) -> Path:
        return self.metadata_dir / role_filename(role)

    def root_history_path(self, version: int) -> Path:
        return self.metadata_dir / ROOT_HISTORY_DIR / f"{version}.root.json"

    # -- loading -----------------------------------------------------------------------
    def _read(self, path: Path, role: str) -> Metadata:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise MetadataError(f"{path} is missing") from None
        except OSError as e:
            raise MetadataError(f"cannot read {path}: {e.strerror}") from None
        self._disk[path] = data
        try:
            md = Metadata.from_bytes(data)
        except DeserializationError as e:
            cause = e.__cause__ or e
            raise MetadataError(f"{path} is malformed: {cause}") from None
        if md.signed.type != _role_type(role):
            raise MetadataError(f"{path} holds {md.signed.type} metadata, not {role}")
        return md

    def _load(self, role: str) -> Metadata:
        if role in self._current:
            return self._current[role]
        path = self.metadata_path(role)
        if role not in TOP_LEVEL_ROLES and not path.exists():
            md: Metadata = Metadata(Targets(expires=self._now))
            self._current[role] = md
            return md
        md = self._read(path, role)
        self._current[role] = md
        self._loaded[role] = md
        self._check_signatures(role, md)
        return md

    def previous_root(self, root: Root | None = None) -> Root | None:
        """The root version before ``root`` (default: the current one), or None for v1."""
        root = root or self._load_root()
        if root.version <= 1:
            return None
        path = self.root_history_path(root.version - 1)
        return _as(self._read(path, Root.type).signed, Root)

    def _load_root(self) -> Root:
        root = self._load(Root.type).signed
        if not isinstance(root, Root):  # pragma: no cover - _read checks the type
            raise MetadataError("root metadata has the wrong type")
        return root

    def signature_state(self, role: str, md: Metadata | None = None) -> SignatureState:
        """How far ``role`` (its current metadata, or ``md``) is signed by its keys."""
        md = md or self._load(role)
        payload = md.signed_bytes
        if role == Root.type:
            root = _as(md.signed, Root)
            result = root.get_root_verification_result(
                self.previous_root(root), payload, md.signatures
            )
            # Root needs its own threshold and the previous root's: report its own
            # threshold and the larger gap (``first`` is the previous root's result).
            missing = max(result.first.missing, result.second.missing)
            return SignatureState(
                role,
                result.second.threshold,
                sorted(result.signed),
                sorted(result.unsigned),
                missing,
            )
        delegator = self._delegator(role)
        try:
            res = delegator.get_verification_result(role, payload, md.signatures)
        except ValueError:
            raise MetadataError(f"role {role} is not delegated by any role") from None
        return SignatureState(
            role, res.threshold, sorted(res.signed), sorted(res.unsigned), res.missing
        )

    def _check_signatures(self, role: str, md: Metadata) -> None:
        """Refuse metadata carrying a signature of one of its keys that does not verify.

        That is what a hand edit of signed metadata looks like.
        """
        state = self.signature_state(role, md)
        authorized = set(state.signed) | set(state.unsigned)
        bad = [k for k in md.signatures if k in authorized and k not in state.signed]
        if bad:
            raise MetadataError(
                f"{self.metadata_path(role)}: signature of key {bad[0][:8]} does not verify "
                "(was the file edited by hand?)"
            )

    def _delegator(self, role: str) -> Root | Targets:
        """The metadata that lists the keys of ``role`` (root for top-level roles)."""
        if role in TOP_LEVEL_ROLES:
            return self._load_root()
        delegator = self.graph.delegator(role)
        if delegator is None:
            raise MetadataError(f"role {role} is not delegated by any role")
        return _as(self._load(delegator).signed, Targets)

    @property
    def graph(self) -> DelegationGraph:
        """The delegation graph as it is now (a new one after each change)."""
        if self._graph is None:
            self._graph = DelegationGraph(lambda role: _as(self._load(role).signed, Targets))
        return self._graph

    def targets_roles(self) -> list[str]:
        """Every targets role of the repository: ``targets`` then delegated roles, pre-order.

        Hash bins (succinct delegations) are listed without being loaded: firmtuf never
        delegates further from a bin, and a large repository has thousands of them.
        """
        return self.graph.roles()

    def is_complete(self, role: str) -> bool:
        """True when ``role``'s current metadata has its threshold of valid signatures.

        A delegated role not loaded by this command whose file carries the version the
        (fully signed) snapshot lists is complete without being read: snapshots are only
        made of fully signed roles. This keeps signing one change to a repository of
        thousands of hash bins from reading them all (`status` and `publish` still do).
        """
        if self._unchanged_since_snapshot(role):
            return True
        return self.signature_state(role).complete

    def _unchanged_since_snapshot(self, role: str) -> bool:
        if role in TOP_LEVEL_ROLES or role in self._current:
            return False
        snapshot = self._load(Snapshot.type)
        listed = _as(snapshot.signed, Snapshot).meta.get(role_filename(role))
        if listed is None or self._peek(role) != listed.version:
            return False
        # One signature check per snapshot object, not one per bin.
        key = (id(snapshot), tuple(snapshot.signatures))
        if self._snapshot_checked[0] != key:
            self._snapshot_checked = (key, self.signature_state(Snapshot.type).complete)
        return self._snapshot_checked[1]

    def role_version(self, role: str) -> int:
        """Version of ``role``'s current metadata, read cheaply when it is not loaded."""
        if role not in self._current and role not in TOP_LEVEL_ROLES:
            version = self._peek(role)
            if version is not None:
                return version
        return self._load(role).signed.version

    def _peek(self, role: str) -> int | None:
        # Files change only through save(), which forgets these.
        if role not in self._peeked:
            self._peeked[role] = peek_version(self.metadata_path(role))
        return self._peeked[role]

    # -- tuf.repository.Repository ----------------------------------------------------
    def open(self, role: str) -> Metadata:
        """Load ``role`` for an edit (a copy: an aborted edit changes nothing)."""
        return copy.deepcopy(self._load(role))

    def close(self, role: str, md: Metadata) -> None:
        """Finish an edit: version, expiry, fresh signatures from the keys at hand."""
        stored = self._loaded.get(role)
        if stored is not None and self.signature_state(role, stored).complete:
            md.signed.version = stored.signed.version + 1
        md.signed.expires = self._now + self.config.expiry_for(role)
        md.signatures.clear()
        self.stage(role, md)
        self.add_signatures(role)

    @property
    def targets_infos(self) -> dict[str, MetaFile]:
        return {
            role_filename(role): MetaFile(version=self.role_version(role))
            for role in self.targets_roles()
        }

    @property
    def now(self) -> datetime:
        """The reference time of this command (taken once, so one run sees one clock)."""
        return self._now

    @property
    def snapshot_info(self) -> MetaFile:
        return MetaFile(version=self._load(Snapshot.type).signed.version)

    # -- changes -----------------------------------------------------------------------
    def stage(self, role: str, md: Metadata) -> None:
        """Make ``md`` the new content of ``role``, written by :meth:`save`."""
        self._current[role] = md
        self._graph = None
        if role not in self._dirty:
            self._dirty.append(role)

    def signing_keys(self, role: str) -> list[Key]:
        """Keys whose signatures count for ``role`` (for root: new and previous root keys)."""
        keys: dict[str, Key] = {}
        if role == Root.type:
            roots = [self._load_root()]
            prev = self.previous_root()
            if prev is not None:
                roots.append(prev)
            for root in roots:
                for keyid in root.roles[Root.type].keyids:
                    keys[keyid] = root.get_key(keyid)
        else:
            delegator = self._delegator(role)
            for keyid in delegator.get_delegated_role(role).keyids:
                keys[keyid] = delegator.get_key(keyid)
        return list(keys.values())

    def add_signatures(self, role: str) -> list[str]:
        """Add the signatures of every key at hand that has not signed ``role`` yet."""
        md = self._load(role)
        added: list[str] = []
        if self.keyring is None:
            return added
        if isinstance(md.signed, Targets):
            # Never sign a broken target list (hand edit, bug): devices would reject it.
            check_targets_content(role, md.signed)
        for key in self.signing_keys(role):
            if key.keyid in md.signatures:
                continue
            try:
                signer = self.keyring.signer_for(key)
                if signer is None:
                    continue
                sign_verified(md, signer, key)
            except KeyNotAtHandError as e:
                # Token pulled, KMS down: the other keys may still meet the threshold.
                self.keyring.mark_unavailable(key, str(e))
                continue
            added.append(key.keyid)
        if added:
            self.stage(role, md)
        return added

    def _missing_reason(self, role: str) -> str:
        state = self.signature_state(role)
        reasons = [
            f"{keyid[:8]}: {self.keyring.unavailable[keyid]}"
            for keyid in state.unsigned
            if self.keyring is not None and keyid in self.keyring.unavailable
        ]
        text = state.describe()
        if reasons:
            text += " (" + "; ".join(reasons) + ")"
        return text

    def sign(self, role: str | None = None) -> SignResult:
        """Sign what changed with the keys at hand, or re-issue ``role`` when it is named.

        Without ``role``: roles lacking signatures get those of the keys at hand, then a
        new snapshot is made when every targets role is fully signed and changed, then a
        new timestamp when the snapshot is fully signed and changed. Roles that still need
        signatures stay as they are (``status`` reports them). With ``role``: only that
        role is signed; when it is already fully signed and current it is re-issued as a
        new version with a fresh expiry date.

        Nothing is written until :meth:`save`.

        Raises:
            KeyProblemError: a role needed signatures but no key of it was at hand, or a
                key file password is wrong.
            ConflictError: ``role`` cannot be signed yet (e.g. snapshot before targets).
            InvalidInputError: ``role`` is not a role of this repository.
        """
        result = SignResult()
        known = [Root.type, *self.targets_roles(), Snapshot.type, Timestamp.type]
        if role is not None and role not in known:
            raise InvalidInputError(f"unknown role {role!r} (roles: {', '.join(known)})")
        plan = known if role is None else [role]
        for name in plan:
            if name == Snapshot.type:
                self._sign_snapshot(result, forced=role is not None)
            elif name == Timestamp.type:
                self._sign_timestamp(result, forced=role is not None)
            else:
                self._sign_plain(name, result, forced=role is not None)
        needy = result.needing_signatures()
        if not result.signed and needy:
            raise KeyProblemError(
                f"no key at hand for {needy[0]}: {result.pending[needy[0]].reason}"
            )
        if role is not None and role in result.pending and role not in result.signed:
            raise ConflictError(f"cannot sign {role}: {result.pending[role].reason}")
        return result

    def _record(self, role: str, added: list[str], result: SignResult) -> None:
        if added:
            result.signed.setdefault(role, []).extend(added)
        if not self.is_complete(role):
            result.pending[role] = Pending(SignState.NEEDS_SIGNATURES, self._missing_reason(role))
        elif added:
            result.skipped.update(self.skipped_keys(role))

    def skipped_keys(self, role: str) -> dict[str, str]:
        """Keys of ``role`` that could not sign here (and why), its threshold met anyway.

        Only keys whose signer failed are listed (a token absent, a KMS down), not keys
        simply held elsewhere (a file on another holder's machine).
        """
        if self.keyring is None or not self.is_complete(role):
            return {}
        state = self.signature_state(role)
        return {
            keyid: self.keyring.unavailable[keyid]
            for keyid in state.unsigned
            if keyid in self.keyring.failed
        }

    def _sign_plain(self, role: str, result: SignResult, *, forced: bool) -> None:
        if self.is_complete(role):
            if not forced:
                return
            with self.edit(role):
                pass
            result.new_versions[role] = self._current[role].signed.version
            self._record(role, list(self._current[role].signatures), result)
            return
        self._record(role, self.add_signatures(role), result)

    def _sign_snapshot(self, result: SignResult, *, forced: bool) -> None:
        waiting = [r for r in self.targets_roles() if not self.is_complete(r)]
        if waiting:
            result.pending[Snapshot.type] = Pending(
                SignState.WAITING, f"waits for {waiting[0]} to be fully signed"
            )
            return
        self._renew_or_sign(Snapshot.type, result, forced)

    def _sign_timestamp(self, result: SignResult, *, forced: bool) -> None:
        if not self.is_complete(Snapshot.type) or self._stale(Snapshot.type):
            result.pending[Timestamp.type] = Pending(
                SignState.WAITING, "waits for a fully signed, current snapshot"
            )
            return
        self._renew_or_sign(Timestamp.type, result, forced)

    def _renew_or_sign(self, role: str, result: SignResult, forced: bool) -> None:
        """New snapshot/timestamp when stale (or asked to re-issue), else add signatures.

        A current draft only gets signatures added, so holders of a threshold of
        snapshot or timestamp keys can sign one after the other.
        """
        if not (self._stale(role) or (forced and self.is_complete(role))):
            self._record(role, self.add_signatures(role), result)
            return
        before = self._load(role).signed.version
        try:
            if role == Snapshot.type:
                self.do_snapshot(force=True)
            else:
                self.do_timestamp(force=True)
        except ValueError as e:
            raise MetadataError(f"cannot make a new {role}: {e}") from None
        md = self._current[role]
        if md.signed.version != before:
            result.new_versions[role] = md.signed.version
        self._record(role, list(md.signatures), result)

    def _stale(self, role: str) -> bool:
        """True when snapshot/timestamp do not describe the current roles they list."""
        if role == Snapshot.type:
            snapshot = _as(self._load(Snapshot.type).signed, Snapshot)
            for name, info in self.targets_infos.items():
                listed = snapshot.meta.get(name)
                if listed is None or listed.version != info.version:
                    return True
            return False
        if role == Timestamp.type:
            timestamp = _as(self._load(Timestamp.type).signed, Timestamp)
            return timestamp.snapshot_meta.version != self.snapshot_info.version
        return False

    def stale_reason(self, role: str) -> str | None:
        """Why snapshot or timestamp is out of date, or None when it is current."""
        if not self._stale(role):
            return None
        if role == Snapshot.type:
            snapshot = _as(self._load(Snapshot.type).signed, Snapshot)
            for name, info in self.targets_infos.items():
                listed = snapshot.meta.get(name)
                if listed is None:
                    return f"does not list {name} v{info.version}"
                if listed.version != info.version:
                    return f"lists {name} v{listed.version}, current is v{info.version}"
        return (
            f"lists snapshot v{self._load(Timestamp.type).signed.snapshot_meta.version}, "
            f"current is v{self.snapshot_info.version}"
        )

    def metadata(self, role: str) -> Metadata:
        """The current metadata of ``role`` (do not modify: use :meth:`edit`)."""
        return self._load(role)

    def iter_targets(self) -> Iterator[RoleTarget]:
        """Every target of every targets role, with the role that lists it."""
        for role in self.targets_roles():
            targets = _as(self._load(role).signed, Targets)
            for name, info in targets.targets.items():
                yield RoleTarget(role, name, info)

    # -- writing -----------------------------------------------------------------------
    def save(self) -> list[Path]:
        """Write every changed role: all or nothing, referenced roles first.

        Every new file is first written and synced as a temp file; then the temp files
        are renamed into place in order. Should a rename fail, the files already replaced
        get their previous bytes back, so the repository is left as it was.

        Returns the paths written.
        """
        order = {r: i for i, r in enumerate((Targets.type, Snapshot.type, Timestamp.type))}
        dirty = sorted(self._dirty, key=lambda r: (r == Root.type, order.get(r, -1)))
        files: list[tuple[Path, bytes]] = []
        for role in dirty:
            md = self._current[role]
            data = md.to_bytes(_SERIALIZER)
            if role == Root.type and self.signature_state(role, md).complete:
                files.append((self.root_history_path(md.signed.version), data))
            files.append((self.metadata_path(role), data))
        self._check_unchanged_on_disk([path for path, _ in files])
        if self.event_guard:
            check_no_open_event(self.path, dirty, self.event_exempt)
        write_all_or_nothing(files)
        self._peeked.clear()
        for path, data in files:
            self._disk[path] = data
        for role in dirty:
            self._loaded[role] = self._current[role]
        self._dirty.clear()
        return [path for path, _ in files]

    def _check_unchanged_on_disk(self, paths: list[Path]) -> None:
        """Refuse to overwrite metadata another command changed since this one read it."""
        for path in paths:
            if path not in self._disk:
                continue
            try:
                now = path.read_bytes()
            except FileNotFoundError:
                now = None
            if now != self._disk[path]:
                raise ConflictError(
                    f"{path} changed while this command ran (another firmtuf command?); "
                    "nothing was written, run it again"
                )

    @property
    def changed_roles(self) -> tuple[str, ...]:
        """Roles edited in memory and waiting for :meth:`save`."""
        return tuple(self._dirty)


_TAIL_VERSION = re.compile(rb'"version":\s*(\d+)\s*}\s*}\s*$')
_TAIL_BYTES = 128


def peek_version(path: Path) -> int | None:
    """The ``signed.version`` of a metadata file written by firmtuf, from its last bytes.

    firmtuf writes metadata with sorted keys, so ``"version"`` closes the file; anything
    else (hand-formatted, missing file) gives None and the caller reads the whole file.
    """
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(size - _TAIL_BYTES, 0))
            tail = f.read()
    except OSError:
        return None
    match = _TAIL_VERSION.search(tail)
    return int(match[1]) if match else None


def _as(obj: object, cls: type[_T]) -> _T:
    if not isinstance(obj, cls):
        raise MetadataError(f"expected {cls.__name__.lower()} metadata, got {type(obj).__name__}")
    return obj


def _role_type(role: str) -> str:
    return role if role in TOP_LEVEL_ROLES else Targets.type
