#!/usr/bin/env bash
# usage: status_e2e.sh CA_STATUS_SERVER CA_STATUS_PUBLISH
set -euo pipefail
SERVER_BIN=$1
PUBLISH_BIN=$2
source "$(dirname "$0")/lib.sh"

# --- a software CA: root, intermediate, delegated OCSP signer (ocsp-nocheck), two leaves -------
make_ca
publish --crl-key int.key --cert leaf1.pem --cert leaf2.pem
expect_in publish.out "published crl number 1 with 0 entries; 2 OCSP responses" "first publication"

# The offline root's CRL, signed elsewhere (here by `openssl ca`; on the appliance by the key
# ceremony), imported through the publish guard; the root is served as an issuer of its own.
cat > rootca.cnf <<'CNF'
[ca]
default_ca = root
[root]
database = index.txt
crlnumber = crlnumber
default_md = sha256
default_crl_days = 30
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
CNF
: > index.txt
echo 05 > crlnumber
q openssl ca -config rootca.cnf -gencrl -keyfile root.key -cert root.pem -out root-crl.pem
import_root_crl() {
  "$PUBLISH_BIN" import-crl --store store --issuer-name root --issuer root.pem --crl root-crl.pem \
    > import.out 2> import.err
}
import_root_crl || { cat import.err >&2; fail "root CRL import"; }
expect_in import.out "published crl number 5 of root with 0 entries" "root CRL imported"
import_root_crl || fail "re-running the same import: $(cat import.err)"
expect_in import.out "published crl number 5 of root (already)" "re-import is idempotent"
# An older CRL of the root is refused by the publish guard.
echo 04 > crlnumber
q openssl ca -config rootca.cnf -gencrl -keyfile root.key -cert root.pem -out root-crl-old.pem
if "$PUBLISH_BIN" import-crl --store store --issuer-name root --issuer root.pem --crl root-crl-old.pem \
  > /dev/null 2> import.err; then fail "an older root CRL was imported"; fi
expect_in import.err "not greater" "older root CRL refused by the publish guard"
if "$PUBLISH_BIN" import-crl --store store --issuer-name root --issuer int.pem --crl root-crl.pem \
  > /dev/null 2> import2.err; then fail "root CRL imported under another issuer certificate"; fi
# A CRL that is not the named issuer's is refused before anything is registered.
if "$PUBLISH_BIN" import-crl --store store --issuer-name other-root --issuer int.pem --crl root-crl.pem \
  > /dev/null 2> import3.err; then fail "root CRL imported under the intermediate's certificate"; fi
expect_in import3.err "the CRL is not from this issuer" "CRL of another issuer refused by its content"

# --- the server, on a free port it picks and logs ------------------------------------------------
start_server '["e2e-ca", "root"]' 2

# good, verified (SHA-1 CertID, POST), then with a SHA-256 CertID
ocsp good.txt -cert leaf1.pem
expect_in good.txt "Response verify OK" "leaf1 response verifies"
expect_in good.txt "leaf1.pem: good" "leaf1 good"
ocsp good256.txt -sha256 -cert leaf2.pem
expect_in good256.txt "Response verify OK" "SHA-256 CertID response verifies"
expect_in good256.txt "leaf2.pem: good" "leaf2 good with a SHA-256 CertID"

curl -s -o health.json -w '%{http_code}' "$URL/health" > health.code
[[ $(cat health.code) == 200 ]] || fail "health is $(cat health.code) while everything is fresh: $(cat health.json)"

# GET (RFC 5019): base64 of the DER request in the path; caching headers.
openssl ocsp -issuer int.pem -cert leaf1.pem -no_nonce -reqout req.der >/dev/null 2>&1
B64=$(base64 -w0 < req.der)
curl -s -D get.headers -o get.der "$URL/ocsp/$B64"
expect_in get.headers "HTTP/1.1 200" "GET status"
expect_in get.headers "Content-Type: application/ocsp-response" "GET content type"
expect_in get.headers "Cache-Control: max-age=[0-9]*, public, no-transform, must-revalidate" "Cache-Control"
expect_in get.headers "Last-Modified: " "Last-Modified"
expect_in get.headers "Expires: " "Expires"
expect_in get.headers 'ETag: "[0-9a-f]*"' "ETag"
MAXAGE=$(grep -o 'max-age=[0-9]*' get.headers | cut -d= -f2)
(( MAXAGE > 0 && MAXAGE <= 600 )) || fail "max-age $MAXAGE not within the 600 s policy"
openssl ocsp -respin get.der -issuer int.pem -cert leaf1.pem -CAfile chain.pem > get.txt 2>&1 || true
expect_in get.txt "leaf1.pem: good" "GET answer"
ETAG=$(grep -o 'ETag: "[0-9a-f]*"' get.headers | cut -d' ' -f2)
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$URL/ocsp/$B64")
[[ $CODE == 304 ]] || fail "conditional GET gave $CODE, not 304"
# base64url form of the same request
B64URL=$(printf '%s' "$B64" | tr '+/' '-_' | tr -d '=')
curl -s -o geturl.der "$URL/ocsp/$B64URL"
cmp -s get.der geturl.der || fail "base64url GET differs from base64 GET"

