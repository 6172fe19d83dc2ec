"""`firmtuf init`: a new working repository with keys for the four top-level roles."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from securesystemslib.signer import CryptoSigner, SecretsHandler, Signer
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Role,
    Root,
    Snapshot,
    Targets,
    Timestamp,
)

from signer._canonical import CanonicalFileSerializer
from signer._delegations import check_bin_count, convert_to_bins
from signer._errors import InvalidInputError, RepositoryLocationError
from signer._fsutil import atomic_write, staged_dir
from signer._keys import (
    KEY_TYPES,
    ExternalKey,
    Keyring,
    generate_key,
    record_key_dir,
    write_key_file,
)
from signer._lock import LOCK_FILE
from signer._repository import (
    CONFIG_FILE,
    DEFAULT_EXPIRY,
    KEYS_DIR,
    METADATA_DIR,
    TARGETS_DIR,
    TOP_LEVEL_ROLES,
    FirmwareRepository,
    RepositoryConfig,
    role_filename,
    utcnow,
)
from signer._signers import SIGNER_URI_FIELD

_SIGN_ORDER = (Root.type, Targets.type, Snapshot.type, Timestamp.type)
_GITIGNORE = f"# held by running firmtuf commands (docs/cli.md)\n{LOCK_FILE}\n".encode()


def _check_target_dir(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise RepositoryLocationError(f"{path} already exists and is not an empty directory")


def init_repository(
    path: Path | str,
    *,
    password: str | None,
    key_type: str = "ed25519",
    keys: Mapping[str, int] | None = None,
    thresholds: Mapping[str, int] | None = None,
    expiry: Mapping[str, timedelta] | None = None,
    keys_dir: Path | str | None = None,
    external_keys: Sequence[ExternalKey] = (),
    secrets_handler: SecretsHandler | None = None,
    bins: int | None = None,
    offline_roles: Sequence[str] = (Root.type,),
) -> FirmwareRepository:
    """Create a repository at ``path`` with root, targets, snapshot and timestamp roles.

    New keys (``keys[role]`` of them per role, default 1, or 0 for a role that has external
    keys) are written as PKCS#8 PEM files encrypted with ``password`` into ``keys_dir``
    (default ``path/keys``, git-ignored). The metadata stores public keys and signer URIs
    only, and is signed with every key at hand. Consistent snapshots are on.

    Args:
        path: new directory (must not exist, or be empty).
        password: encrypts the new key files; required when keys are generated.
        key_type: one of ``ed25519`` (default), ``ecdsa-p256``, ``ecdsa-p384``, ``rsa-pss``.
        keys: number of new keys per role.
        thresholds: signatures required per role (default 1).
        expiry: validity period per role (defaults: root 365 days, targets 91 days,
            snapshot 7 days, timestamp 1 day).
        keys_dir: where the new keys of ``offline_roles`` go (default ``path/keys``, with
            every other key); the published metadata names them by file name only.
        offline_roles: the roles whose keys ``keys_dir`` takes (default root: the
            others sign online, in CI).
        external_keys: keys referenced by signer URI instead of generated.
        secrets_handler: asked for PINs/passwords of external keys when signing.
        bins: put targets in this many hash bins (a power of two), with one new bin
            key; see :func:`signer.convert_to_bins`.

    Returns:
        The new repository.

    Raises:
        RepositoryLocationError: ``path`` exists and is not empty.
        InvalidInputError: bad key type, counts, thresholds, expiry or missing password.
    """
    path = Path(path)
    _check_target_dir(path)
    plan = _plan(key_type, keys, thresholds, expiry, external_keys, bins, password)
    outside = Path(keys_dir) if keys_dir is not None else None
    with _KeyFiles(outside, path) as keys_out, staged_dir(path, "init") as staging:
        root, signers = _root_with_new_keys(
            staging, plan, key_type, password, keys_out, offline_roles
        )
        _write_staging(staging, plan, root, Keyring(staging, secrets_handler, signers))
        if bins is not None:
            keyring = Keyring(staging, secrets_handler, signers)
            _make_bins(staging, bins, key_type, password, keyring)
    return FirmwareRepository(path, secrets_handler=secrets_handler)


@dataclass
class _Plan:
    """A validated `init`: per top-level role its new key count, external keys and
    threshold, and the repository configuration."""

    config: RepositoryConfig
    counts: dict[str, int]
    external: dict[str, list[ExternalKey]]
    thresholds: dict[str, int]


def _plan(
    key_type: str,
    keys: Mapping[str, int] | None,
    thresholds: Mapping[str, int] | None,
    expiry: Mapping[str, timedelta] | None,
    external_keys: Sequence[ExternalKey],
    bins: int | None,
    password: str | None,
) -> _Plan:
    """Validate every argument of :func:`init_repository` before anything is written.

    Raises:
        InvalidInputError: the first bad argument.
    """
    if key_type not in KEY_TYPES:
        raise InvalidInputError(
            f"unknown key type {key_type!r} (choose from {', '.join(KEY_TYPES)})"
        )
    config = RepositoryConfig(dict(DEFAULT_EXPIRY) | dict(expiry or {}))
    plan = _Plan(config, {}, {r: [] for r in TOP_LEVEL_ROLES}, dict(thresholds or {}))
    keys = dict(keys or {})
    for mapping, what in (
        (keys, "key count"),
        (plan.thresholds, "threshold"),
        (config.expiry, "expiry"),
    ):
        unknown = set(mapping) - set(TOP_LEVEL_ROLES)
        if unknown:
            raise InvalidInputError(f"{what} given for unknown role {sorted(unknown)[0]!r}")
    for role, period in config.expiry.items():
        if period <= timedelta(0):
            raise InvalidInputError(f"expiry of {role} must be positive")
    for ext in external_keys:
        if ext.role not in plan.external:
            raise InvalidInputError(f"external key for unknown role {ext.role!r}")
        plan.external[ext.role].append(ext)
    if bins is not None:
        check_bin_count(bins)
    for role in TOP_LEVEL_ROLES:
        plan.counts[role] = _checked_count(role, keys, plan)
    if sum(plan.counts.values()) and not password:
        raise InvalidInputError("a password is needed to encrypt the new key files")
    return plan


def _checked_count(role: str, keys: Mapping[str, int], plan: _Plan) -> int:
    count = keys.get(role, 0 if plan.external[role] else 1)
    if count < 0 or count > 64:
        raise InvalidInputError(f"key count of {role} must be between 0 and 64")
    total = count + len(plan.external[role])
    threshold = plan.thresholds.get(role, 1)
    if total == 0:
        raise InvalidInputError(f"role {role} has no keys")
    if not 1 <= threshold <= total:
        raise InvalidInputError(
            f"threshold of {role} must be between 1 and its {total} key(s), got {threshold}"
        )
    return count


class _KeyFiles:
    """Where `init` writes new key files: REPO/keys in staging, or ``keys_dir`` (outside
    the repository) for the offline roles' keys, which a failed `init` removes again
    (on leaving the ``with`` block by an exception)."""

    def __init__(self, keys_dir: Path | None, final: Path) -> None:
        self.keys_dir = keys_dir
        self.outside = keys_dir is not None and keys_dir.resolve() != final.resolve() / KEYS_DIR
        self.written_outside: list[Path] = []

    def write(
        self, staging: Path, signer: CryptoSigner, name: str, password: str | None, offline: bool
    ) -> str:
        """Write the key file; returns its signer URI."""
        if self.outside and self.keys_dir is not None and offline:
            # Offline keys go to --keys-dir; the URI names the file only, and the
            # directory is recorded on this machine (REPO/keys/.key-dirs).
            key_path = self.keys_dir / name
            write_key_file(signer, key_path, password)
            self.written_outside.append(key_path)
            record_key_dir(staging, self.keys_dir.resolve())
            return f"file:{name}?encrypted=true"
        write_key_file(signer, staging / KEYS_DIR / name, password)
        return f"file:{KEYS_DIR}/{name}?encrypted=true"

    def __enter__(self) -> _KeyFiles:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            self.remove_outside()

    def remove_outside(self) -> None:
        for key_path in self.written_outside:
            with contextlib.suppress(OSError):
                key_path.unlink()


def _root_with_new_keys(
    staging: Path,
    plan: _Plan,
    key_type: str,
    password: str | None,
    key_files: _KeyFiles,
    offline_roles: Sequence[str],
) -> tuple[Root, dict[str, Signer]]:
    """Root version 1 with every role's new and external keys, and the new signers."""
    root = Root(expires=utcnow() + plan.config.expiry[Root.type], consistent_snapshot=True)
    signers: dict[str, Signer] = {}
    for role in TOP_LEVEL_ROLES:
        keyids: list[str] = []
        for _ in range(plan.counts[role]):
            signer = generate_key(key_type)
            key = signer.public_key
            name = f"{role}-{key.keyid[:12]}.pem"
            uri = key_files.write(staging, signer, name, password, role in offline_roles)
            key.unrecognized_fields[SIGNER_URI_FIELD] = uri
            root.keys[key.keyid] = key
            signers[key.keyid] = signer
            keyids.append(key.keyid)
        for ext in plan.external[role]:
            ext.public_key.unrecognized_fields[SIGNER_URI_FIELD] = ext.uri
            root.keys[ext.public_key.keyid] = ext.public_key
            if ext.public_key.keyid not in keyids:
                keyids.append(ext.public_key.keyid)
        root.roles[role] = Role(keyids, plan.thresholds.get(role, 1))
    return root, signers


