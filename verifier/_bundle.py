"""Offline updates from a bundle file (``firmtuf bundle``): see docs/offline-updates.md.

:class:`BundleFetcher` serves the members of a validated bundle under ``bundle:///``
URLs, so the ordinary :class:`~verifier.Updater` applies every online check to them.
:class:`BundleUpdater` adds the expiry policy for devices without a trustworthy clock:
a persisted time floor (``max(clock, floor)`` is the reference time; the floor rises
after each successful refresh), and an explicit, unsafe-named way to ignore expiry.
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime
from urllib.parse import unquote

from verifier._errors import DownloadHTTPError
from verifier._fetcher import Deadline, Fetcher
from verifier._internal import delegations
from verifier._internal.bundle import Bundle, BundleError, BundleLimits, BundleMemberNotFound
from verifier._internal.timefloor import TimeFloor
from verifier._updater import Updater

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from collections.abc import Callable, Iterator

    from verifier._config import Config, DevicePolicy
    from verifier._internal.metadata import TargetFile
    from verifier._internal.trusted_set import TrustedMetadataSet

BUNDLE_URL = "bundle:///"
_ROOT_PROBE = re.compile(r"^metadata/[1-9][0-9]*\.root\.json$")
_IMAGE = re.compile(r"^targets/(?:(.*)/)?[0-9a-f]{64}\.([^/]+)$")


def member_name(url: str) -> str | None:
    """The bundle member a ``bundle:///`` URL names (None: not a bundle URL)."""
    return unquote(url[len(BUNDLE_URL) :]) if url.startswith(BUNDLE_URL) else None


class BundleFetcher(Fetcher):
    """Serve ``bundle:///metadata/...`` and ``bundle:///targets/...`` from a bundle.

    A root version the bundle does not hold is a 404, exactly like a missing file online
    (the root chain ends there). Any other missing member is the bundle's fault, not the
    network's: :class:`BundleMemberNotFound` (a ``BundleError``, a ``RepositoryError``).
    """

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle

    def _fetch(self, url: str, offset: int, deadline: Deadline) -> Iterator[bytes]:
        name = member_name(url)
        if name is None:
            raise DownloadHTTPError(f"{url} is not a bundle URL", 404)
        if name not in self.bundle:
            if _ROOT_PROBE.match(name):
                raise DownloadHTTPError(f"not in the bundle: {name}", 404)
            raise BundleMemberNotFound(
                f"{name} is not in the bundle {self.bundle.path.name} (build it with "
                "`firmtuf bundle --target` for the image this device installs)"
            )
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

    def _firmware_candidates(
        self, trusted: TrustedMetadataSet
    ) -> Iterator[tuple[TargetFile, delegations.Path]]:
        # On a bundle only the images it carries are candidates (issue 9 item 5): each
        # name is resolved by the ordinary delegation search (so only the roles on its
        # path are read: what `firmtuf bundle` ships) and kept only when the bundled
        # file is the one the trusted target names. Newer firmware the metadata lists
        # but the bundle lacks is never chosen.
        load = self._loader(trusted)
        names = {
            f"{m[1]}/{m[2]}" if m[1] else m[2] for m in map(_IMAGE.match, self.bundle.names()) if m
        }
        for name in sorted(names):
            found = delegations.search(load, name, self.config.max_delegations)
            if found is not None and member_name(self._url_for(found[0])) in self.bundle:
                yield found

    def close(self) -> None:
        """Close the bundle file."""
        self.bundle.close()

    def __enter__(self) -> BundleUpdater:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
