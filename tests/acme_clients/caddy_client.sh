#!/usr/bin/env bash
# caddy_client.sh STATE: Caddy (Debian's caddy 2.6, its ACME issuer with EAB) against the running dev
# appliance whose profiles directory holds the operator-defined profile SSL_EC (ECDSA keys, one hour
# of validity here; profiles/examples/SSL_EC.json). Run by clients_e2e.sh after it brought the
# appliance up. Checks:
#  1. an external account granted SSL_EC: Caddy (its default ECDSA P-256 key, http-01 on the port
#     the validator connects to) gets a certificate issued by the appliance's intermediate, with the
#     EC P-256 key, the name as SAN, SSL_EC's policy OID and keyUsage digitalSignature only;
#  2. renewal: Caddy 2.6 renews with the same key (renewal window ratio 0.99 of the hour), which
#     this CA refuses (badCSR, a key is never certified twice, R37); with its certificate and key
#     removed from its storage Caddy orders again with a fresh key: a new serial, same checks;
#  3. the same Caddy on the demo account (default profile SSL) is refused at finalize with badCSR
#     and ACME_ORDER_FINALIZE_ERROR: the shipped profiles still take RSA-3072 only.
# Each Caddy runs with its own storage, admin off, bound to 127.0.0.1, stopped by its PID.
set -uo pipefail
state=$1
set -a; . "$state/appliance.env"; set +a
command -v caddy >/dev/null || { echo "FAIL - caddy not installed (scripts/install-deps.sh)"; exit 1; }
fails=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
ra() { $RA_CLI --actor caddy-e2e "$@"; }
json_field() { /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
SSL_EC_POLICY_OID=1.3.6.1.4.1.32473.1.1.5
work=$state/caddy
mkdir -p "$work"
caddy_pid=""
stop_caddy() { [ -n "$caddy_pid" ] && kill "$caddy_pid" 2>/dev/null && wait "$caddy_pid" 2>/dev/null; caddy_pid=""; }
trap stop_caddy EXIT

# start_caddy DIR NAME KID HMAC RATIO: Caddyfile (acme_ca, acme_eab, acme_ca_root), adapted to JSON
# with the renewal window ratio and a 5 s maintenance interval (the Caddyfile of 2.6 has neither).
start_caddy() {
  local dir=$1 name=$2 kid=$3 hmac=$4 ratio=$5
  mkdir -p "$dir/storage" "$dir/home"
  (umask 077; cat >"$dir/Caddyfile" <<EOF
{
	admin off
	default_bind 127.0.0.1
	http_port $HTTP01_PORT
	https_port $TLSALPN01_PORT
	storage file_system {
		root $dir/storage
	}
	acme_ca $ACME_DIR
	acme_ca_root $ROOT_CA_PEM
	acme_eab {
		key_id $kid
		mac_key $hmac
	}
	email ops@$SUFFIX
}
$name {
	respond "caddy e2e"
}
EOF
  HOME=$dir/home caddy adapt --config "$dir/Caddyfile" --adapter caddyfile 2>"$dir/adapt.log" |
    /usr/bin/python3 -c 'import json,sys
c = json.load(sys.stdin); a = c["apps"]["tls"].setdefault("automation", {})
a["renew_interval"] = "5s"
for p in a.get("policies", []): p["renewal_window_ratio"] = float(sys.argv[1])
json.dump(c, sys.stdout)' "$ratio" >"$dir/caddy.json") || { fail "caddy adapt: $(tail -2 "$dir/adapt.log")"; return 1; }
  HOME=$dir/home XDG_DATA_HOME=$dir/home XDG_CONFIG_HOME=$dir/home caddy run --config "$dir/caddy.json" >"$dir/caddy.log" 2>&1 &
  caddy_pid=$!
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds or Caddy exits.
wait_for() {
  local n=$1; shift
  for _ in $(seq "$n"); do
    "$@" && return 0
    kill -0 "$caddy_pid" 2>/dev/null || return 1
    sleep 1
  done
  return 1
}
cert_of() { find "$1/storage/certificates" -name "$2.crt" 2>/dev/null | head -1; }
has_cert() { [ -n "$(cert_of "$1" "$2")" ]; }
serial_of() { openssl x509 -in "$1" -noout -serial 2>/dev/null | cut -d= -f2; }

# check_cert WHAT CERT NAME: the certificate's content.
check_cert() {
  local what=$1 cert=$2 name=$3 text
  text=$(openssl x509 -in "$cert" -noout -text)
  if [ "$(openssl x509 -in "$cert" -noout -issuer)" = "issuer=$(openssl x509 -in "$INTERMEDIATE_CA_PEM" -noout -subject | sed 's/^subject=//')" ] &&
     openssl verify -CAfile "$ROOT_CA_PEM" -untrusted "$INTERMEDIATE_CA_PEM" "$cert" >/dev/null 2>&1; then
    pass "$what: issued by the appliance's intermediate (chain verifies to the root)"
  else
    fail "$what: issuer $(openssl x509 -in "$cert" -noout -issuer)"
  fi
  if grep -q "id-ecPublicKey" <<<"$text" && grep -q "ASN1 OID: prime256v1" <<<"$text"; then
    pass "$what: EC P-256 key (Caddy's default)"
  else
    fail "$what: key: $(grep -A2 'Public Key Algorithm' <<<"$text" | tr -s ' ' | tr '\n' ' ')"
  fi
  local san; san=$(openssl x509 -in "$cert" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')
  [ "$san" = "DNS:$name" ] && pass "$what: SAN is DNS:$name" || fail "$what: SAN $san"
  grep -q "Policy: $SSL_EC_POLICY_OID" <<<"$text" && pass "$what: SSL_EC's policy OID $SSL_EC_POLICY_OID" ||
    fail "$what: policies $(grep 'Policy:' <<<"$text" | tr -s ' ' | tr '\n' ' ')"
  local ku; ku=$(openssl x509 -in "$cert" -noout -ext keyUsage | tail -n +2 | tr -d ' ')
  [ "$ku" = "DigitalSignature" ] && pass "$what: keyUsage digitalSignature only (EC key)" || fail "$what: keyUsage $ku"
}

org=$(ra --json org list | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
run=$(openssl rand -hex 3)
zone=caddy-$run.$SUFFIX name=www.caddy-$run.$SUFFIX

# ---------------------------------------------------------------- 1. issuance on SSL_EC
if grep -q '"SSL_EC"' <(curl -sf --cacert "$ACME_CA_BUNDLE" "$ACME_DIR"); then
  pass "the directory lists the operator's profile SSL_EC"
else
  fail "SSL_EC missing from the directory's meta.profiles"
fi
ec_json=$(ra --json ext-account create --org "$org" --contact "Caddy team" --profiles SSL_EC \
  --challenges http-01,tls-alpn-01 --active --show-mac-key) || { echo "FAIL - ext-account create --profiles SSL_EC"; exit 1; }
KID_EC=$(json_field kid <<<"$ec_json") HMAC_EC=$(json_field mac_key <<<"$ec_json")
/usr/bin/python3 -c 'import json,sys; assert json.load(sys.stdin)["external_account"]["allowed_profiles"] == ["SSL_EC"]' \
  <<<"$ec_json" || fail "the external account's profiles: $ec_json"
ra domain add "$KID_EC" "$zone" --include-subdomains --dcv http-01,tls-alpn-01 >/dev/null &&
  ra domain validate "$KID_EC" "$zone" >/dev/null || { echo "FAIL - SSL_EC account's domain"; exit 1; }
pass "external account $KID_EC granted SSL_EC (ca-ra ext-account create --profiles SSL_EC)"

start_caddy "$work/ec" "$name" "$KID_EC" "$HMAC_EC" 0.99
if wait_for 90 has_cert "$work/ec" "$name"; then
  cert=$(cert_of "$work/ec" "$name")
  first=$(serial_of "$cert")
  pass "caddy obtained a certificate for $name on SSL_EC (serial $first)"
  check_cert "caddy" "$cert" "$name"
  # ---------------------------------------------------------------- 2. renewal
  # Caddy 2.6 (certmagic 0.17) renews with the certificate's key; this CA never certifies a key
  # twice (R37, docs/DEVIATIONS.md row 3), so that renewal is refused with badCSR. The renewal that
  # works: remove the certificate and its key from Caddy's storage (the ACME account stays) and
  # restart it; it orders again with a fresh key.
  if wait_for 120 grep -q 'certified before' "$work/ec/caddy.log"; then
    line=$(grep -m1 'certified before' "$work/ec/caddy.log")
    grep -q 'urn:ietf:params:acme:error:badCSR' <<<"$line" && grep -q '"logger":"tls.renew"' <<<"$line" &&
      pass "caddy's own renewal (same key) refused: badCSR, the key was certified before (R37)" ||
      fail "caddy's renewal refused otherwise: $line"
  else
    fail "caddy did not try to renew: $(grep -i 'renew\|error' "$work/ec/caddy.log" | tail -3)"
  fi
  stop_caddy
  old_key=$(openssl x509 -in "$cert" -noout -pubkey)
  rm -rf "$(dirname "$cert")" "$work/ec/storage/locks"
  start_caddy "$work/ec" "$name" "$KID_EC" "$HMAC_EC" 0.33
  if wait_for 90 has_cert "$work/ec" "$name" && cert=$(cert_of "$work/ec" "$name") &&
     second=$(serial_of "$cert") && [ "$second" != "$first" ]; then
    pass "caddy renewed with a fresh key after its storage was cleared: new serial $second"
    [ "$(openssl x509 -in "$cert" -noout -pubkey)" != "$old_key" ] && pass "caddy renewal: a new key" ||
      fail "caddy renewal: the same key"
    check_cert "caddy renewal" "$cert" "$name"
  else
    fail "caddy renewal after clearing its storage: $(grep -i error "$work/ec/caddy.log" | tail -3)"
  fi
else
  fail "caddy obtained no certificate: $(grep -i error "$work/ec/caddy.log" | tail -3)"
fi
stop_caddy

# ---------------------------------------------------------------- 3. the default profile refuses it
refused_name=caddy-ssl-$run.$SUFFIX
start_caddy "$work/ssl" "$refused_name" "$EAB_KID" "$EAB_HMAC" 0.33
if wait_for 90 grep -q 'ACME_ORDER_FINALIZE_ERROR' "$work/ssl/caddy.log"; then
  line=$(grep -m1 'ACME_ORDER_FINALIZE_ERROR' "$work/ssl/caddy.log")
  if grep -q 'urn:ietf:params:acme:error:badCSR' <<<"$line" &&
     grep -q 'key type EC not accepted: the profile requires RSA 3072' <<<"$line"; then
    pass "caddy on the default profile SSL: badCSR, ACME_ORDER_FINALIZE_ERROR, key type EC not accepted (RSA 3072 only)"
  else
    fail "caddy on SSL refused otherwise: $line"
  fi
else
  fail "caddy on SSL: no key-type refusal: $(grep -i error "$work/ssl/caddy.log" | tail -3)"
fi
[ -z "$(cert_of "$work/ssl" "$refused_name")" ] && pass "no certificate for $refused_name on SSL" ||
  fail "a certificate was issued for $refused_name on SSL"
stop_caddy

if ((fails)); then echo "$fails caddy check(s) failed"; exit 1; fi
echo "all caddy checks passed"
