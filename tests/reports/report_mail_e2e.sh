#!/usr/bin/env bash
# report_mail_e2e.sh BUILD_DIR SOURCE_DIR  (ctest reports_mail_e2e, issue 17, ANSSI R49)
# A dev appliance (scripts/lib/dev_appliance.sh) and a real SMTP server on loopback (smtp_sink.py:
# Debian python3-aiosmtpd, STARTTLS and AUTH required, self-signed certificate made here and given
# to ca-report as the relay's CA file). Two external accounts issue with lego: A (the demo account,
# given a mail contact) twice, one of them then revoked (superseded), and a domain is added to A;
# B (created with ca-ra, its own domain) once; C has no mail address (later made monthly). Then:
#  1. ca-report run --now <next Monday 00:00 UTC>: A's weekly report arrives at A's contact only,
#     with exactly 2 issued, 1 revoked (superseded), 1 valid, the domain change, none of B's
#     serials; its CSV attachment parses with Python's csv module; B's report goes to B; C's is
#     filed (no address) and says so.
#  2. ca-report run --now <A's valid certificate's notAfter - 20 days>: one expiry notice per
#     account (A lists its valid certificate, not the revoked one), C's monthly report filed for a
#     calendar month; a second run sends nothing.
# Stops what it starts, by PID.
set -uo pipefail
build=$1 src=$2
here=$src/tests/reports
state=$(mktemp -d /tmp/report-mail-e2e.XXXXXX)
work=$state/e2e
. "$src/scripts/lib/dev_appliance.sh"
test_appliance_up "$src" "$build" "$state" 22000 50 200 || exit 1
mkdir -p "$work/mail" "$work/reports" "$work/reporter-state"
set -a; . "$state/appliance.env"; set +a
export LEGO_CA_CERTIFICATES=$ACME_CA_BUNDLE

