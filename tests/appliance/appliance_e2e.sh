#!/usr/bin/env bash
# appliance_e2e.sh SOURCE_DIR CA_ENGINE CA_GATEWAY CA_STATUS_SERVER CA_RA CA_CEREMONY CA_STATUS_PUBLISH CA_AUDIT
#
# The operator guide (docs/OPERATOR_GUIDE.md), section by section, on a temporary root prefix:
#   "Install"        the programs, scripts and profiles laid out as the package installs them
#   "First boot"     acme-ca-setup --no-systemd: accounts, token, ceremony, TLS, channel, policy,
#                    configs; then owners/modes, cross-account refusals, processes' identities,
#                    idempotence, refusal to overwrite keys
#   "First external account"  acme-ca-ra org / ext-account / domain
#   "Certbot"        one issuance with EAB and http-01 (pebble-challtestsrv as the validator's DNS)
#   "Revocation" / OCSP  openssl ocsp against the status server
#   "Audit" / "Metrics"  the hash-chained audit files verify (ca-audit verify-audit) and hold the
#                    issuance, the revocation and the policy changes; one edited byte is found and
#                    its line named; the engine's metrics file counts the issuance
#   "Backup and restore" acme-ca-backup while the services run, acme-ca-restore into a new prefix,
#                    OCSP of the old certificate from the restored state, then a revocation
#                    through the restored gateway and engine (keys, accounts, stores all restored)
#   "Ceremony on an offline machine"  acme-ca-setup --import-ceremony into a third prefix
# Every process it starts is stopped by PID; service accounts are removed only if it created them.
set -uo pipefail
src=$1 engine_bin=$2 gateway_bin=$3 status_bin=$4 ra_bin=$5 ceremony_bin=$6 publish_bin=$7 audit_bin=$8
dashboard_bin=$9 report_bin=${10}
. "$src/tests/appliance/lib.sh"
[ "$(id -u)" = 0 ] || { echo "FAIL: needs root (creates service accounts)"; exit 1; }
for t in certbot pebble-challtestsrv mdb_copy setpriv runuser openssl python3; do
  command -v "$t" >/dev/null || { echo "FAIL: $t not installed"; exit 1; }
done
[ -f /usr/lib/softhsm/libsofthsm2.so ] || { echo "FAIL: softhsm2 not installed"; exit 1; }


T=$(mktemp -d /tmp/acme-ca-appliance-e2e.XXXXXX)
chmod 0755 "$T"   # the service accounts must reach the prefix
A=$T/a B=$T/b C=$T/c  # the appliance, its restored copy, one set up from an "offline" ceremony
record_created_accounts
challtestsrv_pid=""

cleanup() {
  stop_prefix "$A"
  stop_prefix "$B"
  stop_prefix "$C"
  if [ -n "$challtestsrv_pid" ]; then kill "$challtestsrv_pid" 2>/dev/null; wait "$challtestsrv_pid" 2>/dev/null; fi
  remove_test_state
}
trap cleanup EXIT

# ---------------------------------------------------------------- Install (layout of the package)
install_prefix "$A" "$src" "$engine_bin" "$gateway_bin" "$status_bin" "$publish_bin" "$ra_bin" "$ceremony_bin" "$audit_bin" \
  "$dashboard_bin" "$report_bin"

# A port base with nothing listening on its ports.
for _ in $(seq 20); do
  pb=$((20000 + (RANDOM % 200) * 100))
  busy=0
  for off in 0 1 2 3 4 5 6 53; do (exec 3<>/dev/tcp/127.0.0.1/$((pb + off))) 2>/dev/null && busy=1; done
  ((busy)) || break
done
GW_PORT=$pb STATUS_PORT=$((pb + 1)) HTTP01_PORT=$((pb + 2)) TLSALPN01_PORT=$((pb + 3))
DNS_MGMT=http://127.0.0.1:$((pb + 5)) DNS=127.0.0.1:$((pb + 53))
pebble-challtestsrv -management "127.0.0.1:$((pb + 5))" -dns01 "$DNS" -defaultIPv6 "" \
  -http01 "" -https01 "" -tlsalpn01 "" >"$T/challtestsrv.log" 2>&1 &
challtestsrv_pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "$DNS_MGMT/" && break; sleep 0.1; done

# setup.conf: the example with this test's names and ports (every other value as shipped).
cp "$A/etc/acme-ca/setup.conf.example" "$A/etc/acme-ca/setup.conf"
loopback_setup_conf "$A/etc/acme-ca/setup.conf" "$pb"
sed -i -e "s|^CAA_IDENTITIES=.*|CAA_IDENTITIES=acme-ca.e2e.test|" \
       -e "s|^STATUS_THREADS=.*|STATUS_THREADS=2|" \
       -e "s|^CEREMONY_OPERATOR=.*|CEREMONY_OPERATOR=appliance-e2e|" "$A/etc/acme-ca/setup.conf"

