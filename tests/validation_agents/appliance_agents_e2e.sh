#!/usr/bin/env bash
# appliance_agents_e2e.sh SOURCE_DIR CA_VALIDATION_AGENT CA_ENGINE CA_GATEWAY CA_STATUS_SERVER CA_RA CA_CEREMONY
#                         CA_STATUS_PUBLISH CA_AUDIT CA_DASHBOARD CA_REPORT
# R28 on the whole path, as docs/OPERATOR_GUIDE.md "Validation agents" tells the operator: the
# appliance deployed by acme-ca-setup --no-systemd (temporary root prefix) in a hub network
# namespace; `acme-ca-setup agent-bundle` for three zones (server certificates from this CA's
# tls-server ceremony, the gateway's client certificate); each bundle installed as the package and
# unit lay it out and the agent started in its own zone namespace with its own DNS server
# (pebble-challtestsrv on the zone's loopback); VALIDATION_AGENTS set and `--reconfigure`; certbot
# (EAB, http-01 standalone) issuing through the gateway.
#   (a) a name every zone resolves alike: certificate issued; the gateway's audit trail has
#       validation_perspectives with every agent's answer and the address its zone saw;
#   (b) a split-horizon name (zone 3 answers another host) under quorum all: certbot gets
#       incorrectResponse with ACME_HTTP_CHALLENGE_FAILED and "perspectives disagree" in the detail;
#   (c) zone 3's agent killed: under all the challenge is retried, then refused with rateLimited /
#       RATE_LIMITED naming the unreachable agent; under all_but_one the certificate is issued;
#   (d) an impostor with a genuine certificate of this CA for zone 1's address: the gateway's pin
#       (each agent's own certificate, written by setup) refuses it; all_but_one issues on the others.
# Loopback and veth only, private addresses (10.90.0.0/16); needs root (service accounts, ip netns),
# exits 77 (skipped) without it. Stops what it starts by PID, deletes its namespaces and the
# service accounts it created.
set -uo pipefail
src=$1 agent_bin=$2
shift 2
. "$src/tests/appliance/lib.sh"
# shellcheck source=../netns_lib.sh
. "$src/tests/netns_lib.sh"
TAG="vp$$"
netns_require appliance_agents_e2e "$TAG"
for t in certbot pebble-challtestsrv setpriv openssl python3 jq curl; do
  command -v "$t" >/dev/null || { echo "FAIL: $t not installed (scripts/install-deps.sh)"; exit 1; }
done
T=$(mktemp -d /tmp/acme-ca-agents-e2e.XXXXXX)
chmod 0755 "$T"
A=$T/a
NAMESPACES=()
PIDS=()
declare -A AGENT_PID
record_created_accounts
cleanup() {
  stop_prefix "$A"
  netns_stop_all
  remove_test_state
}
trap cleanup EXIT
die() { echo "FAIL: $*"; exit 1; }

HUB="${TAG}hub"
in_hub() { ip netns exec "$HUB" "$@"; }
# Hub: the appliance, certbot's responder on 10.90.0.1 (every zone's answer for the test names) and,
# on 10.90.0.2, the host zone 3's split-horizon DNS points at. Zone i: 10.90.i.2, behind a veth.
netns_zones "$HUB" "${TAG}z" 10.90

# The appliance's ports (this helper's range); the namespaces are private, so nothing else collides.
pb=24100 agent_port=24744
HTTP01_PORT=$((pb + 2))
manage() {  # manage NS PORT ENDPOINT JSON: pebble-challtestsrv's management API in NS
  ip netns exec "$1" curl -sf --noproxy '*' -X POST -d "$4" "http://127.0.0.1:$2/$3" >/dev/null ||
    die "challtestsrv $3 in $1"
}
wait_up() {  # wait_up NS URL
  for _ in $(seq 1 50); do ip netns exec "$1" curl -s -o /dev/null --noproxy '*' "$2" && return 0; sleep 0.1; done
  die "$2 in $1 did not come up"
}
# The appliance's own resolver (DNS_RESOLVER) and each zone's.
# (started with ip netns exec, not the in_hub function: $! must be the server itself, stopped by PID)
ip netns exec "$HUB" pebble-challtestsrv -management "127.0.0.1:$((pb + 5))" -dns01 "127.0.0.1:$((pb + 53))" -defaultIPv6 "" \
  -http01 "" -https01 "" -tlsalpn01 "" >"$T/dns-hub.log" 2>&1 &