sink_pid=""
cleanup_sink() { [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null && wait "$sink_pid" 2>/dev/null; }
trap 'cleanup_sink; BUILD_DIR='"'$build'"' '"'$src'"'/scripts/appliance-dev.sh down --state '"'$state'"' >/dev/null 2>&1; [ -n "${KEEP_STATE:-}" ] || rm -rf '"'$state'"'' EXIT

fails=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
die() { echo "FAIL - $*"; exit 1; }

# ---------------------------------------------------------------- SMTP server (STARTTLS + AUTH)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/smtp-key.pem" -out "$work/smtp-cert.pem" \
  -days 2 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null ||
  die "self-signed SMTP certificate"
(umask 077; printf 'relay-pw-%s' "$(openssl rand -hex 8)" >"$work/smtp-password")
smtp_port=""
for _ in $(seq 20); do
  p=$((22100 + RANDOM % 800))
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
  smtp_port=$p; break
done
[ -n "$smtp_port" ] || die "no free port for the SMTP server"
/usr/bin/python3 "$here/smtp_sink.py" --port "$smtp_port" --cert "$work/smtp-cert.pem" \
  --key "$work/smtp-key.pem" --dir "$work/mail" --user reporter --password-file "$work/smtp-password" \
  --ready-file "$work/smtp.ready" >"$work/smtp.log" 2>&1 &
sink_pid=$!
for _ in $(seq 50); do [ -f "$work/smtp.ready" ] && break; sleep 0.2; done
[ -f "$work/smtp.ready" ] || { cat "$work/smtp.log"; die "SMTP server did not start"; }
pass "SMTP server on 127.0.0.1:$smtp_port (STARTTLS and AUTH required), pid $sink_pid"

# ---------------------------------------------------------------- accounts
ra() { $RA_CLI --actor report-e2e "$@"; }
json_field() { /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
KID_A=$EAB_KID
ra ext-account update "$KID_A" --contact "Demo Operator" --contact "Alice Admin <alice@a-corp.example>" \
  >/dev/null || die "update A's contacts"
org=$(ra --json org create --name "B Corp" --country FR --locality Lyon --registration-id 11111111111111 |
      json_field id) || die "org B"
ra org validate "$org" >/dev/null || die "validate org B"
created=$(ra --json ext-account create --org "$org" --contact "Bob <bob@b-corp.example>" --profiles SSL \
          --challenges http-01 --active --show-mac-key) || die "create B"
KID_B=$(json_field kid <<<"$created")
HMAC_B=$(json_field mac_key <<<"$created")
ra domain add "$KID_B" b-corp.test --include-subdomains --dcv http-01 >/dev/null || die "domain B"
ra domain validate "$KID_B" b-corp.test >/dev/null || die "validate domain B"
KID_C=$(ra --json ext-account create --org "$org" --contact "Carol, no mail" --profiles SSL --active --show-mac-key |
        json_field kid) || die "create C"
pass "accounts: A=$KID_A, B=$KID_B, C=$KID_C (no mail address)"

# ---------------------------------------------------------------- issuance with lego (http-01)
run=$(openssl rand -hex 3)
lego_issue() {  # lego_issue DIR KID HMAC NAME
  local d=$1 kid=$2 hmac=$3 name=$4
  openssl req -new -newkey rsa:3072 -nodes -keyout "$work/$name.key" -out "$work/$name.csr" \
    -subj "/CN=$name" -addext "subjectAltName=DNS:$name" 2>/dev/null
  lego --server "$ACME_DIR" --accept-tos --email "ops@example.test" --eab --kid "$kid" --hmac "$hmac" \
    --key-type rsa4096 --path "$work/$d" --csr "$work/$name.csr" --http --http.port "127.0.0.1:$HTTP01_PORT" \
    run >"$work/lego-$name.log" 2>&1
}
a1=a1-$run.$SUFFIX a2=a2-$run.$SUFFIX b1=b1-$run.b-corp.test
lego_issue lego-a "$KID_A" "$EAB_HMAC" "$a1" || die "lego A $a1: $(tail -2 "$work/lego-$a1.log")"
lego_issue lego-a "$KID_A" "$EAB_HMAC" "$a2" || die "lego A $a2: $(tail -2 "$work/lego-$a2.log")"
lego_issue lego-b "$KID_B" "$HMAC_B" "$b1" || die "lego B $b1: $(tail -2 "$work/lego-$b1.log")"
serial() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f'; }
S_A1=$(serial "$work/lego-a/certificates/$a1.crt") S_A2=$(serial "$work/lego-a/certificates/$a2.crt")
S_B1=$(serial "$work/lego-b/certificates/$b1.crt")
pass "lego issued $a1 ($S_A1), $a2 ($S_A2) for A and $b1 ($S_B1) for B"
lego --server "$ACME_DIR" --accept-tos --email "ops@example.test" --eab --kid "$KID_A" --hmac "$EAB_HMAC" \
  --path "$work/lego-a" --domains "$a1" revoke --reason 4 >"$work/lego-revoke.log" 2>&1 ||
  die "lego revoke $a1: $(tail -2 "$work/lego-revoke.log")"
pass "lego revoked $a1 (superseded)"
extra=extra-$run.a-corp.test
ra domain add "$KID_A" "$extra" --dcv http-01 >/dev/null || die "domain add A"
pass "domain $extra added to A"

# ---------------------------------------------------------------- ca-report config
cat >"$work/report.json" <<JSON
{"audit_files": {"engine": "$state/audit/engine.jsonl", "gateway": "$state/audit/gateway.jsonl",
                 "ra": "$state/audit/ra.jsonl"},
 "policy_store": "$state/policy", "state_dir": "$work/reporter-state", "report_dir": "$work/reports",
 "smtp": {"url": "smtp://127.0.0.1:$smtp_port", "from": "ACME CA reports <reports@ca.example>",
          "ca_file": "$work/smtp-cert.pem", "username": "reporter",
          "password_file": "$work/smtp-password"},
 "expiry_notice_days": [21, 7]}
JSON
REPORT=$build/reports/tools/ca-report
monday=$(/usr/bin/python3 -c '
import datetime as d
n = d.datetime.now(d.timezone.utc)
m = (n + d.timedelta(days=7 - n.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
print(m.strftime("%Y-%m-%dT%H:%M:%SZ"))')

# ---------------------------------------------------------------- 1. the weekly report
"$REPORT" run --config "$work/report.json" --now "$monday" >"$work/run1.out" 2>"$work/run1.err"
rc=$?
cat "$work/run1.out"
((rc == 0)) && pass "ca-report run --now $monday exited 0" || fail "ca-report run 1 exited $rc: $(tail -3 "$work/run1.err")"
grep -q "relay-pw" "$work/run1.out" "$work/run1.err" && fail "the relay password appears in ca-report's output"
grep -q "^filed report $KID_C .*no mail address among the account's contacts" "$work/run1.out" ||
  fail "C's report is not said to be filed for lack of an address"
/usr/bin/python3 "$here/check_mail.py" report --dir "$work/mail" --to alice@a-corp.example \
  --kid "$KID_A" --issued 2 --revoked superseded=1 --valid 1 --serials "$S_A1,$S_A2" \
  --absent-serials "$S_B1" --change "domain.add:$extra" && pass "A's report: counts, change, CSV" ||
  fail "A's report"
/usr/bin/python3 "$here/check_mail.py" report --dir "$work/mail" --to bob@b-corp.example \
  --kid "$KID_B" --issued 1 --revoked "" --valid 1 --serials "$S_B1" --absent-serials "$S_A1,$S_A2" &&
  pass "B's report: its certificate only" || fail "B's report"
# ca-ra report --send: the same week on demand, through the same relay (reports/reporter.h).
week_start=$(/usr/bin/python3 -c '
import datetime as d, sys
print((d.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ") - d.timedelta(days=7)).strftime("%Y-%m-%d"))' "$monday")
week_end=$(/usr/bin/python3 -c '
import datetime as d, sys
print((d.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ") - d.timedelta(days=1)).strftime("%Y-%m-%d"))' "$monday")
mkdir -p "$work/ra-out"
if ra report "$KID_A" --since "$week_start" --until "$week_end" --out "$work/ra-out" --send \
     --report-config "$work/report.json" >"$work/ra-send.out" 2>&1 &&
   grep -q "mailed to alice@a-corp.example" "$work/ra-send.out" &&
   /usr/bin/python3 "$here/check_mail.py" report --dir "$work/mail" --to alice@a-corp.example --count 2 \
     --kid "$KID_A" --issued 2 --revoked superseded=1 --valid 1 --serials "$S_A1,$S_A2" \
     --absent-serials "$S_B1" --change "domain.add:$extra"; then
  pass "ca-ra report --send $week_start..$week_end: mailed to A, same counts"
else
  fail "ca-ra report --send: $(tail -3 "$work/ra-send.out")"
fi
ra report "$KID_C" --since "$week_start" --until "$week_end" --out "$work/ra-out" --send \
  --report-config "$work/report.json" 2>&1 | grep -q "not mailed: no mail address among the account's contacts" &&
  pass "ca-ra report --send for C says it was not mailed (no address)" || fail "ca-ra report --send for C"
ls "$work/reports/$KID_A/"*.csv >/dev/null 2>&1 && ls "$work/reports/$KID_C/"*.html >/dev/null 2>&1 &&
  pass "operators' copies in the report dir (A mailed and filed, C filed)" || fail "report dir copies"
"$REPORT" run --config "$work/report.json" --now "$monday" >"$work/run1b.out" 2>&1
grep -q "^nothing due$" "$work/run1b.out" && pass "the same period is not reported twice" ||
  fail "second run for the same period: $(cat "$work/run1b.out")"

# ---------------------------------------------------------------- 2. expiry notices
ra ext-account update "$KID_C" --report-period monthly >/dev/null || die "C monthly"
[ "$(ra --json ext-account show "$KID_C" | json_field report_period)" = monthly ] &&
  pass "ca-ra ext-account update --report-period monthly is stored" || fail "report period of C"
ra ext-account update "$KID_C" --report-period yearly >/dev/null 2>&1 &&
  fail "--report-period yearly accepted"
not_after=$(openssl x509 -in "$work/lego-a/certificates/$a2.crt" -noout -enddate | cut -d= -f2)
soon=$(/usr/bin/python3 -c '
import datetime as d, sys
t = d.datetime.strptime(sys.argv[1], "%b %d %H:%M:%S %Y %Z").replace(tzinfo=d.timezone.utc)
print((t - d.timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$not_after")
before=$(ls "$work/mail"/*.eml | wc -l)
"$REPORT" run --config "$work/report.json" --now "$soon" >"$work/run2.out" 2>"$work/run2.err"
rc=$?
cat "$work/run2.out"
((rc == 0)) && pass "ca-report run --now $soon exited 0" || fail "ca-report run 2 exited $rc: $(tail -3 "$work/run2.err")"
/usr/bin/python3 "$here/check_mail.py" notice --dir "$work/mail" --to alice@a-corp.example \
  --serials "$S_A2" --absent-serials "$S_A1,$S_B1" && pass "A's expiry notice lists $a2, not the revoked $a1" ||
  fail "A's expiry notice"
/usr/bin/python3 "$here/check_mail.py" notice --dir "$work/mail" --to bob@b-corp.example \
  --serials "$S_B1" --absent-serials "$S_A1,$S_A2" && pass "B's expiry notice" || fail "B's expiry notice"
grep -Eq "^filed report $KID_C [0-9]{4}-[0-9]{2}-01\.\.[0-9]{4}-[0-9]{2}-(28|29|30|31) " "$work/run2.out" &&
  pass "C's monthly report covers a calendar month" || fail "C's monthly report: $(grep "$KID_C" "$work/run2.out")"
mid=$(ls "$work/mail"/*.eml | wc -l)
"$REPORT" run --config "$work/report.json" --now "$soon" >"$work/run3.out" 2>&1
rc=$?
after=$(ls "$work/mail"/*.eml | wc -l)
((rc == 0 && after == mid)) && grep -q "^nothing due$" "$work/run3.out" &&
  pass "a second run sends nothing ($((mid - before)) mails from the first, 0 from the second)" ||
  fail "second expiry run: rc $rc, $((after - mid)) new mails: $(cat "$work/run3.out")"

if ((fails)); then
  echo "== smtp log"; tail -20 "$work/smtp.log"
  echo "FAILED: $fails"
  exit 1
fi
echo "PASSED"
