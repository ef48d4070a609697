#!/usr/bin/env bash
# The static export served by an unmodified nginx (Debian nginx-light) with the shipped site
# (appliance/nginx/acme-ca-status.conf): a store filled by ca-status-publish, exported by
# ca-status-export --once, nginx as a non-daemon child on a loopback port, ca-status-server behind
# it for POST and what the export can not answer. Checked with openssl ocsp (request out, GET with
# curl, response verified), curl (headers, 304) and openssl verify -crl_check. The exporter's real
# manifest is then mirrored by ca-status-mirror (file:// origin): every file arrives byte for byte.
#   export_nginx_e2e.sh CA_STATUS_SERVER CA_STATUS_PUBLISH CA_STATUS_EXPORT [CA_STATUS_MIRROR]
set -euo pipefail
SERVER_BIN=$(realpath "$1")
PUBLISH_BIN=$(realpath "$2")
EXPORT_BIN=$(realpath "$3")
MIRROR_BIN=${4:+$(realpath "$4")}
SITE=$(realpath "$(dirname "$0")/../../appliance/nginx/acme-ca-status.conf")
for tool in nginx curl openssl; do
  command -v "$tool" >/dev/null || { echo "export_nginx_e2e: $tool is required (scripts/install-deps.sh)" >&2; exit 1; }
done
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
NGINX_PID="" EXPORT_PID=""
stop_all() {
  if [[ -n "$NGINX_PID" ]]; then kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
  if [[ -n "$EXPORT_PID" ]]; then kill "$EXPORT_PID" 2>/dev/null || true; wait "$EXPORT_PID" 2>/dev/null || true; fi
  cleanup
}
trap stop_all EXIT
chmod 755 "$WORK"

make_ca
# A certificate whose SHA-1 GET path ends in '/' (about 1 in 200): served as that directory's index.
# The last base64 digit is the low 6 bits of the serial's last octet when the request's length is
# a multiple of 3: a serial ending in 0x3f of the right length.
SLASH=""
for s in 7c3f 7c003f 7c00003f 7c0000003f; do
  openssl ocsp -issuer int.pem -serial "0x$s" -no_nonce -reqout probe.der >/dev/null 2>&1
  if [[ $(base64 -w0 < probe.der) == */ ]]; then SLASH=$s; break; fi
done
[[ -n "$SLASH" ]] || fail "no serial with a GET path ending in /"
q() { "$@" >/dev/null 2>&1 || fail "command failed: $*"; }
q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf3.key -out leaf3.csr -subj "/CN=leaf3"
q openssl x509 -req -in leaf3.csr -CA int.pem -CAkey int.key -set_serial "0x$SLASH" -days 30 \
  -extfile ext.cnf -extensions leaf -out leaf3.pem

SERIAL2=$(openssl x509 -in leaf2.pem -noout -serial | cut -d= -f2)
echo "$SERIAL2 keyCompromise" > revoked.txt
publish --crl-key int.key --revocations revoked.txt --cert leaf1.pem --cert leaf2.pem --cert leaf3.pem
"$EXPORT_BIN" --store store --dir export --once 2> export.log || { cat export.log >&2; fail "export pass"; }
[[ -f export/manifest.json && -f export/health.json && -f export/crl/e2e-ca.crl && -f export/ca/e2e-ca.der ]] \
  || fail "export layout"
expect_in export/health.json '"status":"ok"' "health ok"
if [[ -n "$MIRROR_BIN" ]]; then
  # The replica agent accepts what the exporter writes (paths with '+', '=', '//', index.der).
  mkdir -p mirror
  "$MIRROR_BIN" --origin "file://$WORK/export" --dir mirror --once 2> mirror.log \
    || { cat mirror.log >&2; fail "mirror of the real export"; }
  diff -r -x health.json -x .staging export mirror >/dev/null || fail "mirror differs from the export"
  expect_in mirror/health.json '"status":"ok"' "mirror health ok"
fi
# No chmod: the exporter's own modes (0755 directories, 0644 files) let nginx's workers read.

start_server '["e2e-ca"]' 2
NGINX_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p nginx/logs
# The shipped site with the appliance's paths and ports replaced; every replacement must apply.
sed -e "s|^    listen 80;|    listen 127.0.0.1:$NGINX_PORT;|" -e '/^    listen \[::\]:80;/d' \
    -e "s|^    root /var/lib/acme-ca/status-export;|    root $WORK/export;|" \
    -e "s|^    server 127.0.0.1:8080;|    server 127.0.0.1:$PORT;|" "$SITE" > nginx/site.conf
grep -q "listen 127.0.0.1:$NGINX_PORT;" nginx/site.conf && grep -q "root $WORK/export;" nginx/site.conf \
  && grep -q "server 127.0.0.1:$PORT;" nginx/site.conf || fail "site template changed: update this test"
