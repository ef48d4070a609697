#!/usr/bin/env bash
# staging_e2e.sh BUILD_DIR SOURCE_DIR
# The staging service (CA-8, ANSSI R53/R54) of the dev appliance, driven by Debian's certbot:
#  1. certbot (EAB, http-01, RSA-3072) issues on the staging directory; the certificate says TEST
#     in its CN, carries the staging policy OID, is issued by the staging intermediate, verifies
#     against the staging root and not against the production root (nor the reverse);
#  2. the staging responder says good, then (after certbot revoke) revoked; the CRL at the
#     certificate's distribution point lists it and `openssl verify -crl_check` refuses it;
#  3. an external account the RA did not admit to staging is refused (unauthorized,
#     STAGING_NOT_ALLOWED) and binds no account; admitted with `--staging yes`, it registers;
#  4. production issuance beside it: no TEST, the production root, not the staging root.
# Stops every process it started, by PID.
set -uo pipefail
build=$1 src=$2
state=$(mktemp -d /tmp/acme-staging-e2e.XXXXXX)
. "$src/scripts/lib/dev_appliance.sh"
# Its own dev appliance (staging per account, the demo account admitted) on a free port base.
test_appliance_up "$src" "$build" "$state" 24000 40 200 || exit 1

fails=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
set -a; . "$state/appliance.env"; set +a
[ -n "${STAGING_DIRECTORY_URL:-}" ] && [ -f "${STAGING_ROOT:-}" ] || { echo "FAIL: no staging in appliance.env"; exit 1; }
pass "dev appliance up: production $ACME_DIR, staging $STAGING_DIRECTORY_URL"
work=$state/work; mkdir -p "$work"
run=$(openssl rand -hex 3)
export REQUESTS_CA_BUNDLE=$ACME_CA_BUNDLE  # both directories are served with the gateway's certificate
# certbot_on DIR_URL CONF KID HMAC ARGS...: certbot with its own config dir and EAB credentials.
certbot_on() {
  local url=$1 conf=$2 kid=$3 hmac=$4; shift 4
  timeout 60 certbot --non-interactive --agree-tos --email "ops@$SUFFIX" --server "$url" --eab-kid "$kid" \
    --eab-hmac-key "$hmac" --config-dir "$work/$conf/conf" --work-dir "$work/$conf/work" --logs-dir "$work/$conf/logs" \
    --key-type rsa --rsa-key-size 3072 "$@"
}
issue() {  # issue DIR_URL CONF DOMAIN: certonly, http-01 standalone on the validator's port
  certbot_on "$1" "$2" "$EAB_KID" "$EAB_HMAC" certonly --standalone --http-01-address 127.0.0.1 \
    --http-01-port "$HTTP01_PORT" -d "$3" --cert-name "$2" >"$work/$2.log" 2>&1
}
verifies() {  # verifies ROOT INTERMEDIATE CERT: openssl verify says OK
  openssl verify -CAfile "$1" -untrusted "$2" "$3" 2>&1 | grep -q ": OK$"
}

# ---------------------------------------------------------------- 1. issuance on staging
d=stg-$run.$SUFFIX
if issue "$STAGING_DIRECTORY_URL" stg "$d"; then pass "certbot issued $d on staging (RSA-3072, EAB, http-01)"; else
  fail "certbot on staging: $(grep -iE 'error|detail' "$work/stg.log" | tail -3)"; fi
cert=$work/stg/conf/live/stg/cert.pem
text=$(openssl x509 -in "$cert" -noout -text 2>&1)
subject=$(openssl x509 -in "$cert" -noout -subject -nameopt RFC2253 2>&1)
if [[ $subject == *"CN=TEST $d"* ]]; then pass "subject CN is 'TEST $d'"; else fail "subject: $subject"; fi
if grep -q "Public-Key: (3072 bit)" <<<"$text"; then pass "RSA-3072 key"; else fail "key: $(grep Public-Key <<<"$text")"; fi
if [ "$(openssl x509 -in "$cert" -noout -issuer)" = "issuer=$(openssl x509 -in "$STAGING_INTERMEDIATE_PEM" -noout -subject | sed 's/^subject=//')" ] &&
   [[ $(openssl x509 -in "$STAGING_INTERMEDIATE_PEM" -noout -subject) == *TEST* ]]; then
  pass "issuer is the staging intermediate ($(openssl x509 -in "$STAGING_INTERMEDIATE_PEM" -noout -subject))"
