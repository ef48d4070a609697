#!/usr/bin/env bash
# Instructions the gateway executes per certificate in the full ACME flow (issue 16), counted by
# callgrind: a figure that other load on a shared machine does not move (CPU milliseconds do).
#
#   scripts/bench/callgrind-gateway.sh            (BUILD_DIR=build; ORDERS=40 CONCURRENCY=4)
#
# A fresh dev appliance (scripts/appliance-dev.sh up --no-build --staging off, state in OUT_DIR),
# its ca-gateway restarted under `valgrind --tool=callgrind`, a warm-up of 8 orders, a callgrind
# dump, ORDERS full flows (acme_load.py, K=1, RSA-3072 keys from KEY_POOL at offsets 300.. so that
# they differ from quick.sh's), a second dump: its total ÷ certificates is printed,
# and `callgrind_annotate --inclusive=yes OUT_DIR/callgrind.out.2` says where they go. User-space
# instructions only: the kernel's share (commits, sockets) is not counted. Under callgrind the
# gateway runs ~50x slower, so the flow's timeouts are long. Every process is stopped by PID.
#
# Environment (defaults): BUILD_DIR=<repo>/build  OUT_DIR=/tmp/callgrind-gateway.<date>
#   ORDERS=40  CONCURRENCY=4  PORT_BASE=22000  KEY_POOL=/tmp/acme-bench-keys/rsa3072.pem
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/scripts/bench PY=/usr/bin/python3
cd "$root"  # a relative BUILD_DIR is the repository's
BUILD_DIR=$(cd "${BUILD_DIR:-build}" 2>/dev/null && pwd) || { echo "callgrind-gateway: no build directory ${BUILD_DIR:-build}" >&2; exit 2; }
OUT_DIR=${OUT_DIR:-/tmp/callgrind-gateway.$(date -u +%Y%m%d-%H%M%S)}
ORDERS=${ORDERS:-40} CONCURRENCY=${CONCURRENCY:-4} PORT_BASE=${PORT_BASE:-22000}
KEY_POOL=${KEY_POOL:-/tmp/acme-bench-keys/rsa3072.pem}
die() { echo "callgrind-gateway: $*" >&2; exit 2; }
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null || die "valgrind is required"
gateway=$(find "$BUILD_DIR" -path "$BUILD_DIR/_CPack_Packages" -prune -o -type f -name ca-gateway -perm -u+x -print -quit)
[ -n "$gateway" ] || die "ca-gateway is not built in $BUILD_DIR"
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
state=$OUT_DIR/appliance
$PY "$here/acme_load.py" keys --count $((310 + ORDERS)) --out "$KEY_POOL" 2>"$OUT_DIR/keys.log" || die "key pool: $(tail -2 "$OUT_DIR/keys.log")"
cleanup() {
  set +e
  [ -f "$state/appliance.env" ] && BUILD_DIR=$BUILD_DIR "$root/scripts/appliance-dev.sh" down --state "$state" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM
BUILD_DIR=$BUILD_DIR "$root/scripts/appliance-dev.sh" up --no-build --state "$state" --port-base "$PORT_BASE" --staging off \
  >"$OUT_DIR/appliance-up.log" 2>&1 || die "appliance-dev.sh up failed: $(tail -3 "$OUT_DIR/appliance-up.log")"
env_file=$state/appliance.env
gw_pid=$(set -a; . "$env_file"; echo "$GATEWAY_PID")
http01=$(set -a; . "$env_file"; echo "$HTTP01_PORT")
acme_dir=$(set -a; . "$env_file"; echo "$ACME_DIR")
bundle=$(set -a; . "$env_file"; echo "$ACME_CA_BUNDLE")
kill "$gw_pid"
while kill -0 "$gw_pid" 2>/dev/null; do sleep 0.1; done
valgrind --tool=callgrind --callgrind-out-file="$OUT_DIR/callgrind.out" "$gateway" --config "$state/gateway.json" \
  >>"$state/logs/gateway.log" 2>&1 &
gw_pid=$!
echo "$gw_pid" >"$state/run/gateway.pid"  # appliance-dev.sh down stops it by this PID
for _ in $(seq 300); do curl -sf --cacert "$bundle" -o /dev/null "$acme_dir" && break; sleep 0.2; done
load() {  # load N KEY_OFFSET JSON
  $PY "$here/acme_load.py" --env "$env_file" --http01-port "$http01" -c "$CONCURRENCY" -k 1 -n "$1" \
    --key-pool "$KEY_POOL" --key-offset "$2" --http-timeout 60 --flow-timeout 300 --json "$3" \
    >"$3.txt" 2>&1 || die "acme_load failed: $(tail -3 "$3.txt")"
}
load 8 300 "$OUT_DIR/warm-up.json"
callgrind_control -d "$gw_pid" >/dev/null 2>&1
load "$ORDERS" 310 "$OUT_DIR/run.json"
callgrind_control -d "$gw_pid" >/dev/null 2>&1
dump=$OUT_DIR/callgrind.out.2
[ -f "$dump" ] || die "no second callgrind dump in $OUT_DIR"
OUT_DIR=$OUT_DIR ORDERS=$ORDERS $PY - "$dump" <<'PY'
import os, re, sys
total = next(int(l.split()[1]) for l in open(sys.argv[1]) if l.startswith(("totals:", "summary:")))
txt = open(os.path.join(os.environ["OUT_DIR"], "run.json.txt")).read()
m = re.search(r"issued (\d+)/\d+", txt)
certs = int(m.group(1)) if m else int(os.environ["ORDERS"])
mix = re.search(r"[\d.]+ requests and [\d.]+ polls per order", txt)
print(f"ca-gateway: {total / 1e6:.1f} M instructions over {certs} certificates = "
      f"{total / certs / 1e6:.2f} M per certificate ({mix.group(0) if mix else 'request mix unknown'}: "
      "polls vary between runs, ~0.8 M each)")
print(f"where they go: callgrind_annotate --inclusive=yes {sys.argv[1]}")
PY
