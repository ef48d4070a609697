#!/usr/bin/env bash
# One run of the full-flow ACME benchmark, side by side with Pebble and the HSM limit (issue 16).
#
#   scripts/bench/bench-acme.sh          (sizes and ports from the environment, see below)
#
# (a) build-bench/engine/bench/engine_bench ENGINE_BENCH_COUNT: the engine's certificates/s at 1 and 2
#     threads against the HSM limit 1/(t_rsa + t_ecdsa) of raw C_Sign in the same run (its RATIO lines);
# (b) the dev appliance (scripts/appliance-dev.sh up --no-build, fresh state) under
#     scripts/bench/acme_load.py at every concurrency of CONCURRENCY and every K of NAMES, with the
#     engine, gateway and status server PIDs for server CPU (per process) and RSS / peak RSS;
#     then RA_ORDERS orders at c=1 K=1 with a client that honours Retry-After as certbot does
#     (acme_load.py --honour-retry-after), on the appliance and on Pebble;
# (c) Pebble (scripts/bench/pebble.sh: EAB required, validation on, PEBBLE_VA_NOSLEEP=1,
#     PEBBLE_WFE_NONCEREJECT=0) under the same generator with the same parameters, a fresh Pebble for
#     every point (see pebble_restart); the appliance and Pebble points alternate (appliance, Pebble,
#     next point, ...) so background load hits both alike;
# (d) crl_ocsp/bench/bench-ocsp.sh: ca-status-server vs nginx;
# then prints one table with the figures and the ratios against the targets (scripts/bench/README.md).
#
# Environment (defaults):
#   BUILD_DIR=<repo>/build-bench       binaries (built beforehand; this script never builds)
#   OUT_DIR=/tmp/acme-bench.<date>     JSON per point, logs, summary.txt / summary.json (kept)
#   KEY_POOL=/tmp/acme-bench-keys/rsa3072.pem   RSA-3072 keys kept across runs (every run starts a
#                                      fresh appliance, so a key is still used once per CA)
#   CONCURRENCY="1 4 16"  NAMES="1 5"  ORDERS_C1=40 ORDERS_C4=100 ORDERS_C16=200 (ORDERS_C<c> per
#                                      concurrency; ORDERS=<n> for all), K5_ORDERS_DIVISOR=2 (points
#                                      with K>1 run N/divisor orders)
#   ENGINE_BENCH_COUNT=200 (certificates per engine_bench run)  ENGINE_BENCH=<BUILD_DIR>/engine/bench/engine_bench
#   RA_ORDERS=10 (0: no Retry-After point)
#   OCSP_DURATION=10s  OCSP_CONNECTIONS=32  OCSP_ROUNDS=1
#   APPLIANCE_PORT_BASE=15400  PEBBLE_PORT_BASE=15500  POINT_MAX_SECONDS=120  HTTP_TIMEOUT=15
#   SKIP_ENGINE=0 (SKIP_HSM=1 also skips (a)) SKIP_PEBBLE=0 SKIP_OCSP=0 KEEP_STATE=0
# Every process it starts is stopped by PID at exit; traffic goes to 127.0.0.1 only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PY=/usr/bin/python3
BUILD_DIR=${BUILD_DIR:-$root/build-bench}
OUT_DIR=${OUT_DIR:-/tmp/acme-bench.$(date +%Y%m%d-%H%M%S)}
KEY_POOL=${KEY_POOL:-/tmp/acme-bench-keys/rsa3072.pem}
CONCURRENCY=${CONCURRENCY:-1 4 16}
NAMES=${NAMES:-1 5}
K5_ORDERS_DIVISOR=${K5_ORDERS_DIVISOR:-2}
ENGINE_BENCH_COUNT=${ENGINE_BENCH_COUNT:-200}
ENGINE_BENCH=${ENGINE_BENCH:-$BUILD_DIR/engine/bench/engine_bench}
RA_ORDERS=${RA_ORDERS:-10}
OCSP_DURATION=${OCSP_DURATION:-10s}
OCSP_CONNECTIONS=${OCSP_CONNECTIONS:-32}
OCSP_ROUNDS=${OCSP_ROUNDS:-1}
APPLIANCE_PORT_BASE=${APPLIANCE_PORT_BASE:-15400}
PEBBLE_PORT_BASE=${PEBBLE_PORT_BASE:-15500}
POINT_MAX_SECONDS=${POINT_MAX_SECONDS:-120}
HTTP_TIMEOUT=${HTTP_TIMEOUT:-15}
SKIP_ENGINE=${SKIP_ENGINE:-${SKIP_HSM:-0}} SKIP_PEBBLE=${SKIP_PEBBLE:-0} SKIP_OCSP=${SKIP_OCSP:-0} KEEP_STATE=${KEEP_STATE:-0}