else
  fail "issuer: $(openssl x509 -in "$cert" -noout -issuer)"
fi
if grep -q "Policy: 1.3.6.1.4.1.32473.9.1.1" <<<"$text" && ! grep -q "Policy: 1.3.6.1.4.1.32473.1.1.1" <<<"$text"; then
  pass "staging policy OID 1.3.6.1.4.1.32473.9.1.1, not production's"
else
  fail "policies: $(grep Policy: <<<"$text")"
fi
if verifies "$STAGING_ROOT" "$STAGING_INTERMEDIATE_PEM" "$cert"; then pass "verifies against the staging root"; else
  fail "staging verify: $(openssl verify -CAfile "$STAGING_ROOT" -untrusted "$STAGING_INTERMEDIATE_PEM" "$cert" 2>&1)"; fi
if verifies "$ROOT_CA_PEM" "$STAGING_INTERMEDIATE_PEM" "$cert" || verifies "$ROOT_CA_PEM" "$INTERMEDIATE_CA_PEM" "$cert"; then
  fail "the staging certificate verifies against the production root"
else
  pass "does not verify against the production root ($(openssl verify -CAfile "$ROOT_CA_PEM" -untrusted "$STAGING_INTERMEDIATE_PEM" "$cert" 2>&1 | grep -o 'error [0-9]*.*' | head -1))"
fi
if verifies "$STAGING_ROOT" "$STAGING_INTERMEDIATE_PEM" "$INTERMEDIATE_CA_PEM" || verifies "$ROOT_CA_PEM" "$INTERMEDIATE_CA_PEM" "$STAGING_INTERMEDIATE_PEM"; then
  fail "the two hierarchies cross-verify"
else
  pass "the production intermediate does not verify against the staging root, nor the reverse"
fi

