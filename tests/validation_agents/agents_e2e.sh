#!/usr/bin/env bash
# usage: agents_e2e.sh CA_VALIDATION_AGENT VALIDATE_DRIVER
# R28 end to end. A hub namespace (the gateway's side: the validator, driven by validate_driver
# with the gateway's client, and the http-01 responder at 10.89.0.1) and three zone namespaces,
# each with its own DNS server (pebble-challtestsrv on the zone's loopback) and a
# ca-validation-agent answering over mutual TLS (certificates from a test CA made here).
# Checks: (a) every zone resolves the name to the responder -> valid, each agent's answer and
# address reported; (b) zone 3's DNS answers another address (split horizon, a host serving
# another key authorization) -> quorum "all" refuses with incorrectResponse and "perspectives
# disagree", the report shows zone 3's address; "all_but_one" accepts; (c) zone 3's agent killed
# -> "all": unavailable (transient, the gateway retries and then answers RATE_LIMITED),
# "all_but_one": valid; a gateway certificate the agents do not know -> every zone unreachable.
# Loopback/veth only, private addresses; needs root (ip netns), exits 77 (skipped) without it.
# Stops what it starts by PID and deletes its namespaces on any exit.
set -euo pipefail
AGENT_BIN=$(realpath "$1")
DRIVER_BIN=$(realpath "$2")
for tool in ip openssl curl pebble-challtestsrv python3 jq; do
  command -v "$tool" >/dev/null || { echo "agents_e2e: $tool is required (scripts/install-deps.sh)" >&2; exit 1; }
done
# shellcheck source=../netns_lib.sh
source "$(dirname "$(realpath "$0")")/../netns_lib.sh"
TAG="va$$"
netns_require agents_e2e "$TAG"

