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
echo "== built in $((SECONDS - t0)) s"

# run_test NAME QEMU_CPU ARGS...: runs test_kernels under qemu-aarch64, adds its closing line to the totals.
passed=0
failed=0
run_test() {
    local name=$1 cpu=$2 log="$build/test_kernels.$1.log" rc
    shift 2
    echo "== $name: QEMU_CPU=$cpu qemu-aarch64 test_kernels $*"
    set +e
    QEMU_CPU=$cpu qemu-aarch64 -L /usr/aarch64-linux-gnu "$build/tests/cpp/test_kernels" "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    local closing
    closing=$(tail -n 1 "$log")
    if [[ "$closing" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1]))
        failed=$((failed + BASH_REMATCH[2]))
        [ "$rc" = 0 ] || [ "${BASH_REMATCH[2]}" != 0 ] || failed=$((failed + 1))  # non-zero exit, no failure counted
    else
        echo "FAIL $name: test_kernels stopped early (exit status $rc)"
        failed=$((failed + 1))
    fi
}

# 1. the neon level, on a CPU model with dotprod and fp16, against generic
run_test neon "$QEMU_CPU" --expect-selected neon --level neon
# 2. dispatch on an ARMv8.0 CPU without dotprod/fp16 (Cortex-A53): generic is selected, and no instruction of the
#    armv8.2 kernel files runs (qemu would stop it with SIGILL)
run_test armv8.0 cortex-a53 --expect-selected generic

echo "== run-neon.sh: $((SECONDS - t0)) s in all"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