# ---------------------------------------------------------------- First boot
S=$A/var/lib/acme-ca E=$A/etc/acme-ca
setup_prefix_or_exit "$A" "$T/setup-1.log" "acme-ca-setup --prefix --no-systemd: appliance up"
sed 's/^/    /' "$T/setup-1.log"

check "user PIN 0400 acme-ca-engine" mode_is "$S/engine/user.pin" 400 acme-ca-engine acme-ca-engine
check "SoftHSM token dir 0700 acme-ca-engine" mode_is "$S/engine/tokens" 700 acme-ca-engine acme-ca-engine
check "every token file the engine's, nothing for group/other" \
  test -z "$(find "$S/engine/tokens" \( ! -user acme-ca-engine -o -perm /077 \) -print)"
check "token holds objects" test -n "$(find "$S/engine/tokens" -type f -print -quit)"
check "SO PIN 0400 root" mode_is "$S/ceremony/secrets/so.pin" 400 root root
check "CA store dir 0700 acme-ca-engine" mode_is "$S/engine/store" 700 acme-ca-engine acme-ca-engine
check "CA store 0640 acme-ca-engine (group without members)" mode_is "$S/engine/store/data.mdb" 640 acme-ca-engine acme-ca-engine
check "status store dir 2750 engine:status" mode_is "$S/status" 2750 acme-ca-engine acme-ca-status
check "status store data 0640 engine:status" mode_is "$S/status/data.mdb" 640 acme-ca-engine acme-ca-status
check "status store lock 0660 engine:status" mode_is "$S/status/lock.mdb" 660 acme-ca-engine acme-ca-status
check "gateway store 0640 gateway:ra" mode_is "$S/gateway/store/data.mdb" 640 acme-ca-gateway acme-ca-ra
check "policy store 0640 ra:policy" mode_is "$S/policy/store/data.mdb" 640 acme-ca-ra acme-ca-policy
check "policy store lock 0660 ra:policy" mode_is "$S/policy/store/lock.mdb" 660 acme-ca-ra acme-ca-policy
check "no EAB wrapping-key file (the MAC keys are wrapped to the HSM)" test ! -e "$S/policy/mac-wrap.key"
check "HSM MAC wrapping public key 0444 ra" mode_is "$S/policy/mac-wrap.pub.pem" 444 acme-ca-ra acme-ca-ra
check "gateway.json names no MAC-key material" sh -c "! grep -q mac_wrap '$E/gateway.json'"
check "gateway TLS key 0400 gateway" mode_is "$S/gateway/tls/key.pem" 400 acme-ca-gateway acme-ca-gateway
check "channel client key 0400 gateway" mode_is "$S/gateway/channel/client.key" 400 acme-ca-gateway acme-ca-gateway
check "channel engine key 0400 engine" mode_is "$S/engine/channel/engine.key" 400 acme-ca-engine acme-ca-engine
check "engine.json 0640 root:engine" mode_is "$E/engine.json" 640 root acme-ca-engine
check "gateway.json 0640 root:gateway" mode_is "$E/gateway.json" 640 root acme-ca-gateway
check "no TLS private key left among the ceremony outputs" test -z "$(find "$S/ceremony" -name '*.key' -print)"
check "engine audit file 0640 acme-ca-engine:acme-ca-audit" mode_is "$S/audit/engine.jsonl" 640 acme-ca-engine acme-ca-audit
check "RA audit file 0640 acme-ca-ra:acme-ca-audit" mode_is "$S/audit/ra.jsonl" 640 acme-ca-ra acme-ca-audit
# acme-ca-setup makes them append-only where the filesystem allows it (best effort).
append_only=0
if touch "$T/probe" && chattr +a "$T/probe" 2>/dev/null; then append_only=1; chattr -a "$T/probe"; fi
rm -f "$T/probe"
if ((append_only)); then
  check "audit files append-only (chattr +a)" \
    bash -c 'lsattr "$1" | grep -q "^[^ ]*a" && lsattr "$2" | grep -q "^[^ ]*a"' _ "$S/audit/engine.jsonl" "$S/audit/ra.jsonl"
fi
check "engine metrics directory 0755 acme-ca-engine" mode_is "$S/metrics" 755 acme-ca-engine acme-ca-engine
# acme-ca-setup raises RLIMIT_MEMLOCK for the engine as its unit does (LimitMEMLOCK=infinity); in a
# container that may not raise it, the engine says so in one JSON line and runs on.
if (ulimit -l unlimited) 2>/dev/null; then
  check "engine locked its memory (no memory_not_locked in its log)" \
    bash -c '! grep -q memory_not_locked "$1"' _ "$A/var/log/acme-ca/engine.log"
else
  check "engine could not lock its memory here (RLIMIT_MEMLOCK fixed): one JSON warning line" \
    bash -c '[ "$(grep -c "^{.*\"event\":\"memory_not_locked\".*\"level\":\"warn\"" "$1")" = 1 ]' _ "$A/var/log/acme-ca/engine.log"
