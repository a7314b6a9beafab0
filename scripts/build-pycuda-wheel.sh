#!/usr/bin/env bash
# Build a pycuda wheel (plus its pure-Python dependencies) into .whl/ for a GPU machine
# without network access. Runs on a machine without a GPU or a driver:
# - CUDA_ROOT (default /usr/local/cuda) provides cuda.h and nvcc;
# - cuRAND is switched off (CUDA_ENABLE_CURAND=False): the profiler does not use it and
#   pip-installed toolkits often lack it;
# - libcuda.so is needed only at LINK time. We link against the toolkit's stub if it has
#   one, else against an empty stub with the driver's soname (libcuda.so.1) built here;
#   --no-as-needed keeps DT_NEEDED libcuda.so.1 although the stub defines no symbols.
#   The stub directory is never put on the run-time path (no rpath, no LD_LIBRARY_PATH):
#   at run time the driver's real libcuda.so.1 is loaded.
set -euo pipefail
PY=${PY:-python3}
CUDA_ROOT=${CUDA_ROOT:-/usr/local/cuda}
OUT=${WHEEL_DIR:-.whl}
VERSION=${PYCUDA_VERSION:-}
mkdir -p "$OUT/src"
OUT=$(cd "$OUT" && pwd)

test -f "$CUDA_ROOT/include/cuda.h" || { echo "no $CUDA_ROOT/include/cuda.h: set CUDA_ROOT" >&2; exit 2; }

stub_dir=""
for d in "$CUDA_ROOT/lib64/stubs" "$CUDA_ROOT/targets/x86_64-linux/lib/stubs"; do
  if [ -f "$d/libcuda.so" ]; then stub_dir=$d; break; fi
done
if [ -z "$stub_dir" ]; then
  stub_dir="$OUT/stubs"
  mkdir -p "$stub_dir"
  echo "/* link-time stand-in for the driver library; never loaded */" > "$stub_dir/stub.c"
  cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$stub_dir/libcuda.so" "$stub_dir/stub.c"
  echo "no libcuda stub in $CUDA_ROOT; built an empty one in $stub_dir"
fi

spec=pycuda${VERSION:+==$VERSION}
rm -rf "$OUT/src"/pycuda-*
"$PY" -m pip download --no-deps --no-binary pycuda "$spec" -d "$OUT/src" -q
tar -xzf "$OUT"/src/pycuda-*.tar.gz -C "$OUT/src"
src=$(ls -d "$OUT"/src/pycuda-*/ | head -n1)
# pycuda's build reads its configuration from siteconf.py beside setup.py
cat > "$src/siteconf.py" <<CONF
CUDA_ROOT = "$CUDA_ROOT"
CUDA_ENABLE_CURAND = False
CUDA_ENABLE_GL = False
CUDADRV_LIB_DIR = ["$stub_dir"]
CUDADRV_LIBNAME = ["cuda"]
CONF
# LDFLAGS from the environment goes right after the linker command, before -lcuda
# (pycuda's own LDFLAGS option lands after the libraries, too late for --no-as-needed)
LDFLAGS="-Wl,--no-as-needed ${LDFLAGS:-}" PATH="$CUDA_ROOT/bin:$PATH" "$PY" -m pip wheel --no-deps "$src" -w "$OUT"
# pure-Python run-time dependencies, so the target can `pip install --no-index -f .whl`
"$PY" -m pip download -d "$OUT" --only-binary :all: pytools platformdirs mako -q
whl=$(ls -t "$OUT"/pycuda-*.whl | head -n1)
echo "built $whl"
# check: the extension needs libcuda.so.1 and carries no path to the stub
tmp=$(mktemp -d); (cd "$tmp" && "$PY" -m zipfile -e "$whl" .)
so=$(find "$tmp" -name '_driver*.so' | head -n1)
readelf -d "$so" | grep -E 'NEEDED|RPATH|RUNPATH' || true
if readelf -d "$so" | grep -E 'RPATH|RUNPATH' | grep -q stubs; then
  echo "error: stub directory leaked into the run-time path" >&2; rm -rf "$tmp"; exit 1
fi
readelf -d "$so" | grep -q 'libcuda.so.1' || { echo "error: libcuda.so.1 not NEEDED" >&2; rm -rf "$tmp"; exit 1; }
rm -rf "$tmp"
