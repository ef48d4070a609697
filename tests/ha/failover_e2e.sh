#!/usr/bin/env bash
# failover_e2e.sh SOURCE_DIR CA_ENGINE CA_GATEWAY CA_STATUS_SERVER CA_RA CA_CEREMONY CA_STATUS_PUBLISH
#                 CA_AUDIT CA_DASHBOARD CA_REPORT
# Issue 20: an appliance pair loses its active node mid-load and no acknowledged certificate is lost.
# Network namespaces on one bridge (10.93.0.0/24): the pg_auto_failover monitor, node A, node B, the
# load balancer (haproxy) and the client. Installed as docs/OPERATOR_GUIDE.md "High availability
# (pair)" says: `acme-ca-setup pair monitor`, `pair postgres` on A then B (B: A's synchronous
# standby), `acme-ca-setup` on A (ceremony, stores in PostgreSQL, services), `acme-ca-backup
# --for-join` + `pair join` on B (same keys: a copy of the SoftHSM token; engine standby),
# `pair haproxy` for the load balancer. The load generator (failover_load.py) issues continuously
# through the load balancer; then every appliance process of the active node is SIGKILLed, then its
# database (keeper and PostgreSQL). Checks afterwards:
#   * issuance resumes through the survivor (its PostgreSQL promoted, its engine takes the lease);
#   * 0 acknowledged certificates missing from the survivor's CA store, 0 duplicate serials;
#   * the survivor's status server answers `good` (openssl ocsp) for every certificate issued;
#   * node A's keeper restarted: A rejoins as the standby (pg_autoctl show state: secondary), and
#     its engine, restarted, is the standby (the lease stays with B).
# Figures as one JSON line (also to HA_JSON when set): outage_seconds, max_gap_seconds, flows,
# failed flows (by kind), acknowledged_missing, duplicate_serials, failover and rejoin seconds.
# Knobs (environment): HA_LOAD_SECONDS (load before the kill, 20), HA_AFTER_SECONDS (load after it,
# 40), HA_RATE (flows/s, 4), HA_WORKERS (4), HA_KEY_POOL (RSA-3072 key pool kept across runs),
# HA_PORT_BASE (25000). Needs root (ip netns, service accounts); exits 77 (skipped) without.
# Stops everything it starts by PID (every process of its namespaces), deletes its namespaces.
set -uo pipefail
src=$1
shift
. "$src/tests/appliance/lib.sh"
# shellcheck source=../netns_lib.sh
. "$src/tests/netns_lib.sh"
# shellcheck source=ha_lib.sh
. "$src/tests/ha/ha_lib.sh"
HA_TAG="ha$$" HA_NET=10.93
netns_require ha_failover_e2e "$HA_TAG"
for t in pg_autoctl haproxy pebble-challtestsrv setpriv openssl python3 jq psql pg_dump; do
  command -v "$t" >/dev/null || { echo "FAIL: $t not installed (scripts/install-deps.sh)"; exit 1; }
done
LOAD_S=${HA_LOAD_SECONDS:-20} AFTER_S=${HA_AFTER_SECONDS:-40} RATE=${HA_RATE:-4} WORKERS=${HA_WORKERS:-4}
pb=${HA_PORT_BASE:-25000}
export HA_PG_PORT=$((pb + 432))  # ha_lib.sh
test_t0=$(date +%s.%N)
T=$(mktemp -d /tmp/acme-ca-ha-e2e.XXXXXX)
chmod 0755 "$T"
KEYS=${HA_KEY_POOL:-$T/keys.pem}
NAMESPACES=()
PIDS=()
record_created_accounts
cleanup() {
  local ns p
  # Every process of the test's namespaces (services, keepers, PostgreSQL, haproxy, the client),
  # by PID, then netns_stop_all for the rest and the namespaces.
  for ns in "${NAMESPACES[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  done
  netns_stop_all
  # The sockets and lock files its killed PostgreSQL servers left (the test's own ports).
  for p in "$(ha_pgport mon)" "$(ha_pgport a)" "$(ha_pgport b)"; do
    rm -f "/var/run/postgresql/.s.PGSQL.$p" "/var/run/postgresql/.s.PGSQL.$p.lock"
  done
  rm -rf "/etc/netns/${HA_TAG}cl"
  remove_test_state
}
trap cleanup EXIT
die() { echo "FAIL: $*"; exit 1; }
now() { date +%s.%N; }
since() { python3 -c 'import sys,time; print(round(time.time() - float(sys.argv[1]), 2))' "$1"; }

