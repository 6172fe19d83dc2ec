"""A persisted time floor for devices without a trustworthy clock.

Expiry protects devices from replayed (frozen) metadata only if "now" is right. A device
whose clock resets (no RTC battery, factory reset, clock set back by an attacker) would
accept any old bundle. The floor is the newest time the device has ever seen: the
reference time for expiry checks is ``max(clock, floor)``, and the floor is advanced to
that reference time after every update, so the clock can never go backwards as far as
TUF is concerned. It is stored in the device's own namespace of the trust store
(``firmtuf/time_floor.json``, never beside role files: see ``store``), written
crash-safely (temporary file, fsync, atomic rename, directory fsync).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from verifier._errors import StorageError
from verifier._internal import storage
from verifier._internal.store import DEVICE_DIR, TIME_FLOOR_FILE, TrustStore

FLOOR_FILE = f"{DEVICE_DIR}/{TIME_FLOOR_FILE}"
"""The floor's path relative to the metadata directory."""
_MAX_LENGTH = 4096


class TimeFloorError(StorageError):
    """The stored time floor is unreadable; the device refuses to guess a time."""


class TimeFloor:
    """The persisted newest-time-seen of one device (one metadata directory)."""

    def __init__(self, metadata_dir: str | os.PathLike[str]) -> None:
        self.store = TrustStore(Path(metadata_dir))
        self.path = self.store.time_floor_path

    def load(self) -> datetime | None:
        """The stored floor, or None if the device has none yet.

        Raises:
            TimeFloorError: the file exists but is not a valid floor.
            StorageError: the file cannot be read or is oversized.
        """
        raw = storage.read_file(self.path, _MAX_LENGTH)
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
        except ValueError as e:
            raise TimeFloorError(f"time floor {self.path} is corrupt") from e
        if isinstance(doc, dict) and isinstance(doc.get("lost"), str):
            raise TimeFloorError(
                f"time floor {self.path} was lost ({doc['lost']}); delete the file to "
                "accept the device clock from now on"
            )
        # Exactly one field: a stored file is never read from fields it should not have.
        if not isinstance(doc, dict) or list(doc) != ["time"] or not isinstance(doc["time"], str):
            raise TimeFloorError(f"time floor {self.path} is corrupt")
        try:
            value = datetime.fromisoformat(doc["time"])
        except ValueError as e:
            raise TimeFloorError(f"time floor {self.path} is corrupt") from e
        if value.tzinfo is None:
            raise TimeFloorError(f"time floor {self.path} has no timezone")
        return value.astimezone(UTC)

    def reference_time(self, clock: datetime) -> datetime:
        """``max(clock, floor)``: the time expiry is checked against."""
        floor = self.load()
        if floor is not None and floor > clock:
            return floor
        return clock

    def advance(self, seen: datetime) -> None:
        """Persist ``seen`` as the floor unless the stored floor is already newer.

        Raises:
            StorageError: the floor cannot be written.
        """
        floor = self.load()
        if floor is not None and floor >= seen:
            return
        data = json.dumps({"time": seen.astimezone(UTC).isoformat()}).encode()
        self.store.ensure_device_dir()
        storage.atomic_write(self.path, data)