fi
check "engine socket 0660 group acme-ca-engine-clients" \
  mode_is "$A/run/acme-ca-engine/engine.sock" 660 acme-ca-engine acme-ca-engine-clients

check "ceremony transcript verifies (ca-ceremony verify-transcript)" \
  "$A/usr/bin/ca-ceremony" verify-transcript "$S/ceremony/all"
check "acme-ca-setup status --no-systemd: five services running (engine, status, gateway, dashboard, status-export)" \
  bash -c '[ "$("$1" status --prefix "$2" --no-systemd | grep -c ": running (pid")" = 5 ]' _ "$A/usr/sbin/acme-ca-setup" "$A"
check "status export dir 0755 acme-ca-status, manifest.json written" \
  bash -c '[ "$(stat -c "%a %U" "$1/status-export")" = "755 acme-ca-status" ] && [ -f "$1/status-export/manifest.json" ]' _ "$S"

# Cross-account refusals (OPS-5).
denied() {  # denied USER COMMAND... : the command must fail as USER
  if runuser -u "$1" -- "${@:2}" >/dev/null 2>&1; then echo "    $1 could: ${*:2}"; return 1; fi
}
check "gateway cannot read the PIN" denied acme-ca-gateway cat "$S/engine/user.pin"
check "gateway cannot list the token dir" denied acme-ca-gateway ls "$S/engine/tokens"
check "gateway cannot read the token files" denied acme-ca-gateway \
  cat "$(find "$S/engine/tokens" -type f -print -quit)"
check "gateway cannot read the engine's channel key" denied acme-ca-gateway cat "$S/engine/channel/engine.key"
check "gateway cannot read the CA store" denied acme-ca-gateway cat "$S/engine/store/data.mdb"
check "gateway cannot write the policy store" denied acme-ca-gateway sh -c "echo x >>'$S/policy/store/data.mdb'"
check "status server cannot read the PIN" denied acme-ca-status cat "$S/engine/user.pin"
check "status server cannot write the status store" denied acme-ca-status sh -c "echo x >>'$S/status/data.mdb'"
# The policy store (which the gateway reads) holds MAC keys only wrapped to the token's unwrap-only
# key; the gateway can read neither the token nor its PIN (above), nor any wrapping-key file.
check "gateway cannot read the token's objects (where the MAC wrapping key is)" denied acme-ca-gateway \
  cat "$(find "$S/engine/tokens" -type f -print -quit)"
check "engine cannot read the gateway's TLS key" denied acme-ca-engine cat "$S/gateway/tls/key.pem"
check "RA cannot read the PIN" denied acme-ca-ra cat "$S/engine/user.pin"
check "gateway cannot write the engine's audit file" denied acme-ca-gateway sh -c "echo x >>'$S/audit/engine.jsonl'"
check "RA cannot write the engine's audit file" denied acme-ca-ra sh -c "echo x >>'$S/audit/engine.jsonl'"
if ((append_only)); then
  check "the engine cannot rewrite its own audit file (append only)" \
    denied acme-ca-engine sh -c ": >'$S/audit/engine.jsonl'"
fi
check "status server cannot connect to the engine socket" denied acme-ca-status python3 -c \
  "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])" "$A/run/acme-ca-engine/engine.sock"
check "gateway can connect to the engine socket" runuser -u acme-ca-gateway -- python3 -c \
  "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])" "$A/run/acme-ca-engine/engine.sock"

# Each service runs as its own account, without capabilities, with no_new_privs.
proc_ok() {  # proc_ok NAME USER
  local pid st
  pid=$(cat "$A/run/acme-ca/$1.pid") || return 1
  st=$(cat "/proc/$pid/status") || return 1
  grep -q "^Uid:[[:space:]]*$(id -u "$2")[[:space:]]" <<<"$st" || { echo "    $1 does not run as $2"; return 1; }
  grep -q "^Gid:[[:space:]]*$(id -g "$2")[[:space:]]" <<<"$st" || { echo "    $1 not in group $2"; return 1; }
  grep -q '^CapEff:[[:space:]]*0000000000000000$' <<<"$st" || { echo "    $1 has capabilities"; return 1; }
  grep -q '^CapBnd:[[:space:]]*0000000000000000$' <<<"$st" || { echo "    $1 bounding set not empty"; return 1; }
  grep -q '^NoNewPrivs:[[:space:]]*1$' <<<"$st" || { echo "    $1 without no_new_privs"; return 1; }
}
check "engine runs as acme-ca-engine, no capability, no_new_privs" proc_ok engine acme-ca-engine
check "status server runs as acme-ca-status, no capability, no_new_privs" proc_ok status acme-ca-status
check "gateway runs as acme-ca-gateway, no capability, no_new_privs" proc_ok gateway acme-ca-gateway

