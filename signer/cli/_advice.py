"""Warnings about choices that work but are probably mistakes (printed, never fatal).

* an empty image (a build that produced nothing, a wrong path to a placeholder);
* a timestamp valid for longer than root: the timestamp is the role that limits how
  long a device can be kept on stale metadata (freeze attack), so it should be the
  shortest-lived, and it cannot outlive the root that vouches for its key anyway;
* a root of one key with threshold one: whoever holds or steals that key owns the
  repository, and losing it loses the repository (start with several holders).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tuf.api.metadata import Root, Timestamp

from signer import FirmwareRepository


def image_warnings(images: Iterable[Path]) -> list[str]:
    """Warnings about images to be added."""
    warnings = []
    for path in images:
        try:
            empty = path.is_file() and path.stat().st_size == 0
        except OSError:
            continue
        if empty:
            warnings.append(f"image {path} is empty (0 bytes): is this the build output you meant?")
    return warnings


def setup_warnings(repo: FirmwareRepository) -> list[str]:
    """Warnings about the repository's expiry periods and root keys."""
    warnings = []
    timestamp = repo.config.expiry_for(Timestamp.type)
    root_period = repo.config.expiry_for(Root.type)
    if timestamp > root_period:
        warnings.append(
            f"timestamp expiry ({timestamp.days} days) is longer than root's "
            f"({root_period.days} days): the timestamp should be the shortest-lived role"
        )
    root = repo.metadata(Root.type).signed
    if isinstance(root, Root):
        role = root.roles[Root.type]
        if len(role.keyids) == 1 and role.threshold == 1:
            warnings.append(
                "root has one key and threshold 1: whoever holds that key owns the repository "
                "and losing it loses the repository; add holders (firmtuf key add REPO root, "
                "--threshold) -- see docs/troubleshooting.md"
            )
    return warnings
