"""SBOMs of firmware releases (ADR 0009): the document check, the target, the link.

`firmtuf add --sbom FILE` stores a CycloneDX or SPDX JSON document as a target of its
own and links it by name, length and hashes from the ``custom.firmtuf`` fields of every
image of the release. The document is read whole (bounded) and checked before anything
is written; its bytes are stored as given, never re-serialised, so the hashes signed are
the hashes of the file the build produced.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuf.api.exceptions import LengthOrHashMismatchError
from tuf.api.metadata import TargetFile

from signer._errors import ConflictError, InvalidInputError, MetadataError, VerificationError
from signer._firmware import (
    SBOM_KEY,
    FirmwareFields,
    SbomLink,
    SupportDeclaration,
    parse_firmware_version,
    validate_target_name,
)
from signer._fsutil import atomic_write
from signer._repository import FirmwareRepository, RoleTarget
from verifier import Config

SBOM_MAX_LENGTH = Config().sbom_max_length
"""Largest SBOM `add` accepts: the bound a device fetches by default (ADR 0009)."""

CYCLONEDX = "CycloneDX"
SPDX = "SPDX"
_SPDX3_CONTEXT = "https://spdx.org/rdf/3."


@dataclass(frozen=True)
class SbomDocument:
    """An SBOM file that passed the checks, with its exact bytes."""

    data: bytes
    format: str
    spec_version: str

    def hashes(self, algorithms: Sequence[str]) -> dict[str, str]:
        return {alg: hashlib.new(alg, self.data).hexdigest() for alg in algorithms}

    def target(self, name: str, algorithms: Sequence[str]) -> TargetFile:
        """The SBOM's own target entry."""
        custom = {SBOM_KEY: {"format": self.format, "spec_version": self.spec_version}}
        return TargetFile(
            len(self.data),
            self.hashes(algorithms),
            name,
            unrecognized_fields={"custom": custom},
        )

    def link(self, name: str, algorithms: Sequence[str]) -> SbomLink:
        """The link a firmware target carries to this SBOM under ``name``."""
        return SbomLink(name, len(self.data), self.hashes(algorithms))