PIDS+=($!)
wait_up "$HUB" "http://127.0.0.1:$((pb + 5))/"
for i in 1 2 3; do
  ip netns exec "${TAG}z$i" pebble-challtestsrv -dns01 127.0.0.1:8053 -management 127.0.0.1:8055 -defaultIPv6 "" \
    -http01 "" -https01 "" -tlsalpn01 "" >"$T/dns-z$i.log" 2>&1 &
  PIDS+=($!)
  wait_up "${TAG}z$i" http://127.0.0.1:8055/
done
resolve_everywhere() {  # resolve_everywhere NAME ADDRESS: the same answer in the hub and every zone
  manage "$HUB" $((pb + 5)) add-a "{\"host\":\"$1.\",\"addresses\":[\"$2\"]}"
  for i in 1 2 3; do manage "${TAG}z$i" 8055 add-a "{\"host\":\"$1.\",\"addresses\":[\"$2\"]}"; done
}
# The other host of zone 3's view: answers every http-01 token with another account's key authorization.
ip netns exec "$HUB" python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (self.path.rsplit("/", 1)[-1] + ".anotherAccountsThumbprint").encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("10.90.0.2", int(sys.argv[1])), H).serve_forever()' "$HTTP01_PORT" >"$T/decoy.log" 2>&1 &
PIDS+=($!)
wait_up "$HUB" "http://10.90.0.2:$HTTP01_PORT/.well-known/acme-challenge/probe"

# --- the appliance, as the guide sets it up (no agents yet) -------------------------------------
install_prefix "$A" "$src" "$1" "$2" "$3" "$6" "$4" "$5" "$7" "$8" "$9"
cp "$A/etc/acme-ca/setup.conf.example" "$A/etc/acme-ca/setup.conf"
loopback_setup_conf "$A/etc/acme-ca/setup.conf" "$pb"
sed -i -e "s|^VALIDATOR_NETWORKS=.*|VALIDATOR_NETWORKS=10.90.0.0/24|" -e "s|^DASHBOARD_PORT=.*|DASHBOARD_PORT=|" \
       -e "s|^#STATUS_EXPORT_DIR=.*|STATUS_EXPORT_DIR=|" -e "s|^ROOT_KEY_TYPE=.*|ROOT_KEY_TYPE=ec-p384|" \
       -e "s|^VALIDATION_AGENT_PORT=.*|VALIDATION_AGENT_PORT=$agent_port|" "$A/etc/acme-ca/setup.conf"
S=$A/var/lib/acme-ca E=$A/etc/acme-ca
SETUP=$A/usr/sbin/acme-ca-setup
# setup_prefix_or_exit, in the hub: the services it starts live there.
setup_in_hub() { in_hub "$SETUP" --prefix "$A" --no-systemd "$@"; }
if setup_in_hub >"$T/setup-1.log" 2>&1; then pass "acme-ca-setup --no-systemd in the hub namespace: appliance up"
else cat "$T/setup-1.log"; die "setup did not complete"; fi

# --- agent-bundle for each zone, installed as the ca-validation-agent package lays it out ---------
for i in 1 2 3; do
  if ! "$SETUP" agent-bundle --prefix "$A" --agent-name "zone$i" --agent-address "10.90.$i.2" >"$T/bundle$i.log" 2>&1; then
    cat "$T/bundle$i.log"; die "acme-ca-setup agent-bundle zone$i"
  fi
done
B=$S/agents/zone1
check "agent-bundle: agent.json, agent.pem, agent.key (0600 root), client-ca.pem" bash -c '
  [ -f "$1/agent.json" ] && [ -f "$1/agent.pem" ] && [ -f "$1/client-ca.pem" ] && [ "$(stat -c "%a %U" "$1/agent.key")" = "600 root" ]' _ "$B"