# A request with a nonce still gets the pre-signed response (clients must not require the nonce).
ocsp nonce.txt -cert leaf2.pem -nonce
expect_in nonce.txt "leaf2.pem: good" "nonce request answered"

# --- revoke leaf1 with keyCompromise ------------------------------------------------------------
SERIAL1=$(openssl x509 -in leaf1.pem -noout -serial | cut -d= -f2)
echo "$SERIAL1 keyCompromise" > revoked.txt
publish --crl-key int.key --revocations revoked.txt --cert leaf1.pem --cert leaf2.pem
expect_in publish.out "published crl number 2 with 1 entries" "second CRL"
ocsp revoked.txt.out -cert leaf1.pem
expect_in revoked.txt.out "Response verify OK" "revoked response verifies"
expect_in revoked.txt.out "leaf1.pem: revoked" "leaf1 revoked"
expect_in revoked.txt.out "Reason: keyCompromise" "revocation reason"
# The same GET URL as before now answers revoked (the server's per-thread cache never hides a change).
curl -s -o get2.der "$URL/ocsp/$B64"
openssl ocsp -respin get2.der -issuer int.pem -cert leaf1.pem -CAfile chain.pem > get2.txt 2>&1 || true
expect_in get2.txt "leaf1.pem: revoked" "GET after revocation"
expect_in get2.txt "Reason: keyCompromise" "GET after revocation carries the reason"
ocsp still.txt -cert leaf2.pem
expect_in still.txt "leaf2.pem: good" "leaf2 still good"

# --- unknown serial and another issuer: unauthorized, never good --------------------------------
openssl ocsp -issuer int.pem -serial 0x999999 -url "$URL/ocsp" -CAfile chain.pem > unknown.txt 2>&1 || true
expect_in unknown.txt "Responder Error: unauthorized" "unknown serial"
openssl ocsp -issuer root.pem -serial 0x10 -url "$URL/ocsp" -CAfile chain.pem > otherissuer.txt 2>&1 || true
expect_in otherissuer.txt "Responder Error: unauthorized" "another issuer"
# malformed POST body
printf 'not der' > junk.bin
curl -s -o junk.der -H 'Content-Type: application/ocsp-request' --data-binary @junk.bin "$URL/ocsp"
openssl ocsp -respin junk.der -resp_text -noverify > junk.txt 2>&1 || true
expect_in junk.txt "Responder Error: malformedrequest" "malformed request"

# two CertIDs in one request (RFC 5019: one) and an unsupported CertID hash
ocsp two.txt -cert leaf1.pem -cert leaf2.pem
expect_in two.txt "Responder Error: malformedrequest" "two CertIDs"
ocsp sha384.txt -sha384 -cert leaf2.pem
expect_in sha384.txt "Responder Error: unauthorized" "SHA-384 CertID"
# oversized POST, bad GET path, wrong content type
head -c 2000 /dev/zero | tr '\0' 'A' > big.bin
curl -s -o big.der -H 'Content-Type: application/ocsp-request' --data-binary @big.bin "$URL/ocsp"
openssl ocsp -respin big.der -resp_text -noverify > big.txt 2>&1 || true
expect_in big.txt "Responder Error: malformedrequest" "oversized request"
curl -s -o badget.der "$URL/ocsp/not*base64"
openssl ocsp -respin badget.der -resp_text -noverify > badget.txt 2>&1 || true
expect_in badget.txt "Responder Error: malformedrequest" "bad GET path"
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' --data-binary @req.der "$URL/ocsp")
[[ $CODE == 415 ]] || fail "POST with a wrong Content-Type gave $CODE"

# --- the CRL over HTTP ----------------------------------------------------------------------------
curl -s -D crl.headers -o crl.der "$URL/crl/e2e-ca.crl"
expect_in crl.headers "Content-Type: application/pkix-crl" "CRL content type"
expect_in crl.headers "Cache-Control: max-age=" "CRL caching"
openssl crl -inform DER -in crl.der -out crl.pem
openssl crl -in crl.pem -noout -text > crl.txt
expect_in crl.txt "Serial Number: $SERIAL1" "CRL lists leaf1"
expect_in crl.txt "Key Compromise" "CRL reason"
expect_in crl.txt "X509v3 CRL Number" "CRL number"
expect_in crl.txt "X509v3 Authority Key Identifier" "CRL AKI"
openssl verify -crl_check -CRLfile crl.pem -CAfile chain.pem leaf1.pem > verify1.txt 2>&1 || true
expect_in verify1.txt "certificate revoked" "leaf1 fails the CRL check"
openssl verify -crl_check -CRLfile crl.pem -CAfile chain.pem leaf2.pem > verify2.txt 2>&1 || fail "leaf2 verify: $(cat verify2.txt)"
expect_in verify2.txt "leaf2.pem: OK" "leaf2 passes the CRL check"
CODE=$(curl -s -o /dev/null -w '%{http_code}' "$URL/crl/nope.crl")
[[ $CODE == 404 ]] || fail "unknown CRL gave $CODE"

