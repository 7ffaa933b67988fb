#!/usr/bin/env bash
# Builds the native yardstick kernels: native/build.sh [OUTPUT_DIR]  (default: target/native beside this
# folder). Writes OUTPUT_DIR/libmergestream_native.so. -ffp-contract=off (no FMA contraction) and no
# -ffast-math are required: the kernels must be bit-identical to the Java ones. CC overrides gcc.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/../target/native}"
cc="${CC:-gcc}"
mkdir -p "$out"
"$cc" -O3 -march=native -ffp-contract=off -fPIC -shared -std=gnu11 -Wall -Wextra \
  -o "$out/libmergestream_native.so.tmp" "$here/mergestream_kernels.c" -lpthread
mv -f "$out/libmergestream_native.so.tmp" "$out/libmergestream_native.so"
echo "native: built $(cd "$out" && pwd)/libmergestream_native.so"
