#!/usr/bin/env bash
# Soak: a fresh dev appliance under C concurrent ACME clients mixed with OCSP and CRL fetches for M
# minutes (scripts/bench/soak_load.py); reports per-endpoint p50/p99, HTTP 5xx, RSS and open
# descriptors of ca-engine, ca-gateway and ca-status-server every minute.
#
#   scripts/bench/soak.sh --minutes M --clients C [--keys N] [--order-rate R] [--port-base N]
#                         [--out DIR] [--key-pool FILE] [--ci] [-- soak_load.py options...]
#
# --keys N: RSA-3072 keys (one per issued certificate; the pool is topped up first, default 300);
# --order-rate R: certificate orders per second (default: N keys over the window);
# --ci: the bounded checks of the soak_short test: no HTTP 5xx at all, no failed flow or status
#   fetch, every issued certificate's OCSP answer `good` at the end, at most 16 more open descriptors
#   per process after the clients closed than before the ramp.
# Environment: BUILD_DIR (default <repo>/build; never builds), SOAK_NICE (niceness of the load
# generator, default 0). The appliance (scripts/appliance-dev.sh up --no-build, fresh state in
# OUT/appliance) and the private http-01 responder are stopped by PID at exit; clients connect from
# 127.0.0.10.. (one address per 32 clients) to 127.0.0.1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PY=/usr/bin/python3
BUILD_DIR=${BUILD_DIR:-$root/build}
minutes="" clients="" keys=300 rate="" port_base="" out="" key_pool=/tmp/acme-bench-keys/rsa3072.pem ci=0
extra=()
die() { echo "soak: $*" >&2; exit 1; }
say() { echo "soak: $(date -u +%T) $*" >&2; }
while (($#)); do
  case "$1" in
    --minutes) minutes=${2:?}; shift 2 ;;
    --clients) clients=${2:?}; shift 2 ;;
    --keys) keys=${2:?}; shift 2 ;;
    --order-rate) rate=${2:?}; shift 2 ;;
    --port-base) port_base=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --key-pool) key_pool=${2:?}; shift 2 ;;
    --ci) ci=1; shift ;;
    --) shift; extra=("$@"); break ;;
    *) sed -n 6,7p "$0" | sed 's/^# *//' >&2; exit 2 ;;
  esac
done
[[ $minutes =~ ^[0-9]+([.][0-9]+)?$ && $clients =~ ^[0-9]+$ ]] || die "--minutes M and --clients C are required"
for b in engine/ca-engine gateway/ca-gateway crl_ocsp/server/ca-status-server; do
  [ -x "$BUILD_DIR/$b" ] || die "$BUILD_DIR/$b is not built (cmake --build $BUILD_DIR --target ca-engine ca-gateway ...)"
done
command -v pebble-challtestsrv >/dev/null || die "pebble-challtestsrv is required (apt-get install pebble)"
$PY -c 'import cryptography' 2>/dev/null || die "$PY lacks python3-cryptography"

out=${out:-/tmp/soak.$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out" "$(dirname "$key_pool")"
out=$(cd "$out" && pwd)
state=$out/appliance
cleanup() {
  set +e
  [ -f "$state/appliance.env" ] && "$root/scripts/appliance-dev.sh" down --state "$state" >/dev/null 2>&1
}
trap cleanup EXIT

# Keys first (RSA-3072: the profile accepts nothing else; 0.3-2 s of CPU each, so kept in a pool).
say "key pool $key_pool: $keys keys"
$PY "$here/acme_load.py" keys --count "$keys" --out "$key_pool" >/dev/null

# The appliance: fresh state; retry on another port base when one is taken.
. "$root/scripts/lib/dev_appliance.sh"
for attempt in 1 2 3 4 5; do
  pb=${port_base:-$((20000 + (RANDOM % 60) * 200))}  # below the ephemeral range (32768-): see quick.sh
  if appliance_ports_free "$pb"; then
    rm -rf "$state"
    say "appliance on port base $pb (ceremony: a minute or two on a busy machine)"
    if BUILD_DIR=$BUILD_DIR "$root/scripts/appliance-dev.sh" up --no-build --state "$state" --port-base "$pb" \
         >"$out/appliance-up.log" 2>&1; then
      break
    fi
    "$root/scripts/appliance-dev.sh" down --state "$state" >/dev/null 2>&1 || true
    grep -qi "address already in use\|bind" "$state"/logs/*.log 2>/dev/null || die "appliance-dev.sh up failed: $(tail -3 "$out/appliance-up.log")"
  fi
  [ -z "$port_base" ] || die "port base $port_base is busy"
  ((attempt < 5)) || die "no free port base"
done
# shellcheck disable=SC1091
. "$state/appliance.env"

seconds=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
args=(--env "$state/appliance.env" --http01-port "$HTTP01_PORT" --clients "$clients" --duration "$seconds"
      --key-pool "$key_pool" --max-orders "$keys"
      --server-pids "ca-engine=$ENGINE_PID,ca-gateway=$GATEWAY_PID,ca-status-server=$STATUS_PID"
      --json "$out/soak.json")
[ -n "$rate" ] && args+=(--order-rate "$rate")
((ci)) && args+=(--check-no-5xx --check-no-failures --check-ocsp-good --check-fd-growth 16)
say "load: $clients clients for $minutes min (report in $out)"
rc=0
nice -n "${SOAK_NICE:-0}" $PY "$here/soak_load.py" "${args[@]}" "${extra[@]}" 2> >(tee "$out/soak_load.log" >&2) |
  tee "$out/report.txt" || rc=$?

# What the servers said: error/warn lines of the run, and the gateway's metrics at the end.
curl -s "$GATEWAY_METRICS_URL" >"$out/gateway-metrics.txt" || true
curl -s "$STATUS_URL/metrics" >"$out/status-metrics.txt" || true
for f in engine gateway status; do
  n=$(grep -c '"level":"\(error\|warn\)"' "$state/logs/$f.log" 2>/dev/null || true)
  echo "log $f: ${n:-0} warn/error lines" | tee -a "$out/report.txt"
  grep '"level":"\(error\|warn\)"' "$state/logs/$f.log" 2>/dev/null | head -5 | cut -c1-300 | tee -a "$out/report.txt" || true
done
echo "soak: $(uname -sr), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; out $out" |
  tee -a "$out/report.txt"
exit "$rc"
