"""A device updating over HTTP, for end-to-end publishing tests."""

from __future__ import annotations

from pathlib import Path


def device_fetch(base_url: str, root: bytes, workdir: Path, name: str) -> bytes | None:
    """Refresh from ``base_url`` (serving metadata/ and targets/) with firmtuf's device
    verifier over HTTP, and return the bytes of target ``name`` (None when the repository
    does not list it). ``workdir`` keeps the device's trusted metadata between calls."""
    from verifier import Updater

    up = Updater(workdir / "meta", f"{base_url}/metadata/", f"{base_url}/targets/", bootstrap=root)
    up.refresh()
    info = up.get_targetinfo(name)
    if info is None:
        return None
    dest = workdir / "dl" / name.replace("/", "_")
    dest.parent.mkdir(parents=True, exist_ok=True)
    return up.download(info, dest).read_bytes()


def device_fetch_bundle(bundle_path: Path, root: bytes, workdir: Path, name: str) -> bytes | None:
    """Like :func:`device_fetch`, but reading an offline bundle through python-tuf's
    ngclient (a reference client: the bundle must satisfy an unmodified TUF client)."""
    from collections.abc import Iterator

    from tuf.api.exceptions import DownloadHTTPError
    from tuf.ngclient import FetcherInterface, Updater

    from verifier._internal.bundle import Bundle, BundleMemberNotFound

    bundle = Bundle(bundle_path)

    class _Fetcher(FetcherInterface):
        def _fetch(self, url: str) -> Iterator[bytes]:
            member = url.removeprefix("bundle:///")
            try:
                bundle.size(member)
            except BundleMemberNotFound as e:
                raise DownloadHTTPError(str(e), 404) from e
            return bundle.stream(member)

    meta = workdir / "meta"
    dl = workdir / "dl"
    meta.mkdir(parents=True, exist_ok=True)
    dl.mkdir(parents=True, exist_ok=True)
    try:
        up = Updater(
            str(meta),
            "bundle:///metadata/",
            str(dl),
            "bundle:///targets/",
            fetcher=_Fetcher(),
            bootstrap=root,
        )
        up.refresh()
        info = up.get_targetinfo(name)
        if info is None:
            return None
        return Path(up.download_target(info)).read_bytes()
    finally:
        bundle.close()