# Idempotence: a second run changes no key and restarts nothing.
engine_pid=$(cat "$A/run/acme-ca/engine.pid")
# Keys, PINs and ceremony outputs (token.object is SoftHSM's token metadata: it changes at login).
sum_keys() { (cd "$S" && find engine/tokens engine/user.pin engine/channel gateway/tls gateway/channel policy/mac-wrap.pub.pem ceremony/all -type f ! -name token.object -print0 | sort -z | xargs -0 sha256sum); }
before=$(sum_keys)
if "$A/usr/sbin/acme-ca-setup" --prefix "$A" --no-systemd >"$T/setup-2.log" 2>&1 &&
   [ "$(sum_keys)" = "$before" ] && [ "$(cat "$A/run/acme-ca/engine.pid")" = "$engine_pid" ] &&
   ! grep -q 'ceremony ' "$T/setup-2.log"; then
  pass "second acme-ca-setup run: no ceremony, keys unchanged, services untouched"
else
  fail "second acme-ca-setup run: $(tail -3 "$T/setup-2.log")"
fi
if "$A/usr/sbin/acme-ca-setup" --prefix "$A" --no-systemd --no-start --import-ceremony "$S/ceremony" >"$T/setup-3.log" 2>&1; then
  fail "--import-ceremony over existing keys was accepted"
elif grep -q 'refusing to overwrite existing keys' "$T/setup-3.log" && [ "$(sum_keys)" = "$before" ]; then
  pass "--import-ceremony over existing keys refused, nothing changed"
else
  fail "--import-ceremony refusal: $(tail -2 "$T/setup-3.log")"
fi

# ---------------------------------------------------------------- First external account (guide)
export ACME_CA_ETC_DIR=$E ACME_CA_RA_BIN=$A/usr/bin/ca-ra
RA=$A/usr/sbin/acme-ca-ra
# R22: the MAC key is handed over encrypted to the requester's key and opened with openssl; the
# certbot run below registers with what came out.
handover=$(mktemp -d); chmod 0755 "$handover"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$handover/requester.key" 2>/dev/null
openssl pkey -in "$handover/requester.key" -pubout -out "$handover/requester.pub.pem"; chmod 0644 "$handover/requester.pub.pem"
RECIPIENT_PUB=$handover/requester.pub.pem RECIPIENT_KEY=$handover/requester.key \
  first_external_account "$RA" -- "E2E Organisation" "E2E Operator" e2e.test http-01,dns-01
rm -rf "$handover"
check "hand-over opened with the requester's key: a 43-character base64url MAC key" \
  python3 -c 'import re,sys; sys.exit(not re.fullmatch(r"[A-Za-z0-9_-]{43}", sys.argv[1]))' "$EAB_HMAC"
check "ext-account create without a hand-over choice is refused" \
  sh -c "'$RA' ext-account create --org x --contact y 2>&1 | grep -q -- --recipient-key"
if [ -n "$EAB_KID" ] && "$RA" domain list "$EAB_KID" | grep -q 'e2e.test  valid'; then
  pass "acme-ca-ra: organisation, active external account $EAB_KID, domain e2e.test validated"
else
  fail "acme-ca-ra: external account setup ($("$RA" domain list "$EAB_KID" 2>&1))"
fi
# R7: acme-ca-ra looks CAA up with what acme-ca-setup wrote into ra.conf (CAA_IDENTITIES, and
# DNS_RESOLVER: pebble-challtestsrv here): a name whose CAA names another CA is refused, not added.
python3 -c 'import json,sys,urllib.request as u; u.urlopen(u.Request(sys.argv[1], method="POST", data=json.dumps({"host": "caa-refused.e2e.test.", "policies": [{"tag": "issue", "value": "other-ca.example"}]}).encode()), timeout=10)' \
  "http://127.0.0.1:$((pb + 5))/add-caa"
caa_out=$("$RA" domain add "$EAB_KID" caa-refused.e2e.test 2>&1) && caa_rc=0 || caa_rc=$?
check "acme-ca-ra domain add refuses a name whose CAA names another CA (R7, ra.conf from setup.conf)" \
  bash -c '[ "$1" != 0 ] && grep -q "prevents issuance: issue names \"other-ca.example\", not this CA" <<<"$2" &&
           grep -q "identities: acme-ca.e2e.test); nothing was changed" <<<"$2" &&
           ! "$3" domain list "$4" | grep -q caa-refused' _ "$caa_rc" "$caa_out" "$RA" "$EAB_KID"
audit=$("$RA" --json audit)
check "policy audit records the operator as actor" grep -q '"actor":"root"' <<<"$audit"

# ---------------------------------------------------------------- Certbot (guide)
ROOT=$S/ceremony/all/root.pem INT=$S/ceremony/all/intermediate.pem
ACME_DIR=https://localhost:$GW_PORT/directory
CB=(certbot --non-interactive --agree-tos --email ops@e2e.test --server "$ACME_DIR"
    --config-dir "$T/certbot/conf" --work-dir "$T/certbot/work" --logs-dir "$T/certbot/logs")
