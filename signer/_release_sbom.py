"""The verified SBOM of a release, as an auditor or a scanner asks for it (`firmtuf sbom`,
docs/adr/0009): from a working repository, or fetched as a device fetches it."""

from __future__ import annotations

from pathlib import Path

from signer._client import ClientRefusal, Source, fetch_release_sbom, published_source, root_problem
from signer._errors import (
    InvalidInputError,
    RepositoryLocationError,
    UnreachableError,
    VerificationError,
)
from signer._firmware import parse_firmware_version
from signer._publish import working_source
from signer._repository import FirmwareRepository
from signer._sbom import ReleaseSbom, parse_sbom, release_sbom


def device_source(source: str, endpoint_url: str | None = None) -> Source:
    """Where a device-side check reads ``source``: an s3:// bucket/prefix, an http(s)
    base URL, a published directory, or the tree a working repository would publish.

    Raises:
        InvalidInputError: none of these.
        PublishError: a working repository that is not publishable.
    """
    if source.startswith(("s3://", "http://", "https://")):
        return published_source(source, endpoint_url=endpoint_url)
    if not Path(source).is_dir():
        raise InvalidInputError(f"{source} is neither a directory nor an http(s) or s3:// URL")
    try:
        working = FirmwareRepository(source)
    except RepositoryLocationError:
        return published_source(source)
    return working_source(working)


def read_release_sbom(
    source: str,
    hardware_id: str,
    version: str,
    *,
    trusted_root: bytes | None = None,
    endpoint_url: str | None = None,
) -> ReleaseSbom:
    """The SBOM of firmware ``version`` of ``hardware_id``: exactly the bytes the
    firmware's signed link names.

    Args:
        source: a working repository; with ``trusted_root`` also a published directory,
            an http(s) base URL or an ``s3://bucket/prefix``.
        trusted_root: read ``source`` as a device does from this root (``Updater.sbom``:
            the linked target found by the delegation search, fetched and checked).
            None: ``source`` must be a working repository, checked against its metadata.
        endpoint_url: the S3 endpoint for an ``s3://`` source.

    Raises:
        InvalidInputError: a bad version, root or source.
        RepositoryLocationError: no ``trusted_root`` and ``source`` is not a repository.
        ConflictError: no such release, or it has no SBOM (working repository).
        VerificationError: the SBOM does not verify (or, read as a device, the release
            is missing or links none).
        UnreachableError: ``source`` could not be reached.
    """
    parse_firmware_version(version)
    if trusted_root is None:
        return release_sbom(FirmwareRepository(source), hardware_id, version)
    problem = root_problem(trusted_root)
    if problem:
        raise InvalidInputError(f"the root is not a usable trusted root: {problem}")
    try:
        fetched = fetch_release_sbom(
            device_source(source, endpoint_url), trusted_root, hardware_id, version
        )
    except ClientRefusal as e:
        if e.unreachable:
            raise UnreachableError(f"could not reach {source}: {e}") from e
        raise VerificationError(f"{source} does not verify: {e}") from e
    target, data = fetched.target, fetched.data
    try:
        document = parse_sbom(data, f"SBOM {target.path!r}")
    except InvalidInputError as e:
        raise VerificationError(f"{source} does not verify: {e}") from None
    return ReleaseSbom(
        hardware_id,
        version,
        fetched.firmware,
        target.path,
        target.length,
        dict(target.hashes),
        document.format,
        document.spec_version,
        data,
        signed=True,
    )
