"""The trust store's layout: TUF role files and device-owned files in separate namespaces.

``metadata_dir`` (docs/adr/0006-trust-store-layout.md)::

    root.json timestamp.json snapshot.json targets.json <quoted role>.json
                                 the TUF namespace: every ``*.json`` at the top is the
                                 trusted metadata of one role, nothing else
    .<name>.tmp                  staged writes (never a ``.json`` name)
    firmtuf/                     the device namespace (no role file can be named
                                 ``firmtuf``: role files end in ``.json``)
        layout.json              {"layout": 3}
        components/<hwid>.json   one component's state: installed, pending, rejected
                                 (url-quoted hardware id; docs/adr/0010)
        device.json              layout 2's single-component state, until adopted
        time_floor.json          newest time seen (offline bundles)
        partial/                 partial downloads, named by target name and hash
        lock                     the trust-store lock (flock; never deleted)

A role name is url-quoted with no safe character, so it cannot hold ``/`` and cannot
leave the top of ``metadata_dir``. Role files are a cache of verified metadata: a role
whose file name could collide with a top-level role's on a case-insensitive file system
(``Root``, ``TARGETS``), or that is too long for a file name, is simply not stored and is
fetched again when needed.

Layout 1 (before 2026-12) kept the time floor at the top (``time_floor.json``), where a
delegated role named ``time_floor`` overwrote it. :meth:`TrustStore.migrate` moves it.
Layout 2 kept one ``device.json`` for every component (two Updaters overwrote each
other's installed version); layout 3 keeps one file per hardware id. The old file is
adopted by the first component that reads its state (``device_state``), so the marker
alone changes in the migration; a verifier of layout 2 refuses a layout 3 store instead
of reading no device state (which would offer it downgrades).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from verifier._errors import StorageError
from verifier._internal import storage

LAYOUT = 3
DEVICE_DIR = "firmtuf"
LAYOUT_FILE = "layout.json"
DEVICE_STATE_FILE = "device.json"
COMPONENTS_DIR = "components"
TIME_FLOOR_FILE = "time_floor.json"
PARTIAL_DIR = "partial"
LOCK_FILE = "lock"
TOP_LEVEL_FILES = frozenset(("root.json", "timestamp.json", "snapshot.json", "targets.json"))
# Layout 1's time floor, at the top of metadata_dir.
LEGACY_TIME_FLOOR = "time_floor.json"
# NAME_MAX is 255 bytes on the file systems devices use; the staged ``.<name>.tmp`` adds 5.
_MAX_FILE_NAME = 250
_MAX_DEVICE_FILE = 64 * 1024
_MARKER = b'{"layout": 3}'


def role_filename(role: str) -> str:
    """The file name of a role's metadata: the url-quoted name plus ``.json``."""
    return quote(role, safe="") + ".json"


