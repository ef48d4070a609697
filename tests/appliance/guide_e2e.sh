#!/usr/bin/env bash
# guide_e2e.sh SOURCE_DIR BUILD_DIR
#
# The operator guide's trial install (docs/OPERATOR_GUIDE.md, "Trial install"), followed from the
# top with the guide's own commands: each block marked `<!-- guide-test: NAME -->` is extracted
# from the guide and run as written, in order, in this shell (so the guide and the test cannot
# drift). The test only sets what the guide asks the reader to pick (P, P2, DEB, PORT_BASE) and
# checks each block's outcome: a certificate from certbot, revoked, OCSP `revoked`; an encrypted
# backup restored into a fresh prefix whose status server still answers `revoked`.
# The package is the one scripts/build-deb.sh --no-build packs from BUILD_DIR. Every process is
# stopped by PID; service accounts are removed only if this test created them. Needs root.
set -uo pipefail
src=$1 build=$2
. "$src/tests/appliance/lib.sh"
[ "$(id -u)" = 0 ] || { echo "FAIL: needs root (creates service accounts)"; exit 1; }
for t in certbot pebble-challtestsrv mdb_copy setpriv runuser openssl python3 dpkg-deb cpack curl; do
  command -v "$t" >/dev/null || { echo "FAIL: $t not installed"; exit 1; }
done

has() {  # has DESCRIPTION FILE REGEX
  if grep -Eq -- "$3" "$2"; then pass "$1"; else fail "$1 (no /$3/ in $2)"; sed 's/^/    /' "$2" | tail -20; fi
}

T=$(mktemp -d /tmp/acme-ca-guide-e2e.XXXXXX)
chmod 0755 "$T"
record_created_accounts
DNS_PID=""

# What the guide asks the reader to pick.
P=$T/trial P2=$T/trial-restored
PORT_BASE=$(free_port_base)

cleanup() {
  stop_prefix "$P"
  stop_prefix "$P2"
  if [ -n "$DNS_PID" ]; then kill "$DNS_PID" 2>/dev/null; wait "$DNS_PID" 2>/dev/null; fi
  remove_test_state
}
trap cleanup EXIT

# The guide's marked blocks, one file each (T/blocks/NAME.sh): the indented lines after the marker.
mkdir "$T/blocks" "$T/out" "$T/work"
python3 - "$src/docs/OPERATOR_GUIDE.md" "$T/blocks" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
i = 0
while i < len(lines):
    m = re.match(r"^<!-- guide-test: ([a-z0-9-]+) -->$", lines[i])
    i += 1
    if not m:
        continue
    while i < len(lines) and lines[i].strip() == "":
        i += 1
    block = []
    while i < len(lines) and (lines[i].startswith("    ") or lines[i].strip() == ""):
        block.append(lines[i][4:])
        i += 1
    while block and block[-1].strip() == "":
        block.pop()
    open(f"{sys.argv[2]}/{m.group(1)}.sh", "w").write("\n".join(block) + "\n")
PY
expected=(trial-unpack trial-config trial-dns trial-setup trial-account trial-certbot trial-revoke trial-backup trial-restore trial-stop)
for b in "${expected[@]}"; do
  [ -s "$T/blocks/$b.sh" ] || { echo "FAIL: the guide has no block marked guide-test: $b"; exit 1; }
done
pass "the guide's trial install has its ${#expected[@]} marked blocks"

# run_block NAME: the guide's block as written, in this shell (its variables stay set for the next
# blocks), from the reader's working directory; output in T/out/NAME.log.
run_block() {
  echo "== guide block $1:"; sed 's/^/    /' "$T/blocks/$1.sh"
  pushd "$T/work" >/dev/null || return 1
  . "$T/blocks/$1.sh" >"$T/out/$1.log" 2>&1
  local rc=$?
  popd >/dev/null || return 1
  if [ "$rc" = 0 ]; then pass "guide block $1 (exit 0)"; else fail "guide block $1 (exit $rc)"; tail -30 "$T/out/$1.log" | sed 's/^/    /'; fi
  return "$rc"
}