check "agent-bundle: the agent's certificate is this CA's (chains to the root, serverAuth, IP 10.90.1.2)" bash -c '
  openssl verify -CAfile "$2" -untrusted "$1/agent.pem" "$1/agent.pem" >/dev/null &&
  openssl x509 -in "$1/agent.pem" -noout -ext extendedKeyUsage,subjectAltName | tr -d " " | grep -q "TLSWebServerAuthentication" &&
  openssl x509 -in "$1/agent.pem" -noout -ext subjectAltName | grep -q "IP Address:10.90.1.2"' _ "$B" "$S/ceremony/all/root.pem"
check "agent-bundle: the gateway's client certificate (clientAuth, DNS:localhost) verifies against the bundle's client-ca.pem" bash -c '
  openssl verify -CAfile "$1/client-ca.pem" -purpose sslclient "$2/client.pem" >/dev/null &&
  openssl x509 -in "$2/client.pem" -noout -ext subjectAltName | grep -q "DNS:localhost"' _ "$B" "$S/gateway/agents"
check "agent-bundle: a second bundle for the same zone is refused, nothing changed" bash -c '
  before=$(sha256sum "$3/agent.pem"); ! "$1" agent-bundle --prefix "$2" --agent-name zone1 --agent-address 10.90.1.2 2>"$4" &&
  grep -q "exists" "$4" && [ "$before" = "$(sha256sum "$3/agent.pem")" ]' _ "$SETUP" "$A" "$B" "$T/bundle-again.log"

start_agent() {  # start_agent I [BUNDLE]: zone i's host: the bundle (default zoneI) in Z/etc/ca-validation-agent, the key as the unit's credential
  local z=$T/zone$1 ns="${TAG}z$1" b=$S/agents/${2:-zone$1}
  install -d -m 0755 "$z/etc/ca-validation-agent" "$z/run/credentials/ca-validation-agent.service" "$z/usr/lib/ca-validation-agent"
  install -m 0755 "$agent_bin" "$z/usr/lib/ca-validation-agent/"
  install -m 0644 "$b/"{agent.pem,client-ca.pem} "$z/etc/ca-validation-agent/"
  install -m 0400 -o nobody "$b/agent.key" "$z/run/credentials/ca-validation-agent.service/agent.key"
  # What the guide has the operator change: the zone's resolver (paths: this host's root is $z).
  jq --arg z "$z" '.validation.resolver = "127.0.0.1:8053"
      | .tls_cert_file = $z + .tls_cert_file | .tls_key_file = $z + .tls_key_file | .client_ca_file = $z + .client_ca_file' \
    "$b/agent.json" >"$z/etc/ca-validation-agent/agent.json"
  # As the unit runs it: an unprivileged user, no capabilities.
  ip netns exec "$ns" setpriv --reuid nobody --regid nogroup --clear-groups --inh-caps=-all --bounding-set=-all \
    "$z/usr/lib/ca-validation-agent/ca-validation-agent" --config "$z/etc/ca-validation-agent/agent.json" >"$T/agent$1.log" 2>&1 &
  AGENT_PID[$1]=$!
  PIDS+=($!)
  for _ in $(seq 1 50); do grep -q agent_started "$T/agent$1.log" && return 0; sleep 0.1; done
  cat "$T/agent$1.log"; die "agent $1 did not start"
}
for i in 1 2 3; do start_agent "$i"; done
pass "three agents up, each in its zone namespace, as nobody"