# The root's CRL and the issuers' certificates (the CRL distribution point and caIssuers URLs):
# the whole chain checks against CRLs fetched from the server.
curl -s -D rootcrl.headers -o rootcrl.der "$URL/crl/root.crl"
expect_in rootcrl.headers "Content-Type: application/pkix-crl" "root CRL content type"
openssl crl -inform DER -in rootcrl.der -out rootcrl.pem
openssl crl -in rootcrl.pem -noout -text > rootcrl.txt
expect_in rootcrl.txt "Issuer: CN = E2E Test Root" "root CRL issuer"
expect_in rootcrl.txt "X509v3 CRL Number: *$" "root CRL number"
grep -A1 "X509v3 CRL Number" rootcrl.txt | grep -q "^ *5$" || fail "root CRL number is not 5: $(cat rootcrl.txt)"
openssl verify -crl_check_all -CRLfile crl.pem -CRLfile rootcrl.pem -CAfile chain.pem leaf2.pem > verify3.txt 2>&1 \
  || fail "chain with both CRLs: $(cat verify3.txt)"
openssl verify -crl_check_all -CRLfile crl.pem -CAfile chain.pem leaf2.pem > verify4.txt 2>&1 || true
expect_in verify4.txt "unable to get certificate CRL" "crl_check_all needs the root CRL"
for name in root e2e-ca; do
  curl -s -D "ca-$name.headers" -o "ca-$name.der" "$URL/ca/$name.der"
  expect_in "ca-$name.headers" "HTTP/1.1 200" "caIssuers $name status"
  expect_in "ca-$name.headers" "Content-Type: application/pkix-cert" "caIssuers $name content type"
  expect_in "ca-$name.headers" 'ETag: "[0-9a-f]*"' "caIssuers $name ETag"
done
openssl x509 -in root.pem -outform DER -out root.der
openssl x509 -in int.pem -outform DER -out int.der
cmp -s ca-root.der root.der || fail "/ca/root.der is not the root certificate"
cmp -s ca-e2e-ca.der int.der || fail "/ca/e2e-ca.der is not the issuing CA certificate"
ETAG=$(grep -o 'ETag: "[0-9a-f]*"' ca-root.headers | cut -d' ' -f2)
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$URL/ca/root.der")
[[ $CODE == 304 ]] || fail "conditional GET of the root certificate gave $CODE, not 304"
CODE=$(curl -s -o /dev/null -w '%{http_code}' "$URL/ca/nope.der")
[[ $CODE == 404 ]] || fail "unknown CA certificate gave $CODE"

# --- staleness: a response past nextUpdate is never served; /health names it --------------------
publish --cert leaf2.pem --ocsp-validity 2
sleep 3
SERIAL2=$(openssl x509 -in leaf2.pem -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
curl -s -o health2.json -w '%{http_code}' "$URL/health" > health2.code
[[ $(cat health2.code) == 503 ]] || fail "health is $(cat health2.code) with a stale response"
expect_in health2.json "\"serial\":\"$SERIAL2\"" "health names the stale serial"
ocsp stale.txt -cert leaf2.pem
expect_in stale.txt "Responder Error: trylater" "stale response withheld"
expect_in server.log '"event":"ocsp_stale_response"' "stale response logged"

curl -s "$URL/metrics" > metrics.txt
expect_in metrics.txt 'ca_status_requests_total{endpoint="ocsp",result="good"} [1-9]' "metrics count good answers"
expect_in metrics.txt 'ca_status_requests_total{endpoint="ocsp",result="tryLater"} [1-9]' "metrics count tryLater"
expect_in metrics.txt 'ca_crl_number{issuer="e2e-ca"} 2' "metrics CRL number"
expect_in metrics.txt 'ca_crl_number{issuer="root"} 5' "metrics root CRL number"
expect_in metrics.txt 'ca_status_requests_total{endpoint="ca",result="ok"} 2' "metrics count CA certificates served"
expect_in metrics.txt 'ca_ocsp_stale_responses{issuer="e2e-ca"} 1' "metrics stale count"

kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
echo "status e2e: all checks passed"