# Keys first (CPU for a minute the first time; kept in HA_KEY_POOL): in the background meanwhile.
keys_needed=$(python3 -c "import math; print(math.ceil(($LOAD_S + $AFTER_S + 15) * $RATE))")
python3 "$src/tests/ha/failover_load.py" --pool-only --key-pool "$KEYS" --keys "$keys_needed" >"$T/keys.log" 2>&1 &
KEYGEN=$!
PIDS+=("$KEYGEN")

ha_topology "$HA_TAG" "$HA_NET"
MON=$(ha_addr mon) NA=$(ha_addr a) NB=$(ha_addr b) LB=$(ha_addr lb) CL=$(ha_addr cl)
in_ns() { local n=$1; shift; ip netns exec "$HA_TAG$n" "$@"; }

# --- the three hosts, as the package lays them out, with one setup.conf ------------------------
GW_PORT=$((pb + 443)) ST_PORT=$((pb + 80)) HTTP01_PORT=$((pb + 2))
for n in mon a b; do
  P=$T/$n
  install_prefix "$P" "$src" "$1" "$2" "$3" "$6" "$4" "$5" "$7" "$8" "$9"
  install -m 0755 "$src/appliance/setup/acme-ca-pair" "$P/usr/sbin/"
  install -D -m 0644 "$src/appliance/haproxy/acme-ca.cfg" "$P/usr/share/acme-ca/haproxy/acme-ca.cfg"
  cp "$P/etc/acme-ca/setup.conf.example" "$P/etc/acme-ca/setup.conf"
  C=$P/etc/acme-ca/setup.conf
  loopback_setup_conf "$C" "$pb"
  sed -i -e "s|^ACME_HOSTNAME=.*|ACME_HOSTNAME=acme.ha.test|" -e "s|^ACME_IP_ADDRESSES=.*|ACME_IP_ADDRESSES=$LB|" \
         -e "s|^STATUS_BASE_URL=.*|STATUS_BASE_URL=http://$LB:$ST_PORT|" \
         -e "s|^GATEWAY_LISTEN_ADDRESS=.*|GATEWAY_LISTEN_ADDRESS=0.0.0.0|" -e "s|^GATEWAY_PORT=.*|GATEWAY_PORT=$GW_PORT|" \
         -e "s|^STATUS_LISTEN_ADDRESS=.*|STATUS_LISTEN_ADDRESS=0.0.0.0|" -e "s|^STATUS_PORT=.*|STATUS_PORT=$ST_PORT|" \
         -e "s|^DNS_RESOLVER=.*|DNS_RESOLVER=$CL:$((pb + 53))|" -e "s|^VALIDATOR_NETWORKS=.*|VALIDATOR_NETWORKS=$HA_NET.0.0/24|" \
         -e "s|^DASHBOARD_PORT=.*|DASHBOARD_PORT=|" -e "s|^#\{0,1\}STATUS_EXPORT_DIR=.*|STATUS_EXPORT_DIR=|" \
         -e "s|^ROOT_KEY_TYPE=.*|ROOT_KEY_TYPE=ec-p384|" "$C"
  # The pair (test values: trust on the test's private bridge; production: scram-sha-256 and TLS).
  cat >>"$C" <<CONF
