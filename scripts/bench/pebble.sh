#!/usr/bin/env bash
# Pebble, the reference ACME server, set up for the load benchmark the way ../shared/interop/pebble-up.sh
# does it (External Account Binding required, validation on, PEBBLE_VA_NOSLEEP=1,
# PEBBLE_WFE_NONCEREJECT=0), with one pebble-challtestsrv that is both its DNS (every A query answers
# 127.0.0.1) and the http-01 responder on Pebble's httpPort.
#
#   scripts/bench/pebble.sh up   --state DIR [--port-base N]    (default 15500)
#   scripts/bench/pebble.sh down --state DIR
#
# up writes DIR/pebble.env: ACME_DIR ACME_CA_BUNDLE EAB_KID EAB_HMAC HTTP01_PORT DNS_MGMT DNS_ADDR
# PEBBLE_PID CHALLTESTSRV_PID. Ports: ACME N, management N+1, http-01 N+2, tls-alpn-01 N+3,
# challtestsrv management N+5, DNS N+53. down stops both by PID.
set -euo pipefail
die() { echo "pebble.sh: $*" >&2; exit 1; }
. "$(cd "$(dirname "$0")/../lib" && pwd)/pidfile.sh"
cmd=${1:-}; shift || true
state="" base=15500
while (($#)); do
  case "$1" in
    --state) state=${2:?}; shift 2 ;;
    --port-base) base=${2:?}; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
[ -n "$state" ] || die "--state DIR is required"
mkdir -p "$state"
state=$(cd "$state" && pwd)

stop() {
  stop_pidfiles "$state"/{pebble,challtestsrv}.pid
}
case "$cmd" in
  down) stop; exit 0 ;;
  up) ;;
  *) die "usage: pebble.sh up|down --state DIR [--port-base N]" ;;
esac
for f in "$state"/pebble.pid "$state"/challtestsrv.pid; do
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && die "already running ($f): run down first"
done
command -v pebble >/dev/null || die "pebble is not installed (apt-get install pebble)"
trap 'stop' ERR
cd "$state"
{
  openssl req -x509 -newkey rsa:2048 -nodes -keyout tlsca.key -out tlsca.pem -days 30 -subj "/CN=bench pebble tls ca"
  openssl req -newkey rsa:2048 -nodes -keyout tls.key -out tls.csr -subj "/CN=localhost"
  printf "subjectAltName=DNS:localhost,IP:127.0.0.1\n" >ext.cnf
  openssl x509 -req -in tls.csr -CA tlsca.pem -CAkey tlsca.key -CAcreateserial -out tls.pem -days 30 -extfile ext.cnf
} >/dev/null 2>&1
kid=kid-$(openssl rand -hex 4)
hmac=$(openssl rand 32 | base64 -w0 | tr '+/' '-_' | tr -d '=')
cat >pebble.json <<J
{"pebble":{"listenAddress":"127.0.0.1:$base","managementListenAddress":"127.0.0.1:$((base + 1))",
 "certificate":"$state/tls.pem","privateKey":"$state/tls.key","httpPort":$((base + 2)),"tlsPort":$((base + 3)),
 "ocspResponderURL":"","externalAccountBindingRequired":true,"externalAccountMACKeys":{"$kid":"$hmac"},
 "certificateValidityPeriod":7776000}}
J
pebble-challtestsrv -management "127.0.0.1:$((base + 5))" -dns01 "127.0.0.1:$((base + 53))" -defaultIPv6 "" \
  -http01 "127.0.0.1:$((base + 2))" -https01 "" -tlsalpn01 "" >challtestsrv.log 2>&1 &
echo $! >challtestsrv.pid
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$((base + 5))/" && break; sleep 0.1; done
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config pebble.json -dnsserver "127.0.0.1:$((base + 53))" \
  >pebble.log 2>&1 &
echo $! >pebble.pid
ok=0
for _ in $(seq 100); do
  curl -sf --cacert tlsca.pem -o /dev/null "https://127.0.0.1:$base/dir" && { ok=1; break; }
  kill -0 "$(cat pebble.pid)" 2>/dev/null || break
  sleep 0.1
done
((ok)) || { stop; die "pebble did not start: $(tail -3 pebble.log)"; }
cat >pebble.env <<V
ACME_DIR=https://127.0.0.1:$base/dir
ACME_CA_BUNDLE=$state/tlsca.pem
EAB_KID=$kid
EAB_HMAC=$hmac
HTTP01_PORT=$((base + 2))
DNS_MGMT=http://127.0.0.1:$((base + 5))
DNS_ADDR=127.0.0.1:$((base + 53))
PEBBLE_PID=$(cat pebble.pid)
CHALLTESTSRV_PID=$(cat challtestsrv.pid)
V
cat pebble.env
