#!/usr/bin/env bash
# Static export vs ca-status-server: OCSP GET and CRL fetches through nginx serving the export that
# ca-status-export writes (the shipped site appliance/nginx/acme-ca-status.conf) and through
# ca-status-server, same machine, same wrk settings.
#   bench-export.sh CA_STATUS_SERVER CA_STATUS_PUBLISH CA_STATUS_EXPORT [DURATION=10s] [CONNECTIONS=32]
#                   [THREADS=1] [REVOKED=1000]
# Both servers get 2 workers (server threads / nginx worker_processes) on 127.0.0.1. The CRL lists
# REVOKED entries. Prints requests/s and p50/p99 per target. Stops what it started by PID and
# removes its temp dir.
set -euo pipefail
SERVER_BIN=$(realpath "$1")
PUBLISH_BIN=$(realpath "$2")
EXPORT_BIN=$(realpath "$3")
DURATION=${4:-10s}
CONNS=${5:-32}
WRK_THREADS=${6:-1}
REVOKED=${7:-1000}
SITE=$(realpath "$(dirname "$0")/../../appliance/nginx/acme-ca-status.conf")
. "$(dirname "$(realpath "$0")")/bench_lib.sh" bench-export
bench_require wrk nginx openssl curl
bench_workdir
bench_make_ca
for i in $(seq 1 "$REVOKED"); do printf '%x keyCompromise\n' $((0x100000 + i)); done > revoked.txt
"$PUBLISH_BIN" --store store --issuer-name bench --issuer ca.pem --ocsp-cert ocsp.pem --ocsp-key ocsp.key \
  --crl-key ca.key --revocations revoked.txt --cert leaf.pem >/dev/null
"$EXPORT_BIN" --store store --dir export --once 2>/dev/null
chmod -R a+rX export

bench_start_server "$SERVER_BIN"
NGINX_PORT=$(free_port)
mkdir -p nginx/logs
sed -e "s|^    listen 80;|    listen 127.0.0.1:$NGINX_PORT;|" -e '/^    listen \[::\]:80;/d' \
    -e "s|^    root /var/lib/acme-ca/status-export;|    root $WORK/export;|" \
    -e "s|^    server 127.0.0.1:8080;|    server 127.0.0.1:$PORT;|" "$SITE" > nginx/site.conf
cat > nginx/nginx.conf <<CONF
worker_processes $WORKERS;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  keepalive_requests 1000000;
  include $WORK/nginx/site.conf;
}
CONF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" -g 'daemon off;' &
PIDS+=($!)

openssl ocsp -issuer ca.pem -cert leaf.pem -no_nonce -reqout req.der >/dev/null 2>&1
B64=$(base64 -w0 < req.der)
S="http://127.0.0.1:$PORT" N="http://127.0.0.1:$NGINX_PORT"
for _ in $(seq 1 50); do curl -sf -o s.der "$S/ocsp/$B64" && curl -sf -o n.der "$N/ocsp/$B64" && break; sleep 0.1; done
cmp -s s.der n.der || { echo "bench-export: nginx and the server answer differently" >&2; exit 1; }
curl -sf -o s.crl "$S/crl/bench.crl"; curl -sf -o n.crl "$N/crl/bench.crl"
cmp -s s.crl n.crl || { echo "bench-export: the CRLs differ" >&2; exit 1; }
curl -s -D n.hdr -o /dev/null "$N/ocsp/$B64"
grep -qi '^Expires:' n.hdr && { echo "bench-export: nginx proxied the GET instead of serving the file" >&2; exit 1; }

run() { bench_run "$1"; }
echo "wrk -t$WRK_THREADS -c$CONNS -d$DURATION --latency; $WORKERS workers each; OCSP body $(stat -c %s s.der) bytes, CRL $(stat -c %s s.crl) bytes ($REVOKED entries); $(nproc) cores"
echo "OCSP GET  ca-status-server: $(run "$S/ocsp/$B64")"
echo "OCSP GET  nginx export:     $(run "$N/ocsp/$B64")"
echo "CRL       ca-status-server: $(run "$S/crl/bench.crl")"
echo "CRL       nginx export:     $(run "$N/crl/bench.crl")"