PAIR_NODES=$NA,$NB
PAIR_MONITOR=$MON
PAIR_MONITOR_PORT=$(ha_pgport mon)
PAIR_PG_PORT=$(ha_pgport a),$(ha_pgport b)
PAIR_PG_AUTH=trust
PAIR_PG_SSL=no
PAIR_ENGINE_PORT=$((pb + 445))
PAIR_LEASE_SECONDS=${HA_LEASE_SECONDS:-5}
PAIR_LB_ADDRESS=$LB
CONF
done
A=$T/a B=$T/b
pair() { local n=$1; shift; in_ns "$n" "$T/$n/usr/sbin/acme-ca-setup" pair "$@" --prefix "$T/$n" --no-systemd; }

# --- PostgreSQL: monitor, A (primary), B (synchronous standby) ----------------------------------
t0=$(now)
pair mon monitor >"$T/pair-monitor.log" 2>&1 || { cat "$T/pair-monitor.log"; die "acme-ca-setup pair monitor"; }
pair a postgres >"$T/pair-pg-a.log" 2>&1 || { cat "$T/pair-pg-a.log"; tail -20 "$A/var/log/acme-ca/pg-keeper.log"; die "acme-ca-setup pair postgres on A"; }
# B clones A (pg_basebackup) while A's appliance is set up (the ceremony takes a while): A serves
# alone meanwhile (wait_primary), then with B as its synchronous standby.
pair b postgres >"$T/pair-pg-b.log" 2>&1 &
PAIR_B=$!
monitor_state() { pair mon state --json 2>/dev/null; }
node_state() { monitor_state | jq -r --arg n "$1" '.[] | select(.nodename == $n) | .current_group_state'; }
wait_state() {  # wait_state NODE STATE... : up to 120 s
  local s
  for _ in $(seq 240); do
    s=$(node_state "$1")
    for want in "${@:2}"; do [ "$s" = "$want" ] && return 0; done
    sleep 0.5
  done
  echo "    $1 is '$s'"; return 1
}

