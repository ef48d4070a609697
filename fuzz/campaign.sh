#!/usr/bin/env bash
# One campaign run: fuzz/campaign.sh NAME [SECONDS] — runs build-fuzz/fuzz/NAME_fuzz under nice for
# SECONDS (default 600) from its seed corpus, new inputs in build-fuzz/campaign/NAME/, log beside.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
name=$1
seconds=${2:-600}
build=${BUILD_DIR:-$fuzz_root/build-fuzz}
out=$build/campaign
mkdir -p "$out/$name"
nice -n 19 "$build/fuzz/${name}_fuzz" -max_total_time="$seconds" -print_final_stats=1 -max_len=4096 \
  -timeout=20 -rss_limit_mb=2048 -artifact_prefix="$out/$name-" "$out/$name" \
  "$fuzz_root/fuzz/corpus/$name" >"$out/$name.log" 2>&1
