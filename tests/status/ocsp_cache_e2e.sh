#!/usr/bin/env bash
# usage: ocsp_cache_e2e.sh CA_STATUS_SERVER CA_STATUS_PUBLISH
# OCSP cache poisoning: the server's per-worker parse cache must never let one request's bytes
# answer for another's. Hundreds of concurrent POSTs whose body is a certificate's GET path (as the
# server sees it) reach every worker thread; every later GET of that path must still answer good,
# and the POSTs themselves stay malformedRequest.
set -euo pipefail
SERVER_BIN=$1
PUBLISH_BIN=$2
source "$(dirname "$0")/lib.sh"

make_ca
publish --crl-key int.key --cert leaf1.pem --cert leaf2.pem
THREADS=4
start_server '["e2e-ca"]' "$THREADS"

openssl ocsp -issuer int.pem -cert leaf1.pem -no_nonce -reqout req.der >/dev/null 2>&1
B64=$(base64 -w0 < req.der)
GET_PATH="/ocsp/$B64"
printf '%s' "$GET_PATH" > poison.bin

# 400 POSTs over 40 parallel connections (each worker accepts some of them).
: > poison.cfg
for i in $(seq 1 400); do
  printf 'url = "%s/ocsp"\noutput = "/dev/null"\n' "$URL" >> poison.cfg
done
curl -s --no-progress-meter --parallel --parallel-max 40 -H 'Content-Type: application/ocsp-request' \
  --data-binary @poison.bin -K poison.cfg
MALFORMED_AFTER_POISON=$(curl -s "$URL/metrics" | grep -o 'endpoint="ocsp",result="malformedRequest"} [0-9]*' | awk '{print $2}')
(( MALFORMED_AFTER_POISON >= 400 )) || fail "the 400 poisoning POSTs were not all answered malformedRequest ($MALFORMED_AFTER_POISON)"

# 40 GETs of the real path, each on a new connection: all good.
bad=0
for i in $(seq 1 40); do
  curl -s -o "get$i.der" "$URL$GET_PATH"
  openssl ocsp -respin "get$i.der" -issuer int.pem -cert leaf1.pem -CAfile chain.pem > "get$i.txt" 2>&1 || true
  grep -q "leaf1.pem: good" "get$i.txt" || { bad=$((bad + 1)); cp "get$i.txt" bad.txt; }
done
(( bad == 0 )) || { cat bad.txt >&2; fail "$bad of 40 GETs after the poisoning POSTs were not good"; }
curl -s "$URL/metrics" > metrics.txt
expect_in metrics.txt 'ca_status_requests_total{endpoint="ocsp",result="good"} 40' "40 good GET answers"

# The other direction: the GET path's parse (now cached for GETs on every worker) does not answer
# a POST of the same bytes.
for i in $(seq 1 20); do
  curl -s -o "post$i.der" -H 'Content-Type: application/ocsp-request' --data-binary @poison.bin "$URL/ocsp"
  openssl ocsp -respin "post$i.der" -resp_text -noverify > "post$i.txt" 2>&1 || true
  expect_in "post$i.txt" "Responder Error: malformedrequest" "POST of a GET path after the GETs"
done
# And a well-formed POST still works on every connection.
for i in $(seq 1 10); do
  ocsp "postok$i.txt" -cert leaf1.pem
  expect_in "postok$i.txt" "leaf1.pem: good" "POST of the real request"
done

kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
echo "ocsp cache e2e: all checks passed"
