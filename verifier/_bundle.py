"""Offline updates from a bundle file (``firmtuf bundle``): see docs/offline-updates.md.

:class:`BundleFetcher` serves the members of a validated bundle under ``bundle:///``
URLs, so the ordinary :class:`~verifier.Updater` applies every online check to them.
The updater that reads a bundle (``BundleUpdater``, made by ``Updater.from_bundle``)
lives with the Updater in ``verifier/_updater.py``: this module stays below it.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from verifier._errors import DownloadHTTPError
from verifier._fetcher import Deadline, Fetcher
from verifier._internal.bundle import Bundle, BundleMemberNotFound

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from collections.abc import Iterator

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


def bundled_target_names(bundle: Bundle) -> list[str]:
    """The target names of the images ``bundle`` carries (from their hash-prefixed paths)."""
    names = {f"{m[1]}/{m[2]}" if m[1] else m[2] for m in map(_IMAGE.match, bundle.names()) if m}
    return sorted(names)
