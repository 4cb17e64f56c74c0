#!/usr/bin/env bash
# Build the CPU kernels (generic + NEON levels) and tests/cpp/test_kernels.cpp for aarch64 with Debian's cross
# compiler and run the test binary under qemu-aarch64, so the NEON kernels are executed, not only compiled. Installs
# g++-aarch64-linux-gnu and qemu-user with apt-get when they are missing (CI runs as root on a fresh Debian machine).
# Usage: tests/cpp/run-neon.sh   (build directory: build/neon, or $LLAMACORE_NEON_BUILD)
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing g++-aarch64-linux-gnu and qemu-user"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq g++-aarch64-linux-gnu qemu-user >/dev/null
fi

out=${LLAMACORE_NEON_BUILD:-build/neon}
mkdir -p "$out/obj"
cxx=aarch64-linux-gnu-g++
common=(-O2 -std=c++17 -Icsrc/include -Icsrc -DLC_HAVE_NEON=1 -Wall -Wno-unused-parameter)
neon_flags=(-march=armv8.2-a+dotprod+fp16)

# The kernel library without the runtime/tokenizer: formats, dispatch, thread pool, generic and NEON kernels.
sources=(csrc/quant/*.cpp csrc/cpu/*.cpp csrc/cpu/generic/*.cpp csrc/cpu/arm/*.cpp tests/cpp/test_kernels.cpp)
compile() {
  local src=$1 obj
  obj="$out/obj/$(echo "$src" | tr '/' '_').o"
  local flags=("${common[@]}")
  case $src in csrc/cpu/arm/*) flags+=("${neon_flags[@]}") ;; esac
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find csrc/include csrc/cpu csrc/quant -name '*.h' -newer "$obj" -print -quit)" ]; then
    "$cxx" "${flags[@]}" -c "$src" -o "$obj"
  fi
  echo "$obj"
}
export -f compile
export out cxx
objs=$(printf '%s\n' "${sources[@]}" | \
  xargs -P "$(nproc)" -I{} bash -c "$(declare -p common neon_flags); compile {}")
# shellcheck disable=SC2086
"$cxx" -static -o "$out/test_kernels" $objs -lpthread

echo "running $out/test_kernels under qemu-aarch64"
QEMU_CPU=max qemu-aarch64 "$out/test_kernels"
