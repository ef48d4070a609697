#!/usr/bin/env bash
# Where the appliance's server time goes under full-flow ACME load: perf (software cpu-clock event,
# DWARF call graphs) on the running ca-engine and ca-gateway while scripts/bench/acme_load.py drives
# N orders at concurrency C with K names, then the perf reports.
#
#   scripts/bench/profile-appliance.sh       (env: BUILD_DIR, OUT_DIR, PROFILE_ORDERS=200, PROFILE_C=16,
#                                             PROFILE_K=1, PROFILE_FREQ=999, PORT_BASE=15600,
#                                             KEY_POOL, KEY_OFFSET=0)
#
# Brings a fresh dev appliance up in OUT_DIR/appliance (scripts/appliance-dev.sh --no-build), starts a
# pebble-challtestsrv for http-01, warms up, records exactly the load generator's timed window
# (acme_load.py --perf-record), stops everything it started by PID, and writes to OUT_DIR: perf.data,
# load.txt (the load generator's table) and summary.txt (scripts/bench/perf_summary.py: per process,
# self time by library and symbol, inclusive share of cost categories and of the project's functions).
# Browse further with: perf report -i OUT_DIR/perf.data --pid PID --children
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PY=/usr/bin/python3
BUILD_DIR=${BUILD_DIR:-$root/build-bench}
OUT_DIR=${OUT_DIR:-/tmp/acme-profile.$(date +%Y%m%d-%H%M%S)}
PROFILE_ORDERS=${PROFILE_ORDERS:-200} PROFILE_C=${PROFILE_C:-16} PROFILE_K=${PROFILE_K:-1}
PROFILE_FREQ=${PROFILE_FREQ:-999} PORT_BASE=${PORT_BASE:-15600}
KEY_POOL=${KEY_POOL:-/tmp/acme-bench-keys/rsa3072.pem} KEY_OFFSET=${KEY_OFFSET:-0}
die() { echo "profile-appliance: $*" >&2; exit 1; }
command -v perf >/dev/null || die "perf is required (apt-get install linux-perf)"
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
STATE=$OUT_DIR/appliance
CHALL_PID=""
cleanup() {
  set +e
  [ -n "$CHALL_PID" ] && kill -0 "$CHALL_PID" 2>/dev/null && { kill "$CHALL_PID"; wait "$CHALL_PID" 2>/dev/null; }
  [ -d "$STATE/run" ] && BUILD_DIR=$BUILD_DIR "$root/scripts/appliance-dev.sh" down --state "$STATE" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

$PY "$here/acme_load.py" keys --count $((KEY_OFFSET + PROFILE_ORDERS + 4)) --out "$KEY_POOL"
BUILD_DIR=$BUILD_DIR "$root/scripts/appliance-dev.sh" up --state "$STATE" --port-base "$PORT_BASE" --no-build \
  >"$OUT_DIR/appliance-up.log" 2>&1 || { cat "$OUT_DIR/appliance-up.log" >&2; die "appliance did not come up"; }
eval "$(set -a; . "$STATE/appliance.env"; echo "ENGINE_PID=$ENGINE_PID GATEWAY_PID=$GATEWAY_PID STATUS_PID=$STATUS_PID HTTP01_PORT=$HTTP01_PORT")"
mgmt=$((PORT_BASE + 10))  # N+6 is the dashboard, N+7..N+9 staging
pebble-challtestsrv -management "127.0.0.1:$mgmt" -http01 "127.0.0.1:$HTTP01_PORT" -https01 "" -dns01 "" \
  -tlsalpn01 "" -defaultIPv6 "" >"$OUT_DIR/http01.log" 2>&1 &
CHALL_PID=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$mgmt/" && break; sleep 0.1; done

# Warm-up (accounts, first connections, page cache), not recorded.
$PY "$here/acme_load.py" --env "$STATE/appliance.env" --challtestsrv "http://127.0.0.1:$mgmt" -c 2 -k 1 -n 4 \
  --key-pool "$KEY_POOL" --key-offset "$((KEY_OFFSET + PROFILE_ORDERS))" >/dev/null 2>&1 || true

$PY "$here/acme_load.py" --env "$STATE/appliance.env" --challtestsrv "http://127.0.0.1:$mgmt" \
  -c "$PROFILE_C" -k "$PROFILE_K" -n "$PROFILE_ORDERS" --key-pool "$KEY_POOL" --key-offset "$KEY_OFFSET" \
  --server-pids "$ENGINE_PID,$GATEWAY_PID,$STATUS_PID" --label "profiled appliance" --json "$OUT_DIR/load.json" \
  --perf-record "$OUT_DIR/perf.data" --perf-freq "$PROFILE_FREQ" | tee "$OUT_DIR/load.txt" || true
BUILD_DIR=$BUILD_DIR "$root/scripts/appliance-dev.sh" down --state "$STATE" >/dev/null
kill "$CHALL_PID" 2>/dev/null || true; wait "$CHALL_PID" 2>/dev/null || true; CHALL_PID=""
issued=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["issued"])' "$OUT_DIR/load.json" 2>/dev/null || echo 0)
$PY "$here/perf_summary.py" "$OUT_DIR/perf.data" "$ENGINE_PID=ca-engine" "$GATEWAY_PID=ca-gateway" \
  "$STATUS_PID=ca-status-server" "--certs=$issued" | tee "$OUT_DIR/summary.txt"
echo "profile-appliance: reports in $OUT_DIR (summary.txt)"