die() { echo "bench-acme: $*" >&2; exit 1; }
say() { echo "bench-acme: $(date +%T) $*" >&2; }
orders_for() {  # orders_for C K
  local c=$1 k=$2 var n
  var=ORDERS_C$c
  n=${ORDERS:-${!var:-}}
  if [ -z "$n" ]; then case $c in 1) n=40 ;; 4) n=100 ;; *) n=200 ;; esac; fi
  ((k > 1)) && n=$((n / K5_ORDERS_DIVISOR))
  ((n < c)) && n=$c
  echo "$n"
}

[ "$SKIP_ENGINE" = 1 ] || [ -x "$ENGINE_BENCH" ] || die "$ENGINE_BENCH is not built (cmake --build $BUILD_DIR --target engine_bench)"
for b in crl_ocsp/server/ca-status-server crl_ocsp/tools/ca-status-publish gateway/ca-gateway \
         engine/ca-engine; do
  [ -x "$BUILD_DIR/$b" ] || die "$BUILD_DIR/$b is not built: cmake -S $root -B $BUILD_DIR -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build $BUILD_DIR -j2"
done
for tool in pebble pebble-challtestsrv curl openssl; do command -v $tool >/dev/null || die "$tool is required"; done
$PY -c 'import cryptography' 2>/dev/null || die "$PY lacks python3-cryptography"
port_busy() { ss -Hltn "sport = :$1" | grep -q .; }
# A listener in the ephemeral range can find its port taken by some outgoing connection's source port
# (a Pebble run failed so: its http-01 responder could not bind): keep the bases below it.
eph_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
for b in $APPLIANCE_PORT_BASE $PEBBLE_PORT_BASE; do
  ((b + 53 < eph_low)) || die "port base $b: ports up to $((b + 53)) reach the ephemeral range (from $eph_low): pick one below $((eph_low - 53))"
done
for p in $APPLIANCE_PORT_BASE $((APPLIANCE_PORT_BASE + 1)) $((APPLIANCE_PORT_BASE + 2)) $((APPLIANCE_PORT_BASE + 5)) \
         $((APPLIANCE_PORT_BASE + 6)) $((APPLIANCE_PORT_BASE + 53)) $PEBBLE_PORT_BASE $((PEBBLE_PORT_BASE + 1)) \
         $((PEBBLE_PORT_BASE + 2)) $((PEBBLE_PORT_BASE + 5)) $((PEBBLE_PORT_BASE + 53)); do
  port_busy "$p" && die "port $p is in use: set APPLIANCE_PORT_BASE / PEBBLE_PORT_BASE"
done

