#!/usr/bin/env bash
# Scheduled: re-sign what is about to expire, publish it, and fail the job (exit 10)
# when anything still expires within [status] warn of firmtuf.toml, long before devices
# would refuse the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="${FIRMTUF_REPO:-repo}"
ci/keys.sh
firmtuf refresh "$REPO"
firmtuf publish "$REPO"
firmtuf status "$REPO"
