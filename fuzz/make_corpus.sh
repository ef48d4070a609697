#!/usr/bin/env bash
# Regenerates the seed corpora fuzz/corpus/<name>/ (small valid examples each harness writes with
# the project's own encoders; keys are fresh, so the bytes change on every run).
# Usage: fuzz/make_corpus.sh [BUILD_DIR]   (default: build-fuzz beside this folder)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build=${1:-$fuzz_root/build-fuzz}
fuzz_build "$build"
for name in "${fuzz_harnesses[@]}"; do
  dir=$fuzz_root/fuzz/corpus/$name
  rm -rf "$dir"
  mkdir -p "$dir"
  CA_FUZZ_WRITE_SEEDS=$dir "$build/fuzz/${name}_fuzz"
  echo "$name: $(ls "$dir" | wc -l) seeds, $(du -sk "$dir" | cut -f1) KiB"
done