def read_sbom(path: Path, limit: int = SBOM_MAX_LENGTH) -> SbomDocument:
    """Read and check an SBOM file (CycloneDX or SPDX, JSON).

    Raises:
        InvalidInputError: unreadable, larger than ``limit`` (not read whole), not UTF-8
            JSON, not an object, or not naming its format as CycloneDX or SPDX do.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise InvalidInputError(f"cannot read SBOM {path}: {e.strerror}") from None
    if len(data) > limit:
        raise InvalidInputError(
            f"SBOM {path} is larger than {limit >> 20} MiB, the most a device fetches"
        )
    return parse_sbom(data, str(path))


def parse_sbom(data: bytes, what: str = "SBOM") -> SbomDocument:
    """Check SBOM bytes (see :func:`read_sbom`)."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInputError(f"{what} is not UTF-8 text") from None
    except (ValueError, RecursionError) as e:
        raise InvalidInputError(f"{what} is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidInputError(f"{what} is not a JSON object (an SBOM document is one)")
    kind, version = _format_of(doc, what)
    return SbomDocument(data, kind, version)


def _format_of(doc: dict[str, Any], what: str) -> tuple[str, str]:
    if "bomFormat" in doc:
        spec = doc.get("specVersion")
        if doc["bomFormat"] != CYCLONEDX:
            raise InvalidInputError(f"{what}: bomFormat is {doc['bomFormat']!r}, not 'CycloneDX'")
        if not isinstance(spec, str) or not spec:
            raise InvalidInputError(f"{what}: CycloneDX document without a specVersion string")
        return CYCLONEDX, spec
    if "spdxVersion" in doc:
        spec = doc["spdxVersion"]
        if not isinstance(spec, str) or not spec.startswith("SPDX-2."):
            raise InvalidInputError(f"{what}: spdxVersion {spec!r} is not 'SPDX-2.x'")
        if doc.get("SPDXID") != "SPDXRef-DOCUMENT":
            raise InvalidInputError(f"{what}: SPDX document whose SPDXID is not SPDXRef-DOCUMENT")
        return SPDX, spec.removeprefix("SPDX-")
    context = doc.get("@context")
    if isinstance(context, str) and context.startswith(_SPDX3_CONTEXT):
        # https://spdx.org/rdf/3.0.1/spdx-context.jsonld -> 3.0.1
        return SPDX, context.removeprefix(_SPDX3_CONTEXT.removesuffix("3.")).split("/")[0]
    raise InvalidInputError(
        f"{what} is neither CycloneDX (bomFormat, specVersion) nor SPDX (spdxVersion or "
        "an SPDX 3 @context) JSON"
    )


def sbom_target_name(sbom: Path, hardware_id: str, version: str, name: str | None) -> str:
    """The SBOM's target name: ``name``, else ``<hardware id>/<version>/<file name>``.

    Raises:
        InvalidInputError: not a valid target name (ADR 0001).
    """
    target = name or f"{hardware_id}/{version}/{sbom.name}"
    validate_target_name(target)
    return target


def linked_from(repo: FirmwareRepository, sbom: str) -> list[str]:
    """Names of the firmware targets whose SBOM link names target ``sbom``."""
    linking = []
    for _role, name, info in repo.iter_targets():
        try:
            fields = FirmwareFields.from_target(name, info)
        except MetadataError:
            continue  # status reports it; a broken target links nothing here
        if fields is not None and fields.sbom is not None and fields.sbom.target == sbom:
            linking.append(name)
    return linking


def refuse_removal(repo: FirmwareRepository, name: str, info: TargetFile) -> None:
    """Raise ConflictError when removing target ``name`` would break or hide something.

    A support declaration is withdrawn with `firmtuf support remove` (its removal would
    shorten the period silently); an SBOM goes with the last firmware that links it.
    """
    if SupportDeclaration.from_target(name, info) is not None:
        raise ConflictError(
            f"{name!r} is a support declaration: withdraw it with 'firmtuf support remove'"
        )
    if SBOM_KEY in info.custom:
        linking = linked_from(repo, name)
        if linking:
            raise ConflictError(
                f"SBOM {name!r} is linked from {linking[0]!r}"
                f"{f' and {len(linking) - 1} more' if len(linking) > 1 else ''}: "
                "remove the firmware (its SBOM goes with it)"
            )


def orphaned_sbom(repo: FirmwareRepository, name: str, info: TargetFile) -> list[RoleTarget]:
    """The SBOM target that removing firmware ``name`` leaves unlinked (none or one).

    Call after the firmware left its role (in memory): other firmware still linking the
    SBOM keeps it.
    """
    try:
        fields = FirmwareFields.from_target(name, info)
    except MetadataError:
        return []  # a broken target can still be removed; it links nothing
    if fields is None or fields.sbom is None or linked_from(repo, fields.sbom.target):
        return []
    return [
        t for t in repo.iter_targets() if t.name == fields.sbom.target and SBOM_KEY in t.info.custom
    ][:1]


def found_by_client(repo: FirmwareRepository, name: str) -> RoleTarget | None:
    """Target ``name`` as a device's delegation search finds it, or None."""
    for role in repo.graph.search(name):
        info = repo.metadata(role).signed.targets.get(name)
        if info is not None:
            return RoleTarget(role, name, info)
    return None


@dataclass(frozen=True)
class ReleaseSbom:
    """The checked SBOM of a firmware release (see :func:`release_sbom`)."""

    hardware_id: str
    version: str
    firmware: tuple[str, ...]
    """The firmware targets of the release that link it."""
    target: str
    length: int
    hashes: dict[str, str]
    format: str
    spec_version: str
    data: bytes
    signed: bool
    """False when the firmware or SBOM role is an unsigned draft (devices do not see it yet)."""

    def write(self, path: Path) -> None:
        """Write the document to ``path`` atomically (exactly :attr:`data`)."""
        atomic_write(path, self.data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hardware_id": self.hardware_id,
            "version": self.version,
            "firmware": list(self.firmware),
            "sbom": self.target,
            "length": self.length,
            "hashes": self.hashes,
            "format": self.format,
            "spec_version": self.spec_version,
            "signed": self.signed,
        }


def release_link(
    releases: list[tuple[str, FirmwareFields]], hardware_id: str, version: str
) -> tuple[tuple[str, ...], SbomLink]:
    """The SBOM link shared by the firmware targets of one release.

    Args:
        releases: ``(target name, fields)`` of the firmware of ``hardware_id`` at ``version``.

    Raises:
        ConflictError: no such firmware, none with an SBOM, or targets linking different
            SBOMs.
    """
    if not releases:
        raise ConflictError(f"no firmware {version} for hardware id {hardware_id!r}")
    links = {f.sbom.target: f.sbom for _, f in releases if f.sbom is not None}
    names = tuple(sorted(name for name, _ in releases))
    if not links:
        raise ConflictError(f"firmware {version} of {hardware_id!r} ({names[0]}) has no SBOM")
    if len(links) > 1:
        raise ConflictError(
            f"the firmware {version} targets of {hardware_id!r} link different SBOMs: "
            + ", ".join(sorted(links))
        )
    return names, next(iter(links.values()))


def release_sbom(repo: FirmwareRepository, hardware_id: str, version: str) -> ReleaseSbom:
    """The SBOM of firmware ``version`` of ``hardware_id`` in a working repository.

    Firmware and SBOM are looked up as a device's delegation search finds them; the
    stored SBOM must have the length and hashes the firmware's link and the SBOM target
    state.

    Raises:
        InvalidInputError: ``version`` is not a version.
        ConflictError: see :func:`release_link`.
        MetadataError: the linked SBOM target is missing or disagrees with the link.
        VerificationError: the stored SBOM is missing, not the signed bytes, or not an SBOM.
    """
    wanted = parse_firmware_version(version)
    releases = []
    for _, name, info in repo.iter_targets():
        try:
            fields = FirmwareFields.from_target(name, info)
        except MetadataError:
            continue  # `status` reports it; it is not this release
        if (
            fields is not None
            and hardware_id in fields.hardware_ids
            and fields.parsed_version == wanted
            and (hit := found_by_client(repo, name)) is not None
            and hit.info == info
        ):
            releases.append((name, fields))
    names, link = release_link(releases, hardware_id, version)
    found = found_by_client(repo, link.target)
    if found is None:
        raise MetadataError(f"SBOM {link.target!r} linked from {names[0]!r} is not a target")
    role, _, info = found
    if info.length != link.length or info.hashes != link.hashes:
        raise MetadataError(
            f"SBOM target {link.target!r} is not the one {names[0]!r} links "
            "(length or hashes differ)"
        )
    data = _stored_bytes(repo, link.target, info)
    try:
        document = parse_sbom(data, f"SBOM {link.target!r}")
    except InvalidInputError as e:
        raise VerificationError(str(e)) from None
    roles = {role, *(r for n in names if (r := _role_of(repo, n)) is not None)}
    return ReleaseSbom(
        hardware_id,
        version,
        names,
        link.target,
        info.length,
        dict(info.hashes),
        document.format,
        document.spec_version,
        data,
        all(repo.is_complete(r) for r in roles),
    )


def _role_of(repo: FirmwareRepository, name: str) -> str | None:
    found = found_by_client(repo, name)
    return None if found is None else found.role


def _stored_bytes(repo: FirmwareRepository, name: str, info: TargetFile) -> bytes:
    path = repo.stored_image(name, info)
    try:
        with open(path, "rb") as f:
            data = f.read(info.length + 1)
    except FileNotFoundError:
        raise VerificationError(
            f"SBOM {name!r} is not in the local store ({path}); give the published "
            "repository and --root instead"
        ) from None
    except OSError as e:
        raise VerificationError(f"cannot read SBOM {name!r} ({path}): {e.strerror}") from None
    try:
        info.verify_length_and_hashes(data)
    except LengthOrHashMismatchError:
        raise VerificationError(
            f"stored SBOM {name!r} ({path}) is not the signed one (corrupt)"
        ) from None
    return data
