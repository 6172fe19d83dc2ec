"""Internals of the device verifier. Unstable: import from ``verifier`` instead."""
