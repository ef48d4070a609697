#!/usr/bin/env bash
# ha-failover.sh — the failover benchmark of issue 20: tests/ha/failover_e2e.sh with a long load
# (README "Benchmarks"). The same test as ctest ha_failover_e2e, which runs it shortened.
#
#   sudo scripts/bench/ha-failover.sh [--build DIR] [--before SECONDS] [--after SECONDS]
#                                     [--rate FLOWS_PER_S] [--workers N] [--runs N] [--out DIR]
#
# Defaults: build/, 60 s of load before the SIGKILL of the active node, 120 s after, 4 flows/s, 4
# workers, 1 run, results in build/bench-ha/. Each run prints its figures (one JSON line: outage_seconds
# from the kill to the first issuance completed through the survivor, max_gap_seconds, db_failover_seconds,
# rejoin_seconds, flows and failed flows by kind, acknowledged_missing, duplicate_serials,
# ocsp_not_good) into OUT/run-N.json; the summary (min/median/max of the times) is OUT/summary.json.
# The RSA-3072 key pool is kept in OUT (made once). Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$src/build before=60 after=120 rate=4 workers=4 runs=1 out=""
while (($#)); do
  case "$1" in
    --build) build=${2:?}; shift 2 ;;
    --before) before=${2:?}; shift 2 ;;
    --after) after=${2:?}; shift 2 ;;
    --rate) rate=${2:?}; shift 2 ;;
    --workers) workers=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,/^[^#]/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "ha-failover.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
out=${out:-$build/bench-ha}
mkdir -p "$out"
b=$build
bins=("$b/engine/ca-engine" "$b/gateway/ca-gateway" "$b/crl_ocsp/server/ca-status-server" "$b/appliance/ra/ca-ra"
      "$b/appliance/ceremony/ca-ceremony" "$b/crl_ocsp/tools/ca-status-publish" "$b/appliance/audit/ca-audit"
      "$b/dashboard/ca-dashboard" "$b/reports/tools/ca-report")
for f in "${bins[@]}"; do [ -x "$f" ] || { echo "ha-failover.sh: $f not built" >&2; exit 1; }; done
for i in $(seq "$runs"); do
  echo "ha-failover.sh: run $i of $runs ($before s + $after s of load at $rate flows/s)" >&2
  HA_LOAD_SECONDS=$before HA_AFTER_SECONDS=$after HA_RATE=$rate HA_WORKERS=$workers \
    HA_KEY_POOL=$out/rsa3072.pem HA_JSON=$out/run-$i.json \
    bash "$src/tests/ha/failover_e2e.sh" "$src" "${bins[@]}" >"$out/run-$i.log" 2>&1 ||
    { tail -30 "$out/run-$i.log" >&2; echo "ha-failover.sh: run $i failed (log $out/run-$i.log)" >&2; exit 1; }
  cat "$out/run-$i.json"
done
python3 - "$out" "$runs" <<'PY' | tee "$out/summary.json"
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
rs = [json.load(open(f"{out}/run-{i}.json")) for i in range(1, runs + 1)]
s = {"runs": runs}
for k in ("outage_seconds", "max_gap_seconds", "db_failover_seconds", "rejoin_seconds", "flows_failed", "flows_ok"):
    v = [r[k] for r in rs if r.get(k) is not None]
    if v:
        s[k] = {"min": min(v), "median": statistics.median(v), "max": max(v)}
for k in ("acknowledged_missing", "duplicate_serials", "ocsp_not_good"):
    s[k] = sum(r.get(k, 0) for r in rs)
print(json.dumps(s, sort_keys=True))
PY