mkdir -p "$OUT_DIR" "$(dirname "$KEY_POOL")"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
APP_STATE=$OUT_DIR/appliance PEB_STATE=$OUT_DIR/pebble
CHALL_PID=""
cleanup() {
  set +e
  if [ -n "$CHALL_PID" ] && kill -0 "$CHALL_PID" 2>/dev/null; then kill "$CHALL_PID"; wait "$CHALL_PID" 2>/dev/null; fi
  [ -d "$APP_STATE/run" ] && BUILD_DIR=$BUILD_DIR "$root/scripts/appliance-dev.sh" down --state "$APP_STATE" >/dev/null 2>&1
  [ -f "$PEB_STATE/pebble.pid" ] && "$here/pebble.sh" down --state "$PEB_STATE" >/dev/null 2>&1
  if [ "$KEEP_STATE" != 1 ]; then  # keep the logs only
    for d in "$APP_STATE" "$PEB_STATE"; do
      [ -d "$d" ] && find "$d" -mindepth 1 -maxdepth 1 ! -name logs ! -name '*.log' -exec rm -rf {} +
    done
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start_ts=$(date +%s)
say "output in $OUT_DIR"
{ echo "date: $(date -Is)"; echo "host: $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')";
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "git HEAD at run time: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo ?); binaries: ca-engine built $(date -r "$BUILD_DIR/engine/ca-engine" '+%F %T'), ca-gateway $(date -r "$BUILD_DIR/gateway/ca-gateway" '+%F %T')"
} >"$OUT_DIR/machine.txt"

# ------------------------------------------------------------------ key pool (before any timing)
points=()
total_keys=0
for k in $NAMES; do
  for c in $CONCURRENCY; do
    n=$(orders_for "$c" "$k")
    points+=("$c:$k:$n:$total_keys")
    total_keys=$((total_keys + n))
  done
done
ra_offset=$total_keys
if ((RA_ORDERS > 0)); then total_keys=$((total_keys + RA_ORDERS)); fi
# engine_bench takes 3 x ENGINE_BENCH_COUNT keys from the same pool (its own CA: the same keys serve)
pool_keys=$total_keys
if [ "$SKIP_ENGINE" != 1 ] && ((3 * ENGINE_BENCH_COUNT > pool_keys)); then pool_keys=$((3 * ENGINE_BENCH_COUNT)); fi
say "key pool: $pool_keys RSA-3072 keys in $KEY_POOL (generated once, in $(nproc) processes)"
$PY "$here/acme_load.py" keys --count "$pool_keys" --out "$KEY_POOL"

# ------------------------------------------------------------------ (a) engine vs the HSM limit
if [ "$SKIP_ENGINE" != 1 ]; then
  say "(a) engine_bench $ENGINE_BENCH_COUNT"
  "$ENGINE_BENCH" "$ENGINE_BENCH_COUNT" --key-pool "$KEY_POOL" 2>"$OUT_DIR/engine_bench.log" | tee "$OUT_DIR/engine_bench.txt"
  grep -q '^RATIO engine ' "$OUT_DIR/engine_bench.txt" || say "engine_bench printed no RATIO line (binary older than issue 16?)"
fi

# ------------------------------------------------------------------ (b) + (c) servers up
say "appliance up (state $APP_STATE, port base $APPLIANCE_PORT_BASE)"
BUILD_DIR=$BUILD_DIR "$root/scripts/appliance-dev.sh" up --state "$APP_STATE" --port-base "$APPLIANCE_PORT_BASE" \
  --no-build >"$OUT_DIR/appliance-up.log" 2>&1 || { cat "$OUT_DIR/appliance-up.log" >&2; die "appliance did not come up"; }
# shellcheck disable=SC1091
APP_ENV=$APP_STATE/appliance.env
app_pids=$(set -a; . "$APP_ENV"; echo "$ENGINE_PID,$GATEWAY_PID,$STATUS_PID")
app_http01=$(set -a; . "$APP_ENV"; echo "$HTTP01_PORT")
# The appliance's own challtestsrv is its DNS (http-01 off); this one answers http-01 on HTTP01_PORT.
app_chall_mgmt=$((APPLIANCE_PORT_BASE + 10))  # N+6 is the dashboard, N+7..N+9 staging
pebble-challtestsrv -management "127.0.0.1:$app_chall_mgmt" -http01 "127.0.0.1:$app_http01" -https01 "" \
  -dns01 "" -tlsalpn01 "" -defaultIPv6 "" >"$OUT_DIR/appliance-http01.log" 2>&1 &
CHALL_PID=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$app_chall_mgmt/" && break; sleep 0.1; done
# Pebble 2.4.0 (Debian) deadlocks under concurrent load (README: a lock-order inversion between
# MemoryStore.FindValidAuthorization, which scans every authorization under the store's read lock,
# and writers that hold an object's lock while taking the store's write lock), and its scan grows with
# every authorization it holds: a fresh Pebble for every point, and a point that stalls is rerun once
# on another fresh Pebble (noted in OUT_DIR/pebble-retries.txt).
pebble_restart() {
  "$here/pebble.sh" down --state "$PEB_STATE" >/dev/null 2>&1 || true
  [ -f "$PEB_STATE/pebble.log" ] && cat "$PEB_STATE/pebble.log" >>"$OUT_DIR/pebble-all.log"
  "$here/pebble.sh" up --state "$PEB_STATE" --port-base "$PEBBLE_PORT_BASE" >"$OUT_DIR/pebble-up.log" 2>&1 \
    || { cat "$OUT_DIR/pebble-up.log" >&2; die "pebble did not come up"; }
  peb_pid=$(set -a; . "$PEB_STATE/pebble.env"; echo "$PEBBLE_PID")
  peb_mgmt=$(set -a; . "$PEB_STATE/pebble.env"; echo "$DNS_MGMT")
}
: >"$OUT_DIR/pebble-retries.txt"

run_point() {  # run_point NAME ENVFILE MGMT PIDS C K N OFFSET [SUFFIX acme_load options...]
  local name=$1 env=$2 mgmt=$3 pids=$4 c=$5 k=$6 n=$7 off=$8 sfx=${9:-} rc=0
  shift $(($# < 9 ? $# : 9))
  say "$name c=$c k=$k n=$n $*"
  $PY "$here/acme_load.py" --env "$env" --challtestsrv "$mgmt" --server-pids "$pids" -c "$c" -k "$k" -n "$n" \
    --key-pool "$KEY_POOL" --key-offset "$off" --max-seconds "$POINT_MAX_SECONDS" --label "$name$sfx c=$c k=$k" \
    --http-timeout "$HTTP_TIMEOUT" "$@" \
    --json "$OUT_DIR/$name-c$c-k$k$sfx.json" >>"$OUT_DIR/points.txt" 2>>"$OUT_DIR/acme_load.log" || rc=$?
  ((rc == 0 || rc == 3)) || die "acme_load failed ($rc) for $name$sfx c=$c k=$k: $(tail -3 "$OUT_DIR/acme_load.log")"
  tail -n +2 "$OUT_DIR/points.txt" | awk -v RS= 'END { print }' >&2
}
# A Pebble point on a fresh Pebble; rerun once on another fresh one when it stalled.
pebble_point() {  # pebble_point C K N OFFSET [SUFFIX acme_load options...]
  local c=$1 k=$2 n=$3 off=$4 sfx=${5:-}
  shift $(($# < 5 ? $# : 5))
  pebble_restart
  run_point pebble "$PEB_STATE/pebble.env" "$peb_mgmt" "$peb_pid" "$c" "$k" "$n" "$off" "$sfx" "$@"
  if grep -q '"client:timeout"' "$OUT_DIR/pebble-c$c-k$k$sfx.json"; then
    echo "pebble c=$c k=$k$sfx: stalled (client timeouts), rerun on a fresh Pebble" | tee -a "$OUT_DIR/pebble-retries.txt" >&2
    mv "$OUT_DIR/pebble-c$c-k$k$sfx.json" "$OUT_DIR/pebble-c$c-k$k$sfx.stalled.json"
    pebble_restart
    run_point pebble "$PEB_STATE/pebble.env" "$peb_mgmt" "$peb_pid" "$c" "$k" "$n" "$off" "$sfx" "$@"
  fi
}
: >"$OUT_DIR/points.txt"
for p in "${points[@]}"; do
  IFS=: read -r c k n off <<<"$p"
  run_point appliance "$APP_ENV" "http://127.0.0.1:$app_chall_mgmt" "$app_pids" "$c" "$k" "$n" "$off"
  if [ "$SKIP_PEBBLE" != 1 ]; then pebble_point "$c" "$k" "$n" "$off"; fi
done
# The Retry-After point: c=1 K=1, a client that waits what Retry-After says (README: certbot's polling).
if ((RA_ORDERS > 0)); then
  run_point appliance "$APP_ENV" "http://127.0.0.1:$app_chall_mgmt" "$app_pids" 1 1 "$RA_ORDERS" "$ra_offset" -ra \
    --honour-retry-after
  if [ "$SKIP_PEBBLE" != 1 ]; then pebble_point 1 1 "$RA_ORDERS" "$ra_offset" -ra --honour-retry-after; fi
fi
# Errors the servers logged during the run (kept for the report).
grep -h '"level":"\(error\|warn\)"' "$APP_STATE"/logs/{gateway,engine,status}.log 2>/dev/null | tail -50 \
  >"$OUT_DIR/appliance-errors.log" || true
kill "$CHALL_PID" 2>/dev/null || true; wait "$CHALL_PID" 2>/dev/null || true; CHALL_PID=""
BUILD_DIR=$BUILD_DIR "$root/scripts/appliance-dev.sh" down --state "$APP_STATE" >/dev/null
if [ "$SKIP_PEBBLE" != 1 ]; then
  "$here/pebble.sh" down --state "$PEB_STATE"
  cat "$PEB_STATE/pebble.log" >>"$OUT_DIR/pebble-all.log"
fi

# ------------------------------------------------------------------ (d) OCSP
if [ "$SKIP_OCSP" != 1 ]; then
  say "(d) bench-ocsp.sh $OCSP_DURATION x $OCSP_ROUNDS"
  (cd "$root" && crl_ocsp/bench/bench-ocsp.sh "$BUILD_DIR/crl_ocsp/server/ca-status-server" \
     "$BUILD_DIR/crl_ocsp/tools/ca-status-publish" "$OCSP_DURATION" "$OCSP_CONNECTIONS" 1 "$OCSP_ROUNDS") \
    | tee "$OUT_DIR/bench-ocsp.txt"
fi

echo "elapsed: $(($(date +%s) - start_ts)) s; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT_DIR/machine.txt"
$PY "$here/bench_report.py" "$OUT_DIR" | tee "$OUT_DIR/summary.txt"