cat > nginx/nginx.conf <<CONF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 256; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  include $WORK/nginx/site.conf;
}
CONF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" -g 'daemon off;' 2> nginx/stderr &
NGINX_PID=$!
N="http://127.0.0.1:$NGINX_PORT"
for _ in $(seq 1 50); do curl -s -o /dev/null "$N/ca/e2e-ca.der" && break; sleep 0.1; done
kill -0 "$NGINX_PID" 2>/dev/null || { cat nginx/stderr >&2; fail "nginx did not start"; }

# get_ocsp CERT OUT [openssl ocsp request options]: request DER by openssl, fetched by GET through
# nginx, verified by openssl. Leaves hdr.txt (headers) and OUT.txt (openssl's verdict).
get_ocsp() {
  local cert=$1 out=$2; shift 2
  openssl ocsp -issuer int.pem "$@" -cert "$cert" -no_nonce -reqout "$out.req" >/dev/null 2>&1 || fail "reqout"
  B64=$(base64 -w0 < "$out.req")
  curl -s -D hdr.txt -o "$out" "$N/ocsp/$B64" || fail "GET $cert"
  openssl ocsp -respin "$out" -issuer int.pem "$@" -cert "$cert" -CAfile chain.pem > "$out.txt" 2>&1 || true
  [[ -n "${DEBUG:-}" ]] && cat "$out.txt" >&2 || true
}
header() { grep -i "^$1:" hdr.txt | head -1 | cut -d' ' -f2- | tr -d '\r'; }
static_hit() {  # nginx's own ETag ("mtime-size" in hex) and no Expires: the file, not the proxy
  [[ $(header ETag) =~ ^\"[0-9a-f]+-[0-9a-f]+\"$ ]] && ! grep -qi '^Expires:' hdr.txt
}

# --- OCSP GET from the export, SHA-1 and SHA-256 CertIDs ------------------------------------------
get_ocsp leaf1.pem g1.der
expect_in g1.der.txt "Response verify OK" "SHA-1 GET verifies"
expect_in g1.der.txt "leaf1.pem: good" "leaf1 good"
static_hit || { cat hdr.txt >&2; fail "SHA-1 GET not served from the export"; }
[[ -f "export/ocsp/$B64" ]] || fail "no file at the GET path"
[[ $(header Content-Type) == application/ocsp-response ]] || fail "OCSP Content-Type: $(header Content-Type)"
CC=$(header Cache-Control)
[[ $CC == "max-age=600, public, no-transform, must-revalidate" ]] || fail "Cache-Control: $CC"
NEXT=$(date -d "$(sed -n 's/^[[:space:]]*Next Update: //p' g1.der.txt)" +%s)
THIS=$(date -d "$(sed -n 's/^[[:space:]]*This Update: //p' g1.der.txt)" +%s)
(( 600 <= NEXT - $(date +%s) )) || fail "max-age 600 exceeds nextUpdate - now"
[[ $(date -d "$(header Last-Modified)" +%s) == "$THIS" ]] || fail "Last-Modified is not thisUpdate"
ETAG=$(header ETag)
[[ $(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$N/ocsp/$B64") == 304 ]] || fail "If-None-Match: no 304"
# Percent-encoded base64 (%2B %2F %3D) maps to the same file.
ENC=$(/usr/bin/python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$B64")
curl -s -D hdr.txt -o pct.der "$N/ocsp/$ENC"
cmp -s g1.der pct.der && static_hit || fail "percent-encoded GET not served from the export"
get_ocsp leaf1.pem g256.der -sha256
expect_in g256.der.txt "leaf1.pem: good" "SHA-256 GET good"
static_hit || fail "SHA-256 GET not served from the export"
get_ocsp leaf2.pem r2.der
expect_in r2.der.txt "leaf2.pem: revoked" "leaf2 revoked"
expect_in r2.der.txt "Reason: keyCompromise" "revocation reason"
get_ocsp leaf3.pem g3.der
[[ $B64 == */ ]] || fail "leaf3's GET path does not end in /"
expect_in g3.der.txt "leaf3.pem: good" "GET path ending in / answered"
static_hit || fail "GET path ending in / not served from the export"

# --- what the export can not answer goes to ca-status-server --------------------------------------
openssl ocsp -issuer int.pem -cert leaf1.pem -nonce -reqout nonce.req >/dev/null 2>&1
curl -s -D hdr.txt -o nonce.der "$N/ocsp/$(base64 -w0 < nonce.req)"
openssl ocsp -respin nonce.der -issuer int.pem -cert leaf1.pem -CAfile chain.pem > nonce.txt 2>&1 || true
expect_in nonce.txt "leaf1.pem: good" "nonce GET answered by the server"
grep -qi '^Expires:' hdr.txt || fail "nonce GET not proxied"
URLSAFE=$(base64 -w0 < g1.der.req | tr '+/' '-_' | tr -d '=')
curl -s -o urlsafe.der "$N/ocsp/$URLSAFE"
cmp -s urlsafe.der g1.der || fail "URL-safe base64 GET not answered like the standard one"
openssl ocsp -issuer int.pem -serial 0x7a0999 -no_nonce -reqout unknown.req >/dev/null 2>&1
curl -s -D hdr.txt -o unknown.der "$N/ocsp/$(base64 -w0 < unknown.req)"
[[ $(od -An -tx1 unknown.der | tr -d " \n") == 30030a0106 ]] || fail "unknown serial: not unauthorized ($(od -An -tx1 unknown.der | tr -d " \n"))"
curl -s -o bad.der "$N/ocsp/MEUw"
[[ $(od -An -tx1 bad.der | tr -d " \n") == 30030a0101 ]] || fail "garbage GET: not malformedRequest"
openssl ocsp -issuer int.pem -cert leaf1.pem -CAfile chain.pem -url "$N/ocsp" > post.txt 2>&1 || true
expect_in post.txt "leaf1.pem: good" "POST through nginx"
[[ $(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$N/ocsp/$B64") == 403 ]] || fail "DELETE not refused"

# --- CRL and caIssuers ------------------------------------------------------------------------------
curl -s -D hdr.txt -o crl.der "$N/crl/e2e-ca.crl"
[[ $(header Content-Type) == application/pkix-crl ]] || fail "CRL Content-Type: $(header Content-Type)"
[[ $(header Cache-Control) == "max-age=600, public, no-transform, must-revalidate" ]] || fail "CRL Cache-Control"
CRL_NEXT=$(date -d "$(openssl crl -inform DER -in crl.der -noout -nextupdate | cut -d= -f2)" +%s)
(( 600 <= CRL_NEXT - $(date +%s) )) || fail "CRL max-age exceeds nextUpdate - now"
ETAG=$(header ETag)
[[ $(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$N/crl/e2e-ca.crl") == 304 ]] || fail "CRL 304"
openssl crl -inform DER -in crl.der -out crl.pem
openssl verify -crl_check -CAfile chain.pem -CRLfile crl.pem leaf1.pem > v1.txt 2>&1 || true
expect_in v1.txt "leaf1.pem: OK" "leaf1 verifies with the exported CRL"
openssl verify -crl_check -CAfile chain.pem -CRLfile crl.pem leaf2.pem > v2.txt 2>&1 || true
expect_in v2.txt "certificate revoked" "leaf2 revoked by the exported CRL"
curl -s -D hdr.txt -o ca.der "$N/ca/e2e-ca.der"
[[ $(header Content-Type) == application/pkix-cert ]] || fail "CA Content-Type: $(header Content-Type)"
openssl x509 -in int.pem -outform DER | cmp -s - ca.der || fail "caIssuers is not the issuer certificate"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$N/crl/nope.crl") == 404 ]] || fail "unknown CRL not 404"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$N/.staging/x") == 404 ]] || fail "staging served"

# --- revoke leaf1 with the exporter running (1 s passes): the same GET answers revoked -----------------
"$EXPORT_BIN" --store store --dir export --interval 1 2> export2.log &
EXPORT_PID=$!
SERIAL1=$(openssl x509 -in leaf1.pem -noout -serial | cut -d= -f2)
printf '%s keyCompromise\n%s keyCompromise\n' "$SERIAL2" "$SERIAL1" > revoked.txt
publish --crl-key int.key --revocations revoked.txt --cert leaf1.pem --cert leaf2.pem --cert leaf3.pem
START=$(date +%s%N)
for _ in $(seq 1 50); do  # a pass within 1 s; nginx's open_file_cache revalidates within 2 s
  get_ocsp leaf1.pem g1b.der
  grep -q "leaf1.pem: revoked" g1b.der.txt && break
  sleep 0.2
done
expect_in g1b.der.txt "leaf1.pem: revoked" "leaf1 revoked through the export after one pass"
echo "export_nginx_e2e: revocation visible through nginx after $(( ($(date +%s%N) - START) / 1000000 )) ms"
kill -TERM "$EXPORT_PID"
wait "$EXPORT_PID" || fail "exporter exit status $? after SIGTERM"
EXPORT_PID=""
expect_in export2.log '"written":' "pass logged"
expect_in export2.log '"event":"export_stopped"' "SIGTERM stops the exporter between passes"
static_hit || fail "revoked response not served from the export"
curl -s -o crl2.der "$N/crl/e2e-ca.crl"
openssl crl -inform DER -in crl2.der -out crl2.pem
openssl verify -crl_check -CAfile chain.pem -CRLfile crl2.pem leaf1.pem > v3.txt 2>&1 || true
expect_in v3.txt "certificate revoked" "leaf1 revoked by the new exported CRL"
grep -v 'access forbidden by rule' nginx/logs/error.log | grep -q '\[error\]\|\[crit\]\|\[emerg\]' && { cat nginx/logs/error.log >&2; fail "nginx errors"; }
echo "export_nginx_e2e: OK"
