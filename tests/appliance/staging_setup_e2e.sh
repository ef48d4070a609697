#!/usr/bin/env bash
# staging_setup_e2e.sh SOURCE_DIR CA_ENGINE CA_GATEWAY CA_STATUS_SERVER CA_RA CA_CEREMONY CA_STATUS_PUBLISH CA_AUDIT
#                      CA_DASHBOARD CA_REPORT
# The operator guide's "The staging service" on a temporary root prefix: acme-ca-setup --no-systemd
# with STAGING=per-account deploys the staging ceremony, the engine's staging instance, the staging
# status server and gateway (as their service users, with their own stores and modes); an external
# account admitted with `acme-ca-ra ext-account update KID --staging yes` gets a TEST certificate
# with certbot whose OCSP and CRL the staging status server answers, and whose pre-signed OCSP
# response the staging status export (its own directory, STATUS_EXPORT_DIR-staging) holds, and which
# the account's report (ca-ra report) counts as staging, apart from production; a second setup run
# changes nothing. Every process it starts is stopped by PID; service accounts are removed only if it created them.
set -uo pipefail
src=$1
. "$src/tests/appliance/lib.sh"
[ "$(id -u)" = 0 ] || { echo "FAIL: needs root (creates service accounts)"; exit 1; }
for t in certbot pebble-challtestsrv setpriv openssl python3; do
  command -v "$t" >/dev/null || { echo "FAIL: $t not installed"; exit 1; }
done
T=$(mktemp -d /tmp/acme-ca-staging-setup.XXXXXX)
chmod 0755 "$T"
A=$T/a
record_created_accounts
challtestsrv_pid=""
cleanup() {
  stop_prefix "$A"
  if [ -n "$challtestsrv_pid" ]; then kill "$challtestsrv_pid" 2>/dev/null; wait "$challtestsrv_pid" 2>/dev/null; fi
  remove_test_state
}
trap cleanup EXIT

# install_prefix takes ca-status-publish before ca-ra (this script's arguments: the CMake order).
install_prefix "$A" "$src" "$2" "$3" "$4" "$7" "$5" "$6" "$8" "$9" "${10}"
pb=$(free_port_base)
HTTP01_PORT=$((pb + 2))
pebble-challtestsrv -management "127.0.0.1:$((pb + 5))" -dns01 "127.0.0.1:$((pb + 53))" -defaultIPv6 "" \
  -http01 "" -https01 "" -tlsalpn01 "" >"$T/challtestsrv.log" 2>&1 &
challtestsrv_pid=$!
cp "$A/etc/acme-ca/setup.conf.example" "$A/etc/acme-ca/setup.conf"
loopback_setup_conf "$A/etc/acme-ca/setup.conf" "$pb"
# Staging on (the guide's settings with this test's ports); no dashboard (not under test); the
# status export on (its default), so the staging one too;
# EC roots keep the two ceremonies quick.
sed -i -e "s|^STAGING=.*|STAGING=per-account|" -e "s|^STAGING_GATEWAY_PORT=.*|STAGING_GATEWAY_PORT=$((pb + 7))|" \
       -e "s|^STAGING_STATUS_PORT=.*|STAGING_STATUS_PORT=$((pb + 8))|" \
       -e "s|^STAGING_GATEWAY_METRICS_PORT=.*|STAGING_GATEWAY_METRICS_PORT=$((pb + 9))|" \
       -e "s|^STAGING_STATUS_BASE_URL=.*|STAGING_STATUS_BASE_URL=http://127.0.0.1:$((pb + 8))|" \
       -e "s|^DASHBOARD_PORT=.*|DASHBOARD_PORT=|" \
       -e "s|^ROOT_KEY_TYPE=.*|ROOT_KEY_TYPE=ec-p384|" -e "s|^CAA_IDENTITIES=.*|CAA_IDENTITIES=acme-ca.e2e.test|" \
       "$A/etc/acme-ca/setup.conf"

