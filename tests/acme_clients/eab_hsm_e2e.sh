#!/usr/bin/env bash
# eab_hsm_e2e.sh BUILD_DIR SOURCE_DIR — issue 18 (R21, R22) on the dev appliance, real processes:
#  - certbot registers with the demo EAB credentials: the engine verified the MAC in SoftHSM;
#  - the same MAC key with one character changed: refused, unauthorized BAD_SIGNATURE;
#  - ca-ra ext-account create --recipient-key: the output holds no MAC key in clear, the hand-over
#    opens with the requester's private key via openssl, and certbot registers with what came out;
#  - the gateway's configuration names no MAC-key material.
# Stops every process it started, by PID (scripts/lib/dev_appliance.sh).
set -uo pipefail
build=$1 src=$2
state=$(mktemp -d /tmp/eab-hsm-e2e.XXXXXX)
. "$src/scripts/lib/dev_appliance.sh"
test_appliance_up "$src" "$build" "$state" 21400 50 200 || exit 1
set -a; . "$state/appliance.env"; set +a
export REQUESTS_CA_BUNDLE=$ACME_CA_BUNDLE
fails=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
register() {  # register KID HMAC NAME -> certbot's output
  timeout 120 certbot register --non-interactive --server "$ACME_DIR" --eab-kid "$1" --eab-hmac-key "$2" \
    -m ops@demo.test --agree-tos --config-dir "$state/cb-$3" --work-dir "$state/cb-$3" --logs-dir "$state/cb-$3" 2>&1
}

out=$(register "$EAB_KID" "$EAB_HMAC" good)
if grep -q "Account registered" <<<"$out"; then pass "certbot registers; the engine verified the EAB in the HSM"; else fail "good EAB: $out"; fi

bad=$(python3 -c 'import sys; s=sys.argv[1]; print(("B" if s[0] != "B" else "C") + s[1:])' "$EAB_HMAC")
out=$(register "$EAB_KID" "$bad" tampered)
if grep -q "BAD_SIGNATURE" <<<"$out" && ! grep -q "Account registered" <<<"$out"; then
  pass "tampered MAC refused: BAD_SIGNATURE"
else
  fail "tampered MAC: $out"
fi
if grep -q '"reason":"wrong MAC"' "$state"/logs/gateway*.log 2>/dev/null; then pass "gateway logged eab_refused wrong MAC"; else fail "no eab_refused in the gateway log"; fi

if grep -q "mac_wrap" "$state/gateway.json"; then fail "gateway.json names MAC-key material"; else pass "gateway.json names no MAC-key material"; fi

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$state/requester.key" 2>/dev/null
openssl pkey -in "$state/requester.key" -pubout -out "$state/requester.pub.pem"
org=$($RA_CLI --json org list | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
created=$($RA_CLI --json ext-account create --org "$org" --contact "Hand Over" --profiles SSL --active \
            --recipient-key "$state/requester.pub.pem")
if python3 -c 'import json,sys; j=json.loads(sys.argv[1]); sys.exit("mac_key" in j or not j.get("mac_key_encrypted"))' "$created"; then
  pass "hand-over output: mac_key_encrypted only"
else
  fail "hand-over output: $created"
fi
kid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["kid"])' "$created")
hmac=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["mac_key_encrypted"])' "$created" | base64 -d |
       openssl pkeyutl -decrypt -inkey "$state/requester.key" -pkeyopt rsa_padding_mode:oaep \
         -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256)
[[ $hmac =~ ^[A-Za-z0-9_-]{43}$ ]] && pass "opened with openssl: a 43-character base64url MAC key" || fail "opened: '$hmac'"
out=$(register "$kid" "$hmac" handed)
if grep -q "Account registered" <<<"$out"; then pass "certbot registers with the handed-over key"; else fail "handed-over key: $out"; fi

refused=$($RA_CLI ext-account create --org "$org" --contact "No Choice" 2>&1)
grep -q -- "--recipient-key" <<<"$refused" && pass "create without a hand-over choice refused" || fail "no choice: $refused"

[ "$fails" = 0 ] && echo "PASS eab_hsm_e2e" || echo "FAIL eab_hsm_e2e: $fails check(s)"
exit $((fails > 0))