def _write_staging(staging: Path, plan: _Plan, root: Root, keyring: Keyring) -> None:
    """The repository's files in ``staging``: configuration, ignores, the four roles'
    first metadata signed with every key at hand."""
    atomic_write(staging / KEYS_DIR / ".gitignore", b"# private keys: never commit\n*\n")
    (staging / TARGETS_DIR).mkdir()
    atomic_write(staging / ".gitignore", _GITIGNORE, sync_dir=False)
    expiry = plan.config.expiry
    now = utcnow()
    roles: dict[str, Metadata] = {
        Root.type: Metadata(root),
        Targets.type: Metadata(Targets(expires=now + expiry[Targets.type])),
        Snapshot.type: Metadata(
            Snapshot(
                expires=now + expiry[Snapshot.type],
                meta={role_filename(Targets.type): MetaFile(version=1)},
            )
        ),
        Timestamp.type: Metadata(
            Timestamp(expires=now + expiry[Timestamp.type], snapshot_meta=MetaFile(version=1))
        ),
    }
    atomic_write(staging / CONFIG_FILE, json.dumps(plan.config.to_dict(), indent=2).encode())
    for role, md in roles.items():
        atomic_write(
            staging / METADATA_DIR / role_filename(role), md.to_bytes(CanonicalFileSerializer())
        )
    repo = FirmwareRepository(staging, keyring=keyring)
    for role in _SIGN_ORDER:
        repo.add_signatures(role)
    repo.save()


def _make_bins(
    path: Path, count: int, key_type: str, password: str | None, keyring: Keyring
) -> None:
    """Convert the new repository's targets to hash bins and re-sign (still in staging)."""
    convert_to_bins(FirmwareRepository(path), count, key_type=key_type, password=password)
    repo = FirmwareRepository(path, keyring=keyring)
    repo.sign()
    repo.save()
