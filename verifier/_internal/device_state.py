"""The device's record of what it runs, in the trust store's device namespace.

``firmtuf/device.json``: ``{"name", "version", "security_counter"}`` of the last
recorded install. Read strictly (a malformed record is a ``StorageError``, never a
reset to the factory state), written crash-safely.
"""

from __future__ import annotations

import json

from verifier._errors import StorageError
from verifier._internal import storage
from verifier._internal.version import FirmwareVersion, VersionError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from verifier._internal.store import TrustStore

_MAX_LENGTH = 64 * 1024


def read_device_state(store: TrustStore) -> dict[str, object] | None:
    """The stored ``{"name", "version", "security_counter"}``, or None.

    Raises:
        StorageError: unreadable or malformed state.
    """
    path = store.device_state_path
    raw = storage.read_file(path, _MAX_LENGTH)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise StorageError(f"cannot read device state {path}: {e}") from e
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("version"), str)
        or type(data.get("security_counter")) is not int
    ):
        raise StorageError(f"malformed device state {path}")
    try:
        FirmwareVersion(data["version"])
    except VersionError as e:
        raise StorageError(f"malformed device state {path}: {e}") from e
    return data


def write_device_state(store: TrustStore, state: dict[str, object]) -> None:
    """Replace the stored state, crash-safely.

    Raises:
        StorageError: it cannot be written.
    """
    store.ensure_device_dir()
    storage.atomic_write(store.device_state_path, json.dumps(state).encode())
