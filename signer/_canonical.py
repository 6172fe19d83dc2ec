"""Metadata files written in canonical JSON (OLPC) wherever JSON allows it.

A device verifies a canonical file's raw ``signed`` bytes as they are, before it parses
anything (verifier/_internal/metadata.py); a file in any other form costs it a parse and
a re-encode before the signature can be checked. python-tuf's serializers write either
pretty-printed JSON or only the ``signed`` part, hence this one.

``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` is OLPC canonical
JSON except for control characters in strings: OLPC writes them raw, which is not valid
JSON (a PEM public key's newlines, say), and json escapes them. Such a file is therefore
written as valid JSON, not canonical, and its readers take the re-encoding path; every
other file is canonical byte for byte. Strings that cannot be UTF-8 (lone surrogates)
are written escaped, as before.
"""

from __future__ import annotations

import json
from typing import Any

from tuf.api.metadata import Metadata
from tuf.api.serialization import MetadataSerializer, SerializationError


def canonical_bytes(obj: Any) -> bytes:
    """``obj`` as compact JSON with sorted keys: canonical unless a string holds a control
    character or a lone surrogate (see the module docstring)."""
    try:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise SerializationError(f"cannot encode metadata: {e}") from e
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("ascii")


class CanonicalFileSerializer(MetadataSerializer):
    """Whole metadata documents (``signed`` and ``signatures``), canonical where JSON can be."""

    def serialize(self, metadata_obj: Metadata) -> bytes:
        return canonical_bytes(metadata_obj.to_dict())