# ---------------------------------------------------------------- 2. OCSP and CRL of staging
ext=$(openssl x509 -in "$cert" -noout -ext authorityInfoAccess,crlDistributionPoints 2>&1)
ocsp_url=$(grep -o 'OCSP - URI:[^ ]*' <<<"$ext" | sed 's/^OCSP - URI://')
crl_url=$(grep -A3 'CRL Distribution Points' <<<"$ext" | grep -o 'URI:[^ ]*' | head -1 | sed 's/^URI://')
if [ "$ocsp_url" = "$STAGING_OCSP_URL" ] && [[ $crl_url == "$STAGING_STATUS_URL"/crl/* ]]; then
  pass "AIA OCSP $ocsp_url and CRLDP $crl_url name the staging status server"
else
  fail "AIA/CRLDP: $ext"
fi
ocsp() { openssl ocsp -issuer "$STAGING_INTERMEDIATE_PEM" -cert "$cert" -url "$ocsp_url" -CAfile "$STAGING_ROOT" -no_nonce 2>&1; }
o=$(ocsp)
if grep -q "Response verify OK" <<<"$o" && grep -q "$cert: good" <<<"$o"; then pass "staging OCSP: good"; else fail "staging OCSP: $o"; fi
if certbot_on "$STAGING_DIRECTORY_URL" stg "$EAB_KID" "$EAB_HMAC" revoke --cert-path "$cert" --reason superseded \
     --no-delete-after-revoke >"$work/stg-revoke.log" 2>&1; then
  pass "certbot revoke on staging (superseded)"
else
  fail "certbot revoke: $(grep -iE 'error|detail' "$work/stg-revoke.log" | tail -2)"
fi
o=$(ocsp)
if grep -q "Response verify OK" <<<"$o" && grep -q "$cert: revoked" <<<"$o" && grep -q "Reason: superseded" <<<"$o"; then
  pass "staging OCSP: revoked (superseded)"
else
  fail "staging OCSP after revoke: $o"
fi
# ---------------------------------------------------------------- 3. an account not admitted to staging
org=$($RA_CLI --json ext-account show "$EAB_KID" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["organization_id"])')
read -r kid2 hmac2 < <($RA_CLI --json ext-account create --org "$org" --contact "Production Only" --profiles SSL --active --show-mac-key |
  /usr/bin/python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["kid"], j["mac_key"])')
# The staging gateway's accounts and their indexes, as LMDB counts them.
bindings() {
  mdb_stat -a "$state/gateway-store-staging" | grep -A5 -E "Status of (accounts|account_keys|key_index|external_account_members)$" |
    grep -E "Status of|Entries"
}
accounts_before=$(bindings)
if certbot_on "$STAGING_DIRECTORY_URL" refused "$kid2" "$hmac2" register >"$work/refused.log" 2>&1; then
  fail "an external account not admitted to staging registered on it"
elif grep -q "{\"detail\":\"STAGING_NOT_ALLOWED: $kid2\",\"status\":403,\"type\":\"urn:ietf:params:acme:error:unauthorized\"}" \
       "$work/refused/logs/letsencrypt.log"; then
  pass "not admitted to staging: unauthorized, STAGING_NOT_ALLOWED"
else
  fail "refusal: $(grep -iE 'error|detail' "$work/refused.log" | tail -2)"
fi
# The refusal bound nothing: the staging gateway's accounts and their indexes are as before.
if [ -n "$accounts_before" ] && [ "$(bindings)" = "$accounts_before" ]; then
  pass "the refusal bound no account in the staging gateway's store ($(grep -c Entries <<<"$accounts_before") tables unchanged)"
else
  fail "the staging gateway's store changed on a refusal"
fi
$RA_CLI ext-account update "$kid2" --staging yes >/dev/null
if certbot_on "$STAGING_DIRECTORY_URL" refused "$kid2" "$hmac2" register >"$work/admitted.log" 2>&1 &&
   grep -q "Account registered" "$work/admitted.log"; then
  pass "admitted by the RA (ext-account update --staging yes): it registers on staging"
else
  fail "after --staging yes: $(grep -iE 'error|detail' "$work/admitted.log" | tail -2)"
fi

# ---------------------------------------------------------------- 4. production beside it
d=prod-$run.$SUFFIX
pcert=$work/prod/conf/live/prod/cert.pem
if issue "$ACME_DIR" prod "$d" && verifies "$ROOT_CA_PEM" "$INTERMEDIATE_CA_PEM" "$pcert" &&
   ! verifies "$STAGING_ROOT" "$INTERMEDIATE_CA_PEM" "$pcert" &&
   ! openssl x509 -in "$pcert" -noout -subject | grep -q TEST &&
   openssl x509 -in "$pcert" -noout -text | grep -q "Policy: 1.3.6.1.4.1.32473.1.1.1"; then
  pass "production issuance beside staging: $(openssl x509 -in "$pcert" -noout -subject), production root only"
else
  fail "production issuance: $(grep -iE 'error|detail' "$work/prod.log" | tail -2)"
fi

# ---------------------------------------------------------------- 2b. the staging CRL (last: the
# engine republishes it within its revocation delay, 30 s, which sections 3 and 4 mostly cover)
serial=$(openssl x509 -in "$cert" -noout -serial | cut -d= -f2)
for _ in $(seq 90); do  # the engine republishes the CRL soon after a revocation it does not list
  curl -sf -o "$work/crl.der" "$crl_url" && openssl crl -inform DER -in "$work/crl.der" -out "$work/crl.pem" 2>/dev/null &&
    openssl crl -in "$work/crl.pem" -noout -text | grep -q "Serial Number: $serial" && break
  sleep 1
done
v=$(openssl verify -crl_check -CAfile "$STAGING_ROOT" -untrusted "$STAGING_INTERMEDIATE_PEM" -CRLfile "$work/crl.pem" "$cert" 2>&1)
if openssl crl -in "$work/crl.pem" -noout -text | grep -q "Serial Number: $serial" && grep -q "certificate revoked" <<<"$v" &&
   openssl crl -in "$work/crl.pem" -noout -issuer | grep -q TEST; then
  pass "the staging CRL at $crl_url lists $serial; openssl verify -crl_check: certificate revoked"
else
  fail "staging CRL: $v"
fi

if ((fails)); then
  for f in "$state"/logs/*.log; do echo "== $f"; tail -15 "$f"; done
  echo "$fails check(s) failed"; exit 1
fi
echo "all staging end-to-end checks passed"
