#!/usr/bin/env bash
# Builds everything with warnings as errors and runs the whole test suite (unit + end-to-end).
# Usage: scripts/test.sh [ctest args...]   (BUILD_DIR overrides the build directory)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
if [ "$(id -u)" = 0 ]; then "$root/scripts/install-deps.sh"; fi
cmake -S "$root" -B "$build" -DCA_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"${CTEST_JOBS:-2}" "$@"
