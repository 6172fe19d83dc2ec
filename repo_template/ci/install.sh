#!/usr/bin/env bash
# Install firmtuf from a pinned, hash-checked requirements file (runs before any secret
# is in the environment). FIRMTUF_REQUIREMENTS names the file (default
# ci/requirements.txt: every package pinned with --hash, made from ci/requirements.in with
# `pip-compile --generate-hashes -o ci/requirements.txt ci/requirements.in`, or by hand
# with `pip hash` for a vendored wheel); FIRMTUF_PIP_ARGS adds pip options for another
# source (`--no-index --find-links vendor/`, `--index-url https://pypi.internal/simple`).
set -euo pipefail
cd "$(dirname "$0")/.."
requirements="${FIRMTUF_REQUIREMENTS:-ci/requirements.txt}"
if ! grep -Eq -- '--hash=sha256:[0-9a-f]{64}' "$requirements"; then
  echo "ci/install.sh: $requirements pins no hashes; generate it from ci/requirements.in (see README.md)" >&2
  exit 1
fi
# shellcheck disable=SC2086  # FIRMTUF_PIP_ARGS is a list of options
python3 -m pip install --require-hashes --no-input -r "$requirements" ${FIRMTUF_PIP_ARGS:-}
