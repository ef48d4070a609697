#!/usr/bin/env bash
# usage: replica_e2e.sh CA_STATUS_MIRROR [CHANGES=20] [INTERVAL=1]
# Three status replicas fed from one export, in network namespaces made here (loopback only: veth
# pairs between the test's own namespaces, private addresses). The origin namespace holds the
# export directory served by nginx; each replica namespace runs ca-status-mirror and an nginx
# serving the mirror's directory. Checks: every revocation (a new OCSP response saying revoked
# and a new CRL shard) is answered by every replica within 3 x interval + 2 s (p50/max printed);
# a replica's response verifies with `openssl ocsp` and says revoked; a manifest with an escaping
# path is refused and changes nothing; a replica cut off (link down) keeps serving, says
# origin_unreachable with serving_until, and stops serving a file at its nextUpdate (stale).
# Needs root (ip netns); exits 77 (skipped) without it. Cleans up processes (by PID) and
# namespaces on any exit.
set -euo pipefail
MIRROR_BIN=$(realpath "$1")
CHANGES=${2:-20}
INTERVAL=${3:-1}
DRIVER=$(dirname "$(realpath "$0")")/replica_driver.py
PY=/usr/bin/python3
for tool in ip nginx openssl curl "$PY"; do
  command -v "$tool" >/dev/null || { echo "replica_e2e: $tool is required (scripts/install-deps.sh)" >&2; exit 1; }
done
# shellcheck source=../netns_lib.sh
source "$(dirname "$(realpath "$0")")/../netns_lib.sh"
TAG="rep$$"
netns_require replica_e2e "$TAG"

WORK=$(mktemp -d /tmp/replica_e2e.XXXXXX)
chmod 755 "$WORK"
# Bad input: one line, non-zero exit, nothing touched.
mkdir -p "$WORK/site" && echo site > "$WORK/site/index.html"
for bad in "--origin ftp://origin --dir $WORK/site" "--origin http://127.0.0.1:9 --dir $WORK/site --once" \
           "--origin http://127.0.0.1:9 --dir $WORK/site --interval 0"; do
  # shellcheck disable=SC2086
  if "$MIRROR_BIN" $bad > "$WORK/bad.out" 2> "$WORK/bad.err"; then echo "FAIL: accepted $bad" >&2; exit 1; fi
  [[ "$(wc -l < "$WORK/bad.err")" == 1 ]] || { cat "$WORK/bad.err" >&2; echo "FAIL: not one line for $bad" >&2; exit 1; }
