#!/usr/bin/env bash
# dashboard_browser_e2e.sh BUILD_DIR SOURCE_DIR
# The dashboard (ANSSI R50) in a real browser: the dev appliance (with its dashboard) on a free
# port base; a second external account B with its own dashboard credential and a certificate issued
# with lego; one certificate for the demo account A. Then headless Chromium, driven over WebDriver
# by browser_check.py, logs in as A, sees A's certificates and not B's, sees a certificate issued
# for A with lego while the page is open appear within 5 s without a reload, and A's session and
# credential are refused (403) on B's data. The screenshot goes to $DASHBOARD_SCREENSHOT (default
# BUILD_DIR/dashboard.png; docs/dashboard.png is one such run). Also: a refused order shows among A's
# failures with its result code, and a revocation by the RA shows on the open page. Stops everything by PID.
set -uo pipefail
build=$1 src=$2
here=$src/tests/dashboard
for tool in chromium chromedriver lego; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not installed (scripts/install-deps.sh)"; exit 1; }
done

state=$(mktemp -d /tmp/dashboard-e2e.XXXXXX)
work=$state.work
mkdir -p "$work"
. "$src/scripts/lib/dev_appliance.sh"
driver_pid=""
# The browsers this test started: the processes whose command line names its own profile dir.
browser_pids() {
  local p
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "--user-data-dir=$work/chrome-profile" && echo "${p#/proc/}"
  done
}
stop_driver() {
  if [ -n "$driver_pid" ]; then kill "$driver_pid" 2>/dev/null; wait "$driver_pid" 2>/dev/null; fi
  driver_pid=""
  local pid
  for pid in $(browser_pids); do kill "$pid" 2>/dev/null; done
}
test_appliance_up "$src" "$build" "$state" 23000 50 200 || { rm -rf "$work"; exit 1; }
# Replaces test_appliance_up's EXIT trap: the driver and browsers first, then the appliance.
trap 'stop_driver; rm -rf "$work"; BUILD_DIR=$build "$src/scripts/appliance-dev.sh" down --state "$state" >/dev/null 2>&1; [ -n "${KEEP_STATE:-}" ] || rm -rf "$state"' EXIT

fails=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
set -a; . "$state/appliance.env"; set +a
[ -n "${DASHBOARD_URL:-}" ] && [ -n "${DASHBOARD_CREDENTIAL:-}" ] || { echo "FAIL: no DASHBOARD_URL/DASHBOARD_CREDENTIAL in appliance.env"; exit 1; }
pass "dev appliance up with its dashboard at $DASHBOARD_URL"
ra() { $RA_CLI --actor dashboard-e2e "$@"; }
json_field() { /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# Account B: its own external account, domain and dashboard credential.
org=$(ra --json org list | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
b_json=$(ra --json ext-account create --org "$org" --contact "Team B" --profiles SSL \
  --challenges http-01 --active --show-mac-key) || { echo "FAIL: ext-account create B"; exit 1; }
KID_B=$(json_field kid <<<"$b_json") HMAC_B=$(json_field mac_key <<<"$b_json")
ra domain add "$KID_B" "b-team.$SUFFIX" --include-subdomains --dcv http-01 >/dev/null &&
  ra domain validate "$KID_B" "b-team.$SUFFIX" >/dev/null || { echo "FAIL: B's domain"; exit 1; }
cred_b=$(ra --json ext-account dashboard-credential "$KID_B" | json_field dashboard_credential)
[[ $cred_b == "$KID_B".* ]] && pass "account B with its own dashboard credential" || fail "B's credential: $cred_b"

run=$RANDOM
lego_issue() {  # lego_issue KID HMAC NAME DIR (an RSA-3072 CSR from openssl: lego cannot make that key)
  openssl req -new -newkey rsa:3072 -nodes -keyout "$4.$3.key" -out "$4.$3.csr" -subj "/CN=$3" \
    -addext "subjectAltName=DNS:$3" 2>/dev/null || return 1
  LEGO_CA_CERTIFICATES=$ACME_CA_BUNDLE lego --server "$ACME_DIR" --accept-tos --email "ops@$SUFFIX" \
    --eab --kid "$1" --hmac "$2" --key-type rsa4096 --path "$4" --csr "$4.$3.csr" \
    --http --http.port "127.0.0.1:$HTTP01_PORT" run >"$4.log" 2>&1
}
NAME_A1=a1-$run.$SUFFIX NAME_A2=a2-$run.$SUFFIX NAME_B=www-$run.b-team.$SUFFIX
lego_issue "$KID_B" "$HMAC_B" "$NAME_B" "$work/lego-b" && pass "lego issued $NAME_B for B" || fail "lego for B: $(tail -3 "$work/lego-b.log")"
lego_issue "$EAB_KID" "$EAB_HMAC" "$NAME_A1" "$work/lego-a" && pass "lego issued $NAME_A1 for A" || fail "lego for A: $(tail -3 "$work/lego-a.log")"
# A refused order for A (a name outside its domains): shown among A's failures with its result code.
if lego_issue "$EAB_KID" "$EAB_HMAC" "outside-$run.example.org" "$work/lego-a-refused"; then
  fail "lego issued a name outside A's domains"
else
  pass "lego refused for a name outside A's domains"
fi
SERIAL_A1=$(openssl x509 -in "$work/lego-a/certificates/$NAME_A1.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')

# chromedriver on a free loopback port, by PID.
driver_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
chromedriver --port="$driver_port" --allowed-ips=127.0.0.1 >"$work/chromedriver.log" 2>&1 &
driver_pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$driver_port/status" >/dev/null && break; sleep 0.1; done

mkdir -p "$work/chrome-profile"
DRIVER_URL=http://127.0.0.1:$driver_port CA_BUNDLE=$ACME_CA_BUNDLE CRED_A=$DASHBOARD_CREDENTIAL \
KID_A=$EAB_KID KID_B=$KID_B NAME_A1=$NAME_A1 NAME_A2=$NAME_A2 NAME_B=$NAME_B \
ISSUE_A2="$(declare -f lego_issue); ACME_CA_BUNDLE='$ACME_CA_BUNDLE' ACME_DIR='$ACME_DIR' SUFFIX='$SUFFIX' HTTP01_PORT='$HTTP01_PORT' lego_issue '$EAB_KID' '$EAB_HMAC' '$NAME_A2' '$work/lego-a'" \
REVOKE_A1="$RA_CLI --actor dashboard-e2e cert revoke $SERIAL_A1 --reason superseded" \
SCREENSHOT=${DASHBOARD_SCREENSHOT:-$build/dashboard.png} CHROME_PROFILE=$work/chrome-profile \
  timeout 180 /usr/bin/python3 "$here/browser_check.py"
rc=$?
((rc == 0)) || { fails=$((fails + 1)); echo "    (chromedriver log: $(tail -5 "$work/chromedriver.log"))"; }

# Chromium exits with its driver's session; make sure nothing of it outlives the test.
stop_driver
if ((fails)); then echo "FAIL: $fails check(s) failed (dashboard log: $state/logs/dashboard.log)"; tail -20 "$state/logs/dashboard.log"; exit 1; fi
echo "PASS: dashboard browser end-to-end"
