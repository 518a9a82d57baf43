#!/usr/bin/env bash
# Cross-compiles the native addon for linux-arm64 on an x86-64 build host and puts the stripped
# binary where pkg-prebuilds' loader looks: prebuilds/vippy-linux-arm64/node-napi-v8.node.
# Compile-tested only: the result is checked to be an aarch64 ELF, it is not run here.
#
# Needs the Debian cross toolchain; installs it when missing (as root, e.g. in CI).
set -euo pipefail

cd "$(dirname "$0")/.."

triplet=aarch64-linux-gnu
if ! command -v "$triplet-g++" >/dev/null || ! command -v "$triplet-strip" >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "prebuild-arm64: $triplet-g++ / $triplet-strip missing; install g++-$triplet binutils-$triplet (needs root)" >&2
    exit 1
  fi
  echo "prebuild-arm64: installing the $triplet cross toolchain" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "g++-$triplet" "binutils-$triplet" >/dev/null
fi

# A separate build directory: build/ keeps the host (x64) addon the tests load.
npx cmake-js compile --arch arm64 --out build-arm64 \
  --CDCMAKE_SYSTEM_NAME=Linux --CDCMAKE_SYSTEM_PROCESSOR=aarch64 --CDCMAKE_CXX_COMPILER="$triplet-g++"

# No --strip here: pkg-prebuilds would run the host's strip, which cannot read an aarch64 ELF.
npx pkg-prebuilds-copy --baseDir build-arm64/Release --source vippy.node --name=vippy --napi_version=8 --arch=arm64
target=prebuilds/vippy-linux-arm64/node-napi-v8.node
"$triplet-strip" --strip-unneeded "$target"

# ELF magic, then e_machine (bytes 18-19, little-endian) = 0xb7: EM_AARCH64. od is in coreutils.
header=$(od -An -tx1 -N4 "$target" | tr -d ' \n')
machine=$(od -An -tx1 -j18 -N2 "$target" | tr -d ' \n')
if [ "$header" != "7f454c46" ] || [ "$machine" != "b700" ]; then
  echo "prebuild-arm64: $target is not an aarch64 ELF (magic $header, e_machine $machine)" >&2
  exit 1
fi
echo "prebuild-arm64: $target: aarch64 ELF, $(wc -c < "$target") bytes"