if certbot_issue "$T/certbot" "$ROOT" "$ACME_DIR" www.e2e.test e2e; then
  pass "certbot certonly (EAB, http-01) against the appliance"
else
  # Debian's certbot hides the server's problem behind a traceback: its log has the detail.
  fail "certbot certonly: $(grep -iE 'error|detail' "$T/certbot.log" | tail -3) :: $(grep -E '"detail"|Problem binding|Error' "$T/certbot/logs/letsencrypt.log" | tail -4)"
fi
CERT=$T/certbot/conf/live/e2e/cert.pem
txt=$(openssl x509 -in "$CERT" -noout -text 2>/dev/null)
check "certificate for www.e2e.test, issued by the appliance's intermediate" \
  bash -c 'grep -q "DNS:www.e2e.test" <<<"$1" && grep -q "Issuer: C = FR, O = Example Organisation, CN = Example Organisation ACME CA" <<<"$1"' _ "$txt"
check "certificate verifies up to the ceremony's root" \
  openssl verify -CAfile "$ROOT" -untrusted "$INT" "$CERT"
check "OCSP URL in the certificate is the status server's" grep -q "OCSP - URI:http://127.0.0.1:$STATUS_PORT/ocsp" <<<"$txt"
check "acme-ca-ra lists the ACME account certbot created (reads the gateway store)" \
  bash -c '"$1" acme-account list --account "$2" | grep -q "$2"' _ "$RA" "$EAB_KID"

# Metrics (guide): the engine's Prometheus text file, rewritten every 5 s, counts the issuance and
# the HSM signatures.
M=$S/metrics/engine.prom
for _ in $(seq 100); do grep -q 'result="issued"} [1-9]' "$M" 2>/dev/null && break; sleep 0.2; done
check "engine metrics file: the issuance counted, HSM sign latency histogram non-empty, world-readable" \
  bash -c 'grep -q "^acme_ca_engine_issuances_total{profile=\"[A-Z_]*\",result=\"issued\"} [1-9]" "$1" &&
           grep -q "^acme_ca_engine_hsm_sign_seconds_count{key=\"issuer\"} [1-9]" "$1" &&
           grep -q "^acme_ca_engine_hsm_sign_seconds_bucket{key=\"ocsp\",le=\"+Inf\"} [1-9]" "$1" &&
           grep -q "^acme_ca_engine_ocsp_responses_signed_total [1-9]" "$1" &&
           [ "$(stat -c %a "$1")" = 644 ] || { sed "s/^/    /" "$1" | grep -v "^    #"; exit 1; }' _ "$M"

