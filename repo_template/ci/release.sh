#!/usr/bin/env bash
# A new firmware release: add the image(s), sign with the online keys, check, publish.
# Usage: ci/release.sh IMAGE VERSION [more `firmtuf add` options]
#        ci/release.sh DIR VERSION     several boards at once: each file in DIR is the
#                                      image of the hardware id its name gives
#                                      (DIR/acme-gw-r2.bin -> --hardware-id acme-gw-r2);
#                                      a DIR holding one file is that one IMAGE.
# (hardware ids for a single image, keys, destination: firmtuf.toml)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="${FIRMTUF_REPO:-repo}"
image="$1"
version="$2"
shift 2
ci/keys.sh
if [ -d "$image" ]; then
  files=()
  for file in "$image"/*; do
    [ -f "$file" ] && files+=("$file")
  done
  if [ ${#files[@]} -eq 0 ]; then
    echo "ci/release.sh: no image in $image" >&2
    exit 3
  fi
  if [ ${#files[@]} -eq 1 ]; then
    firmtuf add "$REPO" "${files[0]}" --version "$version" "$@"
  else
    for file in "${files[@]}"; do
      name=$(basename "$file")
      firmtuf add "$REPO" "$file" --version "$version" --hardware-id "${name%.*}" "$@"
    done
  fi
else
  firmtuf add "$REPO" "$image" --version "$version" "$@"
fi
firmtuf sign "$REPO"
firmtuf status "$REPO"
firmtuf publish "$REPO"
