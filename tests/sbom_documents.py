"""Small hand-made SBOM documents for the tests (no SBOM generator: the shapes the specs
name are all firmtuf checks, and a few components are enough to see them carried)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def cyclonedx(firmware: str = "gateway", version: str = "1.4.2") -> dict[str, Any]:
    """A CycloneDX 1.5 BOM of a firmware build with two components."""
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 1,
        "metadata": {
            "component": {"type": "firmware", "name": firmware, "version": version},
        },
        "components": [
            {
                "type": "library",
                "name": "openssl",
                "version": "3.0.13",
                "purl": "pkg:generic/openssl@3.0.13",
            },
            {
                "type": "operating-system",
                "name": "linux",
                "version": "6.6.21",
                "purl": "pkg:generic/linux@6.6.21",
            },
        ],
    }


def spdx2() -> dict[str, Any]:
    """An SPDX 2.3 document with one package."""
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "gateway-1.4.2",
        "documentNamespace": "https://acme.example/spdx/gateway-1.4.2",
        "creationInfo": {"created": "2026-12-01T00:00:00Z", "creators": ["Tool: hand"]},
        "packages": [
            {"SPDXID": "SPDXRef-openssl", "name": "openssl", "versionInfo": "3.0.13"},
        ],
    }


def spdx3() -> dict[str, Any]:
    """An SPDX 3.0 JSON-LD document (the shape only)."""
    return {
        "@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",
        "@graph": [{"type": "SpdxDocument", "spdxId": "urn:acme:gateway-1.4.2"}],
    }


def write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2))
    return path
