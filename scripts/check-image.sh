#!/usr/bin/env bash
# Checks the image scripts/build-image.sh built, from its file system and config: it
# runs as a numeric non-root user with `sla-planner` as entrypoint, and, run as that user
# in the image's root (chroot), the entrypoint answers --help, the default profile is
# found inside the installed package and loads, and no development package is installed
# (scripts/check_installed.py). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/image}
TAG=${TAG:-localhost/sla-planner:0.1.0}
B=(buildah --root "$PWD/$OUT/storage" --runroot "$PWD/$OUT/run" --storage-driver vfs)

user=$("${B[@]}" inspect --type image --format '{{.OCIv1.Config.User}}' "$TAG")
entry=$("${B[@]}" inspect --type image --format '{{.OCIv1.Config.Entrypoint}}' "$TAG")
uid=${user%%:*}
if ! [[ "$uid" =~ ^[0-9]+$ ]] || [ "$uid" = 0 ]; then
  echo "check-image: FAIL: user '$user' is not a numeric non-root uid" >&2
  exit 1
fi
if [ "$entry" != '[sla-planner]' ]; then
  echo "check-image: FAIL: entrypoint $entry, expected [sla-planner]" >&2
  exit 1
fi
ctr=$("${B[@]}" from "$TAG")
trap '"${B[@]}" umount "$ctr" >/dev/null 2>&1 || true; "${B[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
root=$("${B[@]}" mount "$ctr")
run_as() { chroot --userspec="$user" "$root" env -i PATH=/opt/venv/bin:/usr/bin:/bin HOME=/tmp "$@"; }
run_as sla-planner --help | head -1
cp scripts/check_installed.py "$root/tmp/check_installed.py"
run_as python3 /tmp/check_installed.py
echo "check-image: OK ($TAG runs as $user, entrypoint $entry)"