# The package, as the guide's reader has it.
DEB=$(BUILD_DIR=$build "$src/scripts/build-deb.sh" --build-dir "$build" --no-build 2>"$T/build-deb.log" | tail -1)
[ -f "$DEB" ] || { cat "$T/build-deb.log"; echo "FAIL: scripts/build-deb.sh made no package"; exit 1; }
pass "package $(basename "$DEB")"
start=$SECONDS

run_block trial-unpack || exit 1
run_block trial-config || exit 1
has "setup.conf points at 127.0.0.1:$PORT_BASE" "$P/etc/acme-ca/setup.conf" "^GATEWAY_PORT=$PORT_BASE\$"
run_block trial-dns
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$((PORT_BASE + 5))/" && break; sleep 0.1; done
run_block trial-setup || { for f in "$P"/var/log/acme-ca/*.log; do echo "== $f"; tail -20 "$f"; done; exit 1; }
has "setup: appliance up with its ACME directory" "$T/out/trial-setup.log" "appliance up: ACME directory https://localhost:$PORT_BASE/directory"
has "setup: the root's fingerprint is verified against" "$T/out/trial-setup.log" \
  "^verified against root .* SHA-256 Fingerprint=$(openssl x509 -in "$T/work/root.pem" -noout -fingerprint -sha256 | sed 's/^[^=]*=//')"
run_block trial-account
[ -n "${KID:-}" ] && [ -n "${MAC_KEY:-}" ] && pass "account: KID and MAC_KEY set" || fail "account: no KID/MAC_KEY"
run_block trial-certbot
cert=$T/work/le/conf/live/www.example.internal/cert.pem
has "certbot: certificate for www.example.internal" <(openssl x509 -in "$cert" -noout -ext subjectAltName 2>&1) 'DNS:www.example.internal'
has "certbot: chain verifies to the root" "$T/out/trial-certbot.log" "cert.pem: OK"
run_block trial-revoke
has "revoke: certbot revoked it without a question" "$T/out/trial-revoke.log" "Congratulations! You have successfully revoked"
has "revoke: openssl ocsp says revoked" "$T/out/trial-revoke.log" "cert.pem: revoked"
has "revoke: OCSP response verified" "$T/out/trial-revoke.log" "^Response verify OK"
run_block trial-backup
[ -f "${BACKUP:-}" ] && pass "backup: $(basename "$BACKUP")" || fail "backup: no file"
has "backup: encrypted (no tar header)" <(head -c 8 "$BACKUP") '^Salted__'
has "backup: appliance stopped" "$T/out/trial-backup.log" "stopped engine"
run_block trial-restore || for f in "$P2"/var/log/acme-ca/*.log; do echo "== $f"; tail -20 "$f"; done
has "restore: the restored status server answers revoked" "$T/out/trial-restore.log" "cert.pem: revoked"
has "restore: OCSP response verified" "$T/out/trial-restore.log" "^Response verify OK"
run_block trial-stop
# The guide's `kill "$DNS_PID"` ended it: reap it (bounded: KILL after 5 s).
for _ in $(seq 50); do kill -0 "$DNS_PID" 2>/dev/null && [ "$(ps -o stat= -p "$DNS_PID")" != Z ] || break; sleep 0.1; done
if [ "$(ps -o stat= -p "$DNS_PID" 2>/dev/null)" = Z ] || ! kill -0 "$DNS_PID" 2>/dev/null; then
  wait "$DNS_PID" 2>/dev/null; DNS_PID=""; pass "stop: test DNS server stopped"
else
  fail "stop: test DNS server still running"
fi
for s in engine gateway status; do
  if [ -f "$P2/run/acme-ca/$s.pid" ] && kill -0 "$(cat "$P2/run/acme-ca/$s.pid")" 2>/dev/null; then
    fail "stop: $s still running"
  fi
done
echo "the guide's trial path took $((SECONDS - start)) s"
echo
if ((fails)); then echo "$fails check(s) failed"; exit 1; fi
echo "all checks passed"
