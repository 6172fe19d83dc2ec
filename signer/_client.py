"""The device side as the signing tool exercises it: firmtuf's own verifier.

Everything that plays "a device" (``firmtuf verify``, the pre-publish check, the demo)
goes through this module and through :mod:`verifier`, the very client devices import,
so what the signing tool accepts is what a device accepts. (python-tuf's client stays in
the test suite as the oracle both agree with.)
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib import parse

import verifier

LOCAL_BASE_URL = "http://published.invalid/"
"""Base URL a :class:`DirectoryFetcher` answers for (never resolved: no network)."""


class ClientRefusal(Exception):
    """The client refused the repository or a target; the message says why.

    Attributes:
        unreachable: the repository could not be reached (connection refused or reset,
            name resolution, timeout, slow retrieval, HTTP 5xx): nothing was judged.
    """

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def is_unreachable(error: BaseException) -> bool:
    """True for transport failures that say nothing about the repository's content."""
    if isinstance(error, verifier.DownloadHTTPError):
        return error.status_code >= 500 or error.status_code in (408, 429)
    if isinstance(error, verifier.DownloadLengthMismatchError):
        return False  # the server sent too much: that is content
    return isinstance(error, verifier.SlowRetrievalError | verifier.DownloadError)


class DirectoryFetcher(verifier.DirectoryFetcher):
    """Serves a published tree from a directory, with optional overlay files.

    URLs are ``LOCAL_BASE_URL + <path in the tree>``; a missing file is an HTTP 404,
    as a web server would answer. The overlay (path in the tree -> bytes, or a file)
    lets the pre-publish check verify the tree a publish would write before anything is
    written. Path containment and length caps are the verifier's own fetcher's.
    """

    def __init__(
        self, root: Path | None, overlay: Mapping[str, bytes | Path] | None = None
    ) -> None:
        super().__init__(root if root is not None else ".", LOCAL_BASE_URL)
        self._has_tree = root is not None
        self._overlay = {LOCAL_BASE_URL + rel: item for rel, item in (overlay or {}).items()}

    def _open(self, url: str) -> Any:
        # Overlay keys are paths as written; clients quote role names in URLs. Both of
        # the verifier fetcher's reads (streamed and whole) open files here.
        item = self._overlay.get(parse.unquote(url))
        if isinstance(item, bytes):
            return io.BytesIO(item)  # streamed reads; whole reads: _fetch_bytes
        if item is not None:
            try:
                return open(item, "rb")
            except OSError as e:
                raise verifier.DownloadHTTPError(f"not found: {url}", 404) from e
        if not self._has_tree:
            raise verifier.DownloadHTTPError(f"not found: {url}", 404)
        return super()._open(url)

    def _fetch_bytes(self, url: str, max_length: int, deadline: verifier.Deadline) -> bytes:
        item = self._overlay.get(parse.unquote(url))
        if not isinstance(item, bytes):
            return super()._fetch_bytes(url, max_length, deadline)
        deadline.head_done()
        deadline.progress(min(len(item), max_length + 1))
        return item[: max_length + 1]  # the base refuses more than max_length


def _urls(source: str) -> tuple[str, str, verifier.Fetcher | None]:
    """(metadata URL, targets URL, fetcher) for a published tree's directory or base URL."""
    if source.startswith(("http://", "https://")):
        base = source if source.endswith("/") else source + "/"
        return base + "metadata/", base + "targets/", None
    return LOCAL_BASE_URL + "metadata/", LOCAL_BASE_URL + "targets/", DirectoryFetcher(Path(source))


@dataclass
class ClientReport:
    """What a full client check saw."""

    versions: dict[str, int] = field(default_factory=dict)
    targets: dict[str, int] = field(default_factory=dict)
    """Target name -> verified length."""
    expires: dict[str, int] = field(default_factory=dict)
    """Role -> expiry (seconds since the epoch) of the metadata the client trusted."""
    images_checked: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "versions": self.versions,
            "targets": self.targets,
            "expires": {
                role: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
                for role, when in self.expires.items()
            },
            "images_checked": self.images_checked,
        }


def _describe(e: Exception) -> str:
    text = str(e) or type(e).__name__
    return f"{type(e).__name__}: {text}"


def root_problem(trusted_root: bytes) -> str | None:
    """Why ``trusted_root`` cannot start a client (malformed, not self-signed), or None."""
    try:
        verifier.verify_root(trusted_root)
    except verifier.RepositoryError as e:
        return _describe(e)
    return None