S=$A/var/lib/acme-ca E=$A/etc/acme-ca
setup_prefix_or_exit "$A" "$T/setup-1.log" "acme-ca-setup --no-systemd with STAGING=per-account: appliance up"
runs_as() {  # runs_as NAME USER: the service's recorded PID is alive and runs as USER
  local pid; pid=$(cat "$A/run/acme-ca/$1.pid" 2>/dev/null) && [ "$(ps -o user= -p "$pid")" = "$2" ]
}
check "staging gateway runs as acme-ca-gateway" runs_as gateway-staging acme-ca-gateway
check "staging status server runs as acme-ca-status" runs_as status-staging acme-ca-status
check "staging status exporter runs as acme-ca-status" runs_as status-export-staging acme-ca-status
check "staging status export 0755 acme-ca-status, beside production's" mode_is "$S/status-export-staging" 755 acme-ca-status acme-ca-status
check "status-export-staging.json: the staging status store into its own directory, staging issuers only" \
  python3 -c 'import json,sys; x=json.load(open(sys.argv[1])); s=sys.argv[2]
assert (x["store"], x["dir"], x["issuers"]) == (s + "/status-staging", s + "/status-export-staging", ["acme-stg", "stg-root"]), x' \
  "$E/status-export-staging.json" "$S"
check "staging CA store 0700 acme-ca-engine" mode_is "$S/engine/store-staging" 700 acme-ca-engine acme-ca-engine
check "staging status store 2750 engine:status" mode_is "$S/status-staging" 2750 acme-ca-engine acme-ca-status
check "staging gateway store 0640 gateway:ra" mode_is "$S/gateway/store-staging/data.mdb" 640 acme-ca-gateway acme-ca-ra
check "gateway-staging.json 0640 root:gateway" mode_is "$E/gateway-staging.json" 640 root acme-ca-gateway
check "staging ceremony transcript verifies" "$A/usr/bin/ca-ceremony" verify-transcript "$S/ceremony/staging"
check "gateway-staging.json: environment staging, per-account, its own store, audit file and profiles" \
  python3 -c 'import json,sys; g=json.load(open(sys.argv[1])); s=sys.argv[2]
assert (g["environment"], g["staging_access"]) == ("staging", "per-account"), g
assert g["store"] == s + "/gateway/store-staging" and g["audit_log"] == s + "/audit/gateway-staging.jsonl", g
assert g["profiles_dir"].endswith("/profiles/staging") and g["listen"]["port"] == int(sys.argv[3]), g' \
  "$E/gateway-staging.json" "$S" "$((pb + 7))"
check "engine.json: the staging instance, per-account" \
  python3 -c 'import json,sys; i=json.load(open(sys.argv[1]))["instances"]["staging"]
assert i["staging_access"] == "per-account" and i["issuer_name"] == "acme-stg" and "/ceremony/staging/" in i["intermediate_cert"], i' \
  "$E/engine.json"
set -a; . "$E/appliance.env"; set +a
check "appliance.env: STAGING_DIRECTORY_URL and STAGING_ROOT" test "$STAGING_DIRECTORY_URL" = "https://localhost:$((pb + 7))/directory" -a -f "$STAGING_ROOT"
sub=$(curl -sf "http://127.0.0.1:$((pb + 8))/ca/stg-root.der" | openssl x509 -inform DER -noout -subject 2>&1)
check "staging status server serves the staging root at its caIssuers URL ($sub)" \
  bash -c '[ "$1" = "$(openssl x509 -in "$2" -noout -subject)" ] && [[ $1 == *TEST* ]]' _ "$sub" "$STAGING_ROOT"
check "staging status server serves the staging root's CRL" \
  bash -c 'curl -sf "$1" | openssl crl -inform DER -noout -issuer | grep -q TEST' _ "http://127.0.0.1:$((pb + 8))/crl/stg-root.crl"

