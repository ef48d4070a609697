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
WORKERS=2
SITE=$(realpath "$(dirname "$0")/../../appliance/nginx/acme-ca-status.conf")
for tool in wrk nginx openssl curl; do
  command -v "$tool" >/dev/null || { echo "bench-export: $tool is required (scripts/install-deps.sh)" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/bench_export.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
chmod 755 "$WORK"
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cat > ext.cnf <<'CNF'
[ocsp]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
[leaf]
basicConstraints = critical,CA:FALSE
extendedKeyUsage = serverAuth
CNF
{
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -subj "/CN=Bench CA" -days 30 -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ocsp.key -out ocsp.csr -subj "/CN=Bench OCSP"
  openssl x509 -req -in ocsp.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 30 -extfile ext.cnf -extensions ocsp -out ocsp.pem
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=leaf"
  openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 0x5eed -days 30 -extfile ext.cnf -extensions leaf -out leaf.pem
} >/dev/null 2>&1
for i in $(seq 1 "$REVOKED"); do printf '%x keyCompromise\n' $((0x100000 + i)); done > revoked.txt
"$PUBLISH_BIN" --store store --issuer-name bench --issuer ca.pem --ocsp-cert ocsp.pem --ocsp-key ocsp.key \
  --crl-key ca.key --revocations revoked.txt --cert leaf.pem >/dev/null
"$EXPORT_BIN" --store store --dir export --once 2>/dev/null
chmod -R a+rX export

PORT=$(free_port)
cat > server.json <<JSON
{"listen_address": "127.0.0.1", "port": $PORT, "store": "$WORK/store", "issuers": ["bench"], "threads": $WORKERS}
JSON
"$SERVER_BIN" --config server.json 2> server.log &
PIDS+=($!)
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

cat > report.lua <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d socket_errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
run() { wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency -s report.lua "$1" | grep '^rps='; }
echo "wrk -t$WRK_THREADS -c$CONNS -d$DURATION --latency; $WORKERS workers each; OCSP body $(stat -c %s s.der) bytes, CRL $(stat -c %s s.crl) bytes ($REVOKED entries); $(nproc) cores"
echo "OCSP GET  ca-status-server: $(run "$S/ocsp/$B64")"
echo "OCSP GET  nginx export:     $(run "$N/ocsp/$B64")"
echo "CRL       ca-status-server: $(run "$S/crl/bench.crl")"
echo "CRL       nginx export:     $(run "$N/crl/bench.crl")"
