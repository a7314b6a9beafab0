#!/usr/bin/env bash
# Builds deploy/Dockerfile with buildah, without a container registry or a daemon:
#   1. wheels of sla-planner and its runtime dependencies -> deploy/wheelhouse/ (the
#      host's pip and index), so the image build fetches nothing;
#   2. a base image made from Debian bookworm packages (mmdebstrap: python3, python3-venv,
#      ca-certificates, passwd), imported once and kept in $OUT/storage;
#   3. `buildah bud` of deploy/Dockerfile on that base (chroot isolation, vfs storage:
#      works as root inside a container).
# Needs root and Debian's buildah and mmdebstrap (installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/image}
TAG=${TAG:-localhost/sla-planner:0.1.0}
BASE_TAG=${BASE_TAG:-localhost/sla-planner-base:bookworm}
PY=${PY:-.venv/bin/python}
B=(buildah --root "$PWD/$OUT/storage" --runroot "$PWD/$OUT/run" --storage-driver vfs)

if [ "$(id -u)" != 0 ]; then
  echo "build-image: needs root (buildah with chroot isolation, mmdebstrap)" >&2
  exit 2
fi
if ! command -v buildah >/dev/null || ! command -v mmdebstrap >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq buildah mmdebstrap >/dev/null
fi
mkdir -p "$OUT"

echo "build-image: wheels -> deploy/wheelhouse/"
rm -f deploy/wheelhouse/*.whl
"$PY" -m pip wheel -q -w deploy/wheelhouse .

if ! "${B[@]}" inspect --type image "$BASE_TAG" >/dev/null 2>&1; then
  echo "build-image: base $BASE_TAG from Debian bookworm packages"
  mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates,passwd \
    bookworm "$OUT/base.tar" http://deb.debian.org/debian
  ctr=$("${B[@]}" from scratch)
  "${B[@]}" add "$ctr" "$OUT/base.tar" / >/dev/null
  "${B[@]}" commit --rm "$ctr" "$BASE_TAG" >/dev/null
  rm -f "$OUT/base.tar"
fi

echo "build-image: $TAG from deploy/Dockerfile"
"${B[@]}" bud --quiet --isolation chroot --build-arg BASE="$BASE_TAG" \
  -f deploy/Dockerfile -t "$TAG" .
# vfs keeps a full copy per layer: drop the build stage and images a rebuild replaced
"${B[@]}" rmi --prune >/dev/null 2>&1 || true