# The first external account, admitted to staging, and certbot on the staging directory.
export ACME_CA_ETC_DIR=$E ACME_CA_RA_BIN=$A/usr/bin/ca-ra
RA=$A/usr/sbin/acme-ca-ra
first_external_account "$RA" -- "E2E Organisation" "E2E Operator" e2e.test http-01
check "acme-ca-ra ext-account update KID --staging yes" bash -c '"$1" ext-account update "$2" --staging yes | grep -q "^staging: yes"' _ "$RA" "$EAB_KID"
if certbot_issue "$T/certbot" "$ROOT_CA_PEM" "$STAGING_DIRECTORY_URL" www.e2e.test stg; then
  CERT=$T/certbot/conf/live/stg/cert.pem
  check "certbot on the staging directory: CN 'TEST www.e2e.test', chains to the staging root only" \
    bash -c 'openssl x509 -in "$1" -noout -subject | grep -q "CN *= *TEST www.e2e.test" &&
      openssl verify -CAfile "$2" -untrusted "$3" "$1" >/dev/null && ! openssl verify -CAfile "$4" -untrusted "$3" "$1" >/dev/null 2>&1' \
    _ "$CERT" "$STAGING_ROOT" "$STAGING_INTERMEDIATE_PEM" "$ROOT_CA_PEM"
  check "staging OCSP (setup's staging status server): good" \
    bash -c 'openssl ocsp -issuer "$1" -cert "$2" -url "$3" -CAfile "$4" -no_nonce 2>&1 | grep -q ": good"' \
    _ "$STAGING_INTERMEDIATE_PEM" "$CERT" "$STAGING_OCSP_URL" "$STAGING_ROOT"
  X=$S/status-export-staging
  for _ in $(seq 40); do [ "$(exported_ocsp_status "$X" "$STAGING_INTERMEDIATE_PEM" "$CERT" "$STAGING_ROOT")" = good ] && break; sleep 0.5; done
  check "staging status export: the certificate's pre-signed OCSP response (good), the staging CA certificates and CRL" \
    bash -c '[ "$1" = good ] && cmp -s "$2/ca/stg-root.der" <(openssl x509 -in "$3" -outform DER) && [ -f "$2/ca/acme-stg.der" ] &&
      openssl crl -inform DER -in "$2/crl/acme-stg.crl" -noout -issuer | grep -q TEST' \
    _ "$(exported_ocsp_status "$X" "$STAGING_INTERMEDIATE_PEM" "$CERT" "$STAGING_ROOT")" "$X" "$STAGING_ROOT"
  check "production status export: nothing of staging (no response for the staging certificate, no staging CA)" \
    bash -c '[ -z "$1" ] && [ -f "$2/manifest.json" ] && ! grep -qE "\"(ca|crl)/(stg-root|acme-stg)" "$2/manifest.json"' \
    _ "$(exported_ocsp_status "$S/status-export" "$STAGING_INTERMEDIATE_PEM" "$CERT" "$STAGING_ROOT")" "$S/status-export"
  # The account's report (R49) shows the staging certificate apart: counted as staging, never in
  # production's counts; the HTML has its staging section, the CSV row says staging.
  day=$(date -u +%F)
  install -d -o acme-ca-ra -m 0700 "$T/report"
  if "$RA" --json report "$EAB_KID" --since "$day" --until "$day" --out "$T/report" >"$T/report.json" 2>"$T/report.err"; then
    check "ca-ra report: the staging certificate counted as staging (1 issued, 1 valid), production's counts 0" \
      python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); s=j["staging"]
