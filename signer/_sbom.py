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

from tuf.api.metadata import TargetFile

from signer._errors import ConflictError, InvalidInputError, MetadataError
from signer._firmware import (
    SBOM_KEY,
    FirmwareFields,
    SbomLink,
    SupportDeclaration,
    validate_target_name,
)
from signer._repository import FirmwareRepository

SBOM_MAX_LENGTH = 8 << 20
"""Largest SBOM `add` accepts: the default bound a device fetches (ADR 0009)."""

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


def orphaned_sbom(
    repo: FirmwareRepository, name: str, info: TargetFile
) -> list[tuple[str, str, TargetFile]]:
    """``(role, name, info)`` of the SBOM that removing firmware ``name`` leaves unlinked.

    Call after the firmware left its role (in memory): other firmware still linking the
    SBOM keeps it.
    """
    try:
        fields = FirmwareFields.from_target(name, info)
    except MetadataError:
        return []  # a broken target can still be removed; it links nothing
    if fields is None or fields.sbom is None or linked_from(repo, fields.sbom.target):
        return []
    for role, other, other_info in repo.iter_targets():
        if other == fields.sbom.target and SBOM_KEY in other_info.custom:
            return [(role, other, other_info)]
    return []
