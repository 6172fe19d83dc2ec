"""`firmtuf init`: a new working repository with keys for the four top-level roles."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path

from securesystemslib.signer import SecretsHandler, Signer
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
from signer._fsutil import atomic_write, fsync_dir
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
    if key_type not in KEY_TYPES:
        raise InvalidInputError(
            f"unknown key type {key_type!r} (choose from {', '.join(KEY_TYPES)})"
        )
    keys = dict(keys or {})
    thresholds = dict(thresholds or {})
    config = RepositoryConfig(dict(DEFAULT_EXPIRY) | dict(expiry or {}))
    for mapping, what in (
        (keys, "key count"),
        (thresholds, "threshold"),
        (config.expiry, "expiry"),
    ):
        unknown = set(mapping) - set(TOP_LEVEL_ROLES)
        if unknown:
            raise InvalidInputError(f"{what} given for unknown role {sorted(unknown)[0]!r}")
    for role, period in config.expiry.items():
        if period <= timedelta(0):
            raise InvalidInputError(f"expiry of {role} must be positive")
    external_by_role: dict[str, list[ExternalKey]] = {r: [] for r in TOP_LEVEL_ROLES}
    for ext in external_keys:
        if ext.role not in external_by_role:
            raise InvalidInputError(f"external key for unknown role {ext.role!r}")
        external_by_role[ext.role].append(ext)
    if bins is not None:
        check_bin_count(bins)
    counts: dict[str, int] = {}
    for role in TOP_LEVEL_ROLES:
        count = keys.get(role, 0 if external_by_role[role] else 1)
        if count < 0 or count > 64:
            raise InvalidInputError(f"key count of {role} must be between 0 and 64")
        total = count + len(external_by_role[role])
        threshold = thresholds.get(role, 1)
        if total == 0:
            raise InvalidInputError(f"role {role} has no keys")
        if not 1 <= threshold <= total:
            raise InvalidInputError(
                f"threshold of {role} must be between 1 and its {total} key(s), got {threshold}"
            )
        counts[role] = count
    if sum(counts.values()) and not password:
        raise InvalidInputError("a password is needed to encrypt the new key files")

    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.init-", dir=parent))
    outside_keys: list[Path] = []
    try:
        key_dir = Path(keys_dir) if keys_dir is not None else None
        outside = key_dir is not None and key_dir.resolve() != (path.resolve() / KEYS_DIR)
        root = Root(expires=utcnow() + config.expiry[Root.type], consistent_snapshot=True)
        signers: dict[str, Signer] = {}
        for role in TOP_LEVEL_ROLES:
            keyids: list[str] = []
            for _ in range(counts[role]):
                signer = generate_key(key_type)
                key = signer.public_key
                name = f"{role}-{key.keyid[:12]}.pem"
                if outside and key_dir is not None and role in offline_roles:
                    # Offline keys go to --keys-dir; the URI names the file only, and
                    # the directory is recorded on this machine (REPO/keys/.key-dirs).
                    key_path = key_dir / name
                    write_key_file(signer, key_path, password)
                    outside_keys.append(key_path)
                    record_key_dir(staging, key_dir.resolve())
                    uri = f"file:{name}?encrypted=true"
                else:
                    key_path = staging / KEYS_DIR / name
                    write_key_file(signer, key_path, password)
                    uri = f"file:{KEYS_DIR}/{name}?encrypted=true"
                key.unrecognized_fields[SIGNER_URI_FIELD] = uri
                root.keys[key.keyid] = key
                signers[key.keyid] = signer
                keyids.append(key.keyid)
            for ext in external_by_role[role]:
                ext.public_key.unrecognized_fields[SIGNER_URI_FIELD] = ext.uri
                root.keys[ext.public_key.keyid] = ext.public_key
                if ext.public_key.keyid not in keyids:
                    keyids.append(ext.public_key.keyid)
            root.roles[role] = Role(keyids, thresholds.get(role, 1))
        atomic_write(staging / KEYS_DIR / ".gitignore", b"# private keys: never commit\n*\n")
        (staging / TARGETS_DIR).mkdir()
        atomic_write(staging / ".gitignore", _GITIGNORE, sync_dir=False)
        now = utcnow()
        roles: dict[str, Metadata] = {
            Root.type: Metadata(root),
            Targets.type: Metadata(Targets(expires=now + config.expiry[Targets.type])),
            Snapshot.type: Metadata(
                Snapshot(
                    expires=now + config.expiry[Snapshot.type],
                    meta={role_filename(Targets.type): MetaFile(version=1)},
                )
            ),
            Timestamp.type: Metadata(
                Timestamp(
                    expires=now + config.expiry[Timestamp.type],
                    snapshot_meta=MetaFile(version=1),
                )
            ),
        }
        atomic_write(staging / CONFIG_FILE, json.dumps(config.to_dict(), indent=2).encode())
        for role, md in roles.items():
            atomic_write(
                staging / METADATA_DIR / role_filename(role), md.to_bytes(CanonicalFileSerializer())
            )
        repo = FirmwareRepository(staging, keyring=Keyring(staging, secrets_handler, signers))
        for role in _SIGN_ORDER:
            repo.add_signatures(role)
        repo.save()
        if bins is not None:
            keyring = Keyring(staging, secrets_handler, signers)
            _make_bins(staging, bins, key_type, password, keyring)
        if path.exists():
            path.rmdir()
        staging.replace(path)
        fsync_dir(parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for key_path in outside_keys:
            with contextlib.suppress(OSError):
                key_path.unlink()
        raise
    return FirmwareRepository(path, secrets_handler=secrets_handler)


def _make_bins(
    path: Path, count: int, key_type: str, password: str | None, keyring: Keyring
) -> None:
    """Convert the new repository's targets to hash bins and re-sign (still in staging)."""
    convert_to_bins(FirmwareRepository(path), count, key_type=key_type, password=password)
    repo = FirmwareRepository(path, keyring=keyring)
    repo.sign()
    repo.save()
