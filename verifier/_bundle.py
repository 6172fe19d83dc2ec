"""Offline updates from a bundle file (``firmtuf bundle``): see docs/offline-updates.md.

:class:`BundleFetcher` serves the members of a validated bundle under ``bundle:///``
URLs, so the ordinary :class:`~verifier.Updater` applies every online check to them.
:class:`BundleUpdater` adds the expiry policy for devices without a trustworthy clock:
a persisted time floor (``max(clock, floor)`` is the reference time; the floor rises
after each successful refresh), and an explicit, unsafe-named way to ignore expiry.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from urllib.parse import unquote

from verifier._errors import DownloadHTTPError
from verifier._fetcher import Deadline, Fetcher
from verifier._internal.bundle import Bundle, BundleError, BundleLimits
from verifier._internal.timefloor import TimeFloor
from verifier._updater import Updater

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from collections.abc import Callable, Iterator

    from verifier._config import Config, DevicePolicy

BUNDLE_URL = "bundle:///"


class BundleFetcher(Fetcher):
    """Serve ``bundle:///metadata/...`` and ``bundle:///targets/...`` from a bundle.

    A name the bundle does not hold is a 404, exactly like a missing file online (the
    root chain ends there).
    """

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle

    def _fetch(self, url: str, offset: int, deadline: Deadline) -> Iterator[bytes]:
        if not url.startswith(BUNDLE_URL):
            raise DownloadHTTPError(f"{url} is not a bundle URL", 404)
        name = unquote(url[len(BUNDLE_URL) :])
        if name not in self.bundle:
            raise DownloadHTTPError(f"not in the bundle: {name}", 404)
        return self.bundle.stream(name, offset)


class BundleUpdater(Updater):
    """An :class:`~verifier.Updater` reading one bundle file (see ``Updater.from_bundle``)."""

    def __init__(
        self,
        bundle_path: str | os.PathLike[str],
        metadata_dir: str | os.PathLike[str],
        *,
        config: Config | None = None,
        policy: DevicePolicy | None = None,
        bootstrap: bytes | None = None,
        limits: BundleLimits | None = None,
        clock: Callable[[], float] = time.time,
        unsafe_ignore_expiry: bool = False,
    ) -> None:
        try:
            self.bundle = Bundle(bundle_path, limits)
        except BundleError as e:
            raise BundleError(f"bad bundle {bundle_path}: {e}") from e
        try:
            super().__init__(
                metadata_dir,
                BUNDLE_URL + "metadata/",
                BUNDLE_URL + "targets/",
                fetcher=BundleFetcher(self.bundle),
                config=config,
                policy=policy,
                bootstrap=bootstrap,
                clock=self._reference_time,
            )
        except BaseException:
            self.bundle.close()
            raise
        self._floor = TimeFloor(metadata_dir)
        self._device_clock = clock
        self.unsafe_ignore_expiry = unsafe_ignore_expiry
        self._judged_at: float | None = None

    def _reference_time(self) -> float:
        if self.unsafe_ignore_expiry:
            self._judged_at = None
            return float("-inf")  # nothing is ever expired
        now = self._device_clock()
        floor = self._floor.load()  # TimeFloorError is a StorageError
        if floor is not None:
            now = max(now, floor.timestamp())
        self._judged_at = now
        return now

    def refresh(self) -> None:
        """Refresh from the bundle; on success the time floor rises to the time used.

        Raises:
            RepositoryError: a bundle member failed a check (``BundleError`` when the
                bundle file turned out malformed while read).
            StorageError: trusted metadata or the time floor cannot be read or written.
        """
        try:
            super().refresh()
        except BundleError as e:
            raise BundleError(f"bad bundle {self.bundle.path}: {e}") from e
        if self._judged_at is not None:
            self._floor.advance(datetime.fromtimestamp(self._judged_at, UTC))

    def close(self) -> None:
        """Close the bundle file."""
        self.bundle.close()

    def __enter__(self) -> BundleUpdater:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
