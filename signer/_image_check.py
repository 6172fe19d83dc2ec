"""The stored images of a working repository against their signed length and hashes.

`firmtuf status` runs this so it cannot call a repository healthy while an image in
``REPO/targets/`` is corrupt (`publish` and `verify` would refuse it). An image absent
from the local store is not a fault by itself: CI checkouts keep images out of git and
`publish` fetches them back from the published store (and refuses if it cannot).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tuf.api.exceptions import LengthOrHashMismatchError

from signer._repository import FirmwareRepository


@dataclass
class ImageCheck:
    """What checking the stored images found."""

    checked: bool
    images: int = 0
    missing: dict[str, str] = field(default_factory=dict)
    """Target name -> role, for images not in the local store."""
    corrupt: dict[str, str] = field(default_factory=dict)
    """Target name -> role, for stored images that do not match their metadata."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "images": self.images,
            "missing": sorted(self.missing),
            "corrupt": sorted(self.corrupt),
        }


def check_stored_images(repo: FirmwareRepository) -> ImageCheck:
    """Hash every stored image of every targets role against its metadata."""
    result = ImageCheck(checked=True)
    for role, name, info in repo.iter_targets():
        result.images += 1
        try:
            path = repo.stored_image(name, info)
            with open(path, "rb") as f:
                info.verify_length_and_hashes(f)
        except FileNotFoundError:
            result.missing[name] = role
        except LengthOrHashMismatchError:
            result.corrupt[name] = role
    return result
