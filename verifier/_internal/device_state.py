"""What each component of the device runs, in the trust store's device namespace.

One file per component, keyed by hardware id (``firmtuf/components/<quoted id>.json``,
docs/adr/0010), so Updaters of several components sharing one trust store never write
each other's state::

    {"hardware_id": "acme-gw",
     "installed": {"target": "gw/2.0/fw.bin", "version": "2.0", "security_counter": 3},
     "pending": {"target": "gw/3.0/fw.bin", "entry": {"length": ..., "hashes": ...,
                 "custom": ...}, "image": "/slots/b/fw.bin", "staged_at": 1767225600.0},
     "rejected": [{"target": "gw/2.5/fw.bin", "hashes": {...}, "version": "2.5",
                   "reason": "did not boot"}]}

``pending`` holds the whole trusted entry of the staged target, so ``confirm()`` needs
neither the network nor the target still being listed. Read strictly (a malformed record
is a ``StorageError``, never a reset to the factory state), written crash-safely, and
changed only under the trust-store lock (the Updater holds it).

Layout 2 kept one ``firmtuf/device.json`` (``{"name", "version", "security_counter"}``)
for whatever component wrote last. The first component that reads its state adopts it:
the record is first rewritten in place with its new owner (atomic), then renamed to the
owner's file (atomic), so a power cut at any point leaves it adoptable by that owner
only.
"""

from __future__ import annotations

import json

from verifier._errors import MetadataFormatError, StorageError
from verifier._internal import log, storage
from verifier._internal.metadata import TargetFile
from verifier._internal.version import FirmwareVersion, VersionError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from typing import Any

    from verifier._internal.lock import FileLock
    from verifier._internal.store import TrustStore

_MAX_LENGTH = 256 * 1024
MAX_REJECTED = 32
"""Rejected targets remembered per component (the oldest are forgotten first)."""


class Installed:
    """The firmware a component runs, as last recorded."""

    __slots__ = ("security_counter", "target", "version")

    def __init__(self, target: str | None, version: FirmwareVersion, security_counter: int):
        self.target = target
        self.version = version
        self.security_counter = security_counter

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "version": self.version.text,
            "security_counter": self.security_counter,
        }


class PendingInstall:
    """An install staged with ``Updater.stage()`` and not yet confirmed or failed.

    Attributes:
        target: the target as trusted metadata described it when it was staged.
        image: where the agent wrote the image (as given to ``stage``), or None.
        staged_at: when it was staged (the Updater's clock, seconds since the epoch).
    """

    __slots__ = ("image", "staged_at", "target")

    def __init__(self, target: TargetFile, image: str | None, staged_at: float) -> None:
        self.target = target
        self.image = image
        self.staged_at = staged_at

    def __repr__(self) -> str:
        return f"PendingInstall({self.target.path!r}, image={self.image!r})"

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"length": self.target.length, "hashes": self.target.hashes}
        if self.target.custom is not None:
            entry["custom"] = self.target.custom
        return {
            "target": self.target.path,
            "entry": entry,
            "image": self.image,
            "staged_at": self.staged_at,
        }


class Rejected:
    """A target this component must not be offered again (``mark_failed``)."""

    __slots__ = ("hashes", "reason", "target", "version")

    def __init__(self, target: str, hashes: dict[str, str], version: str, reason: str):
        self.target = target
        self.hashes = hashes
        self.version = version
        self.reason = reason

    def matches(self, target: TargetFile) -> bool:
        """Whether ``target`` is this rejected image (same name and hashes)."""
        return target.path == self.target and target.hashes == self.hashes

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "hashes": self.hashes,
            "version": self.version,
            "reason": self.reason,
        }