class TrustStore:
    """Paths of one device's trust store (see the module docstring).

    Args:
        path: the metadata directory.
    """

    __slots__ = ("_roles", "device_dir", "path")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.device_dir = path / DEVICE_DIR
        self._roles: dict[str, Path | None] = {}  # role -> path (built once: poll cost)

    def role_path(self, role: str) -> Path | None:
        """Where ``role``'s trusted metadata is stored, or None when it is not stored.

        Top-level roles always have a file. A delegated role has none when its file
        name, case-folded, equals a top-level one's or is too long for a file name.
        """
        try:
            return self._roles[role]
        except KeyError:
            pass
        name = role_filename(role)
        path: Path | None = self.path / name
        if name not in TOP_LEVEL_FILES and (
            name.casefold() in TOP_LEVEL_FILES or len(name.encode()) > _MAX_FILE_NAME
        ):
            path = None
        self._roles[role] = path
        return path

    @property
    def device_state_path(self) -> Path:
        """Layout 2's single-component device state (read once, then adopted)."""
        return self.device_dir / DEVICE_STATE_FILE

    @property
    def components_dir(self) -> Path:
        """The folder of per-component device state."""
        return self.device_dir / COMPONENTS_DIR

    def component_path(self, hardware_id: str) -> Path:
        """The state file of the component ``hardware_id`` (url-quoted, so one file name).

        Raises:
            StorageError: the quoted hardware id is too long for a file name.
        """
        name = quote(hardware_id, safe="") + ".json"
        if len(name.encode()) > _MAX_FILE_NAME:
            raise StorageError(f"hardware id {hardware_id[:40]!r}... is too long to store")
        return self.components_dir / name

    @property
    def time_floor_path(self) -> Path:
        """The time floor file (offline bundles)."""
        return self.device_dir / TIME_FLOOR_FILE

    @property
    def partial_dir(self) -> Path:
        """The folder of partial downloads."""
        return self.device_dir / PARTIAL_DIR

    @property
    def lock_path(self) -> Path:
        """The trust-store lock file (``_internal/lock``)."""
        return self.device_dir / LOCK_FILE

    def ensure_device_dir(self) -> Path:
        """Create the device namespace (and the store) if missing.

        Raises:
            StorageError: it cannot be created.
        """
        try:
            self.device_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"cannot create {self.device_dir}: {e}") from e
        return self.device_dir

    def migrate(self) -> None:
        """Bring a layout 1 or 2 store to layout 3; refuse a store of a newer layout.

        Layout 1 differs only in the time floor's place. A top-level
        ``time_floor.json`` that is a floor document moves to ``firmtuf/``; one that
        is anything else (role metadata of a role named ``time_floor`` that overwrote
        the floor) is left to its role, and the floor is recorded as lost so offline
        updates refuse to guess a time (``TimeFloorError``) instead of trusting a clock
        that the lost floor was there to check. Layout 2 to 3 writes the marker only
        (the old device state is adopted when a component first reads it). Crash-safe:
        each step is an atomic write, and the marker is written last, so an interrupted
        migration runs again.

        A store that cannot be written (read-only file system) is used as it is when
        nothing needs to move.

        Raises:
            StorageError: the marker is unreadable or names a newer layout, or a floor
                that must move cannot be written.
        """
        marker = self.device_dir / LAYOUT_FILE
        raw = storage.read_file(marker, _MAX_DEVICE_FILE)
        if raw == _MARKER:
            return  # the usual case, on every Updater: no JSON parse
        if raw is not None:
            layout = _layout_of(raw)
            if layout is None:
                raise StorageError(f"malformed trust-store layout marker {marker}")
            if layout > LAYOUT:
                raise StorageError(
                    f"{self.path} was written by a newer verifier (layout {layout}; this "
                    f"one knows layout {LAYOUT}): refusing to use it"
                )
            if layout == 2:
                _write_marker_if_possible(marker)
                return
        if not self.path.is_dir():
            return  # a new store: written (and marked) when first used
        legacy = storage.read_file(self.path / LEGACY_TIME_FLOOR, _MAX_DEVICE_FILE)
        if legacy is not None and not self.time_floor_path.exists():
            self.ensure_device_dir()
            if _is_floor_document(legacy):
                storage.atomic_write(self.time_floor_path, legacy)
            else:
                lost = {
                    "lost": "layout 1 stored a role's metadata over the time floor "
                    "(a delegated role named time_floor)"
                }
                storage.atomic_write(self.time_floor_path, json.dumps(lost).encode())
        try:
            self.ensure_device_dir()
            storage.atomic_write(marker, _MARKER)
        except StorageError:
            if legacy is not None:
                raise
            return  # read-only store with nothing to move: usable as it is
        if legacy is not None and _is_floor_document(legacy):
            storage.remove_file(self.path / LEGACY_TIME_FLOOR)


def _write_marker_if_possible(marker: Path) -> None:
    try:
        storage.atomic_write(marker, _MARKER)
    except StorageError:
        return  # read-only store: usable as it is (nothing moves from layout 2)


def _layout_of(raw: bytes) -> int | None:
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    layout = doc.get("layout") if isinstance(doc, dict) else None
    return layout if type(layout) is int and layout >= 1 else None


def _is_floor_document(raw: bytes) -> bool:
    try:
        doc = json.loads(raw)
    except ValueError:
        return False
    return isinstance(doc, dict) and list(doc) == ["time"] and isinstance(doc["time"], str)
