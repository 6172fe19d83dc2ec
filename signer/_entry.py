"""The `firmtuf` command's entry point.

A device installs ``pip install firmtuf`` (the verifier only), and the ``firmtuf``
command comes with the distribution all the same: there it says in one line which extra
to install, instead of an import traceback.
"""

from __future__ import annotations

import sys

EXTRA_HINT = "pip install 'firmtuf[signer]'"


def main() -> None:
    """Run the `firmtuf` command, or explain the missing extra (exit 1)."""
    try:
        import click  # noqa: F401
        import securesystemslib  # noqa: F401
        import tuf  # noqa: F401
    except ImportError as e:
        missing = e.name or "a dependency"
        sys.stderr.write(
            f"firmtuf: the signing tool is not installed here (no {missing}: this looks "
            f"like a device-only install of the verifier); install it with {EXTRA_HINT}\n"
        )
        raise SystemExit(1) from None
    from signer.cli import main as cli

    cli(prog_name="firmtuf")
