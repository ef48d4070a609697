#!/usr/bin/env bash
# usage: health_cost_e2e.sh CA_STATUS_SERVER CA_STATUS_PUBLISH
# /health and /metrics must not walk the stored responses per request: with N responses stored,
# 400 requests to them add no more walked responses than the background passes account for
# (ca_status_freshness_responses_walked_total), and /metrics reports the store's content.
set -euo pipefail
SERVER_BIN=$1
PUBLISH_BIN=$2
source "$(dirname "$0")/lib.sh"

make_ca
N=400
# N certificates in one `openssl ca` run (the same CSR each time, serials from 0x010000).
mkdir many
cat > many.cnf <<'CNF'
[ca]
default_ca = int
[int]
database = many.idx
serial = many.serial
new_certs_dir = many
default_md = sha256
default_days = 30
policy = any
unique_subject = no
[any]
commonName = supplied
CNF
: > many.idx
echo 010000 > many.serial
csrs=()
for _ in $(seq 1 "$N"); do csrs+=(leaf1.csr); done
openssl ca -batch -notext -config many.cnf -cert int.pem -keyfile int.key -extfile ext.cnf \
  -extensions leaf -out many.out -infiles "${csrs[@]}" > many.log 2>&1 || { cat many.log >&2; fail "openssl ca"; }
certs=()
for f in many/*.pem; do certs+=(--cert "$f"); done
(( ${#certs[@]} == 2 * N )) || fail "made $(( ${#certs[@]} / 2 )) certificates, not $N"
publish --crl-key int.key --cert leaf1.pem --cert leaf2.pem "${certs[@]}"
TOTAL=$((N + 2))
expect_in publish.out "$TOTAL OCSP responses" "publication of $TOTAL responses"
start_server '["e2e-ca"]' 2

metric() {  # metric FILE NAME{labels}: its value
  grep -F "$2 " "$1" | grep -v '^#' | awk '{print $2}'
}
curl -s "$URL/metrics" > m1.txt
expect_in m1.txt "ca_ocsp_responses{issuer=\"e2e-ca\"} $TOTAL" "responses counted"
expect_in m1.txt 'ca_ocsp_stale_responses{issuer="e2e-ca"} 0' "no stale response"
expect_in m1.txt 'ca_crl_number{issuer="e2e-ca"} 1' "CRL number"
expect_in m1.txt 'ca_crl_age_seconds{issuer="e2e-ca"} [0-9]' "CRL age"
expect_in m1.txt 'ca_ocsp_oldest_response_age_seconds{issuer="e2e-ca"} [0-9]' "oldest response age"
expect_in m1.txt '^ca_status_freshness_age_seconds [0-9]' "freshness pass age"
P1=$(metric m1.txt ca_status_freshness_passes_total)
W1=$(metric m1.txt ca_status_freshness_responses_walked_total)
[[ -n "$P1" && -n "$W1" ]] || fail "freshness pass counters missing from /metrics"

: > load.cfg
for i in $(seq 1 200); do
  printf 'url = "%s/health"\noutput = "/dev/null"\nurl = "%s/metrics"\noutput = "/dev/null"\n' "$URL" "$URL" >> load.cfg
done
START=$(date +%s)
curl -s --no-progress-meter --parallel --parallel-max 8 -K load.cfg
ELAPSED=$(( $(date +%s) - START + 1 ))
curl -s "$URL/metrics" > m2.txt
curl -s -o health.json -w '%{http_code}' "$URL/health" > health.code
[[ $(cat health.code) == 200 ]] || fail "health is $(cat health.code): $(cat health.json)"
expect_in m2.txt 'ca_status_requests_total{endpoint="health",result="ok"} 200' "200 health requests answered"
expect_in m2.txt 'ca_status_requests_total{endpoint="metrics",result="ok"} 20[12]' "metrics requests answered"
P2=$(metric m2.txt ca_status_freshness_passes_total)
W2=$(metric m2.txt ca_status_freshness_responses_walked_total)
PASSES=$((P2 - P1))
WALKED=$((W2 - W1))
echo "400 requests in ~${ELAPSED}s: $PASSES background passes, $WALKED responses walked ($TOTAL stored)"
# One pass per second at most (a small store), each walking every response once.
(( PASSES <= ELAPSED + 1 )) || fail "$PASSES passes in ${ELAPSED}s"
(( WALKED == PASSES * TOTAL )) || fail "$WALKED responses walked by $PASSES passes of $TOTAL"
(( WALKED < 400 * TOTAL / 10 )) || fail "the work grows with the requests: $WALKED responses walked"
# The passes go on in the background (one per second on a store this small) and see new stale
# responses: two published with a 1 s validity are stale within ~3 s.
publish --cert leaf1.pem --cert leaf2.pem --ocsp-validity 1
sleep 3.5
curl -s "$URL/metrics" > m3.txt
P3=$(metric m3.txt ca_status_freshness_passes_total)
W3=$(metric m3.txt ca_status_freshness_responses_walked_total)
(( P3 > P2 )) || fail "no background pass in 3.5 s"
(( W3 - W2 == (P3 - P2) * TOTAL )) || fail "$((W3 - W2)) responses walked by $((P3 - P2)) passes of $TOTAL"
expect_in m3.txt 'ca_ocsp_stale_responses{issuer="e2e-ca"} 2' "stale responses seen by a background pass"
curl -s -o health2.json -w '%{http_code}' "$URL/health" > health2.code
[[ $(cat health2.code) == 503 ]] || fail "health is $(cat health2.code) with 2 stale responses"
expect_in health2.json '"stale_response_count":2' "health counts the stale responses"

kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
echo "health cost e2e: all checks passed"