class ComponentState:
    """The recorded state of one component (one hardware id)."""

    __slots__ = ("hardware_id", "installed", "pending", "rejected")

    def __init__(
        self,
        hardware_id: str,
        installed: Installed | None = None,
        pending: PendingInstall | None = None,
        rejected: list[Rejected] | None = None,
    ) -> None:
        self.hardware_id = hardware_id
        self.installed = installed
        self.pending = pending
        self.rejected: list[Rejected] = rejected or []

    def rejection_of(self, target: TargetFile) -> Rejected | None:
        """The rejection recorded for ``target``, or None."""
        for entry in self.rejected:
            if entry.matches(target):
                return entry
        return None

    def to_bytes(self) -> bytes:
        doc = {
            "hardware_id": self.hardware_id,
            "installed": None if self.installed is None else self.installed.to_json(),
            "pending": None if self.pending is None else self.pending.to_json(),
            "rejected": [r.to_json() for r in self.rejected],
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def load(store: TrustStore, hardware_id: str, lock: FileLock | None = None) -> ComponentState:
    """The recorded state of ``hardware_id`` (empty when nothing was recorded).

    Adopts layout 2's single-component record when this component has none (taking
    ``lock`` for that). A store that cannot be written (read-only, full) cannot adopt
    it: a record that names no owner is then a StorageError for every component (read
    as it is, each would take it as its own); one an interrupted adoption already
    named serves its owner where it is.

    Raises:
        StorageError: unreadable or malformed state, or a record of another hardware id
            in this component's file (two ids whose quoted names differ only in case, on
            a case-insensitive file system).
    """
    path = store.component_path(hardware_id)
    raw = storage.read_file(path, _MAX_LENGTH)
    if raw is not None:
        state = _parse(raw, str(path))
        if state.hardware_id != hardware_id:
            raise StorageError(
                f"{path} holds the state of hardware id {state.hardware_id!r}, not "
                f"{hardware_id!r} (case-insensitive file system?)"
            )
        return state
    legacy = storage.read_file(store.device_state_path, _MAX_LENGTH)
    if legacy is None:
        return ComponentState(hardware_id)
    if lock is None:
        return _adopt(store, hardware_id, legacy)
    with lock:
        return _adopt(store, hardware_id, legacy)


def save(store: TrustStore, state: ComponentState) -> None:
    """Replace the component's recorded state, crash-safely (hold the store lock).

    Raises:
        StorageError: it cannot be written.
    """
    path = store.component_path(state.hardware_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StorageError(f"cannot create {path.parent}: {e}") from e
    storage.atomic_write(path, state.to_bytes())


def _adopt(store: TrustStore, hardware_id: str, legacy: bytes) -> ComponentState:
    source = store.device_state_path
    # Read again under the lock: another component may have adopted it meanwhile.
    current = storage.read_file(source, _MAX_LENGTH)
    if current is None:
        raw = storage.read_file(store.component_path(hardware_id), _MAX_LENGTH)
        return ComponentState(hardware_id) if raw is None else _parse(raw, str(source))
    state, named = _parse_legacy(current, str(source), hardware_id)
    dest = store.component_path(state.hardware_id)
    try:
        if dest.exists():
            # The owner's own record is newer than the one layout 2 left: drop that.
            storage.remove_file(source)
            raw = storage.read_file(store.component_path(hardware_id), _MAX_LENGTH)
            return ComponentState(hardware_id) if raw is None else _parse(raw, str(dest))
        if not named:
            storage.atomic_write(source, state.to_bytes())  # step 1: the owner is named
        dest.parent.mkdir(parents=True, exist_ok=True)
        source.replace(dest)  # step 2: in the owner's place
        storage.fsync_dir(dest.parent)
        storage.fsync_dir(source.parent)
    except (OSError, StorageError) as e:
        if not named:
            # Nothing says whose record it is: read as it is, every component of this
            # device would take another's installed version and counter as its own.
            raise StorageError(
                f"layout 2 device state {source} cannot be adopted ({e}): it names no "
                "component, so none may use it until the trust store can be written"
            ) from e
        # Interrupted after naming its owner (a read-only store now): only it reads it.
        log.warning("device state %s not migrated (%s); read as it is", source, e)
    else:
        log.info("device state %s (layout 2) adopted by hardware id %r", source, state.hardware_id)
    return state if state.hardware_id == hardware_id else ComponentState(hardware_id)


def _parse_legacy(raw: bytes, where: str, hardware_id: str) -> tuple[ComponentState, bool]:
    """Layout 2's record as ``hardware_id``'s, or an adoption interrupted after its first
    step (True: the record already names its owner)."""
    doc = _json(raw, where)
    if "hardware_id" in doc:
        return _parse(raw, where), True
    if not isinstance(doc.get("version"), str) or type(doc.get("security_counter")) is not int:
        raise StorageError(f"malformed device state {where}")
    name = doc.get("name")
    if name is not None and not isinstance(name, str):
        raise StorageError(f"malformed device state {where}")
    installed = Installed(name, _version(doc["version"], where), _counter(doc, where))
    return ComponentState(hardware_id, installed), False


def _json(raw: bytes, where: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise StorageError(f"cannot read device state {where}: {e}") from e
    if not isinstance(doc, dict):
        raise StorageError(f"malformed device state {where}")
    return doc


def _parse(raw: bytes, where: str) -> ComponentState:
    doc = _json(raw, where)
    bad = StorageError(f"malformed device state {where}")
    hardware_id = doc.get("hardware_id")
    if not isinstance(hardware_id, str) or not hardware_id:
        raise bad
    installed = None
    inst = doc.get("installed")
    if inst is not None:
        if not isinstance(inst, dict) or not isinstance(inst.get("version"), str):
            raise bad
        target = inst.get("target")
        if target is not None and not isinstance(target, str):
            raise bad
        installed = Installed(target, _version(inst["version"], where), _counter(inst, where))
    pending = None
    pend = doc.get("pending")
    if pend is not None:
        pending = _parse_pending(pend, where)
    rejected = []
    rej = doc.get("rejected", [])
    if not isinstance(rej, list):
        raise bad
    for item in rej:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("target", "version", "reason")
        ):
            raise bad
        hashes = item.get("hashes")
        if not isinstance(hashes, dict) or not all(isinstance(v, str) for v in hashes.values()):
            raise bad
        rejected.append(Rejected(item["target"], hashes, item["version"], item["reason"]))
    return ComponentState(hardware_id, installed, pending, rejected)


def _parse_pending(pend: Any, where: str) -> PendingInstall:
    bad = StorageError(f"malformed pending install in {where}")
    if not isinstance(pend, dict) or not isinstance(pend.get("target"), str):
        raise bad
    image = pend.get("image")
    staged_at = pend.get("staged_at")
    if image is not None and not isinstance(image, str):
        raise bad
    if not isinstance(staged_at, (int, float)) or isinstance(staged_at, bool):
        raise bad
    try:
        target = TargetFile(pend["target"], pend.get("entry"))
        if target.firmware is None:
            raise bad
    except MetadataFormatError as e:
        raise StorageError(f"malformed pending install in {where}: {e}") from e
    return PendingInstall(target, image, float(staged_at))


def _version(text: str, where: str) -> FirmwareVersion:
    try:
        return FirmwareVersion(text)
    except VersionError as e:
        raise StorageError(f"malformed device state {where}: {e}") from e


def _counter(doc: dict[str, Any], where: str) -> int:
    counter = doc.get("security_counter")
    if type(counter) is not int or counter < 0:
        raise StorageError(f"malformed device state {where}")
    return counter