done
"$MIRROR_BIN" --origin http://127.0.0.1:9 --dir "$WORK/site" --once 2> "$WORK/bad.err" && exit 1
grep -q "not a mirror directory" "$WORK/bad.err" || { cat "$WORK/bad.err" >&2; echo "FAIL: a non-mirror directory was not refused" >&2; exit 1; }
[[ "$(cat "$WORK/site/index.html")" == site ]] || { echo "FAIL: a non-mirror directory was touched" >&2; exit 1; }
rm -rf "$WORK/site"
NS_O="${TAG}o"
NAMESPACES=()
PIDS=()
cleanup() {
  local rc=$?
  netns_stop_all
  if (( rc != 0 )); then
    for i in 1 2 3; do
      [[ -f "$WORK/r$i/mirror.log" ]] && { echo "--- replica $i mirror log (last 5):" >&2; tail -5 "$WORK/r$i/mirror.log" >&2; }
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
fail() { echo "FAIL: $*" >&2; exit 1; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# --- namespaces: origin <-veth-> replica i, 10.77.i.0/30 --------------------------------------
netns_add "$NS_O"
REPLICAS=""
for i in 1 2 3; do
  netns_add "${TAG}r$i"
  netns_link "$NS_O" "${TAG}r$i" "to$i" "10.77.$i.1/30" "10.77.$i.2/30"
  REPLICAS+="${REPLICAS:+,}10.77.$i.2:8080"
done

# --- nginx (Debian nginx-light, unmodified) ----------------------------------------------------
start_nginx() {  # start_nginx NS DIR SERVED_ROOT
  mkdir -p "$2/logs"
  cat > "$2/nginx.conf" <<CONF
worker_processes 1;
pid $2/nginx.pid;
error_log $2/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log $2/logs/access.log;
  types { application/pkix-crl crl; application/pkix-cert der; application/json json; }
  default_type application/ocsp-response;
  etag on;
  server {
    listen 8080;
    root $3;
    location = /health.json { add_header Cache-Control "no-cache"; }
    location = /manifest.json { add_header Cache-Control "no-cache"; }
  }
}
CONF
  # `ip netns exec` execs its command: $! is nginx's master (a function run with & would not be).
  ip netns exec "$1" nginx -p "$2" -c "$2/nginx.conf" -e "$2/logs/error.log" -g 'daemon off;' &
  PIDS+=($!)
}
mkdir -p export origin
chmod 755 export origin
start_nginx "$NS_O" "$WORK/origin" "$WORK/export"

# --- a software CA (openssl CLI): issuing CA, delegated OCSP signer, CHANGES leaves ------------
mkdir -p gen
cat > ext.cnf <<'CNF'
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ocsp_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
[leaf_ext]
basicConstraints = critical,CA:FALSE
extendedKeyUsage = serverAuth
[ca]
default_ca = issuing
[issuing]
database = index.txt
crlnumber = crlnumber
default_md = sha256
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
CNF
q() { "$@" >/dev/null 2>&1 || fail "command failed: $*"; }
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout int.key -out int.pem \
  -subj "/CN=Replica E2E CA" -days 30 -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign"
q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ocsp.key -out ocsp.csr -subj "/CN=Replica E2E OCSP"
q openssl x509 -req -in ocsp.csr -CA int.pem -CAkey int.key -set_serial 2 -days 30 -extfile ext.cnf \
  -extensions ocsp_ext -out ocsp.pem
: > index.txt
echo 01 > crlnumber
EXPIRY=$(date -u -d '+20 days' +%y%m%d%H%M%SZ)
q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=leaf"
for k in $(seq 1 "$CHANGES"); do
  serial=$(printf '%04X' $((0x1000 + k)))
  q openssl x509 -req -in leaf.csr -CA int.pem -CAkey int.key -set_serial "0x$serial" -days 20 \
    -extfile ext.cnf -extensions leaf_ext -out "leaf$k.pem"
  printf 'V\t%s\t\t%s\tunknown\t/CN=leaf%s\n' "$EXPIRY" "$serial" "$k" >> index.txt
  q openssl ocsp -issuer int.pem -cert "leaf$k.pem" -no_nonce -reqout "gen/req$k.der"
  printf 'ocsp/%s' "$(base64 -w0 < "gen/req$k.der")" > "gen/path$k"
done
ocsp_response() {  # ocsp_response K OUT: the current index.txt's answer for leaf K
  q openssl ocsp -index index.txt -CA int.pem -rsigner ocsp.pem -rkey ocsp.key -reqin "gen/req$1.der" \
    -respout "$2" -ndays 1
}
crl() {  # crl OUT [openssl ca validity flags]: a CRL of the current index.txt
  local out=$1; shift
  q openssl ca -config ext.cnf -gencrl -keyfile int.key -cert int.pem -out "$out.pem" "$@"
  q openssl crl -in "$out.pem" -outform DER -out "$out"
}
for k in $(seq 1 "$CHANGES"); do ocsp_response "$k" "gen/good$k.der"; done
crl gen/crl0.der -crldays 1
for k in $(seq 1 "$CHANGES"); do  # state k: leaves 1..k revoked (keyCompromise)
  now=$(date -u +%y%m%d%H%M%SZ)
  sed -i "s/^V\t\([0-9]*Z\)\t\t$(printf '%04X' $((0x1000 + k)))\t/R\t\1\t$now,keyCompromise\t$(printf '%04X' $((0x1000 + k)))\t/" index.txt
  ocsp_response "$k" "gen/revoked$k.der"
  crl "gen/crl$k.der" -crldays 1
done
grep -c '^R' index.txt | grep -qx "$CHANGES" || fail "index.txt does not list $CHANGES revocations"
openssl x509 -in int.pem -outform DER -out gen/ca.der
cat int.pem > chain.pem

# --- the initial export, then three replicas ---------------------------------------------------
BOUND=$((3 * INTERVAL + 2))
publish() { in_ns "$NS_O" "$PY" "$DRIVER" publish state.json export "$@"; }
args=(ca/e2e-ca.der=gen/ca.der:$(( $(date +%s) + 30 * 86400 )) crl/e2e-ca/0.crl=gen/crl0.der)
for k in $(seq 1 "$CHANGES"); do args+=("$(cat "gen/path$k")=gen/good$k.der"); done
publish "${args[@]}" > /dev/null

for i in 1 2 3; do
  mkdir -p "r$i/www" "r$i/nginx"
  chmod 755 "r$i" "r$i/www"
  ip netns exec "${TAG}r$i" "$MIRROR_BIN" --origin "http://10.77.$i.1:8080" --dir "$WORK/r$i/www" \
    --interval "$INTERVAL" --connect-timeout 1 --timeout 3 2> "r$i/mirror.log" &
  PIDS+=($!)
  start_nginx "${TAG}r$i" "$WORK/r$i/nginx" "$WORK/r$i/www"
done
replica_get() {  # replica_get I PATH OUT: from the origin namespace, over replica I's veth
  in_ns "$NS_O" curl -s -o "$3" -w '%{http_code}' "http://10.77.$1.2:8080/$2"
}
health_field() {  # health_field NS_OR_ORIGIN I FIELD (read on the replica's own loopback)
  in_ns "${TAG}r$1" curl -s "http://127.0.0.1:8080/health.json" | "$PY" -c "import json,sys; print(json.load(sys.stdin).get('$2'))"
}
for i in 1 2 3; do
  for _ in $(seq 1 100); do
    [[ "$(health_field "$i" status 2>/dev/null)" == ok ]] && break
    sleep 0.1
  done
  [[ "$(health_field "$i" status)" == ok ]] || fail "replica $i did not report ok"
  [[ "$(health_field "$i" files)" == $((CHANGES + 2)) ]] || fail "replica $i does not serve $((CHANGES + 2)) files"
done
code=$(replica_get 2 "$(sed 's/+/%2B/g; s/=/%3D/g' gen/path1)" good.der)
[[ "$code" == 200 ]] || fail "replica 2 answered $code for leaf 1's response"
openssl ocsp -respin good.der -issuer int.pem -cert leaf1.pem -CAfile chain.pem > good.txt 2>&1 || true
grep -q "leaf1.pem: good" good.txt || { cat good.txt >&2; fail "replica 2's initial response for leaf 1 is not good"; }
in_ns "$NS_O" curl -sI "http://10.77.1.2:8080/crl/e2e-ca/0.crl" > headers.txt
grep -qi '^Content-Type: application/pkix-crl' headers.txt || { cat headers.txt >&2; fail "CRL content type"; }
grep -qi '^ETag:' headers.txt || fail "no ETag on the replica's CRL"

# --- revocations: each must be visible at every replica within the bound ----------------------
in_ns "$NS_O" "$PY" "$DRIVER" measure state.json export --wait "$REPLICAS" --bound "$BOUND" \
  --changes "$CHANGES" --interval "$INTERVAL" gen | tee measure.txt
grep -q "visible at all 3 replicas" measure.txt || fail "no measurement"
for i in 1 3; do
  code=$(replica_get "$i" "$(sed 's/+/%2B/g; s/=/%3D/g' gen/path1)" "revoked$i.der")
  [[ "$code" == 200 ]] || fail "replica $i answered $code for leaf 1's response"
  openssl ocsp -respin "revoked$i.der" -issuer int.pem -cert leaf1.pem -CAfile chain.pem > "revoked$i.txt" 2>&1 || true
  grep -q "Response verify OK" "revoked$i.txt" || { cat "revoked$i.txt" >&2; fail "replica $i's response does not verify"; }
  grep -q "leaf1.pem: revoked" "revoked$i.txt" || { cat "revoked$i.txt" >&2; fail "replica $i does not say revoked"; }
  grep -q "Reason: keyCompromise" "revoked$i.txt" || fail "replica $i's response lost the reason"
done
replica_get 3 crl/e2e-ca/0.crl shard.der > /dev/null
openssl crl -inform DER -in shard.der -CAfile chain.pem -noout 2>&1 | grep -q "verify OK" || fail "the replica's CRL shard does not verify"
openssl crl -inform DER -in shard.der -noout -text | grep -c 'Serial Number:' | grep -qx "$CHANGES" \
  || fail "the replica's CRL shard does not list $CHANGES revocations"

# --- a manifest with an escaping path: refused by every replica, nothing changes -------------
in_ns "$NS_O" "$PY" "$DRIVER" bad-manifest state.json export
sleep $((2 * INTERVAL + 1))
for i in 1 2 3; do
  grep '"event":"manifest_refused"' "r$i/mirror.log" | grep -q "escapes the directory" || fail "replica $i did not log the refusal"
  [[ "$(grep -c '"event":"manifest_refused"' "r$i/mirror.log")" == 1 ]] || fail "replica $i logged the refusal more than once"
  [[ "$(health_field "$i" status)" == origin_unreachable ]] || fail "replica $i's health after a refused manifest"
  [[ "$(health_field "$i" files)" == $((CHANGES + 2)) ]] || fail "replica $i changed its files"
done
[[ ! -e "$WORK/escaped" && ! -e /escaped ]] || fail "a file escaped the served directory"

# --- cut off: a full CRL with a short nextUpdate, then replica 3's link goes down ------------
SHORT=$((6 * INTERVAL + 14))
crl gen/short.der -crlsec "$SHORT"
SHORT_NU=$(in_ns "$NS_O" "$PY" -c "import sys; sys.path.insert(0, '$(dirname "$DRIVER")'); import replica_driver as d; print(d.next_update_of('gen/short.der'))")
publish --wait "$REPLICAS" --bound "$BOUND" crl/e2e-ca.crl=gen/short.der
ip -n "$NS_O" link set to3 down
for _ in $(seq 1 $((20 * (INTERVAL + 2)))); do
  [[ "$(health_field 3 status)" == origin_unreachable && "$(health_field 3 origin_reachable)" == False ]] && break
  sleep 0.1
done
[[ "$(health_field 3 status)" == origin_unreachable ]] || fail "replica 3 does not say origin_unreachable"
[[ "$(health_field 3 serving_until)" == "$SHORT_NU" ]] || fail "replica 3's serving_until is not the short CRL's nextUpdate $SHORT_NU"
in_ns "${TAG}r3" curl -s -o cut.der "http://127.0.0.1:8080/crl/e2e-ca.crl"
cmp -s cut.der gen/short.der || fail "replica 3 stopped serving the full CRL before its nextUpdate"
(( $(date +%s) < SHORT_NU )) || fail "the fixture's nextUpdate passed too early (raise SHORT)"
# The origin re-signs its full CRL; replicas 1 and 2 follow, replica 3 cannot.
crl gen/long.der -crldays 1
publish --wait "${REPLICAS%,*}" --bound "$BOUND" crl/e2e-ca.crl=gen/long.der
while (( $(date +%s) < SHORT_NU + 1 )); do sleep 0.2; done
sleep 0.5
code=$(in_ns "${TAG}r3" curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:8080/crl/e2e-ca.crl")
[[ "$code" == 404 ]] || fail "replica 3 still answers $code for the full CRL past its nextUpdate"
[[ "$(health_field 3 status)" == stale ]] || fail "replica 3 does not say stale"
health_field 3 expired | grep -q "crl/e2e-ca.crl" || fail "replica 3's health does not name the expired CRL"
in_ns "${TAG}r3" curl -s -o cut1.der "http://127.0.0.1:8080/$(sed 's/+/%2B/g; s/=/%3D/g' gen/path1)"
openssl ocsp -respin cut1.der -issuer int.pem -cert leaf1.pem -CAfile chain.pem 2>&1 | grep -q "leaf1.pem: revoked" \
  || fail "replica 3 stopped serving a response still valid"
replica_get 1 crl/e2e-ca.crl r1full.der > /dev/null
cmp -s r1full.der gen/long.der || fail "replica 1 does not serve the re-signed full CRL"
[[ "$(health_field 1 status)" == ok ]] || fail "replica 1 is not ok"
grep -q '"event":"files_expired"' r3/mirror.log || fail "replica 3 did not log the expiry"

# --- SIGTERM stops each mirror -----------------------------------------------------------------
for pid in "${PIDS[@]}"; do
  if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q ca-status-mirror; then
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    ! kill -0 "$pid" 2>/dev/null || fail "ca-status-mirror $pid ignored SIGTERM"
  fi
done
# Unchanged passes are conditional GETs answered 304 by the origin.
grep -q '"GET /manifest.json HTTP/1.1" 304 ' origin/logs/access.log || fail "no conditional GET of the manifest reached the origin"
echo "origin: manifest.json answered $(grep -c '"GET /manifest.json HTTP/1.1" 304 ' origin/logs/access.log) times 304," \
  "$(grep -c '"GET /manifest.json HTTP/1.1" 200 ' origin/logs/access.log) times 200"
for i in 1 2 3; do
  echo "replica $i: $(grep -c '"event":"mirror_synced"' "r$i/mirror.log") passes installed files," \
    "$(grep '"event":"mirror_synced"' "r$i/mirror.log" | grep -vc '"failed":0,') with a file failing its check"
done
echo "replica e2e: all checks passed"
