#!/usr/bin/env bash
# The bounded fuzz run of the test suite (ctest fuzz_smoke): builds the harnesses, then runs each
# one for FUZZ_RUNS inputs (default 4000) from its seed corpus (fuzz/corpus/<name>/) and its crash
# regressions (fuzz/regressions/<name>/, replayed first). Fails on any crash, leak, timeout or
# sanitizer report; the failing input is kept in BUILD_DIR/artifacts/.
# Usage: fuzz/smoke.sh [BUILD_DIR]   (default: build-fuzz beside this folder; FUZZ_NO_BUILD=1 runs the
# harnesses already built there)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build=${1:-$fuzz_root/build-fuzz}
runs=${FUZZ_RUNS:-4000}
[ "${FUZZ_NO_BUILD:-}" = 1 ] || fuzz_build "$build"
mkdir -p "$build/artifacts"
failed=()
for name in "${fuzz_harnesses[@]}"; do
  work=$(mktemp -d)  # new inputs go here, never into the repository's corpus
  dirs=("$work" "$fuzz_root/fuzz/corpus/$name")
  [ -d "$fuzz_root/fuzz/regressions/$name" ] && dirs+=("$fuzz_root/fuzz/regressions/$name")
  start=$(date +%s)
  if "$build/fuzz/${name}_fuzz" -runs="$runs" -seed=1 -max_len=4096 -timeout=20 -rss_limit_mb=2048 \
      -artifact_prefix="$build/artifacts/$name-" "${dirs[@]}" >"$build/artifacts/$name.log" 2>&1; then
    echo "fuzz $name: ok ($runs runs, $(( $(date +%s) - start ))s)"
  else
    echo "fuzz $name: FAILED, log follows"
    tail -n 60 "$build/artifacts/$name.log"
    failed+=("$name")
  fi
  rm -rf "$work"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz harnesses failed: ${failed[*]}"
  exit 1
fi
