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
from signer._errors import InvalidInputError
from signer._firmware import SUPPORT_KEY, SUPPORT_SUFFIX
from signer._sbom import parse_sbom

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
    if isinstance(error, verifier.DownloadLengthMismatchError | verifier.DownloadIncompleteError):
        return False  # the server sent too much, or a file shorter than signed: content
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


@dataclass
class ClientReport:
    """What a full client check saw."""

    versions: dict[str, int] = field(default_factory=dict)
    targets: dict[str, int] = field(default_factory=dict)
    """Target name -> verified length."""
    expires: dict[str, int] = field(default_factory=dict)
    """Role -> expiry (seconds since the epoch) of the metadata the client trusted."""
    images_checked: bool = True
    sboms: dict[str, str] = field(default_factory=dict)
    """Firmware target -> the SBOM target its link names, checked (ADR 0009)."""
    support: dict[str, str] = field(default_factory=dict)
    """Hardware id -> last day of its declared support period, as a device reads it."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "versions": self.versions,
            "targets": self.targets,
            "expires": {
                role: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
                for role, when in self.expires.items()
            },
            "images_checked": self.images_checked,
            "sboms": self.sboms,
            "support": self.support,
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
    hashes. Every firmware's SBOM link and every support declaration is read as a device
    reads it (ADR 0009); with ``download`` each linked SBOM is fetched through
    ``Updater.sbom`` and must be a CycloneDX or SPDX document.

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
                    _check_extras(updater, info, report, download)
        except ClientRefusal:
            raise
        except (verifier.VerifierError, OSError, ValueError) as e:
            raise ClientRefusal(_describe(e), unreachable=is_unreachable(e)) from e
    return report


def _check_extras(
    updater: verifier.Updater, info: verifier.TargetFile, report: ClientReport, download: bool
) -> None:
    """A firmware's SBOM and a support declaration, as a device reads them (ADR 0009)."""
    custom = info.custom or {}
    if SUPPORT_KEY in custom or info.path.endswith(SUPPORT_SUFFIX):
        period = updater.support(info.path.removesuffix(SUPPORT_SUFFIX))
        if period is not None:
            report.support[period.hardware_id] = period.until
    firmware = info.firmware
    if firmware is None or firmware.sbom is None:
        return
    link = firmware.sbom
    checked = link.target in report.sboms.values()
    if not download or checked:
        updater.sbom_target(info)
    else:
        data = updater.sbom(info)
        try:
            parse_sbom(data or b"", f"SBOM {link.target!r}")
        except InvalidInputError as e:
            raise ClientRefusal(f"{e} (linked from {info.path!r})") from None
    report.sboms[info.path] = link.target


def _check_found(
    name: str, role: str, found: verifier.TargetFile | None, listed: verifier.TargetFile | None
) -> verifier.TargetFile:
    if found is None or found != listed:
        raise ClientRefusal(
            f"target {name!r} of role {role} is not what a client's delegation search finds"
        )
    return found


@dataclass(frozen=True)
class Source:
    """Where a client reads a repository: metadata and targets base URLs, and the fetcher
    serving them (None: HTTP)."""

    metadata_url: str
    targets_url: str
    fetcher: verifier.Fetcher | None = None


def published_source(
    source: str, fetcher: verifier.Fetcher | None = None, *, endpoint_url: str | None = None
) -> Source:
    """The :class:`Source` of a published tree: a directory, an http(s) base URL, an
    ``s3://bucket/prefix`` URL (the ``s3`` extra; ``endpoint_url``: default AWS's), or any
    base URL ``fetcher`` serves."""
    if fetcher is None and source.startswith("s3://"):
        from signer._s3 import S3Store  # boto3: the s3 extra, only when asked for
        from signer._s3_fetcher import S3Fetcher

        fetcher = S3Fetcher(S3Store.from_url(source, endpoint_url=endpoint_url))
    if fetcher is None and not source.startswith(("http://", "https://")):
        source, fetcher = LOCAL_BASE_URL, DirectoryFetcher(Path(source))
    base = source if source.endswith("/") else source + "/"
    return Source(base + "metadata/", base + "targets/", fetcher)


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
    where = published_source(source, fetcher, endpoint_url=endpoint_url)
    return check_repository(
        where.metadata_url,
        where.targets_url,
        trusted_root,
        fetcher=where.fetcher,
        download=download,
    )


@dataclass(frozen=True)
class FetchedSbom:
    """A release's SBOM as a device gets it (see :func:`fetch_release_sbom`)."""

    firmware: tuple[str, ...]
    """The release's firmware targets, which all link it."""
    target: verifier.TargetFile
    data: bytes


def fetch_release_sbom(
    where: Source, trusted_root: bytes, hardware_id: str, version: str
) -> FetchedSbom:
    """What a device gets as the SBOM of firmware ``version`` of ``hardware_id``.

    Every firmware target of that hardware id and version (as the delegation search
    finds it) must link the same SBOM; it is fetched and verified with
    ``Updater.sbom``.

    Raises:
        ClientRefusal: the repository or the SBOM does not verify (``unreachable``: it
            could not be reached).
        ConflictError: no such release, it has no SBOM, or its targets link different ones.
    """
    from signer._errors import ConflictError

    wanted = verifier.FirmwareVersion(version)
    with tempfile.TemporaryDirectory(prefix="firmtuf-client-") as tmp:
        try:
            updater = verifier.Updater(
                Path(tmp), where.metadata_url, where.targets_url, fetcher=where.fetcher,
                bootstrap=trusted_root,
            )  # fmt: skip
            updater.refresh()
            release: dict[str, verifier.TargetFile] = {}
            for role in updater.walk_roles():
                for name in role.target_names():
                    listed = role.get(name)
                    firmware = None if listed is None else listed.firmware
                    if (
                        firmware is not None
                        and hardware_id in firmware.hardware_ids
                        and firmware.version == wanted
                        and updater.get_targetinfo(name) == listed
                    ):
                        release[name] = listed  # type: ignore[assignment]
            if not release:
                raise ConflictError(f"no firmware {version} for hardware id {hardware_id!r}")
            links = {t.firmware.sbom.target for t in release.values() if t.firmware.sbom}
            names = tuple(sorted(release))
            if not links:
                raise ConflictError(
                    f"firmware {version} of {hardware_id!r} ({names[0]}) has no SBOM"
                )
            if len(links) > 1:
                raise ConflictError(
                    f"the firmware {version} targets of {hardware_id!r} link different "
                    f"SBOMs: {', '.join(sorted(links))}"
                )
            first = release[names[0]]
            sbom_target = updater.sbom_target(first)
            data = updater.sbom(first)
        except (verifier.VerifierError, OSError, ValueError) as e:
            raise ClientRefusal(_describe(e), unreachable=is_unreachable(e)) from e
    assert sbom_target is not None and data is not None  # noqa: S101 - a link was found
    return FetchedSbom(names, sbom_target, data)


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