# The gateway's metrics (guide): on their own loopback listener (GATEWAY_METRICS_PORT), not on the
# ACME port.
check "gateway metrics on GATEWAY_METRICS_URL count the issuance; /metrics on the ACME port is a 404 problem" \
  bash -c 'set -a; . "$1"; set +a
           curl -sf "$GATEWAY_METRICS_URL" | grep -q "^acme_requests_total{endpoint=\"finalize\",status=\"200\"} [1-9]" &&
           [ "$GATEWAY_METRICS_URL" = "http://127.0.0.1:$2/metrics" ] &&
           [ "$(curl -s --cacert "$3" -o /dev/null -w "%{http_code}" "https://localhost:$4/metrics")" = 404 ]' \
  _ "$E/appliance.env" "$((pb + 4))" "$ROOT" "$GW_PORT"

# The dashboard (R50): on by default, its own HTTPS port and system user.
check "dashboard: HTTPS on DASHBOARD_URL with a certificate from the appliance's CA, runs as acme-ca-dashboard" \
  bash -c 'set -a; . "$1"; set +a
           [ "$DASHBOARD_URL" = "https://localhost:$2" ] &&
           [ "$(curl -sf --cacert "$3" "$DASHBOARD_URL/health")" = ok ] &&
           [ "$(ps -o user= -p "$(cat "$4/run/acme-ca/dashboard.pid")")" = acme-ca-dashboard ]' \
  _ "$E/appliance.env" "$((pb + 6))" "$ROOT" "$A"

ocsp_status() {  # ocsp_status: prints good / revoked / unknown for CERT from the status server
  openssl ocsp -issuer "$INT" -cert "$CERT" -url "http://127.0.0.1:$STATUS_PORT/ocsp" -CAfile "$ROOT" \
    -no_nonce 2>"$T/ocsp.err" | sed -n "s|^$CERT: *||p" | head -1
}
st=$(ocsp_status)
if [ "$st" = good ] && grep -q 'Response verify OK' "$T/ocsp.err"; then
  pass "openssl ocsp: good, response verified with the root"
else
  fail "openssl ocsp: '$st' $(cat "$T/ocsp.err")"
fi
# The same response in the static export, at the GET path of openssl's request (within a pass).
openssl ocsp -issuer "$INT" -cert "$CERT" -no_nonce -reqout "$T/ocsp-get.req" >/dev/null 2>&1
for _ in $(seq 50); do [ -f "$S/status-export/ocsp/$(base64 -w0 <"$T/ocsp-get.req")" ] && break; sleep 0.2; done
check "status export: the certificate's OCSP response at its GET path, readable by anyone" \
  bash -c 'f="$1/status-export/ocsp/$(base64 -w0 <"$2")"; [ "$(stat -c %a "$f")" = 644 ] &&
           openssl ocsp -respin "$f" -issuer "$3" -cert "$4" -CAfile "$5" -no_nonce 2>&1 | grep -q ": good"' \
  _ "$S" "$T/ocsp-get.req" "$INT" "$CERT" "$ROOT"
# The URLs the chain carries: the leaf's caIssuers gives the intermediate, the intermediate's the
# root; the intermediate's CRL distribution point is the root's CRL from the ceremony.
STATUS_URL=http://127.0.0.1:$STATUS_PORT
check "caIssuers of the leaf serves the intermediate (DER)" \
  bash -c 'curl -sf "$1/ca/acme-int.der" | openssl x509 -inform DER | cmp -s - <(openssl x509 -in "$2")' _ "$STATUS_URL" "$INT"
check "caIssuers of the intermediate serves the root (DER)" \
  bash -c 'curl -sf "$1/ca/root.der" | openssl x509 -inform DER | cmp -s - <(openssl x509 -in "$2")' _ "$STATUS_URL" "$ROOT"
curl -sf -o "$T/root.crl" "$STATUS_URL/crl/root.crl"
curl -sf -o "$T/int.crl" "$STATUS_URL/crl/acme-int.crl"
check "root CRL served at the intermediate's CRL distribution point, signed by the root" \
  openssl crl -inform DER -in "$T/root.crl" -CAfile "$ROOT" -noout
check "whole chain passes openssl verify -crl_check_all with the served CRLs" \
  bash -c 'openssl crl -inform DER -in "$1" -out "$1.pem" && openssl crl -inform DER -in "$2" -out "$2.pem" &&
           openssl verify -crl_check_all -CAfile "$3" -untrusted "$4" -CRLfile "$1.pem" -CRLfile "$2.pem" "$5"' \
  _ "$T/root.crl" "$T/int.crl" "$ROOT" "$INT" "$CERT"
check "acme-ca-setup publish-root-crl again is a no-op" \
  "$A/usr/sbin/acme-ca-setup" publish-root-crl --prefix "$A" --no-systemd

# ---------------------------------------------------------------- Gateway certificate renewal (guide)
served_serial() {
  openssl s_client -connect "127.0.0.1:$GW_PORT" -servername localhost -CAfile "$ROOT" </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null
}
old_serial=$(served_serial)
if "$A/usr/sbin/acme-ca-setup" renew-tls --prefix "$A" --no-systemd >"$T/renew-tls.log" 2>&1 &&
   new_serial=$(served_serial) && [ -n "$new_serial" ] && [ "$new_serial" != "$old_serial" ] &&
   [ "$(readlink "$S/ceremony/tls-server")" != "" ]; then
  pass "acme-ca-setup renew-tls: the gateway serves a new certificate ($new_serial)"
else
  fail "renew-tls: $(tail -3 "$T/renew-tls.log")"
fi
check "renewed TLS key 0400 gateway" mode_is "$S/gateway/tls/key.pem" 400 acme-ca-gateway acme-ca-gateway

# ---------------------------------------------------------------- Backup (guide), while running
(umask 077 && echo 'appliance e2e backup passphrase' >"$T/passphrase")
if "$A/usr/sbin/acme-ca-backup" --prefix "$A" --passphrase-file "$T/passphrase" --out "$T/backup.tar.gz.enc" \
     >"$T/backup.log" 2>&1; then
  pass "acme-ca-backup while the services run"
else
  fail "acme-ca-backup: $(cat "$T/backup.log")"
fi
check "backup file 0600 root" mode_is "$T/backup.tar.gz.enc" 600 root root
listing=$(openssl enc -d -aes-256-cbc -pbkdf2 -iter 600000 -md sha256 -pass "file:$T/passphrase" \
            -in "$T/backup.tar.gz.enc" 2>/dev/null | tar -tzf - 2>/dev/null)
for f in state/engine/store/data.mdb state/status/data.mdb state/gateway/store/data.mdb \
         state/policy/store/data.mdb state/ceremony/all/root.pem state/engine/user.pin \
         etc/setup.conf SHA256SUMS; do
  grep -qx "acme-ca-backup/$f" <<<"$listing" || fail "backup lacks $f"
done
pass "backup holds the four stores, ceremony outputs, secrets, configuration, SHA256SUMS"
mkdir "$T/nosecrets"
if "$A/usr/sbin/acme-ca-backup" --prefix "$A" --no-secrets --out "$T/nosecrets/b.tar.gz" >/dev/null 2>&1 &&
   ! tar -tzf "$T/nosecrets/b.tar.gz" | grep -qE 'user\.pin|so\.pin|tokens/|\.key$|key\.pem'; then
  pass "acme-ca-backup --no-secrets leaves out token, PINs and keys"
else
  fail "acme-ca-backup --no-secrets"
fi

# Stop the original (guide: "acme-ca-setup stop"), as when moving to a new machine.
"$A/usr/sbin/acme-ca-setup" stop --prefix "$A" --no-systemd >/dev/null 2>&1
check "acme-ca-setup stop: the services are gone" \
  bash -c '! kill -0 "$1" 2>/dev/null && [ ! -e "$2/run/acme-ca/engine.pid" ]' _ "$engine_pid" "$A"

# ---------------------------------------------------------------- Restore (guide) into a new prefix
mkdir -p "$B"
chmod 0755 "$B"
ln -s "$A/usr" "$B/usr"   # same installed programs
if "$A/usr/sbin/acme-ca-restore" --from "$T/backup.tar.gz.enc" --passphrase-file "$T/passphrase" --prefix "$B" \
     --no-systemd >"$T/restore.log" 2>&1; then
  pass "acme-ca-restore into a new state directory: services up"
else
  cat "$T/restore.log"
  for f in "$B"/var/log/acme-ca/*.log; do [ -f "$f" ] && { echo "== $f"; tail -20 "$f"; }; done
  fail "acme-ca-restore"
fi
S2=$B/var/lib/acme-ca
check "restored: PIN 0400 engine" mode_is "$S2/engine/user.pin" 400 acme-ca-engine acme-ca-engine
check "restored: policy store 0640 ra:policy" mode_is "$S2/policy/store/data.mdb" 640 acme-ca-ra acme-ca-policy
check "restored: status lock 0660 engine:status" mode_is "$S2/status/lock.mdb" 660 acme-ca-engine acme-ca-status
check "restored: engine config points at the new state" grep -q "\"$S2/engine/store\"" "$B/etc/acme-ca/engine.json"
check "restore refuses a state directory that has keys" \
  bash -c '! "$1" --from "$2" --passphrase-file "$4" --prefix "$3" --no-systemd --no-start >/dev/null 2>&1' \
  _ "$A/usr/sbin/acme-ca-restore" "$T/backup.tar.gz.enc" "$B" "$T/passphrase"
st=$(ocsp_status)
if [ "$st" = good ] && grep -q 'Response verify OK' "$T/ocsp.err"; then
  pass "restored appliance: OCSP for the certificate issued before the backup is good"
else
  fail "restored appliance OCSP: '$st' $(cat "$T/ocsp.err")"
fi
# The restored gateway (accounts), engine (CA store, token, PIN) and status server together.
if REQUESTS_CA_BUNDLE=$ROOT "${CB[@]}" revoke --cert-path "$CERT" --reason superseded \
     --no-delete-after-revoke >"$T/revoke.log" 2>&1; then
  pass "certbot revoke through the restored appliance"
else
  fail "certbot revoke: $(grep -iE 'error|detail' "$T/revoke.log" | tail -3)"
fi
st=""
for _ in $(seq 50); do st=$(ocsp_status); [ "$st" = revoked ] && break; sleep 0.2; done
if [ "$st" = revoked ] && grep -q 'Response verify OK' "$T/ocsp.err"; then
  pass "restored appliance: OCSP now says revoked (signed with the restored OCSP key)"
else
  fail "OCSP after revocation: '$st'"
fi
# The engine re-signs the CRL within a minute of a revocation it does not list yet.
sn=$(openssl x509 -in "$CERT" -noout -serial | cut -d= -f2 | sed 's/^0*//')
listed=0
for _ in $(seq 90); do
  crl=$(curl -sf "http://127.0.0.1:$STATUS_PORT/crl/acme-int.crl" | openssl crl -inform DER -noout -text 2>/dev/null)
  if grep -qi "Serial Number: 0*$sn\$" <<<"$crl"; then listed=1; break; fi
  sleep 1
done
check "restored appliance: the CRL lists the revoked serial (reason Superseded)" \
  bash -c '(( $1 )) && grep -A5 -i "Serial Number: 0*$2\$" <<<"$3" | grep -q Superseded' _ "$listed" "$sn" "$crl"

# ---------------------------------------------------------------- Audit (guide): verify-audit
# The restored appliance carries the chains on: the issuance (made before the backup) and the
# revocation (after the restore) in the engine's file, the policy changes in the RA's.
AUDIT=$A/usr/bin/ca-audit
if out=$("$AUDIT" verify-audit "$S2/audit/engine.jsonl" "$S2/audit/ra.jsonl" 2>&1) &&
   grep -q "engine.jsonl: intact: " <<<"$out" && grep -q "ra.jsonl: intact: " <<<"$out"; then
  pass "ca-audit verify-audit: both audit files intact"
else
  fail "ca-audit verify-audit: $out"
fi
check "engine audit file: the certbot issuance and its revocation (serial, account, order, reason)" \
  python3 - "$S2/audit/engine.jsonl" "$sn" <<'PY'
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1])]
sn = sys.argv[2].lower().lstrip("0")
issued = [e for e in entries if e["event"] == "issued" and e["serial"].lstrip("0") == sn]
revoked = [e for e in entries if e["event"] == "revoked" and e["serial"].lstrip("0") == sn]
ok = (len(issued) == 1 and issued[0]["account"] and issued[0]["order"] and issued[0]["result_code"] == "OK"
      and len(revoked) == 1 and revoked[0]["reason_name"] == "superseded" and revoked[0]["newly_revoked"])
