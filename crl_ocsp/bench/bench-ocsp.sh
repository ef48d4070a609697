#!/usr/bin/env bash
# OCSP load benchmark: ca-status-server vs nginx serving the same DER response statically.
#   bench-ocsp.sh CA_STATUS_SERVER CA_STATUS_PUBLISH [DURATION=10s] [CONNECTIONS=32] [THREADS=1] [ROUNDS=1]
# With ROUNDS > 1 the two targets alternate (server, nginx, server, ...) so that load from other
# processes on the machine hits both alike; the ratio uses the summed request counts.
# Both servers get 2 workers (server threads / nginx worker_processes) on 127.0.0.1; wrk runs the
# same GET (a pre-signed response, RFC 5019 base64 URL for the server) against each, with the
# same -t/-c/-d. Prints requests/s, p99 latency and the server/nginx ratio. Stops what it started
# by PID and removes its temp dir.
set -euo pipefail
SERVER_BIN=$(realpath "$1")
PUBLISH_BIN=$(realpath "$2")
DURATION=${3:-10s}
CONNS=${4:-32}
WRK_THREADS=${5:-1}
ROUNDS=${6:-1}
. "$(dirname "$(realpath "$0")")/bench_lib.sh" bench-ocsp
bench_require wrk nginx openssl curl
bench_workdir
bench_make_ca
"$PUBLISH_BIN" --store store --issuer-name bench --issuer ca.pem --ocsp-cert ocsp.pem --ocsp-key ocsp.key \
  --crl-key ca.key --cert leaf.pem >/dev/null

bench_start_server "$SERVER_BIN"

openssl ocsp -issuer ca.pem -cert leaf.pem -no_nonce -reqout req.der >/dev/null 2>&1
B64=$(base64 -w0 < req.der)
SERVER_URL="http://127.0.0.1:$PORT/ocsp/$B64"
for _ in $(seq 1 50); do curl -sf -o resp.der "$SERVER_URL" && break; sleep 0.1; done
openssl ocsp -respin resp.der -issuer ca.pem -cert leaf.pem -CAfile ca.pem 2>&1 | grep -q "leaf.pem: good" \
  || { echo "bench-ocsp: the server did not answer good" >&2; exit 1; }
chmod 644 resp.der

NGINX_PORT=$(free_port)
mkdir -p nginx/logs
cat > nginx/nginx.conf <<CONF
worker_processes $WORKERS;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location = /resp.der {
      alias $WORK/resp.der;
      default_type application/ocsp-response;
      add_header Cache-Control "max-age=600, public, no-transform, must-revalidate";
    }
  }
}
CONF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" -g 'daemon off;' &
PIDS+=($!)
NGINX_URL="http://127.0.0.1:$NGINX_PORT/resp.der"
for _ in $(seq 1 50); do curl -sf -o nginx.der "$NGINX_URL" && break; sleep 0.1; done
cmp -s resp.der nginx.der || { echo "bench-ocsp: nginx does not serve the response" >&2; exit 1; }

run() { bench_run "$1"; }
echo "wrk -t$WRK_THREADS -c$CONNS -d$DURATION x $ROUNDS round(s), $WORKERS workers each, body $(stat -c %s resp.der) bytes"
S_SUM=0; N_SUM=0; S_P99_MAX=0
field() { sed "s/.*$1=\([0-9.]*\).*/\1/" <<<"$2"; }
for round in $(seq 1 "$ROUNDS"); do
  S=$(run "$SERVER_URL")
  N=$(run "$NGINX_URL")
  echo "round $round ca-status-server: $S"
  echo "round $round nginx:            $N"
  S_SUM=$(awk -v a="$S_SUM" -v b="$(field rps "$S")" 'BEGIN { print a + b }')
  N_SUM=$(awk -v a="$N_SUM" -v b="$(field rps "$N")" 'BEGIN { print a + b }')
  S_P99_MAX=$(awk -v a="$S_P99_MAX" -v b="$(field p99_ms "$S")" 'BEGIN { print (b > a) ? b : a }')
done
awk -v s="$S_SUM" -v n="$N_SUM" -v p="$S_P99_MAX" -v r="$ROUNDS" 'BEGIN {
  ratio = s / n; printf "mean rps server %.1f nginx %.1f; ratio server/nginx: %.2f (target >= 0.8); server worst p99 %.3f ms (target <= 5 ms): %s\n",
  s / r, n / r, ratio, p, (ratio >= 0.8 && p <= 5) ? "MET" : "NOT MET" }'
grep -q '"level":"error"' server.log && { echo "server logged errors:" >&2; grep '"level":"error"' server.log >&2; }
exit 0
