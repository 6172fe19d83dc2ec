"""Shared fixtures. Hypothesis runs a small profile by default (the whole suite must stay
under ~10 minutes on 2 cores); HYPOTHESIS_PROFILE=thorough runs the large one."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# `cli` and `password` for the signer-side folders (signer, keys, scale); the moto S3
# server for the tests that publish to S3.
pytest_plugins = ["tests.cli_fixtures", "tests.s3_fixtures"]

# Key files are written with bcrypt-pbkdf at about half a second per unlock; the suite
# writes and reads hundreds of them, so it runs at one round. tests/signer/keys/test_kdf.py
# checks the real default (and that the variable is what tunes it).
os.environ.setdefault("FIRMTUF_KDF_ROUNDS", "1")

settings.register_profile(
    "default",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