# --- VALIDATION_AGENTS and --reconfigure (restarts the services) ---------------------------------
reconfigure() {  # reconfigure QUORUM
  sed -i -e "s|^VALIDATION_AGENTS=.*|VALIDATION_AGENTS=zone1=https://10.90.1.2:$agent_port/validate, zone2=https://10.90.2.2:$agent_port/validate, zone3=https://10.90.3.2:$agent_port/validate|" \
         -e "s|^VALIDATION_QUORUM=.*|VALIDATION_QUORUM=$1|" "$E/setup.conf"
  setup_in_hub --reconfigure >"$T/setup-$1.log" 2>&1 || { cat "$T/setup-$1.log"; die "acme-ca-setup --reconfigure (quorum $1)"; }
}
reconfigure all
check "gateway.json: three remote agents, quorum all, each agent pinned to the certificate agent-bundle issued it" python3 -c '
import json, sys, subprocess
v = json.load(open(sys.argv[1]))["validation"]
assert v["quorum"] == "all" and [a["name"] for a in v["remote_agents"]] == ["zone1", "zone2", "zone3"], v
for a in v["remote_agents"]:
    assert a["ca_file"] == sys.argv[2] + "/gateway/agents/" + a["name"] + ".pem", a
    assert a["client_key_file"] == sys.argv[2] + "/gateway/agents/client.key", a
    pin = open(a["ca_file"]).read()
    leaf = subprocess.run(["openssl", "x509", "-in", sys.argv[2] + "/agents/" + a["name"] + "/agent.pem"],
                          capture_output=True, text=True, check=True).stdout
    assert pin == leaf, a["name"]' "$E/gateway.json" "$S"
check "agent pins: 0444, the gateway's" mode_is "$S/gateway/agents/zone1.pem" 444 acme-ca-gateway acme-ca-gateway
check "the gateway's client key for the agents: 0400, the gateway's" mode_is "$S/gateway/agents/client.key" 400 acme-ca-gateway acme-ca-gateway
check "the agents' client CA key: root's only" mode_is "$S/agents/client-ca.key" 600 root root

export ACME_CA_ETC_DIR=$E ACME_CA_RA_BIN=$A/usr/bin/ca-ra
# in the hub: ca-ra looks CAA up through the appliance's resolver (R7), which listens in the hub
first_external_account ip netns exec "$HUB" "$A/usr/sbin/acme-ca-ra" -- "Zones Organisation" "Zones Operator" zones.test http-01
set -a; . "$E/appliance.env"; set +a
# certbot_issue on the responder address every zone routes to.
issue() {  # issue NAME CERT_NAME: certbot in the hub, http-01 standalone on 10.90.0.1
  in_hub env REQUESTS_CA_BUNDLE="$ROOT_CA_PEM" certbot --non-interactive --agree-tos --email ops@zones.test \
    --server "$ACME_DIR" --config-dir "$T/certbot/conf" --work-dir "$T/certbot/work" --logs-dir "$T/certbot/logs" \
    certonly --standalone --http-01-address 10.90.0.1 --http-01-port "$HTTP01_PORT" \
    --eab-kid "$EAB_KID" --eab-hmac-key="$EAB_HMAC" --key-type rsa --rsa-key-size 3072 -d "$1" --cert-name "$2" >"$T/certbot-$2.log" 2>&1
}
AUDIT=$S/audit/gateway.jsonl
jq_true() { jq -e "$1" >/dev/null; }  # jq_true FILTER: stdin's JSON satisfies FILTER
# last_perspectives NAME: the last validation_perspectives entry for NAME, one JSON line
last_perspectives() { jq -c --arg n "$1" 'select(.event == "validation_perspectives" and .name == $n)' "$AUDIT" | tail -1; }

# (a) every zone resolves the name alike.
resolve_everywhere www.zones.test 10.90.0.1
if issue www.zones.test a; then
  check "(a) all zones agree: certbot got a certificate for www.zones.test from this CA" bash -c '
    openssl verify -CAfile "$2" -untrusted "$3" "$1" >/dev/null && openssl x509 -in "$1" -noout -ext subjectAltName | grep -q "DNS:www.zones.test"' \
    _ "$T/certbot/conf/live/a/cert.pem" "$ROOT_CA_PEM" "$INTERMEDIATE_CA_PEM"
else
  fail "(a) certbot: $(grep -iE 'type|detail|error' "$T/certbot-a.log" | tail -4)"