# --- the appliance on A, then B joins --------------------------------------------------------------
setup_node() {  # setup_node NODE LOG ARGS...
  local n=$1 log=$2; shift 2
  if in_ns "$n" "$T/$n/usr/sbin/acme-ca-setup" "$@" --prefix "$T/$n" --no-systemd >"$log" 2>&1; then return 0; fi
  cat "$log"
  for f in "$T/$n"/var/log/acme-ca/*.log "$T/$n/var/lib/acme-ca/ceremony/ceremony.log"; do
    [ -f "$f" ] && { echo "== $f"; tail -20 "$f"; }
  done
  die "acme-ca-setup $* on $n"
}
setup_node a "$T/setup-a.log"
pass "acme-ca-setup on A: stores in PostgreSQL, services up"
wait "$PAIR_B" || { cat "$T/pair-pg-b.log"; tail -20 "$B/var/log/acme-ca/pg-keeper.log"; die "acme-ca-setup pair postgres on B"; }
if wait_state ca-1 primary && wait_state ca-2 secondary; then
  pass "pg_auto_failover in $(since "$t0") s (B cloned meanwhile): ca-1 (A) primary, ca-2 (B) secondary"
else
  pair mon state; die "the pair's PostgreSQL did not converge"
fi
check "synchronous replication: the primary names the standby in synchronous_standby_names" bash -c '
  v=$(ip netns exec "$1" setpriv --reuid postgres --regid postgres --init-groups -- psql -h /var/run/postgresql -p "$2" -d postgres -Atc "show synchronous_standby_names");
  [[ $v == *pgautofailover_standby* ]] || { echo "    synchronous_standby_names=$v"; exit 1; }' _ "${HA_TAG}a" "$(ha_pgport a)"

check "A's configs: every store is pg:acme-ca/<namespace>, the engine's ha node ca-1" python3 -c '
import json, sys
e = json.load(open(sys.argv[1] + "/engine.json")); g = json.load(open(sys.argv[1] + "/gateway.json"))
s = json.load(open(sys.argv[1] + "/status.json"))
p = e["instances"]["production"]
assert p["store"] == "pg:acme-ca/ca" and p["status_store"] == "pg:acme-ca/status", p
assert e["policy_store"] == g["policy_store"] == "pg:acme-ca/policy" and g["store"] == "pg:acme-ca/gateway", g
assert s["store"] == "pg:acme-ca/status" and e["ha"]["node_name"] == "ca-1" and g["gateway_id"] == "ca-1"' "$A/etc/acme-ca"
check "pg_service.conf: both nodes, target_session_attrs=read-write" bash -c '
  grep -qx "host=$2,$3" "$1" && grep -qx "target_session_attrs=read-write" "$1"' _ "$A/etc/acme-ca/pg_service.conf" "$NA" "$NB"
(umask 077; echo "ha e2e join passphrase" >"$T/passphrase")
"$A/usr/sbin/acme-ca-backup" --for-join --prefix "$A" --passphrase-file "$T/passphrase" --out "$T/join.enc" >"$T/join-backup.log" 2>&1 ||
  { cat "$T/join-backup.log"; die "acme-ca-backup --for-join on A"; }
setup_node b "$T/setup-b.log" pair join --from "$T/join.enc" --passphrase-file "$T/passphrase"
pass "acme-ca-setup pair join on B: the same keys (token copy), services up"
check "B is ca-2 (engine ha node, gateway id), same stores" python3 -c '
import json, sys
e = json.load(open(sys.argv[1] + "/engine.json")); g = json.load(open(sys.argv[1] + "/gateway.json"))
assert e["ha"]["node_name"] == "ca-2" and g["gateway_id"] == "ca-2", (e.get("ha"), g.get("gateway_id"))
assert e["instances"]["production"]["store"] == "pg:acme-ca/ca"' "$B/etc/acme-ca"

# --- the load balancer and the client --------------------------------------------------------------
pair a haproxy --out "$T/haproxy.cfg" >"$T/haproxy-gen.log" 2>&1 || { cat "$T/haproxy-gen.log"; die "acme-ca-setup pair haproxy"; }
ip netns exec "${HA_TAG}lb" haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
PIDS+=($!)
disown  # stopped by PID at the end: no job-control notice
# The client resolves the ACME name to the load balancer (ip netns exec mounts /etc/netns/NS/hosts).
mkdir -p "/etc/netns/${HA_TAG}cl"
printf '127.0.0.1 localhost\n%s acme.ha.test\n' "$LB" >"/etc/netns/${HA_TAG}cl/hosts"
# http-01 answers and the appliance's DNS (every name: the client) in the client namespace.
ip netns exec "${HA_TAG}cl" pebble-challtestsrv -management "$CL:$((pb + 55))" -dns01 "$CL:$((pb + 53))" \
  -http01 "$CL:$HTTP01_PORT" -https01 "" -tlsalpn01 "" -defaultIPv4 "$CL" -defaultIPv6 "" >"$T/challtestsrv.log" 2>&1 &
PIDS+=($!)
disown
for _ in $(seq 100); do in_ns cl curl -s -o /dev/null "http://$CL:$((pb + 55))/" && break; sleep 0.1; done
set -a; . "$A/etc/acme-ca/appliance.env"; set +a
for _ in $(seq 100); do in_ns cl curl -sf --cacert "$ROOT_CA_PEM" -o /dev/null "$ACME_DIR" && break; sleep 0.2; done
check "through haproxy: the ACME directory at $ACME_DIR" in_ns cl curl -sf --cacert "$ROOT_CA_PEM" -o /dev/null "$ACME_DIR"
export ACME_CA_ETC_DIR=$A/etc/acme-ca ACME_CA_RA_BIN=$A/usr/bin/ca-ra
first_external_account ip netns exec "${HA_TAG}a" "$A/usr/sbin/acme-ca-ra" -- "HA Organisation" "HA Operator" ha.test http-01
[ -n "${EAB_KID:-}" ] || die "no external account"

# --- who is active --------------------------------------------------------------------------------
psql_pair() {  # psql_pair NODE SQL: on the pair's primary, through NODE's service file
  in_ns "$1" env PGSERVICEFILE="$T/$1/etc/acme-ca/pg_service.conf" psql "service=acme-ca" -qAt -c "$2"
}
lease_holder() { psql_pair "$1" "SELECT holder FROM lease WHERE name LIKE 'engine-%' AND expires_at > now()" 2>/dev/null | head -1; }
for _ in $(seq 100); do [ -n "$(lease_holder a)" ] && break; sleep 0.2; done
holder=$(lease_holder a)
check "one engine holds the signing lease: $holder" test -n "$holder"
if [ "$holder" = ca-2 ]; then ACT=b SURV=a; else ACT=a SURV=b; fi
# The worst case: the active engine on the node of the primary database. A is the primary; if B's
# engine took the lease, the database is switched over to B first (pg_autoctl perform switchover).
if [ "$ACT" = b ]; then
  pair mon failover >"$T/switchover.log" 2>&1 || { cat "$T/switchover.log"; die "acme-ca-setup pair failover"; }
  wait_state ca-2 primary || die "switchover to B"
fi
ACT_NAME=ca-$([ "$ACT" = a ] && echo 1 || echo 2) SURV_NAME=ca-$([ "$SURV" = a ] && echo 1 || echo 2)

# --- load ----------------------------------------------------------------------------------------
wait "$KEYGEN" || { cat "$T/keys.log"; die "key pool"; }
STOP=$T/stop-load
ip netns exec "${HA_TAG}cl" python3 "$src/tests/ha/failover_load.py" --directory "$ACME_DIR" --ca-bundle "$ROOT_CA_PEM" \
  --eab-kid "$EAB_KID" --eab-hmac "$EAB_HMAC" --challtestsrv "http://$CL:$((pb + 55))" --key-pool "$KEYS" \
  --keys "$keys_needed" --workers "$WORKERS" --rate "$RATE" --stop-file "$STOP" --max-seconds $((LOAD_S + AFTER_S + 120)) \
  --events "$T/flows.jsonl" --out-dir "$T/certs" >"$T/load.log" 2>&1 &
LOAD=$!
PIDS+=("$LOAD")
ok_count() { grep -c '"ok": true' "$T/flows.jsonl" 2>/dev/null || echo 0; }
sleep "$LOAD_S"
before=$(ok_count)
((before > 0)) || { tail -5 "$T/flows.jsonl" "$T/load.log"; die "no certificate issued through haproxy in $LOAD_S s"; }
pass "load: $before certificates issued through haproxy before the kill"

# --- the kill: every appliance process of the active node, then its database ----------------------
X=$T/$ACT
kill_at=$(now)
for f in "$X"/run/acme-ca/{engine,gateway,status}.pid; do kill -9 "$(cat "$f")" 2>/dev/null; done
for p in $(ip netns pids "$HA_TAG$ACT"); do kill -9 "$p" 2>/dev/null; done
echo "killed node $ACT ($ACT_NAME): the engine, gateway and status server, then pg_autoctl and PostgreSQL"
# The promotion's time by the monitor's own record (pgautofailover.event): when the survivor
# reported itself writable (wait_primary), counted from the kill.
monitor_sql() {
  in_ns mon setpriv --reuid postgres --regid postgres --init-groups -- psql -h /var/run/postgresql \
    -p "$(ha_pgport mon)" -d pg_auto_failover -qAt -c "$1" 2>/dev/null
}
failover_s=""
for _ in $(seq 120); do
  failover_s=$(monitor_sql "SELECT round((extract(epoch FROM eventtime) - $kill_at)::numeric, 2)
    FROM pgautofailover.event WHERE nodename = '$SURV_NAME' AND reportedstate IN ('wait_primary', 'primary')
    AND eventtime > to_timestamp($kill_at) ORDER BY eventtime LIMIT 1")
  [ -n "$failover_s" ] && break
  sleep 0.5
done
check "pg_auto_failover promoted $SURV_NAME ${failover_s:-?} s after the kill" test -n "$failover_s"
sleep "$AFTER_S"
touch "$STOP"
for _ in $(seq 600); do kill -0 "$LOAD" 2>/dev/null || break; sleep 0.1; done
wait "$LOAD" 2>/dev/null
new_holder=$(lease_holder "$SURV")
check "the survivor's engine holds the lease ($SURV_NAME): '$new_holder'" test "$new_holder" = "$SURV_NAME"

# --- no acknowledged certificate lost, no serial twice, OCSP for every one -------------------------
psql_pair "$SURV" "SELECT convert_from(k, 'UTF8') FROM kv WHERE ns = 'ca' AND tbl = 'certs'
                   AND convert_from(v, 'UTF8')::jsonb->>'state' = 'issued'" >"$T/store-serials.txt" ||
  die "reading the survivor's CA store"
ocsp_bad=0 ocsp_n=0
S=$T/$SURV/var/lib/acme-ca/ceremony/all
for cert in "$T"/certs/*.pem; do
  [ -e "$cert" ] || continue
  # (openssl ocsp reads the first certificate of the file: the leaf)
  ans=$(in_ns cl openssl ocsp -issuer "$S/intermediate.pem" -cert "$cert" -url "http://$(ha_addr "$SURV"):$ST_PORT/ocsp" \
          -CAfile "$S/root.pem" -no_nonce 2>/dev/null | sed -n "s|^$cert: *||p")
  ocsp_n=$((ocsp_n + 1))
  [ "$ans" = good ] || { ocsp_bad=$((ocsp_bad + 1)); echo "    OCSP for $(basename "$cert" .pem): '$ans'"; }
done

# --- A rejoins: its keeper restarted, then its services -----------------------------------------------
rejoin_t0=$(now)
pair "$ACT" start >"$T/rejoin.log" 2>&1 || { cat "$T/rejoin.log"; die "acme-ca-setup pair start on $ACT"; }
rejoin_s=""
if wait_state "$ACT_NAME" secondary; then rejoin_s=$(since "$rejoin_t0"); fi
check "$ACT_NAME rejoined as the standby (pg_autoctl show state: secondary) in ${rejoin_s:-?} s" test -n "$rejoin_s"
check "$SURV_NAME is the primary again with a synchronous standby" wait_state "$SURV_NAME" primary
setup_node "$ACT" "$T/restart-$ACT.log" start
sleep $(( ${HA_LEASE_SECONDS:-5} + 2 ))
check "$ACT_NAME's engine restarted as the standby: the lease stays with $SURV_NAME" test "$(lease_holder "$SURV")" = "$SURV_NAME"
standby_metric() {  # the engine's HA gauge in its metrics file: 0 on the standby
  for _ in $(seq 60); do
    grep -Eq '^acme_ca_engine_ha_active\{.*environment="production".*\} 0$' "$1" 2>/dev/null && return 0
    sleep 0.5
  done
  grep acme_ca_engine_ha_active "$1"; return 1
}
check "$ACT_NAME's engine metrics: acme_ca_engine_ha_active 0 (standby)" standby_metric "$X/var/lib/acme-ca/metrics/engine.prom"
check "$SURV_NAME's engine metrics: acme_ca_engine_ha_active 1 (active)" grep -Eq '^acme_ca_engine_ha_active\{.*\} 1$' \
  "$T/$SURV/var/lib/acme-ca/metrics/engine.prom"
db_metrics() {  # the survivor's view of the database: primary up, a synchronous standby streaming
  local f=$1
  for _ in $(seq 60); do
    grep -Eq '^acme_ca_engine_db_primary_up\{environment="production"\} 1$' "$f" 2>/dev/null &&
      grep -Eq '^acme_ca_engine_db_sync_commit\{environment="production"\} 1$' "$f" &&
      grep -Eq '^acme_ca_engine_db_sync_standbys\{environment="production"\} 1$' "$f" &&
      grep -Eq '^acme_ca_engine_db_standby_replay_lag_seconds\{environment="production",standby="[^"]+",state="streaming",sync_state="(sync|quorum)"\} [0-9.e-]+$' "$f" &&
      return 0
    sleep 0.5
  done
  grep acme_ca_engine_db_ "$f"; return 1
}
check "$SURV_NAME's engine metrics: database primary up, synchronous commit, $ACT_NAME's standby streaming" \
  db_metrics "$T/$SURV/var/lib/acme-ca/metrics/engine.prom"

# --- backup of the pair (pg_dump of its database) on the survivor; a restore over it refused ---------
Y=$T/$SURV
if in_ns "$SURV" "$Y/usr/sbin/acme-ca-backup" --prefix "$Y" --passphrase-file "$T/passphrase" --out "$T/pair-backup.enc" \
     >"$T/pair-backup.log" 2>&1; then
  openssl enc -d -aes-256-cbc -pbkdf2 -iter 600000 -md sha256 -pass file:"$T/passphrase" -in "$T/pair-backup.enc" |
    tar -xz -C "$T" acme-ca-backup/state/pg/appliance.dump acme-ca-backup/BACKUP-INFO 2>/dev/null
  check "acme-ca-backup of a pair: the database as one pg_dump (the kv table's data), no LMDB copy" bash -c '
    pg_restore --list "$1/acme-ca-backup/state/pg/appliance.dump" | grep -q "TABLE DATA public kv" &&
    grep -qx "database=pg/appliance.dump" "$1/acme-ca-backup/BACKUP-INFO" && grep -qx "stores=" "$1/acme-ca-backup/BACKUP-INFO"' _ "$T"
  R=$T/restore-target
  install -d "$R/etc/acme-ca"
  cp "$Y/etc/acme-ca/setup.conf" "$R/etc/acme-ca/setup.conf"
  in_ns "$SURV" "$Y/usr/sbin/acme-ca-restore" --from "$T/pair-backup.enc" --passphrase-file "$T/passphrase" \
    --prefix "$R" --bin-dir "$Y/usr/bin" --no-systemd --no-start >"$T/pair-restore.log" 2>&1
  check "acme-ca-restore into the pair's database holding an appliance: refused, nothing restored" bash -c '
    grep -q "holds an appliance already" "$1" && [ ! -e "$2/var/lib/acme-ca/ceremony" ]' _ "$T/pair-restore.log" "$R"
else
  fail "acme-ca-backup on the survivor: $(tail -3 "$T/pair-backup.log")"
fi

figures=$(python3 "$src/tests/ha/failover_figures.py" "$T/flows.jsonl" "$kill_at" "$T/store-serials.txt" \
  "killed=\"$ACT_NAME\"" "db_failover_seconds=${failover_s:-null}" "rejoin_seconds=${rejoin_s:-null}" \
  "ocsp_checked=$ocsp_n" "ocsp_not_good=$ocsp_bad" "load_seconds_before_kill=$LOAD_S" \
  "load_seconds_after_kill=$AFTER_S" "rate=$RATE" "workers=$WORKERS" "test_seconds=$(since "$test_t0")")
echo "$figures"
[ -z "${HA_JSON:-}" ] || echo "$figures" >"$HA_JSON"
jq_true() { jq -e "$1" >/dev/null <<<"$figures"; }
check "0 acknowledged certificates missing from the survivor's CA store" jq_true '.acknowledged_missing == 0'
check "0 duplicate serials" jq_true '.duplicate_serials == 0'
check "issuance resumed after the kill" jq_true '.issued_after_kill > 0' 
check "OCSP good on the survivor for every certificate issued ($ocsp_n)" test "$ocsp_bad" = 0 -a "$ocsp_n" -gt 0
if ((fails)); then echo "$fails check(s) failed"; exit 1; fi
echo "all HA failover checks passed"
