"""``python -m signer`` runs the `firmtuf` command."""

from signer.cli import main

main(prog_name="firmtuf")