fi
entry=$(last_perspectives www.zones.test)
check "(a) audit: validation_perspectives, decision valid, 3 of 3 (the zones; the gateway's own position does not vote), each agent valid from 10.90.0.1" \
  jq_true '.decision == "valid" and .challenge_status == "valid" and .detail == "3 of 3 vantage points succeeded (quorum 3)"
    and ([.perspectives[] | select(.remote) | [.name, .outcome, (.addresses | join(","))]]
         == [["zone1", "valid", "10.90.0.1"], ["zone2", "valid", "10.90.0.1"], ["zone3", "valid", "10.90.0.1"]])
    and all(.perspectives[]; .remote)' <<<"$entry"
check "(a) each agent logged the validation it ran from its zone" bash -c '
  for i in 1 2 3; do grep -q "www.zones.test" "$1/agent$i.log" || exit 1; done' _ "$T"

# (b) split horizon: zone 3's DNS sends split.zones.test to the other host.
resolve_everywhere split.zones.test 10.90.0.1
manage "${TAG}z3" 8055 clear-a '{"host":"split.zones.test."}'
manage "${TAG}z3" 8055 add-a '{"host":"split.zones.test.","addresses":["10.90.0.2"]}'
if issue split.zones.test b; then
  fail "(b) split horizon under quorum all: certbot got a certificate"
else
  check "(b) split horizon, quorum all: certbot refused with incorrectResponse, ACME_HTTP_CHALLENGE_FAILED, perspectives disagree naming zone3" \
    bash -c 'grep -q "Type: *incorrectResponse" "$1" &&
      grep -q "Detail: ACME_HTTP_CHALLENGE_FAILED: perspectives disagree: 2 of 3 vantage points succeeded (quorum 3); zone3: " "$1"' _ "$T/certbot-b.log"
fi
entry=$(last_perspectives split.zones.test)
check "(b) audit: decision invalid, result code ACME_HTTP_CHALLENGE_FAILED, zone3 invalid from 10.90.0.2, zones 1-2 valid from 10.90.0.1" \
  jq_true '.decision == "invalid" and .result_code == "ACME_HTTP_CHALLENGE_FAILED"
    and .problem == "urn:ietf:params:acme:error:incorrectResponse"
    and ([.perspectives[] | select(.remote) | [.name, .outcome, (.addresses | join(","))]]
         == [["zone1", "valid", "10.90.0.1"], ["zone2", "valid", "10.90.0.1"], ["zone3", "invalid", "10.90.0.2"]])' <<<"$entry"
check "(b) audit: validation_failed with the same result code for split.zones.test" bash -c '
  jq -e -s "[.[] | select(.event == \"validation_failed\" and .name == \"split.zones.test\")] | length == 1 and .[0].result_code == \"ACME_HTTP_CHALLENGE_FAILED\"" "$1" >/dev/null' _ "$AUDIT"

# (c) zone 3's agent dies.
kill "${AGENT_PID[3]}"
wait "${AGENT_PID[3]}" 2>/dev/null
resolve_everywhere dead.zones.test 10.90.0.1
if issue dead.zones.test c-all; then
  fail "(c) dead agent under quorum all: certbot got a certificate"
else
  check "(c) dead agent, quorum all: retried, then rateLimited with RATE_LIMITED naming the unreachable zone3" \
    bash -c 'grep -q "Type: *rateLimited" "$1" && grep -q "Detail: RATE_LIMITED: dead.zones.test could not be validated after [0-9]* attempts: could not reach enough vantage points: 2 of 3 vantage points succeeded (quorum 3); agent zone3 unreachable" "$1"' \
    _ "$T/certbot-c-all.log"