if not ok:
    print("   ", [(e["seq"], e["event"], e.get("serial")) for e in entries])
sys.exit(0 if ok else 1)
PY
check "RA audit file: the guide's organisation, external account and domain as policy changes" \
  bash -c 'for a in org.create ext-account.create domain.add; do grep -q "\"action\":\"$a\"" "$1" || exit 1; done' _ "$S2/audit/ra.jsonl"
# One byte changed in a copy: verify-audit fails and names the line.
cp "$S2/audit/engine.jsonl" "$T/tampered.jsonl"
line=$(grep -n '"event":"issued"' "$T/tampered.jsonl" | head -1 | cut -d: -f1)
sed -i "${line}s/\"result_code\":\"OK\"/\"result_code\":\"OX\"/" "$T/tampered.jsonl"
rc=0; out=$("$AUDIT" verify-audit "$T/tampered.jsonl" 2>&1) || rc=$?
if [ "$rc" = 1 ] && grep -q "^$T/tampered.jsonl:$line: hash does not match" <<<"$out" && grep -q TAMPERED <<<"$out"; then
  pass "ca-audit verify-audit: one edited byte found, line $line named, exit 1"
else
  fail "ca-audit verify-audit on a tampered copy (exit $rc): $out"
fi

"$A/usr/sbin/acme-ca-setup" stop --prefix "$B" --no-systemd >/dev/null 2>&1

