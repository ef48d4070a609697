#!/usr/bin/env bash
# clients_e2e.sh BUILD_DIR SOURCE_DIR
# Brings the dev appliance up (SoftHSM token, ceremony, policy, engine, status server, gateway, with
# pebble-challtestsrv as the validator's DNS), then:
#  1. drives certbot, lego, dehydrated and uacme through the shared interop harness
#     (../shared/interop/clients.sh): EAB, http-01 and dns-01, several SANs, renewal, revocation by
#     account and by certificate key, key rollover, deactivation;
#  2. checks with `openssl ocsp` and the CRL that the certificates those clients revoked are revoked
#     with their reason, and that `openssl verify -crl_check_all`, fed only with the root and what
#     the certificates' caIssuers and CRL distribution point URLs serve, refuses them;
#  3. runs appliance_cases.py: the refusals (problem type + operator result code) and lifecycles;
#  4. runs caddy_client.sh: Caddy issues and renews on the operator-defined ECDSA profile SSL_EC
#     (the shipped profiles plus profiles/examples/SSL_EC.json with one hour of validity) and is
#     refused on the default SSL profile.
# Stops every process it started, by PID.
set -uo pipefail
build=$1 src=$2
here=$src/tests/acme_clients
interop=${INTEROP_DIR:-$src/../shared/interop}
[ -x "$interop/clients.sh" ] || [ -f "$interop/clients.sh" ] || { echo "FAIL: interop harness not found at $interop"; exit 1; }