fi
check "(c) audit: every attempt's perspectives recorded, zone3 unavailable, the last one decided unavailable with RATE_LIMITED" bash -c '
  jq -e -s "[.[] | select(.event == \"validation_perspectives\" and .name == \"dead.zones.test\")]
    | length > 1 and all(.[]; .decision == \"unavailable\" and ([.perspectives[] | select(.name == \"zone3\")][0].outcome == \"unavailable\"))
    and .[-1].result_code == \"RATE_LIMITED\"" "$1" >/dev/null' _ "$AUDIT"
reconfigure all_but_one
check "gateway.json: quorum all_but_one after --reconfigure" jq_true '.validation.quorum == "all_but_one"' <"$E/gateway.json"
resolve_everywhere dead2.zones.test 10.90.0.1
if issue dead2.zones.test c-abo; then
  check "(c) dead agent, quorum all_but_one: certbot got a certificate for dead2.zones.test" \
    bash -c 'openssl x509 -in "$1" -noout -ext subjectAltName | grep -q "DNS:dead2.zones.test"' _ "$T/certbot/conf/live/c-abo/cert.pem"
else
  fail "(c) all_but_one: certbot: $(grep -iE 'type|detail|error' "$T/certbot-c-abo.log" | tail -4)"
fi
entry=$(last_perspectives dead2.zones.test)
check "(c) audit: decision valid, 2 of 3 (quorum 2), zone3 unavailable" \
  jq_true '.decision == "valid" and .detail == "2 of 3 vantage points succeeded (quorum 2)"
    and ([.perspectives[] | select(.name == "zone3")][0].outcome == "unavailable")' <<<"$entry"
# (d) an impostor in zone 1: a genuine certificate of this CA for zone 1's address, not the pinned
# one. The gateway refuses it (zone1 unavailable); zones 2 and 3 carry all_but_one.
start_agent 3
"$SETUP" agent-bundle --prefix "$A" --agent-name impostor --agent-address 10.90.1.2 >"$T/bundle-impostor.log" 2>&1 ||
  { cat "$T/bundle-impostor.log"; die "agent-bundle impostor"; }
kill "${AGENT_PID[1]}"
wait "${AGENT_PID[1]}" 2>/dev/null
start_agent 1 impostor
resolve_everywhere pinned.zones.test 10.90.0.1
if issue pinned.zones.test d; then pass "(d) impostor in zone 1, quorum all_but_one: issued on zones 2 and 3"
else fail "(d) certbot: $(grep -iE 'type|detail|error' "$T/certbot-d.log" | tail -4)"; fi
entry=$(last_perspectives pinned.zones.test)
check "(d) audit: zone1 unavailable (its certificate is not the pinned one: TLS refused by the gateway), zones 2-3 valid" \
  jq_true '.decision == "valid" and ([.perspectives[] | [.name, .outcome]] == [["zone1", "unavailable"], ["zone2", "valid"], ["zone3", "valid"]])
    and ([.perspectives[0].detail | test("^agent zone1 unreachable: .*(SSL|certificate)")] == [true])' <<<"$entry"
check "(d) the impostor agent was never asked to validate" bash -c '! grep -q pinned.zones.test "$1"' _ "$T/agent1.log"
# A restored appliance must still be the client its agents know: the backup holds the client CA,
# the gateway's client certificate and key, and the pins.
(umask 077; echo "agents backup passphrase" >"$T/passphrase")
if "$A/usr/sbin/acme-ca-backup" --prefix "$A" --passphrase-file "$T/passphrase" --out "$T/backup.enc" >"$T/backup.log" 2>&1 &&
   openssl enc -d -aes-256-cbc -pbkdf2 -iter 600000 -md sha256 -pass file:"$T/passphrase" -in "$T/backup.enc" |
     tar -tz >"$T/backup.list"; then
  check "acme-ca-backup: the agents' client CA, the gateway's client certificate and key, the pins" bash -c '
    for f in agents/client-ca.pem agents/client-ca.key gateway/agents/client.pem gateway/agents/client.key \
             gateway/agents/zone1.pem gateway/agents/zone2.pem gateway/agents/zone3.pem; do
      grep -q "^acme-ca-backup/state/$f$" "$1" || { echo "    not in the backup: $f"; exit 1; }
    done' _ "$T/backup.list"
else
  fail "acme-ca-backup: $(tail -3 "$T/backup.log")"
fi
check "the gateway's audit chain verifies" "$A/usr/bin/ca-audit" verify-audit "$AUDIT"

if ((fails)); then echo "$fails check(s) failed"; exit 1; fi
echo "all validation agent appliance checks passed"
