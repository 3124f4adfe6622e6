#!/usr/bin/env bash
# Installs what qcc needs to build and test, from Debian's packages only.
# Idempotent: does nothing when every package is already installed.
set -euo pipefail

packages=(
  cmake ninja-build g++ git python3
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools
  flatbuffers-compiler libflatbuffers-dev
  libgtest-dev googletest
  libxxhash-dev
  libpcre2-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"

if [ ! -d /usr/local/cuda/include ]; then
  echo "setup: note: CUDA toolkit headers not found at /usr/local/cuda; CUDA codegen checks will be skipped" >&2
fi