WORK=$(mktemp -d /tmp/agents_e2e.XXXXXX)
NAMESPACES=()
PIDS=()
declare -A AGENT_PID
cleanup() {
  local rc=$?
  netns_stop_all
  if (( rc != 0 )); then
    for i in 1 2 3; do
      [[ -f "$WORK/agent$i.log" ]] && { echo "--- agent $i log (last 5):" >&2; tail -5 "$WORK/agent$i.log" >&2; }
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
fail() { echo "FAIL: $*" >&2; exit 1; }
HUB="${TAG}hub"
NAME=www.split.test
TOKEN=tokSplitHorizon1
KEYAUTH="$TOKEN.thumbprintOfTheAccountKey"

# --- namespaces: hub <-veth-> zone i (10.89.i.0/30); the responder lives on the hub's 10.89.0.1
netns_zones "$HUB" "${TAG}z" 10.89

# --- certificates: a CA, one server certificate per agent, the gateway's client certificate ---
leaf() {  # leaf NAME SAN EKU [CA]
  local ca=${4:-ca}
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$2" "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial -days 1 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  chmod 600 "$1.key"
}
for ca in ca other; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=agents-e2e-$ca" -keyout "$ca.key" -out "$ca.pem" 2>/dev/null
done
leaf gateway DNS:gateway.test clientAuth
leaf intruder DNS:gateway.test clientAuth other
for i in 1 2 3; do leaf "agent$i" "IP:10.89.$i.2" serverAuth; done

# --- processes ---------------------------------------------------------------------------------
wait_http() {  # wait_http NS URL
  for _ in $(seq 1 50); do
    ip netns exec "$1" curl -s -o /dev/null --noproxy '*' "$2" && return 0
    sleep 0.1
  done
  fail "$2 in $1 did not come up"
}
manage() {  # manage NS ENDPOINT JSON: pebble-challtestsrv's management API on the namespace's loopback
  ip netns exec "$1" curl -sf --noproxy '*' -X POST -d "$3" "http://127.0.0.1:8055/$2" >/dev/null \
    || fail "challtestsrv $2 in $1"
}
# The responder (http-01 only, on 10.89.0.1:5002) and, at 10.89.0.2, another host that serves
# the same path with another account's key authorization.
ip netns exec "$HUB" pebble-challtestsrv -http01 10.89.0.1:5002 -https01 "" -tlsalpn01 "" -dns01 "" \
  -management 127.0.0.1:8055 > responder.log 2>&1 &
PIDS+=($!)
wait_http "$HUB" http://127.0.0.1:8055/
manage "$HUB" add-http01 "{\"token\":\"$TOKEN\",\"content\":\"$KEYAUTH\"}"
mkdir -p decoy/.well-known/acme-challenge
echo "$TOKEN.anotherAccountsThumbprint" > "decoy/.well-known/acme-challenge/$TOKEN"
ip netns exec "$HUB" python3 -m http.server 5002 --bind 10.89.0.2 --directory decoy > decoy.log 2>&1 &
PIDS+=($!)
wait_http "$HUB" "http://10.89.0.2:5002/.well-known/acme-challenge/$TOKEN"

start_agent() {  # start_agent I
  local ns="${TAG}z$1"
  cat > "agent$1.json" <<JSON
{"listen_address": "10.89.$1.2", "port": 8744,
 "tls_cert_file": "$WORK/agent$1.pem", "tls_key_file": "$WORK/agent$1.key",
 "client_ca_file": "$WORK/ca.pem", "client_names": ["gateway.test"],
 "max_seconds": 20,
 "validation": {"resolver": "127.0.0.1:8053", "dns_timeout_seconds": 1, "dns_attempts": 1,
                "connect_timeout_ms": 2000, "io_timeout_ms": 5000,
                "caa_identities": ["acme-ca.test"], "allowed_networks": ["10.89.0.0/24"]}}
JSON
  ip netns exec "$ns" "$AGENT_BIN" --config "$WORK/agent$1.json" > "agent$1.log" 2>&1 &
  AGENT_PID[$1]=$!
  PIDS+=($!)
  for _ in $(seq 1 50); do grep -q agent_started "agent$1.log" && return 0; sleep 0.1; done
  fail "agent $1 did not start: $(cat "agent$1.log")"
}
for i in 1 2 3; do
  ns="${TAG}z$i"
  ip netns exec "$ns" pebble-challtestsrv -dns01 127.0.0.1:8053 -http01 "" -https01 "" -tlsalpn01 "" \
    -management 127.0.0.1:8055 -defaultIPv6 "" > "dns$i.log" 2>&1 &
  PIDS+=($!)
  wait_http "$ns" http://127.0.0.1:8055/
  manage "$ns" add-a "{\"host\":\"$NAME.\",\"addresses\":[\"10.89.0.1\"]}"
  start_agent "$i"
done

validate() {  # validate QUORUM [CLIENT]: the gateway's validator, from the hub, asks the three agents
  local client=${2:-gateway}
  cat > gateway.json <<JSON
{"remote_agents": [
   {"name": "zone1", "url": "https://10.89.1.2:8744/validate", "client_cert_file": "$WORK/$client.pem",
    "client_key_file": "$WORK/$client.key", "ca_file": "$WORK/ca.pem"},
   {"name": "zone2", "url": "https://10.89.2.2:8744/validate", "client_cert_file": "$WORK/$client.pem",
    "client_key_file": "$WORK/$client.key", "ca_file": "$WORK/ca.pem"},
   {"name": "zone3", "url": "https://10.89.3.2:8744/validate", "client_cert_file": "$WORK/$client.pem",
    "client_key_file": "$WORK/$client.key", "ca_file": "$WORK/ca.pem"}],
 "quorum": "$1", "http01_port": 5002, "caa_identities": ["acme-ca.test"],
 "allowed_networks": ["10.89.0.0/24"]}
JSON
  ip netns exec "$HUB" "$DRIVER_BIN" gateway.json http-01 "$NAME" "$TOKEN" "$KEYAUTH" > out.json \
    || fail "validate_driver failed"
}
field() { jq -r "$1" out.json; }
expect() {  # expect JQ VALUE WHAT
  local got; got=$(field "$1")
  [[ "$got" == "$2" ]] || { cat out.json >&2; fail "$3: $1 is '$got', expected '$2'"; }
}

# (a) all zones agree -> valid; each agent answered from its own view, with the address it saw.
validate all
expect .kind valid "(a) all zones agree"
expect .detail "3 of 3 vantage points succeeded (quorum 3)" "(a)"
for i in 0 1 2; do
  expect ".perspectives[$i].name" "zone$((i + 1))" "(a)"
  expect ".perspectives[$i].remote" true "(a)"
  expect ".perspectives[$i].outcome" valid "(a)"
  expect ".perspectives[$i].addresses | join(\",\")" 10.89.0.1 "(a)"
done
echo "(a) all zones agree: valid"

# (b) split horizon: zone 3's DNS answers another address for the name.
manage "${TAG}z3" clear-a "{\"host\":\"$NAME.\"}"
manage "${TAG}z3" add-a "{\"host\":\"$NAME.\",\"addresses\":[\"10.89.0.2\"]}"
validate all
expect .kind invalid "(b) split horizon, quorum all"
expect .problem urn:ietf:params:acme:error:incorrectResponse "(b)"
[[ "$(field .detail)" == "perspectives disagree: 2 of 3 vantage points succeeded (quorum 3); zone3: "* ]] \
  || { cat out.json >&2; fail "(b) detail"; }
expect ".perspectives[2].outcome" invalid "(b)"
expect ".perspectives[2].problem" urn:ietf:params:acme:error:incorrectResponse "(b)"
expect ".perspectives[2].addresses | join(\",\")" 10.89.0.2 "(b)"
expect ".perspectives[0].addresses | join(\",\")" 10.89.0.1 "(b)"
validate all_but_one
expect .kind valid "(b) split horizon, quorum all_but_one"
expect .detail "2 of 3 vantage points succeeded (quorum 2)" "(b)"
echo "(b) split horizon in zone 3: refused with incorrectResponse (all), accepted (all_but_one)"

# (c) zone 3 back in agreement, then its agent dies.
manage "${TAG}z3" clear-a "{\"host\":\"$NAME.\"}"
manage "${TAG}z3" add-a "{\"host\":\"$NAME.\",\"addresses\":[\"10.89.0.1\"]}"
validate all
expect .kind valid "(c) before the kill"
kill "${AGENT_PID[3]}"
wait "${AGENT_PID[3]}" 2>/dev/null || true
validate all
expect .kind unavailable "(c) dead agent, quorum all"
[[ "$(field .detail)" == "could not reach enough vantage points: 2 of 3 vantage points succeeded (quorum 3); agent zone3 unreachable: "* ]] \
  || { cat out.json >&2; fail "(c) detail"; }
expect ".perspectives[2].outcome" unavailable "(c)"
validate all_but_one
expect .kind valid "(c) dead agent, quorum all_but_one"
echo "(c) dead agent in zone 3: unavailable (all), valid (all_but_one)"

# A gateway certificate from another CA: every agent refuses it (403), nothing is validated.
validate all_but_one intruder
expect .kind unavailable "intruder"
expect ".perspectives[0].detail" "agent zone1 unreachable: HTTP status 403" "intruder"
grep -q agent_client_refused agent1.log || fail "agent 1 did not log the refused client"
echo "agents_e2e: OK"
