"""``python -m signer`` runs the `firmtuf` command."""

from signer._entry import main

main()