assert (j["issued"], j["valid_now"], j["certificates_issued"]) == (0, 0, []), j
assert (s["issued"], s["valid_now"]) == (1, 1) and s["certificates_issued"][0]["environment"] == "staging", s' "$T/report.json"
    check "report files: HTML staging section lists the certificate, CSV row environment staging" \
      bash -c 'h=$(cat "$1"/*.html) && [[ $h == *"Staging (test certificates, TEST hierarchy, not trusted)"* ]] &&
        [[ $h == *"Staging certificates issued</td><td>1"* ]] && grep -q "^issued,.*,staging,.*www.e2e.test" "$1"/*.csv' _ "$T/report"
  else
    fail "ca-ra report: $(tail -3 "$T/report.err")"
  fi
else
  fail "certbot on staging: $(grep -iE 'error|detail' "$T/certbot.log" | tail -3)"
fi

# The backup holds the staging stores and configs (acme-ca-backup, passphrase from a file).
(umask 077; echo "staging backup passphrase" >"$T/passphrase")
if "$A/usr/sbin/acme-ca-backup" --prefix "$A" --passphrase-file "$T/passphrase" --out "$T/backup.enc" >"$T/backup.log" 2>&1 &&
   openssl enc -d -aes-256-cbc -pbkdf2 -iter 600000 -md sha256 -pass file:"$T/passphrase" -in "$T/backup.enc" |
     tar -tz >"$T/backup.list"; then
  check "acme-ca-backup: the staging stores and configs are in the backup" bash -c '
    for f in state/gateway/store-staging/data.mdb state/status-staging/data.mdb state/engine/store-staging/data.mdb \
             state/ceremony/staging/root.pem etc/gateway-staging.json etc/status-staging.json; do
      grep -q "^acme-ca-backup/$f$" "$1" || { echo "    not in the backup: $f"; exit 1; }
    done' _ "$T/backup.list"
else
  fail "acme-ca-backup: $(tail -3 "$T/backup.log")"
fi

# Idempotent: a second run writes nothing and keeps every service running.
before=$(cd "$E" && sha256sum engine.json gateway-staging.json status-staging.json status-export-staging.json appliance.env)
"$A/usr/sbin/acme-ca-setup" --prefix "$A" --no-systemd >"$T/setup-2.log" 2>&1
check "second setup run: same configs, nothing rewritten" \
  bash -c '[ "$1" = "$(cd "$2" && sha256sum engine.json gateway-staging.json status-staging.json status-export-staging.json appliance.env)" ] && ! grep -q "wrote\|kept" "$3"' \
  _ "$before" "$E" "$T/setup-2.log"
check "status: seven services running (engine, status, gateway, status-export, status-staging, gateway-staging, status-export-staging)" \
  bash -c '[ "$("$1" status --prefix "$2" --no-systemd | grep -c ": running (pid")" = 7 ]' _ "$A/usr/sbin/acme-ca-setup" "$A"

# STAGING=all and --reconfigure: an external account the RA never admitted registers on staging.
sed -i "s|^STAGING=.*|STAGING=all|" "$E/setup.conf"
if "$A/usr/sbin/acme-ca-setup" --prefix "$A" --no-systemd --reconfigure >"$T/setup-3.log" 2>&1; then
  read -r kid2 hmac2 < <("$RA" --json ext-account create --org "$("$RA" --json ext-account show "$EAB_KID" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["organization_id"])')" --contact "Not Admitted" --profiles SSL --active --show-mac-key |
    python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["kid"], j["external_account"]["staging"], j["mac_key"])' | awk '$2 == "False" {print $1, $3}')
  what="STAGING=all (--reconfigure): an account without --staging registers on the staging directory"
  if [ -z "$kid2" ]; then
    fail "$what: acme-ca-ra ext-account create gave no unadmitted account"
  elif REQUESTS_CA_BUNDLE=$ROOT_CA_PEM certbot --non-interactive --agree-tos --email ops@e2e.test \
         --server "$STAGING_DIRECTORY_URL" --eab-kid "$kid2" --eab-hmac-key "$hmac2" --config-dir "$T/all/conf" \
         --work-dir "$T/all/work" --logs-dir "$T/all/logs" register >"$T/all-register.log" 2>&1 &&
       grep -q "Account registered" "$T/all-register.log"; then
    pass "$what"
  else
    fail "$what: $(tail -5 "$T/all-register.log"; tail -5 "$A/var/log/acme-ca/gateway-staging.log" 2>/dev/null)"
  fi
  check "STAGING=all: gateway-staging.json and engine.json say all" \
    bash -c 'grep -q "\"staging_access\": \"all\"" "$1/gateway-staging.json" && grep -q "\"staging_access\": \"all\"" "$1/engine.json"' _ "$E"
else
  fail "acme-ca-setup --reconfigure with STAGING=all: $(tail -3 "$T/setup-3.log")"
fi

if ((fails)); then echo "$fails check(s) failed"; exit 1; fi
echo "all staging setup checks passed"
