#!/usr/bin/env bash
# The whole appliance on 127.0.0.1, from nothing, for development, demos and end-to-end tests.
#
#   scripts/appliance-dev.sh up   --state DIR [--port-base N] [--dns HOST:PORT] [--http01-port N]
#                                 [--tlsalpn01-port N] [--suffix DOMAIN] [--crl-shards N] [--no-build]
#                                 [--staging per-account|all|off]
#   scripts/appliance-dev.sh down --state DIR
#
# up: SoftHSM token in DIR, key ceremony (root, ACME intermediate, OCSP signer, gateway TLS
# certificate), policy store with a demo organization and an active external account authorising
# every subdomain of --suffix (default demo.test) for profile SSL, then the signing engine, the
# status server (OCSP + CRL), the status exporter (DIR/status-export), the ACME gateway and the dashboard (with a dashboard credential for
# the demo external account). Without --dns it also starts pebble-challtestsrv
# as the validator's DNS (every A query answers 127.0.0.1; DNS_MGMT sets TXT/CAA records).
# Writes DIR/appliance.env (ACME_DIR, ACME_CA_BUNDLE, EAB_KID, EAB_HMAC, ROOT_CA_PEM, OCSP_URL,
# CRL_URL (the full CRL; certificates name their shard CRL_URL minus ".crl" + "/<k>.crl"),
# CRL_SHARDS (default 8), STATUS_EXPORT_DIR, RA_CLI, AUDIT_CLI, AUDIT_FILES, ENGINE_METRICS_FILE, GATEWAY_METRICS_URL, DASHBOARD_URL,
# DASHBOARD_CREDENTIAL, the PIDs, ...) and prints it.
# Ports: gateway N (default 14000), status N+1, http-01 N+2, tls-alpn-01 N+3, gateway metrics N+4,
# mock DNS management N+5, dashboard N+6 and DNS N+53.
# Staging (CA-8, scripts/lib/dev_staging.sh; default per-account, the demo account admitted): its own
# TEST hierarchy, engine instance, status server (N+8) and ACME gateway (N+7, metrics N+9);
# appliance.env then has STAGING_DIRECTORY_URL, STAGING_ROOT, STAGING_INTERMEDIATE_PEM, STAGING_OCSP_URL.
# APPLIANCE_PROFILES_DIR: the engine's and gateway's profiles directory (default the repository's
# profiles/data/production; a copy with an operator's profile added, profiles/README.md).
# down: stops what up started, by PID. The state directory is kept (delete it to start afresh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/lib/pidfile.sh"
. "$root/scripts/lib/dev_staging.sh"
build=${BUILD_DIR:-$root/build}

die() { echo "appliance-dev: $*" >&2; exit 1; }
usage() { sed -n 4,6p "$0" | sed 's/^# *//' >&2; exit 2; }

cmd=${1:-}; shift || true
state="" port_base=14000 dns="" http01_port="" tlsalpn01_port="" suffix=demo.test do_build=1
crl_shards=8  # CRL shards of the intermediate (0: the full CRL only in certificates' CRLDP)
staging=per-account  # the staging service (CA-8): per-account, all, or off
while (($#)); do
  case "$1" in
    --state) state=${2:?}; shift 2 ;;
    --port-base) port_base=${2:?}; shift 2 ;;
    --dns) dns=${2:?}; shift 2 ;;
    --http01-port) http01_port=${2:?}; shift 2 ;;
    --tlsalpn01-port) tlsalpn01_port=${2:?}; shift 2 ;;
    --suffix) suffix=${2:?}; shift 2 ;;
    --crl-shards) crl_shards=${2:?}; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --staging) staging=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done
[ -n "$state" ] || usage
case "$cmd" in up|down) ;; *) usage ;; esac
[[ $port_base =~ ^[0-9]+$ ]] && ((port_base >= 1024 && port_base <= 65000)) || die "--port-base must be 1024..65000"
[[ $crl_shards =~ ^[0-9]+$ ]] && ((crl_shards <= 1024)) || die "--crl-shards must be 0..1024"
case "$staging" in per-account|all|off) ;; *) die "--staging must be per-account, all or off" ;; esac
http01_port=${http01_port:-$((port_base + 2))}
tlsalpn01_port=${tlsalpn01_port:-$((port_base + 3))}
state=$(mkdir -p "$state" && cd "$state" && pwd)

