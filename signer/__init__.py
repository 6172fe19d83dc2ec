"""firmtuf signing tool (release-engineer side). See signer/cli for the `firmtuf` command."""
