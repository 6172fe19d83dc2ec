"""A device updating over HTTP, for end-to-end publishing tests."""

from __future__ import annotations

from pathlib import Path


def device_fetch(base_url: str, root: bytes, workdir: Path, name: str) -> bytes | None:
    """Refresh from ``base_url`` (serving metadata/ and targets/) like a fresh device, and
    return the bytes of target ``name`` (None when the repository does not list it)."""
    from tuf.ngclient import Updater

    meta = workdir / "meta"
    dl = workdir / "dl"
    meta.mkdir(parents=True, exist_ok=True)
    dl.mkdir(parents=True, exist_ok=True)
    up = Updater(
        str(meta),
        f"{base_url}/metadata/",
        str(dl),
        f"{base_url}/targets/",
        bootstrap=root,
    )
    up.refresh()
    info = up.get_targetinfo(name)
    if info is None:
        return None
    return Path(up.download_target(info)).read_bytes()
