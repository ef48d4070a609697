#!/usr/bin/env bash
# Quick benchmark regression check (issue 16): the engine's and the gateway's ratios in under two
# minutes, on the binaries of a build directory. A benchmark that prints ratios, not a test.
#
#   scripts/bench/quick.sh                 (BUILD_DIR=build; sizes from the environment, see below)
#
# 1. BUILD_DIR/engine/bench/engine_bench ENGINE_COUNT: its `RATIO engine threads=N ... ratio=Z` lines
#    (engine certificates/s / HSM limit 1/(t_rsa + t_ecdsa) of raw C_Sign in the same run), target
#    >= 0.85 at 1 and 2 threads, and its `CPU engine ms_per_cert=X` line;
# 2. a fresh dev appliance (scripts/appliance-dev.sh up --no-build, state in OUT_DIR) under
#    scripts/bench/acme_load.py, c=CONCURRENCY K=1, ORDERS orders with RSA-3072 keys from KEY_POOL
#    (topped up when it has fewer; a fresh appliance never saw them): the gateway's CPU per
#    certificate (utime+stime of ca-gateway over the window / certificates), target <= 2.0 ms.
#
# Environment (defaults): BUILD_DIR=<repo>/build  OUT_DIR=/tmp/bench-quick.<date>
#   ENGINE_COUNT=60  CONCURRENCY=8  ORDERS=60  KEY_POOL=/tmp/acme-bench-keys/rsa3072.pem
#   PORT_BASE=<random free one in 20000-31800>  ENGINE_BENCH=<BUILD_DIR>/engine/bench/engine_bench
# Exit status: 0 every target met, 1 a target not met, 2 the check could not run (no RATIO line, a
# binary missing, a failed flow, ...). Every process it starts is stopped by PID; 127.0.0.1 only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PY=/usr/bin/python3
BUILD_DIR=${BUILD_DIR:-$root/build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$root/$BUILD_DIR
OUT_DIR=${OUT_DIR:-/tmp/bench-quick.$(date -u +%Y%m%d-%H%M%S)}
ENGINE_COUNT=${ENGINE_COUNT:-60}
CONCURRENCY=${CONCURRENCY:-8}
ORDERS=${ORDERS:-60}
KEY_POOL=${KEY_POOL:-/tmp/acme-bench-keys/rsa3072.pem}
ENGINE_BENCH=${ENGINE_BENCH:-$BUILD_DIR/engine/bench/engine_bench}
TARGET_ENGINE=0.85 TARGET_GATEWAY_MS=2.0

die() { echo "quick: $*" >&2; exit 2; }
say() { echo "quick: $(date -u +%T) $*" >&2; }
[ -x "$ENGINE_BENCH" ] || die "$ENGINE_BENCH is not built (cmake --build $BUILD_DIR --target engine_bench)"
for b in engine/ca-engine gateway/ca-gateway crl_ocsp/server/ca-status-server; do
  [ -x "$BUILD_DIR/$b" ] || die "$BUILD_DIR/$b is not built (cmake --build $BUILD_DIR --target ca-ceremony ca-ra ca-engine ca-gateway ca-status-server ca-status-publish ca-audit engine_bench)"
done
command -v pebble-challtestsrv >/dev/null || die "pebble-challtestsrv is required (apt-get install pebble)"
mkdir -p "$OUT_DIR" "$(dirname "$KEY_POOL")"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
state=$OUT_DIR/appliance
cleanup() {  # the EXIT trap
  set +e
  [ -f "$state/appliance.env" ] && BUILD_DIR=$BUILD_DIR "$root/scripts/appliance-dev.sh" down --state "$state" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start=$(date +%s)
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# Keys first (nothing timed yet), normally all in the pool already: engine_bench takes 3 x
# ENGINE_COUNT (--key-pool; an older engine_bench ignores the option and makes its own), the full flow
# ORDERS; each run is a fresh CA, so the same keys serve both.
n_keys=$((3 * ENGINE_COUNT > ORDERS ? 3 * ENGINE_COUNT : ORDERS))
$PY "$here/acme_load.py" keys --count "$n_keys" --out "$KEY_POOL" 2>"$OUT_DIR/keys.log" || die "key pool: $(tail -2 "$OUT_DIR/keys.log")"

# ------------------------------------------------------------------ 1. engine vs the HSM limit
say "engine_bench $ENGINE_COUNT"
"$ENGINE_BENCH" "$ENGINE_COUNT" --key-pool "$KEY_POOL" >"$OUT_DIR/engine_bench.txt" 2>"$OUT_DIR/engine_bench.log" ||
  die "engine_bench failed: $(tail -3 "$OUT_DIR/engine_bench.log")"
grep -q '^RATIO engine threads=' "$OUT_DIR/engine_bench.txt" ||
  die "engine_bench printed no 'RATIO engine threads=N ... ratio=Z' line (a binary older than issue 16?): $OUT_DIR/engine_bench.txt"

# ------------------------------------------------------------------ 2. full flow on a fresh appliance
. "$root/scripts/lib/dev_appliance.sh"
up=0
for _ in 1 2 3 4 5; do
  # below the ephemeral range (32768-60999 here): an outgoing connection's source port there can
  # take a listener's port (seen: Pebble's http-01 responder refused with "address already in use")
  pb=${PORT_BASE:-$((20000 + (RANDOM % 60) * 200))}
  if appliance_ports_free "$pb"; then
    rm -rf "$state"
    say "appliance up (port base $pb)"
    if BUILD_DIR=$BUILD_DIR "$root/scripts/appliance-dev.sh" up --no-build --state "$state" --port-base "$pb" \
         >"$OUT_DIR/appliance-up.log" 2>&1; then
      up=1
      break
    fi
    BUILD_DIR=$BUILD_DIR "$root/scripts/appliance-dev.sh" down --state "$state" >/dev/null 2>&1 || true
  fi
  [ -z "${PORT_BASE:-}" ] || break
done
((up)) || die "appliance-dev.sh up failed: $(tail -3 "$OUT_DIR/appliance-up.log")"
# shellcheck disable=SC1091
pids=$(set -a; . "$state/appliance.env"; echo "$ENGINE_PID,$GATEWAY_PID,$STATUS_PID")
http01=$(set -a; . "$state/appliance.env"; echo "$HTTP01_PORT")
say "acme_load c=$CONCURRENCY K=1 n=$ORDERS"
rc=0
$PY "$here/acme_load.py" --env "$state/appliance.env" --http01-port "$http01" --server-pids "$pids" \
  -c "$CONCURRENCY" -k 1 -n "$ORDERS" --key-pool "$KEY_POOL" --key-offset 0 --max-seconds 60 --http-timeout 15 \
  --label "appliance c=$CONCURRENCY k=1" --json "$OUT_DIR/appliance.json" >"$OUT_DIR/acme_load.txt" \
  2>"$OUT_DIR/acme_load.log" || rc=$?
((rc == 0 || rc == 3)) || die "acme_load failed ($rc): $(tail -3 "$OUT_DIR/acme_load.log")"
BUILD_DIR=$BUILD_DIR "$root/scripts/appliance-dev.sh" down --state "$state" >/dev/null 2>&1 || true

# ------------------------------------------------------------------ report
elapsed=$(($(date +%s) - start))
status=0
OUT_DIR=$OUT_DIR ELAPSED=$elapsed LOAD0=$load0 TARGET_ENGINE=$TARGET_ENGINE TARGET_GATEWAY_MS=$TARGET_GATEWAY_MS \
  $PY - "$here" <<'EOF' | tee "$OUT_DIR/report.txt" || status=$?
import json, os, sys
sys.path.insert(0, sys.argv[1])
from bench_report import parse_engine_bench
out = os.environ["OUT_DIR"]
t_eng, t_gw = float(os.environ["TARGET_ENGINE"]), float(os.environ["TARGET_GATEWAY_MS"])
eng = parse_engine_bench(os.path.join(out, "engine_bench.txt"))
s = json.load(open(os.path.join(out, "appliance.json")))
verdicts = []
def line(label, value, target, ok):
    verdicts.append(ok)
    print(f"{label:<46}{value:<34}{target:<10}{'-' if ok is None else ('MET' if ok else 'NOT MET')}")
print(f"quick benchmark check (scripts/bench/quick.sh), {os.environ['ELAPSED']} s; load average "
      f"{os.environ['LOAD0']} at the start, {' '.join(open('/proc/loadavg').read().split()[:3])} at the end")
print(f"{'figure':<46}{'value':<34}{'target':<10}verdict")
for th in (1, 2):
    r = eng["ratio"].get(th)
    v = None if r is None else r.get("ratio")
    line(f"engine certificates/s / HSM limit, {th} thread{'s' if th > 1 else ''}",
         "no RATIO line" if r is None else f"{v:.2f} ({r.get('certs_per_s', 0):.0f} / {r.get('limit_per_s', 0):.0f} per s)",
         f">= {t_eng:g}", None if v is None else v >= t_eng)
for o in eng["other"]:
    print(f"{'engine_bench, also':<46}{o}")
for c in eng["cpu"]:
    print(f"{'engine CPU per certificate (engine_bench)':<46}{c['line'][len('CPU engine '):]}")
by = s.get("server_cpu_ms_per_cert_by_name") or {}
g = by.get("ca-gateway")
line(f"gateway CPU ms per certificate, c={s['concurrency']} K=1", "-" if g is None else f"{g:.2f}",
     f"<= {t_gw:g}", None if g is None else g <= t_gw)
lat = s["latency_ms"]["total"]
print(f"{'full flow (acme_load.py)':<46}{s['issued']}/{s['attempted']} certificates, {s['orders_per_s']:.1f}/s, "
      f"p50 {lat['p50']:.0f} ms p99 {lat['p99']:.0f} ms; server CPU {s['server_cpu_ms_per_cert']:.2f} ms/cert ("
      + ", ".join(f"{k} {v:.2f}" for k, v in by.items()) + f"); client {100 * (s['client_cpu_share'] or 0):.0f} % "
      f"of the machine, machine busy {100 * (s['machine_busy_share'] or 0):.0f} %")
for pid, m in s.get("server_mem_kb", {}).items():
    n = s.get("server_names", {}).get(pid, pid)
    print(f"{'  memory ' + n:<46}VmRSS {m['rss_start_kb'] / 1024:.1f} -> {m['rss_end_kb'] / 1024:.1f} MiB, "
          f"peak VmHWM {m['hwm_end_kb'] / 1024:.1f} MiB")
if s["failed"]:
    print(f"FAILED flows: {s['errors_by_step']}")
    sys.exit(2)
sys.exit(0 if all(v for v in verdicts if v is not None) and None not in verdicts else 1)
EOF
echo "quick: output in $OUT_DIR" >&2
exit "$status"
