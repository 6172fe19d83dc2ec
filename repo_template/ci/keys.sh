#!/usr/bin/env bash
# Install the online key files (targets, snapshot, timestamp) from the CI secret
# FIRMTUF_ONLINE_KEYS: a base64 tar.gz of the repository's key files, made once with
#   (cd repo && tar -czf - keys/targets-*.pem keys/snapshot-*.pem keys/timestamp-*.pem) | base64 -w0
# The files stay encrypted; their password is the FIRMTUF_KEY_PASSWORD secret.
# Without the secret (a local run) the key files already in repo/keys are used.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="${FIRMTUF_REPO:-repo}"
if [ -n "${FIRMTUF_ONLINE_KEYS:-}" ]; then
  mkdir -p "$REPO/keys"
  printf '%s' "$FIRMTUF_ONLINE_KEYS" | base64 -d | tar -xz -C "$REPO" --no-same-owner keys
fi