# ---------------------------------------------------------------- Ceremony on an offline machine
# What an offline SoftHSM machine hands over: the ceremony outputs, the token and its user PIN.
O=$T/offline
mkdir -p "$O"
cp -a "$S/ceremony/all" "$S/ceremony/init" "$S/engine/tokens" "$O/"
cp "$S/engine/user.pin" "$O/user.pin"
mkdir -p "$C/etc/acme-ca"
chmod 0755 "$C"
ln -s "$A/usr" "$C/usr"
for _ in $(seq 20); do
  pc=$((20000 + (RANDOM % 200) * 100))
  busy=0
  for off in 0 1 4 6; do (exec 3<>/dev/tcp/127.0.0.1/$((pc + off))) 2>/dev/null && busy=1; done
  ((busy)) || break
done
sed -e "s|^GATEWAY_PORT=.*|GATEWAY_PORT=$pc|" -e "s|^STATUS_PORT=.*|STATUS_PORT=$((pc + 1))|" \
    -e "s|^GATEWAY_METRICS_PORT=.*|GATEWAY_METRICS_PORT=$((pc + 4))|" \
    -e "s|^DASHBOARD_PORT=.*|DASHBOARD_PORT=$((pc + 6))|" \
    -e "s|^STATUS_BASE_URL=.*|STATUS_BASE_URL=http://127.0.0.1:$((pc + 1))|" \
    "$E/setup.conf" >"$C/etc/acme-ca/setup.conf"
if "$A/usr/sbin/acme-ca-setup" --prefix "$C" --no-systemd --import-ceremony "$O" >"$T/import.log" 2>&1 &&
   grep -q 'imported the ceremony outputs' "$T/import.log" && ! grep -qE 'ceremony (init-token|all) ' "$T/import.log" &&
   cmp -s "$ROOT" "$C/var/lib/acme-ca/ceremony/all/root.pem"; then
  pass "acme-ca-setup --import-ceremony: no ceremony run, the offline root and keys in use, services up"
else
  fail "--import-ceremony: $(tail -3 "$T/import.log")"
fi
check "imported: PIN 0400 engine, token the engine's" \
  bash -c '[ "$(stat -c "%a %U" "$1/engine/user.pin")" = "400 acme-ca-engine" ] &&
           [ -z "$(find "$1/engine/tokens" ! -user acme-ca-engine -print)" ]' _ "$C/var/lib/acme-ca"
check "imported: the gateway's certificate is signed by the offline intermediate" \
  bash -c 'openssl s_client -connect "127.0.0.1:$1" -servername localhost -CAfile "$2" </dev/null 2>/dev/null |
           grep -q "Verify return code: 0 (ok)"' _ "$pc" "$ROOT"
"$A/usr/sbin/acme-ca-setup" stop --prefix "$C" --no-systemd >/dev/null 2>&1

if ((fails == 0)); then echo "appliance_e2e: all checks passed"; else echo "appliance_e2e: $fails check(s) failed"; fi
[ "$fails" -eq 0 ]
