"""Where each file lives in a published tree: the one model of the layout devices fetch.

Publish writes it, stores upload and prune it, bundles copy from it; all of them name
files through this module (consistent snapshots, TUF 1.0.x §5)::

    metadata/N.root.json      every root version (devices walk the chain)
    metadata/root.json        the newest root, for clients that start from a URL
    metadata/timestamp.json   the only entry point that changes
    metadata/V.snapshot.json  metadata/V.<role>.json   versioned, immutable once published
    targets/<dir>/<hash>.<name>                        images, one name per hash

Role names are URL-quoted in file names (as clients quote them); snapshot lists them as
``<role>.json``. Reading goes through :class:`PublishedTree`, which parses metadata with
python-tuf's model (never raw dicts) from a directory or from any store.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib import parse

from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp
from tuf.api.serialization import DeserializationError

from signer._errors import PublishError

METADATA = "metadata/"
TARGETS = "targets/"
TIMESTAMP_KEY = f"{METADATA}{Timestamp.type}.json"
ROOT_KEY = f"{METADATA}{Root.type}.json"
MUTABLE_KEYS = (TIMESTAMP_KEY, ROOT_KEY)
"""The only files a publish replaces; everything else is created once."""

_VERSIONED_RE = re.compile(r"^([1-9][0-9]{0,18})\.(.+)\.json$")
_T = TypeVar("_T", Root, Timestamp, Snapshot, Targets)


def metadata_key(role: str, version: int | None = None) -> str:
    """``metadata/V.<role>.json`` (``metadata/<role>.json`` without a version)."""
    name = f"{parse.quote(role, '')}.json"
    return f"{METADATA}{name}" if version is None else f"{METADATA}{version}.{name}"


def target_key(name: str, digest: str) -> str:
    """``targets/<dir>/<digest>.<basename>``: where the image of target ``name`` lives."""
    head, sep, base = name.rpartition("/")
    return f"{TARGETS}{head}{sep}{digest}.{base}"


def image_keys(name: str, hashes: Mapping[str, str]) -> list[str]:
    """Every key of target ``name``'s image (one per hash, as clients may fetch any)."""
    return [target_key(name, digest) for digest in hashes.values()]


@dataclass(frozen=True)
class TreeKey:
    """One key of a published tree, parsed.

    Attributes:
        key: the key itself (a POSIX path relative to the tree).
        is_target: an image under ``targets/``.
        role: the metadata role (None for images and unknown metadata names).
        version: the version in a versioned name (None for ``root.json``,
            ``timestamp.json`` and images).
    """

    key: str
    is_target: bool = False
    role: str | None = None
    version: int | None = None

    @classmethod
    def parse(cls, key: str) -> TreeKey:
        if key.startswith(TARGETS):
            return cls(key, is_target=True)
        name = key.removeprefix(METADATA)
        if name in (f"{Timestamp.type}.json", f"{Root.type}.json"):
            return cls(key, role=name.removesuffix(".json"))
        m = _VERSIONED_RE.match(name)
        if m is None or not key.startswith(METADATA):
            return cls(key)
        return cls(key, role=parse.unquote(m.group(2)), version=int(m.group(1)))


def versioned(keys: Iterable[str], role: str) -> list[int]:
    """The versions of ``role`` among ``keys``, ascending."""
    return sorted(
        parsed.version
        for parsed in map(TreeKey.parse, keys)
        if parsed.role == role and parsed.version is not None
    )


class PublishedTree:
    """The metadata of a published tree, read by key from a directory or a store.

    Reads are not verified (signatures are the device's business: use
    :mod:`signer._client` for that); they are parsed, so a file that is not TUF metadata
    is a :class:`PublishError` naming it.
    """

    def __init__(self, read: Callable[[str], bytes | None], where: str) -> None:
        self._read = read
        self.where = where

    @classmethod
    def directory(cls, root: Path) -> PublishedTree:
        def read(key: str) -> bytes | None:
            try:
                return root.joinpath(*key.split("/")).read_bytes()
            except FileNotFoundError:
                return None

        return cls(read, str(root))

    def load(self, key: str, kind: type[_T]) -> _T | None:
        """The ``signed`` part of ``key`` as ``kind``, or None when absent.

        Raises:
            PublishError: the file is not ``kind`` metadata.
        """
        data = self._read(key)
        if data is None:
            return None
        try:
            signed = Metadata.from_bytes(data).signed
        except DeserializationError as e:
            raise PublishError(f"{key} in {self.where} is not TUF metadata: {e}") from e
        if not isinstance(signed, kind):
            raise PublishError(f"{key} in {self.where} is not {kind.type} metadata")
        return signed

    def require(self, key: str, kind: type[_T]) -> _T:
        """Like :meth:`load`, but an absent file is a :class:`PublishError`."""
        signed = self.load(key, kind)
        if signed is None:
            raise PublishError(f"{key} is referenced but missing from {self.where}")
        return signed

    def snapshot_version(self) -> int | None:
        """The snapshot version ``timestamp.json`` references (None: nothing published)."""
        timestamp = self.load(TIMESTAMP_KEY, Timestamp)
        return None if timestamp is None else timestamp.snapshot_meta.version

    def role_versions(self, snapshot_version: int) -> dict[str, int]:
        """Role -> version of every targets role snapshot ``snapshot_version`` lists."""
        snapshot = self.require(metadata_key(Snapshot.type, snapshot_version), Snapshot)
        return {name.removesuffix(".json"): meta.version for name, meta in snapshot.meta.items()}

    def live_versions(self) -> dict[str, int]:
        """Role versions devices may be using now: snapshot and the roles it lists.

        Empty when nothing is published; only the snapshot version when the referenced
        snapshot is absent (a store mid-way through its first upload).
        """
        version = self.snapshot_version()
        if version is None:
            return {}
        if self._read(metadata_key(Snapshot.type, version)) is None:
            return {Snapshot.type: version}
        return {Snapshot.type: version, **self.role_versions(version)}

    def image_keys(self, role: str, version: int) -> set[str]:
        """The keys of every image version ``version`` of ``role`` lists."""
        targets = self.require(metadata_key(role, version), Targets)
        return {
            key for name, info in targets.targets.items() for key in image_keys(name, info.hashes)
        }