# Stops every process whose PID file is in DIR/run, newest first, by PID.
stop_all() {
  stop_pidfiles "$state"/run/{dashboard,gateway-staging,gateway,export,status-staging,status,engine,challtestsrv}.pid
}

if [ "$cmd" = down ]; then
  stop_all
  echo "appliance-dev: stopped (state kept in $state)"
  exit 0
fi

# ------------------------------------------------------------------ build
if ((do_build)); then
  if [ "$(id -u)" = 0 ]; then "$root/scripts/install-deps.sh"; fi
  cmake -S "$root" -B "$build" -DCA_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$(nproc)" --target ca-ceremony ca-ra ca-engine ca-gateway ca-status-server ca-status-publish ca-status-export ca-audit ca-dashboard >/dev/null
fi
# The build's own programs, never the copies CPack stages under _CPack_Packages (stale after a rebuild).
bin() { local p; p=$(find "$build" -path "$build/_CPack_Packages" -prune -o -type f -name "$1" -perm -u+x -print -quit 2>/dev/null); [ -n "$p" ] || die "$1 is not built in $build"; echo "$p"; }
CEREMONY=$(bin ca-ceremony) RA=$(bin ca-ra) ENGINE=$(bin ca-engine) GATEWAY=$(bin ca-gateway) STATUS=$(bin ca-status-server) PUBLISH=$(bin ca-status-publish) EXPORT=$(bin ca-status-export) AUDIT=$(bin ca-audit) DASHBOARD=$(bin ca-dashboard)
module=${CA_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
[ -f "$module" ] || die "PKCS#11 module $module not found (apt-get install softhsm2)"

for f in "$state"/run/*.pid; do
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && die "already running (pid file $f): run down first"
done
mkdir -p "$state/run" "$state/logs" "$state/audit" "$state/metrics"
chmod 0700 "$state"
trap 'echo "appliance-dev: up failed; logs in $state/logs" >&2; stop_all' ERR

wait_for() {  # wait_for WHAT PIDFILE COMMAND...
  local what=$1 pidfile=$2; shift 2
  for _ in $(seq 150); do
    "$@" >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$pidfile")" 2>/dev/null || die "$what exited at start: $(tail -3 "$state/logs/$what.log")"
    sleep 0.1
  done
  die "$what did not answer in 15 s (log: $state/logs/$what.log)"
}
start() {  # start NAME COMMAND...  (backgrounded, stderr+stdout to logs/NAME.log, pid to run/NAME.pid)
  local name=$1; shift
  "$@" >>"$state/logs/$name.log" 2>&1 &
  echo $! >"$state/run/$name.pid"
}

# ------------------------------------------------------------------ DNS for validation
dns_mgmt=""
if [ -z "$dns" ]; then
  command -v pebble-challtestsrv >/dev/null || die "pebble-challtestsrv not found (apt-get install pebble)"
  start challtestsrv pebble-challtestsrv -management "127.0.0.1:$((port_base + 5))" \
    -dns01 "127.0.0.1:$((port_base + 53))" -defaultIPv6 "" -http01 "" -https01 "" -tlsalpn01 ""
  dns=127.0.0.1:$((port_base + 53))
  dns_mgmt=http://127.0.0.1:$((port_base + 5))
  wait_for challtestsrv "$state/run/challtestsrv.pid" curl -s -o /dev/null "$dns_mgmt/"
fi

profiles_dir=${APPLIANCE_PROFILES_DIR:-$root/profiles/data/production}
status_url=http://127.0.0.1:$((port_base + 1))
issuer_name=acme-int
secrets=$state/secrets

# ------------------------------------------------------------------ SoftHSM token and ceremony
if [ ! -f "$state/ceremony/all/intermediate.pem" ]; then
  mkdir -p "$state/tokens" "$state/ceremony" "$secrets"
  chmod 0700 "$secrets"
  printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$state" \
    >"$state/softhsm2.conf"
  (umask 077
   [ -f "$secrets/user.pin" ] || openssl rand -hex 16 >"$secrets/user.pin"
   [ -f "$secrets/so.pin" ] || openssl rand -hex 16 >"$secrets/so.pin")
  chmod 0400 "$secrets/user.pin" "$secrets/so.pin"
  export SOFTHSM2_CONF=$state/softhsm2.conf
  token="\"token\": {\"module\": \"$module\", \"label\": \"acme-ca\", \"user_pin\": \"file:$secrets/user.pin\""
  cat >"$state/ceremony/init.json" <<JSON
{"ceremony": "init-token", "operator": "appliance-dev", $token, "so_pin": "file:$secrets/so.pin"},
 "output_dir": "$state/ceremony/init"}
JSON
  cat >"$state/ceremony/all.json" <<JSON
{"ceremony": "all", "operator": "appliance-dev", $token},
 "output_dir": "$state/ceremony/all",
 "root": {"key_label": "root", "key_type": "rsa4096",
          "subject": {"C": "FR", "O": "Demo Appliance", "CN": "Demo Appliance Root CA"}, "validity_days": 7305},
 "intermediate": {"key_label": "$issuer_name", "key_type": "rsa3072",
                  "subject": {"C": "FR", "O": "Demo Appliance", "CN": "Demo Appliance ACME CA"},
                  "validity_days": 1826,
                  "crl_url": "$status_url/crl/root.crl", "ca_issuers_url": "$status_url/ca/root.der"},
 "ocsp_signer": {"key_label": "ocsp", "subject": {"O": "Demo Appliance", "CN": "Demo Appliance ACME CA OCSP"},
                 "validity_days": 365},
 "root_crl": {"crl_number_file": "$state/ceremony/root-crl.counter", "next_update_days": 365, "revoked": []}}
JSON
  "$CEREMONY" run "$state/ceremony/init.json" >"$state/logs/ceremony.log" 2>&1 || die "init-token: $(tail -1 "$state/logs/ceremony.log")"
  "$CEREMONY" run "$state/ceremony/all.json" >>"$state/logs/ceremony.log" 2>&1 || die "ceremony: $(tail -1 "$state/logs/ceremony.log")"
fi
export SOFTHSM2_CONF=$state/softhsm2.conf
C=$state/ceremony/all
cat "$C/intermediate.pem" "$C/root.pem" >"$state/ca-chain.pem"

# The gateway's HTTPS certificate, issued by the appliance's intermediate.
if [ ! -f "$state/ceremony/tls/tls-server.pem" ]; then
  cat >"$state/ceremony/tls.json" <<JSON
{"ceremony": "tls-server", "operator": "appliance-dev",
 "token": {"module": "$module", "label": "acme-ca", "user_pin": "file:$secrets/user.pin"},
 "output_dir": "$state/ceremony/tls",
 "issuer": {"key_label": "$issuer_name", "certificate": "$C/intermediate.pem"},
 "tls_server": {"subject": {"CN": "localhost"}, "dns_names": ["localhost"], "ip_addresses": ["127.0.0.1"],
                "key_type": "ec-p256", "validity_days": 397}}
JSON
  "$CEREMONY" run "$state/ceremony/tls.json" >>"$state/logs/ceremony.log" 2>&1 || die "tls-server ceremony: $(tail -1 "$state/logs/ceremony.log")"
fi

# ------------------------------------------------------------------ engine configuration
policy=$state/policy gwstore=$state/gateway-store
# ------------------------------------------------------------------ staging hierarchy (dev_staging.sh)
staging_instance=""
if [ "$staging" != off ]; then staging_ceremony; staging_instance=$(staging_engine_instance "$staging"); fi

if [ ! -f "$state/channel/engine.crt" ]; then
  mkdir -p "$state/channel"
  "$ENGINE" make-channel-credentials --out "$state/channel" >"$state/channel/fingerprints.json"
fi
read -r engine_fp client_fp < <(/usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["engine_fingerprint"], j["client_fingerprint"])' "$state/channel/fingerprints.json")
cat >"$state/engine.json" <<JSON
{"socket_path": "$state/run/engine.sock", "allowed_peer_uids": [$(id -u)],
 "channel": {"cert": "$state/channel/engine.crt", "key": "$state/channel/engine.key",
             "client_fingerprints": ["$client_fp"]},
 "hsm": {"module": "$module", "token_label": "acme-ca", "pin": "file:$secrets/user.pin", "pool_size": 2},
 "policy_store": "$policy", "mac_wrap_key_label": "mac-wrap",
 "audit_log": "$state/audit/engine.jsonl", "metrics_file": "$state/metrics/engine.prom",
 "instances": {"production": {
   "store": "$state/ca-store", "status_store": "$state/status-store", "issuer_name": "$issuer_name",
   "profiles_dir": "$profiles_dir",
   "intermediate_key_label": "$issuer_name", "intermediate_cert": "$C/intermediate.pem", "chain": "$state/ca-chain.pem",
   "ocsp_key_label": "ocsp", "ocsp_cert": "$C/ocsp-signer.pem",
   "ocsp_url": "$status_url/ocsp", "ca_issuers_url": "$status_url/ca/$issuer_name.der",
   "crl_url": "$status_url/crl/$issuer_name.crl", "crl_shards": $crl_shards}$staging_instance}}
JSON
chmod 0600 "$state/engine.json"
# The EAB MAC wrapping key in the token (made once; its public half is what the RA wraps to).
"$ENGINE" make-mac-wrap-key --config "$state/engine.json" >"$state/mac-wrap.pub.pem" || die "make-mac-wrap-key failed"

# ------------------------------------------------------------------ policy store (RA)
ra() { "$RA" --store "$policy" --mac-wrap-public-key "$state/mac-wrap.pub.pem" --gateway-store "$gwstore" --audit-log "$state/audit/ra.jsonl" --caa-identities acme-ca.demo.test --caa-resolver "$dns" --actor appliance-dev "$@"; }
if [ ! -f "$state/eab.json" ]; then
  mkdir -p "$policy"
  ra init >/dev/null
  org=$(ra --json org create --name "Demo Organization" --country FR --locality Paris --registration-id 00000000000000 |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  ra org validate "$org" >/dev/null
  (umask 077; ra --json ext-account create --org "$org" --contact "Demo Operator" --profiles SSL \
     --challenges http-01,dns-01,tls-alpn-01 --max-acme-accounts 100000 --orders-per-hour 100000 --active \
     --staging yes --show-mac-key >"$state/eab.json")
  kid=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kid"])' "$state/eab.json")
  ra domain add "$kid" "$suffix" --include-subdomains --dcv http-01,dns-01,tls-alpn-01 >/dev/null
  ra domain validate "$kid" "$suffix" >/dev/null
fi
read -r EAB_KID EAB_HMAC < <(/usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["kid"], j["mac_key"])' "$state/eab.json")

# ------------------------------------------------------------------ engine
rm -f "$state/run/engine.sock"
start engine "$ENGINE" --config "$state/engine.json"
wait_for engine "$state/run/engine.pid" test -S "$state/run/engine.sock"

# ------------------------------------------------------------------ status server
# The root's CRL from the ceremony, through the publish guard (idempotent); the root certificate is
# then served at the intermediate's caIssuers URL.
"$PUBLISH" import-crl --store "$state/status-store" --issuer-name root --issuer "$C/root.pem" \
  --crl "$C/root-crl.crl" >>"$state/logs/ceremony.log" 2>&1 || die "root CRL import: $(tail -1 "$state/logs/ceremony.log")"
cat >"$state/status.json" <<JSON
{"listen_address": "127.0.0.1", "port": $((port_base + 1)), "store": "$state/status-store",
 "issuers": ["$issuer_name", "root"], "crl_shards": {"$issuer_name": $crl_shards}, "threads": 2}
JSON
start status "$STATUS" --config "$state/status.json"
wait_for status "$state/run/status.pid" curl -sf -o /dev/null "$status_url/crl/$issuer_name.crl"
# The static export of the store (crl_ocsp/export/README.md) for nginx or the replicas, every 5 s.
export_dir=$state/status-export
start export "$EXPORT" --store "$state/status-store" --dir "$export_dir" --issuer "$issuer_name" --issuer root
wait_for export "$state/run/export.pid" test -f "$export_dir/manifest.json"

# ------------------------------------------------------------------ gateway
acme_base=https://127.0.0.1:$port_base
cat >"$state/gateway.json" <<JSON
{"listen": {"address": "127.0.0.1", "port": $port_base, "threads": 4},
 "metrics": {"address": "127.0.0.1", "port": $((port_base + 4))},
 "base_url": "$acme_base",
 "tls": {"cert": "$state/ceremony/tls/tls-server-chain.pem", "key": "$state/ceremony/tls/tls-server.key"},
 "store": "$gwstore", "audit_log": "$state/audit/gateway.jsonl", "policy_store": "$policy",
 "profiles_dir": "$profiles_dir",
 "engine": {"socket": "$state/run/engine.sock", "client_cert": "$state/channel/client.crt",
            "client_key": "$state/channel/client.key", "fingerprint": "$engine_fp"},
 "validation": {"resolver": "$dns", "http01_port": $http01_port, "tlsalpn01_port": $tlsalpn01_port,
                "https_port": $http01_port, "allowed_networks": ["127.0.0.0/8"]},
 "caa_identities": ["acme-ca.demo.test"],
 "terms_of_service": "$acme_base/terms", "website": "$acme_base/"}
JSON
start gateway "$GATEWAY" --config "$state/gateway.json"
wait_for gateway "$state/run/gateway.pid" curl -sf --cacert "$C/root.pem" -o /dev/null "$acme_base/directory"
if [ "$staging" != off ]; then staging_status_up; staging_gateway_up "$staging"; fi

# ------------------------------------------------------------------ dashboard
# The demo external account's dashboard credential (issued once, kept 0600 in the state), and the
# dashboard on the gateway's TLS certificate (localhost / 127.0.0.1).
if [ ! -f "$state/dashboard-credential" ]; then
  (umask 077; ra --json ext-account dashboard-credential "$EAB_KID" |
     /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["dashboard_credential"])' >"$state/dashboard-credential.tmp")
  mv "$state/dashboard-credential.tmp" "$state/dashboard-credential"
fi
dashboard_url=https://127.0.0.1:$((port_base + 6))
cat >"$state/dashboard.json" <<JSON
{"listen_address": "127.0.0.1", "port": $((port_base + 6)),
 "tls": {"cert": "$state/ceremony/tls/tls-server-chain.pem", "key": "$state/ceremony/tls/tls-server.key"},
 "policy_store": "$policy",
 "audit": {"engine": "$state/audit/engine.jsonl", "gateway": "$state/audit/gateway.jsonl", "ra": "$state/audit/ra.jsonl"}}
JSON
start dashboard "$DASHBOARD" --config "$state/dashboard.json"
wait_for dashboard "$state/run/dashboard.pid" curl -sf --cacert "$C/root.pem" -o /dev/null "$dashboard_url/health"
trap - ERR

cat >"$state/appliance.env" <<ENV
ACME_DIR=$acme_base/directory
ACME_CA_BUNDLE=$C/root.pem
EAB_KID=$EAB_KID
EAB_HMAC=$EAB_HMAC
ROOT_CA_PEM=$C/root.pem
INTERMEDIATE_CA_PEM=$C/intermediate.pem
OCSP_SIGNER_PEM=$C/ocsp-signer.pem
OCSP_URL=$status_url/ocsp
CRL_URL=$status_url/crl/$issuer_name.crl
CRL_SHARDS=$crl_shards
ROOT_CRL_URL=$status_url/crl/root.crl
STATUS_URL=$status_url
STATUS_EXPORT_DIR=$export_dir
RA_CLI="$RA --store $policy --mac-wrap-public-key $state/mac-wrap.pub.pem --gateway-store $gwstore --caa-identities acme-ca.demo.test --caa-resolver $dns --audit-log $state/audit/ra.jsonl --engine-audit-log $state/audit/engine.jsonl --gateway-audit-log $state/audit/gateway.jsonl"
AUDIT_CLI=$AUDIT
AUDIT_FILES="$state/audit/engine.jsonl $state/audit/ra.jsonl $state/audit/gateway.jsonl"
ENGINE_METRICS_FILE=$state/metrics/engine.prom
GATEWAY_METRICS_URL=http://127.0.0.1:$((port_base + 4))/metrics
SUFFIX=$suffix
HTTP01_PORT=$http01_port
TLSALPN01_PORT=$tlsalpn01_port
DNS_ADDR=$dns
DNS_MGMT=$dns_mgmt
SOFTHSM2_CONF=$state/softhsm2.conf
ENGINE_PID=$(cat "$state/run/engine.pid")
STATUS_PID=$(cat "$state/run/status.pid")
EXPORT_PID=$(cat "$state/run/export.pid")
GATEWAY_PID=$(cat "$state/run/gateway.pid")
DASHBOARD_URL=$dashboard_url
DASHBOARD_CREDENTIAL=$(cat "$state/dashboard-credential")
DASHBOARD_PID=$(cat "$state/run/dashboard.pid")
CHALLTESTSRV_PID=$(cat "$state/run/challtestsrv.pid" 2>/dev/null || true)
ENV
if [ "$staging" != off ]; then staging_env "$staging" >>"$state/appliance.env"; fi
chmod 0600 "$state/appliance.env"
cat "$state/appliance.env"
