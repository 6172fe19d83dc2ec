#!/usr/bin/env bash
# A new firmware release: add the image, sign with the online keys, check, publish.
# Usage: ci/release.sh IMAGE VERSION [more `firmtuf add` options]
# (hardware ids, keys, destination: firmtuf.toml)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="${FIRMTUF_REPO:-repo}"
image="$1"
version="$2"
shift 2
ci/keys.sh
firmtuf add "$REPO" "$image" --version "$version" "$@"
firmtuf sign "$REPO"
firmtuf status "$REPO"
firmtuf publish "$REPO"
