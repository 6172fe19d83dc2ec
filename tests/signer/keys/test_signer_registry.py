"""firmtuf's signer URI schemes join securesystemslib's registry by one explicit call
(signer.register_signers), made where a URI is resolved: no import changes global state."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[3]

_IMPORTS_ONLY = """
from securesystemslib.signer import SIGNER_FOR_URI_SCHEME as registry
before = {k: v.__qualname__ for k, v in registry.items()}
import signer, signer._signers, signer._keys, signer._events, signer.cli
after = {k: v.__qualname__ for k, v in registry.items()}
assert before == after, (before, after)
assert "envvar" not in registry and "file" not in registry
print("unchanged")
"""

_PUBLIC_API = """
import os
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
from securesystemslib.signer import SIGNER_FOR_URI_SCHEME, SSlibKey
from pathlib import Path
import signer

private = Ed25519PrivateKey.generate()
os.environ["FIRMTUF_REGISTRY_KEY"] = private.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption()).decode()
key = SSlibKey.from_crypto(private.public_key())
key.unrecognized_fields[signer.SIGNER_URI_FIELD] = "envvar:FIRMTUF_REGISTRY_KEY"
assert "envvar" not in SIGNER_FOR_URI_SCHEME
found = signer.Keyring(Path(".")).signer_for(key)
assert found is not None and found.public_key.keyid == key.keyid
print(type(found).__name__, sorted(s for s in ("file", "envvar") if s in SIGNER_FOR_URI_SCHEME))
signer.register_signers()  # idempotent
print(sorted(s for s in ("file", "envvar") if s in SIGNER_FOR_URI_SCHEME))
"""


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_importing_the_signer_registers_nothing() -> None:
    assert _run(_IMPORTS_ONLY).split() == ["unchanged"]


def test_the_public_api_resolves_firmtuf_schemes_without_a_private_import() -> None:
    lines = _run(_PUBLIC_API).splitlines()
    assert lines == ["CryptoSigner ['envvar', 'file']", "['envvar', 'file']"]