state=$(mktemp -d /tmp/acme-clients-e2e.XXXXXX)
. "$src/scripts/lib/dev_appliance.sh"
# The appliance's profiles: the shipped ones as they are, and the operator's SSL_EC for Caddy.
mkdir -p "$state/profiles"
cp "$src"/profiles/data/production/*.json "$state/profiles/"
/usr/bin/python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); del p["max_validity_days"]
p["max_validity_hours"]=1; json.dump(p, open(sys.argv[2], "w"), indent=2)' \
  "$src/profiles/examples/SSL_EC.json" "$state/profiles/SSL_EC.json"
export APPLIANCE_PROFILES_DIR=$state/profiles
# Its own dev appliance, on a free port base (each test its own slots: bases differ by 200).
test_appliance_up "$src" "$build" "$state" 21000 50 200 || exit 1

fails=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }

set -a; . "$state/appliance.env"; set +a
pass "dev appliance up: $ACME_DIR"

# Directory as a client sees it.
dir=$(curl -sf --cacert "$ACME_CA_BUNDLE" "$ACME_DIR")
if /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["meta"]["externalAccountRequired"] is True; assert "SSL" in d["meta"]["profiles"]' "$dir"; then
  pass "directory over HTTPS verified by the appliance root: externalAccountRequired, profiles"
else
  fail "directory: $dir"
fi

# ---------------------------------------------------------------- 1. real clients
# Two scenarios of the harness pass against Pebble but must fail here, by design:
#  - certbot-revoke asks for keyCompromise with a request signed by the ACME account key; this CA
#    accepts keyCompromise only when signed by the certificate key (as Let's Encrypt does), so it
#    answers badRevocationReason. The same revocation signed by the certificate key is done below.
#  - uacme-newkey rolls the account key over (that part must succeed), then `uacme -f issue`
#    re-certifies the same certificate key, which CA-5 refuses with badCSR.
out=$(SUFFIX=$SUFFIX bash "$interop/clients.sh" 2>&1)
echo "$out" | sed 's/^/    /'
work=$(sed -n 's/^logs: //p' <<<"$out")
passed=$(grep -c '^PASS ' <<<"$out")
unexpected=$(grep '^FAIL ' <<<"$out" | grep -v -E '^FAIL (certbot-revoke|uacme-newkey) ::')
if [ -z "$unexpected" ] && ((passed >= 10)); then
  pass "interop harness: $passed scenarios passed, failures limited to the two documented divergences"
else
  fail "interop harness: unexpected failures: ${unexpected:-only $passed passed}"
fi
if grep -q '^PASS certbot-revoke' <<<"$out"; then
  fail "certbot revoked with keyCompromise signed by the account key"
elif grep -q 'badRevocationReason' "$work/cb/logs/letsencrypt.log" &&
     grep -q 'keyCompromise must be requested with a JWS signed by the certificate key' "$work/cb/logs/letsencrypt.log"; then
  pass "certbot keyCompromise signed by the account key: badRevocationReason"
else
  fail "certbot-revoke failed for another reason (see $work/cb/logs/letsencrypt.log)"
fi
if grep -q '^PASS uacme-newkey' <<<"$out"; then
  fail "uacme re-certified a certificate key after its key rollover"
elif grep -q 'account key changed' "$work/ua-newkey.log" && grep -q 'badCSR' "$work/ua-newkey.log" &&
     grep -q 'certified before' "$work/ua-newkey.log"; then
  pass "uacme key rollover succeeded; re-certifying the old certificate key refused (badCSR, CA-5)"
else
  fail "uacme-newkey failed for another reason (see $work/ua-newkey.log)"
fi
# keyCompromise signed by the certificate key, with certbot.
if REQUESTS_CA_BUNDLE=$ACME_CA_BUNDLE certbot revoke --non-interactive --server "$ACME_DIR" --config-dir "$work/cb/conf" --work-dir "$work/cb/work" \
     --logs-dir "$work/cb/logs" --cert-path "$work/cb/conf/live/cbd/cert.pem" --key-path "$work/cb/conf/live/cbd/privkey.pem" \
     --reason keycompromise --no-delete-after-revoke >"$work/cb-revoke-certkey.log" 2>&1; then
  pass "certbot revoke --key-path (signed by the certificate key) with keyCompromise"
else
  fail "certbot revoke with the certificate key: $(grep -iE 'error|detail' "$work/cb-revoke-certkey.log" | tail -2)"
fi

# ---------------------------------------------------------------- 2. OCSP and CRL of revoked certificates
ocsp() { openssl ocsp -issuer "$INTERMEDIATE_CA_PEM" -cert "$1" -url "$OCSP_URL" -CAfile "$ROOT_CA_PEM" -no_nonce 2>&1; }
crl=$state/crl.der
curl -sf -o "$crl" "$CRL_URL" || fail "CRL download from $CRL_URL"
check_revoked() {  # check_revoked WHAT CERT OCSP_REASON CRL_REASON (empty: none to check)
  local what=$1 cert=$2 reason=$3 o
  if [ ! -f "$cert" ]; then fail "$what: no certificate at $cert"; return; fi
  o=$(ocsp "$cert")
  if grep -q "Response verify OK" <<<"$o" && grep -q ": revoked" <<<"$o" &&
     { [ -z "$reason" ] || grep -q "Reason: $reason" <<<"$o"; }; then
    pass "$what: OCSP says revoked ${reason:+($reason)}"
  else
    fail "$what: OCSP: $o"
  fi
  # The CRL is republished within a minute of a revocation.
  local serial; serial=$(openssl x509 -in "$cert" -noout -serial | cut -d= -f2)
  for _ in $(seq 70); do
    curl -sf -o "$crl" "$CRL_URL" && openssl crl -inform DER -in "$crl" -noout -text | grep -q "Serial Number: $serial" && break
    sleep 1
  done
  local text; text=$(openssl crl -inform DER -in "$crl" -noout -text)
  if grep -q "Serial Number: $serial" <<<"$text" && { [ -z "$4" ] || grep -A4 "Serial Number: $serial" <<<"$text" | grep -q "$4"; }; then
    pass "$what: CRL lists $serial ${4:+with reason $4}"
  else
    fail "$what: CRL lacks $serial with reason $4"
  fi
  # A relying party's path: only the root is known; the intermediate comes from the leaf's caIssuers
  # URL, each CRL from the distribution point its certificate names (the root's CRL for the
  # intermediate), and the whole chain is checked (-crl_check_all).
  local rp=$state/relying-party; mkdir -p "$rp"
  if fetch_issuer_and_crl "$cert" "$rp/int" && cmp -s "$rp/int.pem" "$INTERMEDIATE_CA_PEM" &&
     fetch_issuer_and_crl "$rp/int.pem" "$rp/root" && cmp -s "$rp/root.pem" "$ROOT_CA_PEM"; then
    pass "$what: caIssuers URLs give the intermediate and the root"
  else
    fail "$what: caIssuers / CRL distribution point downloads"
  fi
  local v; v=$(openssl verify -crl_check_all -CAfile "$ROOT_CA_PEM" -untrusted "$rp/int.pem" \
    -CRLfile "$rp/int.crl.pem" -CRLfile "$rp/root.crl.pem" "$cert" 2>&1)
  if grep -q "lookup: certificate revoked" <<<"$v"; then
    pass "$what: openssl verify -crl_check_all refuses it (certificate revoked)"
  else
    fail "$what: openssl verify -crl_check_all: $v"
  fi
  v=$(openssl verify -crl_check_all -CAfile "$ROOT_CA_PEM" -CRLfile "$rp/root.crl.pem" "$rp/int.pem" 2>&1)
  if grep -q ": OK" <<<"$v"; then
    pass "$what: the intermediate passes the root CRL check"
  else
    fail "$what: intermediate against the root CRL: $v"
  fi
}
# fetch_issuer_and_crl CERT OUT: OUT.pem = the certificate at CERT's caIssuers URL (DER),
# OUT.crl.pem = the CRL at CERT's CRL distribution point (DER), both served by the status server.
fetch_issuer_and_crl() {
  local ext issuer_url crl_url
  ext=$(openssl x509 -in "$1" -noout -ext authorityInfoAccess,crlDistributionPoints 2>/dev/null)
  issuer_url=$(grep -o 'CA Issuers - URI:[^ ]*' <<<"$ext" | head -1 | sed 's/^CA Issuers - URI://')
  crl_url=$(grep -A3 'CRL Distribution Points' <<<"$ext" | grep -o 'URI:[^ ]*' | head -1 | sed 's/^URI://')
  [ -n "$issuer_url" ] && [ -n "$crl_url" ] || return 1
  curl -sf -o "$2.der" "$issuer_url" && openssl x509 -inform DER -in "$2.der" -out "$2.pem" &&
    curl -sf -o "$2.crl.der" "$crl_url" && openssl crl -inform DER -in "$2.crl.der" -out "$2.crl.pem"
}
if [ -n "$work" ]; then
  check_revoked "certbot revoke with the certificate key" "$work/cb/conf/live/cbd/cert.pem" keyCompromise "Key Compromise"
  # uacme renames a certificate it revoked to revoked-<time>.pem (lego deletes it: its by-account
  # revocation is checked in appliance_cases.py).
  check_revoked "uacme revoke with the certificate key" "$(ls "$work"/ua/conf/*/revoked-*.pem | head -1)" "" ""
  [ -n "${KEEP_STATE:-}" ] || rm -rf "$work"
fi

# ---------------------------------------------------------------- 3. refusals and lifecycles
if /usr/bin/python3 "$here/appliance_cases.py" --env "$state/appliance.env" 2>&1 | sed 's/^/    /'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
  pass "appliance cases (refusals, lifecycles, issuance content)"
else
  fail "appliance cases"
  for f in "$state"/logs/*.log; do echo "== $f"; tail -15 "$f"; done
fi

# ---------------------------------------------------------------- 4. Caddy on an operator's profile
if bash "$here/caddy_client.sh" "$state" 2>&1 | sed 's/^/    /'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
  pass "caddy: issuance and renewal on SSL_EC, refused on SSL"
else
  fail "caddy"
fi

if ((fails)); then echo "$fails check(s) failed"; exit 1; fi
echo "all client end-to-end checks passed"
