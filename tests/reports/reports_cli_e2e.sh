#!/usr/bin/env bash
# reports_cli_e2e.sh BUILD_DIR SOURCE_DIR
# Brings the dev appliance up in a fresh state directory, then, for the demo external account:
# lego issues two certificates (http-01), revokes one (superseded), a dns-01 order whose TXT record
# is never published fails validation, and ca-ra adds a domain. `ca-ra report KID --since --until
# --out DIR --json` is checked by check_report.py: exact counts, the revocation's reason, the
# validation failure, the domain.add change, the HTML and the CSV (parsed with python's csv).
# An unknown kid: one error line, non-zero exit, no file. Stops every process it started, by PID.
set -uo pipefail
build=$1 src=$2

state=$(mktemp -d /tmp/reports-cli-e2e.XXXXXX)
. "$src/scripts/lib/dev_appliance.sh"
# Its own dev appliance on a free port base (slots of its own: 23000 + k*200; REPORTS_E2E_PORT_BASE
# pins one).
if [ -n "${REPORTS_E2E_PORT_BASE:-}" ]; then
  test_appliance_up "$src" "$build" "$state" "$REPORTS_E2E_PORT_BASE" 1 200 || exit 1
else
  test_appliance_up "$src" "$build" "$state" 23000 40 200 || exit 1
fi
set -a; . "$state/appliance.env"; set +a
export LEGO_CA_CERTIFICATES=$ACME_CA_BUNDLE

fails=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
ra() { $RA_CLI --actor reports-e2e "$@"; }

sleep 1  # the appliance's own setup changes happened before the period starts
since=$(date -u +%s)
lego_dir=$state/lego
LEGO="lego --server $ACME_DIR --accept-tos --email ops@$SUFFIX --eab --kid $EAB_KID --hmac $EAB_HMAC --key-type rsa4096 --path $lego_dir"
# The shipped profiles take RSA-3072 keys only, which lego cannot generate: an openssl CSR.
csr_for() { openssl req -new -newkey rsa:3072 -nodes -keyout "$state/$1.key" -out "$state/$1.csr" -subj "/CN=$1" \
  -addext "subjectAltName=DNS:$1" 2>/dev/null && echo "$state/$1.csr"; }
run=$(openssl rand -hex 3)
a=a-$run.$SUFFIX b=b-$run.$SUFFIX bad=bad-$run.$SUFFIX
for d in "$a" "$b"; do
  if $LEGO --csr "$(csr_for "$d")" --http --http.port "127.0.0.1:$HTTP01_PORT" run >"$state/lego-$d.log" 2>&1; then
    pass "lego issued $d"
  else
    fail "lego run $d: $(tail -3 "$state/lego-$d.log")"
  fi
done
# pki::Serial's canonical form: lower case, minimal octets.
serial_of() { openssl x509 -in "$lego_dir/certificates/$1.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f' | sed 's/^\(00\)*//'; }
serial_a=$(serial_of "$a") serial_b=$(serial_of "$b")
if $LEGO --domains "$a" revoke --reason 4 >"$state/lego-revoke.log" 2>&1; then
  pass "lego revoked $a (superseded)"
else
  fail "lego revoke: $(tail -3 "$state/lego-revoke.log")"
fi
# dns-01 without the TXT record: the hook publishes nothing, the validation fails.
printf '#!/bin/sh\nexit 0\n' >"$state/no-dns-hook.sh"; chmod +x "$state/no-dns-hook.sh"
if EXEC_PATH=$state/no-dns-hook.sh EXEC_POLLING_INTERVAL=1 EXEC_PROPAGATION_TIMEOUT=5 \
   $LEGO --csr "$(csr_for "$bad")" --dns exec --dns.disable-cp --dns.resolvers "$DNS_ADDR" run >"$state/lego-bad.log" 2>&1; then
  fail "lego issued $bad without its TXT record"
else
  pass "lego dns-01 without the TXT record failed"
fi
if ra domain add "$EAB_KID" "added-$run.example.org" >"$state/domain-add.log" 2>&1; then
  pass "ca-ra domain add added-$run.example.org"
else
  fail "ca-ra domain add: $(cat "$state/domain-add.log")"
fi
sleep 1
until_t=$(date -u +%s)

out=$state/out; mkdir -p "$out"
if ra report "$EAB_KID" --since "@$since" --until "@$until_t" --out "$out" --json >"$state/report.json" 2>"$state/report.err"; then
  pass "ca-ra report ran"
else
  fail "ca-ra report: $(cat "$state/report.err")"
fi
if /usr/bin/python3 "$src/tests/reports/check_report.py" "$state/report.json" "$out" \
     "$EAB_KID" "$a" "$b" "$bad" "added-$run.example.org" "$serial_a" "$serial_b"; then
  pass "report content (counts, revocation reason, failure, change, HTML, CSV)"
else
  fail "report content"
fi
# The human summary names the counts.
if ra report "$EAB_KID" --since "@$since" --until "@$until_t" --out "$out" >"$state/report.txt" 2>&1 &&
   grep -q '^  issued        2 (SSL: 2)' "$state/report.txt" && grep -q '^  revoked       1 (superseded: 1)' "$state/report.txt"; then
  pass "summary: issued 2 (SSL), revoked 1 (superseded)"
else
  fail "summary: $(cat "$state/report.txt")"
fi

# An unknown kid: one line on stderr, exit 1, nothing written.
empty=$state/empty; mkdir -p "$empty"
ra report 00000000-0000-4000-8000-000000000000 --since "@$since" --until "@$until_t" --out "$empty" >"$state/unknown.out" 2>"$state/unknown.err"
rc=$?
if ((rc != 0)) && [ "$(wc -l <"$state/unknown.err")" -eq 1 ] && grep -q "unknown external account" "$state/unknown.err" &&
   [ -z "$(ls -A "$empty")" ] && [ ! -s "$state/unknown.out" ]; then
  pass "unknown kid: $(cat "$state/unknown.err")"
else
  fail "unknown kid: rc=$rc err=$(cat "$state/unknown.err") files=$(ls -A "$empty")"
fi

# The audit files the report read verify end to end (the gateway's now holds validation_failed).
if $AUDIT_CLI verify-audit $AUDIT_FILES >"$state/verify.log" 2>&1; then
  pass "ca-audit verify-audit: every audit file verifies"
else
  fail "verify-audit: $(tail -5 "$state/verify.log")"
fi

if ((fails != 0)); then
  echo "== gateway log (tail)"; tail -30 "$state/logs/gateway.log"
  echo "== engine log (tail)"; tail -10 "$state/logs/engine.log"
  echo "$fails check(s) failed"
  exit 1
fi
echo "all checks passed"
