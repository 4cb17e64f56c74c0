#!/usr/bin/env bash
# The NEON kernel level, executed: cross-compiles the kernels and tests/cpp/test_kernels for aarch64 (Debian's
# g++-aarch64-linux-gnu) and runs the test under qemu-aarch64 (Debian's qemu-user) with a CPU model that has
# dotprod and fp16, so the neon level is selected and checked against the generic level.
#
# Installs the cross compiler, qemu-user, cmake and ninja with apt-get when they are missing (CI: root on a fresh
# Debian machine). Prints a closing line "N passed, M failed"; exits non-zero on any failure.
# Environment: LLAMACORE_NEON_BUILD (build folder, default build/neon), QEMU_CPU (default max).
set -euo pipefail
cd "$(dirname "$0")/../.."
t0=$SECONDS
build=${LLAMACORE_NEON_BUILD:-build/neon}
export QEMU_CPU=${QEMU_CPU:-max}

fail() {
    echo "run-neon.sh: $*" >&2
    echo "0 passed, 1 failed"
    exit 1
}

need=()
command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v cmake >/dev/null || need+=(cmake)
command -v ninja >/dev/null || need+=(ninja-build)
if ((${#need[@]})); then
    echo "== installing ${need[*]}"
    sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq || fail "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
        fail "apt-get install ${need[*]} failed"
fi

mkdir -p "$build"
echo "== cross-compiling for aarch64 into $build ($(aarch64-linux-gnu-g++ --version | head -1))"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 \
    -DCMAKE_C_COMPILER=aarch64-linux-gnu-gcc -DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++ \
    -DLLAMACORE_BUILD_PYTHON=OFF -DLLAMACORE_BUILD_CPP_TESTS=ON >"$build/configure.log" 2>&1 ||
    { cat "$build/configure.log"; fail "cmake configure failed"; }
cmake --build "$build" --target test_kernels || fail "build failed"
echo "== built in $((SECONDS - t0)) s; running under qemu-aarch64 (QEMU_CPU=$QEMU_CPU)"

log="$build/test_kernels.log"
set +e
qemu-aarch64 -L /usr/aarch64-linux-gnu "$build/tests/cpp/test_kernels" --level neon 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
echo "== run-neon.sh: $((SECONDS - t0)) s in all"
# the closing line last: the test's own, or, if it died before printing it (a crash under qemu), ours
closing=$(tail -n 1 "$log")
[[ "$closing" =~ ^[0-9]+\ passed,\ [0-9]+\ failed$ ]] || fail "test_kernels stopped early (exit status $rc)"
echo "$closing"
exit "$rc"