def check_repository(
    metadata_url: str,
    targets_url: str,
    trusted_root: bytes | None,
    *,
    fetcher: verifier.Fetcher | None = None,
    metadata_dir: Path | None = None,
    download: bool = True,
) -> ClientReport:
    """Run a client against a published repository: every role, every target.

    Starting from ``trusted_root`` (or the root cached in ``metadata_dir`` when None) the
    client updates root, timestamp, snapshot and targets, walks every delegation, looks
    every target up through the delegation search and downloads it, checking length and
    hashes.

    Raises:
        ClientRefusal: any check failed (message names the problem).
    """
    with tempfile.TemporaryDirectory(prefix="firmtuf-client-") as tmp:
        mdir = metadata_dir or Path(tmp, "metadata")
        try:
            mdir.mkdir(parents=True, exist_ok=True)
            updater = verifier.Updater(
                mdir, metadata_url, targets_url, fetcher=fetcher, bootstrap=trusted_root
            )
            updater.refresh()
            report = ClientReport()
            report.versions = updater.trusted_versions()
            report.expires = updater.trusted_expires()
            report.images_checked = download
            for role in updater.walk_roles():
                report.versions[role.name] = role.version
                report.expires[role.name] = role.expires
                for name in role.target_names():
                    listed = role.get(name)
                    info = _check_found(name, role.name, updater.get_targetinfo(name), listed)
                    if download:
                        # Streamed and checked, not stored: a repository check must not
                        # write and fsync every image as a device's download does.
                        updater.verify_remote_target(info)
                    report.targets[name] = info.length
        except ClientRefusal:
            raise
        except (verifier.VerifierError, OSError, ValueError) as e:
            raise ClientRefusal(_describe(e), unreachable=is_unreachable(e)) from e
    return report


def _check_found(
    name: str, role: str, found: verifier.TargetFile | None, listed: verifier.TargetFile | None
) -> verifier.TargetFile:
    if found is None or found != listed:
        raise ClientRefusal(
            f"target {name!r} of role {role} is not what a client's delegation search finds"
        )
    return found


def verify_published(
    source: str,
    trusted_root: bytes,
    *,
    download: bool = True,
    fetcher: verifier.Fetcher | None = None,
    endpoint_url: str | None = None,
) -> ClientReport:
    """Check a published repository (directory, http(s) or s3:// URL) as a device would.

    Args:
        source: a directory, an http(s) base URL, an ``s3://bucket/prefix`` URL (needs
            the ``s3`` extra), or any base URL ``fetcher`` serves.
        trusted_root: the root metadata to start from.
        download: also download and check every image (False: metadata only).
        fetcher: serves ``source`` instead of a directory, HTTP or S3.
        endpoint_url: the S3 endpoint for an ``s3://`` source (default: AWS's).

    Raises:
        ClientRefusal: the repository or one of its targets does not verify, or (with
            ``unreachable`` set) could not be reached.
    """
    if fetcher is None and source.startswith("s3://"):
        from signer._s3 import S3Store  # boto3: the s3 extra, only when asked for
        from signer._s3_fetcher import S3Fetcher

        fetcher = S3Fetcher(S3Store.from_url(source, endpoint_url=endpoint_url))
    if fetcher is not None:
        base = source if source.endswith("/") else source + "/"
        metadata_url, targets_url = base + "metadata/", base + "targets/"
    else:
        metadata_url, targets_url, fetcher = _urls(source)
    return check_repository(
        metadata_url, targets_url, trusted_root, fetcher=fetcher, download=download
    )


def device_update(
    metadata_url: str,
    targets_url: str,
    trusted_root: bytes,
    target_name: str,
    dest: Path,
    *,
    hardware_id: str | None = None,
    installed_version: str = "0",
) -> Path:
    """What a device does for one image: refresh, pick its firmware, download it.

    With ``hardware_id`` the device runs its firmware policy (``Updater.check()``: this
    hardware, newer than ``installed_version``, security counter) and the pick must be
    ``target_name``; without, it looks ``target_name`` up by name.

    Raises:
        ClientRefusal: refused (unsigned, expired, tampered, missing, not for this
            device, ...).
    """
    policy = None if hardware_id is None else verifier.DevicePolicy(hardware_id, installed_version)
    with tempfile.TemporaryDirectory(prefix="firmtuf-device-") as tmp:
        try:
            updater = verifier.Updater(
                Path(tmp), metadata_url, targets_url, policy=policy, bootstrap=trusted_root
            )
            updater.refresh()
            info = updater.check() if policy else updater.get_targetinfo(target_name)
            if info is not None and info.path == target_name:
                dest.parent.mkdir(parents=True, exist_ok=True)
                updater.download(info, dest)
        except (verifier.VerifierError, OSError) as e:
            raise ClientRefusal(_describe(e)) from e
    if info is None or info.path != target_name:
        found = "nothing" if info is None else repr(info.path)
        raise ClientRefusal(f"the device picked {found}, not {target_name!r}")
    return dest
