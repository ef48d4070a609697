#!/usr/bin/env bash
# restore_e2e.sh SOURCE_DIR CA_ENGINE CA_GATEWAY CA_STATUS_SERVER CA_RA CA_CEREMONY CA_STATUS_PUBLISH CA_AUDIT
#
# Backup and restore where the operator guide uses them (docs/OPERATOR_GUIDE.md, "Backup and
# restore"), with the programs laid out as the package lays them out in a prefix and the scripts
# called by their installed path only (no --prefix: they find their own):
#   - every wrapper's --help: exit 0, its usage, no configuration needed (acme-ca-ra as nobody);
#   - appliance A set up; acme-ca-ra finds A's ra.conf; backups are encrypted (no PIN readable in
#     the file, passphrase from a file, never from argv), refused without a key source, two in the
#     same second get two names; one to an operator certificate (openssl cms);
#   - B: a fresh install (postinst in the prefix: empty append-only audit files), then restores that
#     fail (damaged file, wrong passphrase, a backup whose audit chain does not verify, a failure
#     after the swap) each leave B's state and configuration exactly as they were; then the restore
#     succeeds on that same fresh install: services up on A's keys, the organisation created on A,
#     the audit chains intact and append-only again; a second restore over it is refused.
# Every process it starts is stopped by PID; service accounts are removed only if it created them.
set -uo pipefail
src=$1 engine_bin=$2 gateway_bin=$3 status_bin=$4 ra_bin=$5 ceremony_bin=$6 publish_bin=$7 audit_bin=$8
dashboard_bin=$9 report_bin=${10}
. "$src/tests/appliance/lib.sh"
[ "$(id -u)" = 0 ] || { echo "FAIL: needs root (creates service accounts)"; exit 1; }
for t in mdb_copy mdb_stat setpriv runuser openssl python3 chattr lsattr; do
  command -v "$t" >/dev/null || { echo "FAIL: $t not installed"; exit 1; }
done
[ -f /usr/lib/softhsm/libsofthsm2.so ] || { echo "FAIL: softhsm2 not installed"; exit 1; }


T=$(mktemp -d /tmp/acme-ca-restore-e2e.XXXXXX)
chmod 0755 "$T"
A=$T/a B=$T/b
record_created_accounts
cleanup() {
  stop_prefix "$A"
  stop_prefix "$B"
  remove_test_state
}
trap cleanup EXIT
bins=("$engine_bin" "$gateway_bin" "$status_bin" "$publish_bin" "$ra_bin" "$ceremony_bin" "$audit_bin" "$dashboard_bin" "$report_bin")
install_prefix "$A" "$src" "${bins[@]}"
install_prefix "$B" "$src" "${bins[@]}"
append_only=0
if touch "$T/probe" && chattr +a "$T/probe" 2>/dev/null; then append_only=1; chattr -a "$T/probe"; fi
rm -f "$T/probe"
((append_only)) || echo "note: chattr +a unsupported on $T's filesystem: the append-only parts are not exercised"

# ---------------------------------------------------------------- --help, nothing configured
help_ok() {  # help_ok WRAPPER PATTERN [USER]: --help exits 0 and prints PATTERN on stdout
  local out rc=0
  if [ -n "${3:-}" ]; then out=$(runuser -u "$3" -- "$A/usr/sbin/$1" --help 2>/dev/null) || rc=$?
  else out=$("$A/usr/sbin/$1" --help 2>/dev/null) || rc=$?; fi
  [ "$rc" = 0 ] || { echo "    $1 --help: exit $rc"; return 1; }
  grep -q -- "$2" <<<"$out" || { echo "    $1 --help lacks '$2':"; head -3 <<<"$out" | sed 's/^/      /'; return 1; }
}
check "acme-ca-setup --help: exit 0, usage" help_ok acme-ca-setup 'acme-ca-setup \[setup\] \[OPTIONS\]'
check "acme-ca-backup --help: exit 0, usage with the encryption options" help_ok acme-ca-backup '--passphrase-file F'
check "acme-ca-restore --help: exit 0, usage" help_ok acme-ca-restore 'acme-ca-restore --from FILE'
check "bad usage still exits 2 with the usage on stderr (acme-ca-setup, -backup, -restore)" \
  bash -c 'for w in setup backup restore; do rc=0; err=$("$1/acme-ca-$w" --bogus 2>&1 >/dev/null) || rc=$?
             [ "$rc" = 2 ] && grep -q "unknown argument .--bogus." <<<"$err" && grep -q "^  acme-ca-$w" <<<"$err" || exit 1; done' \
  _ "$A/usr/sbin"
check "acme-ca-ra --help (no ra.conf, as nobody): exit 0, its usage and ca-ra's commands" \
  bash -c 'out=$(runuser -u nobody -- "$1" --help 2>&1) && grep -q "the registration authority CLI" <<<"$out" &&
           grep -q "^usage: ca-ra \[global options\]" <<<"$out"' _ "$A/usr/sbin/acme-ca-ra"

# ---------------------------------------------------------------- appliance A
pb=$(free_port_base)
E=$A/etc/acme-ca S=$A/var/lib/acme-ca
cp "$E/setup.conf.example" "$E/setup.conf"
loopback_setup_conf "$E/setup.conf" "$pb"
sed -i -e "s|^ROOT_KEY_TYPE=.*|ROOT_KEY_TYPE=ec-p384|" -e "s|^STATUS_THREADS=.*|STATUS_THREADS=2|" \
       -e "s|^GATEWAY_THREADS=.*|GATEWAY_THREADS=2|" "$E/setup.conf"
if "$A/usr/sbin/acme-ca-setup" >"$T/setup-a.log" 2>&1; then
  pass "acme-ca-setup from the prefix (no --prefix): appliance A up"
else
  cat "$T/setup-a.log"; echo "FAIL: setup did not complete"; exit 1
fi
RA=$A/usr/sbin/acme-ca-ra
org=$("$RA" --json org create --name "Restore Organisation" --country FR --locality Paris --registration-id 12345678900011 2>"$T/ra.err" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' 2>/dev/null)
check "acme-ca-ra from the prefix finds the prefix's ra.conf (no ACME_CA_ETC_DIR)" \
  bash -c '[ -n "$1" ] || { cat "$2"; exit 1; }' _ "$org" "$T/ra.err"

# An external account, and the reporter run as at a date past its first complete week (no relay in
# this setup: the report is filed), so that the reporter's state (what went out: never twice) holds
# that report and must travel with the backup.
"$RA" ext-account create --org "$org" --contact "Restore Holder <holder@restore.example>" --profiles SSL \
  --challenges http-01 --active --show-mac-key >/dev/null 2>"$T/ra-ext.err"
runuser -u acme-ca-report -- "$A/usr/lib/acme-ca/ca-report" run --config "$A/etc/acme-ca/report.json" \
  --now "$(date -u -d '+15 days' +%Y-%m-%dT%H:%M:%SZ)" >"$T/report-a.log" 2>&1
check "ca-report ran on A as acme-ca-report: one report filed, recorded in its state store" \
  bash -c 'grep -q "filed" "$1" && [ -f "$2/report/state/data.mdb" ] || { cat "$1" "$3"; exit 1; }' \
  _ "$T/report-a.log" "$S" "$T/ra-ext.err"

# ---------------------------------------------------------------- backups
PASS=$T/passphrase
(umask 077 && echo 'restore e2e passphrase 2026' >"$PASS")
OUT=$A/var/backups/acme-ca
user_pin=$(cat "$S/engine/user.pin") so_pin=$(cat "$S/ceremony/secrets/so.pin")
rc=0; out=$("$A/usr/sbin/acme-ca-backup" </dev/null 2>&1) || rc=$?
check "acme-ca-backup with secrets and no key source (no terminal): refused, says why, writes nothing" \
  bash -c '[ "$1" = 1 ] && grep -q "it is encrypted, give --passphrase-file" <<<"$2" && [ -z "$(ls -A "$3" 2>/dev/null)" ]' \
  _ "$rc" "$out" "$OUT"
# Two backups in the same second (the clock frozen with faketime where it is installed).
same_second=() clock="the real clock"
command -v faketime >/dev/null && same_second=(faketime '2026-06-01 12:00:00') clock="one second, faketime"
"${same_second[@]}" "$A/usr/sbin/acme-ca-backup" --passphrase-file "$PASS" >"$T/b1.path" 2>"$T/b1.log" & p1=$!
"${same_second[@]}" "$A/usr/sbin/acme-ca-backup" --passphrase-fd 3 3<"$PASS" >"$T/b2.path" 2>"$T/b2.log" & p2=$!
rc1=0 rc2=0; wait "$p1" || rc1=$?; wait "$p2" || rc2=$?
b1=$(cat "$T/b1.path") b2=$(cat "$T/b2.path")
name_re="^$OUT/acme-ca-backup-[0-9]{8}T[0-9]{6}Z-[A-Za-z0-9]{8}\\.tar\\.gz\\.enc\$"
if [ "$rc1$rc2" = 00 ] && [ "$b1" != "$b2" ] && [ -s "$b1" ] && [ -s "$b2" ] &&
   [[ $b1 =~ $name_re ]] && [[ $b2 =~ $name_re ]] && [ "$(ls "$OUT" | wc -l)" = 2 ]; then
  pass "two backups at once ($clock; passphrase from a file and from a descriptor): both written, two names ($(basename "$b1"), $(basename "$b2"))"
else
  fail "two backups at once: rc $rc1/$rc2 '$b1' '$b2' $(cat "$T/b1.log" "$T/b2.log")"
fi
check "backup 0600 root" bash -c '[ "$(stat -c "%a %U" "$1")" = "600 root" ]' _ "$b1"
check "backups unreadable without the passphrase: no user PIN, no SO PIN in them, not tarballs" \
  bash -c 'for f in "$1" "$2"; do ! grep -aqF "$3" "$f" && ! grep -aqF "$4" "$f" && ! tar -tzf "$f" >/dev/null 2>&1 || exit 1; done' \
  _ "$b1" "$b2" "$user_pin" "$so_pin"
check "with the passphrase (openssl enc -d, as the guide says) each holds the user PIN (file and fd alike)" \
  bash -c 'for f in "$1" "$2"; do [ "$(openssl enc -d -aes-256-cbc -pbkdf2 -iter 600000 -md sha256 -pass "file:$3" -in "$f" |
               tar -xzO acme-ca-backup/state/engine/user.pin)" = "$4" ] || exit 1; done' _ "$b1" "$b2" "$PASS" "$user_pin"
check "acme-ca-backup has no way to take a passphrase in argv" \
  bash -c '! grep -qE -- "--passphrase[ =]|--password" <<<"$("$1" --help)"' _ "$A/usr/sbin/acme-ca-backup"
# To an operator's certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/operator.key" \
  -out "$T/operator.crt" -subj /CN=operator -days 2 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/other.key" \
  -out "$T/other.crt" -subj /CN=other -days 2 2>/dev/null
b3=$("$A/usr/sbin/acme-ca-backup" --recipient "$T/operator.crt" 2>"$T/b3.log")
check "backup to an operator certificate (.tar.gz.cms): no PIN in it; the operator's key opens it" \
  bash -c '[[ $1 == *.tar.gz.cms ]] && ! grep -aqF "$3" "$1" &&
           [ "$(openssl cms -decrypt -binary -inform DER -in "$1" -inkey "$2" | tar -xzO acme-ca-backup/state/engine/user.pin)" = "$3" ]' \
  _ "$b3" "$T/operator.key" "$user_pin"
"$A/usr/sbin/acme-ca-setup" stop >/dev/null 2>&1

# ---------------------------------------------------------------- B: a fresh install
if postinst_prefix "$B" >"$T/postinst-b.log" 2>&1; then pass "fresh install B (the postinst's steps in the prefix)"
else cat "$T/postinst-b.log"; fail "postinst in B"; fi
SB=$B/var/lib/acme-ca EB=$B/etc/acme-ca
check "fresh install: empty audit files" bash -c '[ -f "$1/audit/engine.jsonl" ] && [ ! -s "$1/audit/engine.jsonl" ] && [ ! -s "$1/audit/ra.jsonl" ]' _ "$SB"
if ((append_only)); then
  check "fresh install: the audit files are append-only (chattr +a), as on a real install" \
    bash -c 'lsattr "$1/audit/engine.jsonl" | grep -q "^[^ ]*a" && lsattr "$1/audit/ra.jsonl" | grep -q "^[^ ]*a"' _ "$SB"
fi
# B's configuration and state: paths, types, sizes, modes, owners, attributes, contents.
snapshot() {
  (cd "$B" && find etc/acme-ca var/lib/acme-ca -name '.acme-ca-failed-restore-*' -prune -o -printf '%p %y %s %m %u %g\n' | sort
   find etc/acme-ca var/lib/acme-ca -name '.acme-ca-failed-restore-*' -prune -o -type f -print0 | sort -z | xargs -0 sha256sum
   lsattr -R var/lib/acme-ca/audit 2>/dev/null)
}
before=$(snapshot)
RESTORE=$B/usr/sbin/acme-ca-restore
unchanged() {  # unchanged WHAT: B exactly as before, no staging left
  local now
  now=$(snapshot)
  [ "$now" = "$before" ] || { echo "    $1 changed B:"; diff <(echo "$before") <(echo "$now") | head -10 | sed 's/^/      /'; return 1; }
  [ -z "$(find "$SB" -maxdepth 1 -name '.acme-ca-restore.*' -o -maxdepth 1 -name '.acme-ca-replaced.*')" ] ||
    { echo "    staging left in $SB"; return 1; }
}
refused() {  # refused LOG PATTERN RC: the command failed and said PATTERN
  [ "$3" != 0 ] || { echo "    accepted"; return 1; }
  grep -q -- "$2" "$1" || { sed 's/^/      /' "$1" | tail -5; return 1; }
}
refused_unchanged() { refused "$1" "$2" "$3" && unchanged "$4"; }  # LOG PATTERN RC WHAT

# 1. A damaged file: one byte changed in the middle.
cp "$b1" "$T/damaged.enc"
python3 - "$T/damaged.enc" <<'PY'
import os, sys
f = open(sys.argv[1], "r+b"); n = os.path.getsize(sys.argv[1]); f.seek(n // 2)
b = f.read(1); f.seek(n // 2); f.write(bytes([b[0] ^ 0x55]))
PY
rc=0; "$RESTORE" --from "$T/damaged.enc" --passphrase-file "$PASS" >"$T/r1.log" 2>&1 || rc=$?
check "restore of a damaged backup: refused (damaged), nothing changed" \
  refused_unchanged "$T/r1.log" "damaged.*nothing was changed" "$rc" damaged
# 2. The wrong passphrase.
(umask 077 && echo 'not the passphrase at all' >"$T/wrong")
rc=0; "$RESTORE" --from "$b1" --passphrase-file "$T/wrong" >"$T/r2.log" 2>&1 || rc=$?
check "restore with the wrong passphrase: refused (wrong passphrase), nothing changed" \
  refused_unchanged "$T/r2.log" "wrong passphrase.*nothing was changed" "$rc" "wrong passphrase"
rc=0; "$RESTORE" --from "$b3" --key "$T/other.key" >"$T/r2b.log" 2>&1 || rc=$?
check "restore of a certificate-encrypted backup with another key: refused, nothing changed" \
  refused_unchanged "$T/r2b.log" "not its recipient.*nothing was changed" "$rc" "other key"
# 3. A backup that decrypts and matches its SHA256SUMS but whose RA audit chain was edited.
mkdir "$T/craft"
openssl enc -d -aes-256-cbc -pbkdf2 -iter 600000 -md sha256 -pass "file:$PASS" -in "$b1" | tar -xz -C "$T/craft"
sed -i '1s/"action":"/"action":"x/' "$T/craft/acme-ca-backup/state/audit/ra.jsonl"
(cd "$T/craft/acme-ca-backup" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum >SHA256SUMS)
tar -czf - -C "$T/craft" acme-ca-backup |
  openssl enc -e -aes-256-cbc -pbkdf2 -iter 600000 -md sha256 -salt -pass "file:$PASS" -out "$T/tampered.enc"
rc=0; "$RESTORE" --from "$T/tampered.enc" --passphrase-file "$PASS" >"$T/r3.log" 2>&1 || rc=$?
check "restore of a backup whose audit chain does not verify: refused (ca-audit), nothing changed" \
  refused_unchanged "$T/r3.log" "audit file ra.jsonl does not verify.*nothing was changed" "$rc" "tampered audit"
# 4. A failure after the swap: acme-ca-setup stops on a bad setting (--config).
sed 's/^GATEWAY_PORT=.*/GATEWAY_PORT=notaport/' "$A/etc/acme-ca/setup.conf" >"$T/bad-setup.conf"
rc=0; "$RESTORE" --from "$b1" --passphrase-file "$PASS" --config "$T/bad-setup.conf" >"$T/r4.log" 2>&1 || rc=$?
check "restore failing in acme-ca-setup (after the swap): rolled back, nothing changed" \
  refused_unchanged "$T/r4.log" "the previous state and configuration are back" "$rc" "failed setup"

# 5. Then the restore, on that same fresh install.
rc=0; "$RESTORE" --from "$b1" --passphrase-fd 4 4<"$PASS" >"$T/r5.log" 2>&1 || rc=$?
if [ "$rc" = 0 ]; then
  pass "acme-ca-restore on the fresh install (append-only audit files), after five failed attempts (passphrase on a descriptor)"
else
  sed 's/^/    /' "$T/r5.log" | tail -15
  fail "acme-ca-restore on the fresh install (exit $rc)"
fi
check "restored: the five services run (acme-ca-setup status)" \
  bash -c '[ "$("$1" status 2>/dev/null | grep -c ": running (pid")" = 5 ]' _ "$B/usr/sbin/acme-ca-setup"
check "restored: the gateway serves a certificate from A's intermediate (A's token and PIN in use)" \
  bash -c 'openssl s_client -connect "127.0.0.1:$1" -servername localhost -CAfile "$2" </dev/null 2>/dev/null |
           grep -q "Verify return code: 0 (ok)"' _ "$pb" "$S/ceremony/all/root.pem"
check "restored: acme-ca-ra in B lists the organisation created on A" \
  bash -c '"$1" --json org list | grep -q "\"$2\""' _ "$B/usr/sbin/acme-ca-ra" "$org"
check "restored: setup.conf is A's; B's previous one kept as setup.conf.before-restore-*" \
  bash -c 'cmp -s "$1/etc/acme-ca/setup.conf" "$2/setup.conf" && ls "$2"/setup.conf.before-restore-* >/dev/null' _ "$A" "$EB"
check "restored: both audit chains intact (ca-audit verify-audit), the RA's holds org.create" \
  bash -c '"$1" verify-audit "$2/audit/engine.jsonl" "$2/audit/ra.jsonl" >/dev/null && grep -q "\"action\":\"org.create\"" "$2/audit/ra.jsonl"' \
  _ "$B/usr/bin/ca-audit" "$SB"
if ((append_only)); then
  check "restored: the audit files are append-only again" \
    bash -c 'lsattr "$1/audit/engine.jsonl" | grep -q "^[^ ]*a" && lsattr "$1/audit/ra.jsonl" | grep -q "^[^ ]*a"' _ "$SB"
fi
check "restored: the reporter's state is A's (the filed report recorded; mdb_dump equal), owned by acme-ca-report" \
  bash -c 'dump() { mdb_dump -a "$1/report/state" 2>&1 | grep -v "^maxreaders="; }  # a lock file setting
           a=$(dump "$1") b=$(dump "$2")
           [ "$(grep -c "^ " <<<"$a")" -ge 2 ] && [ "$a" = "$b" ] &&
           [ "$(stat -c %U "$2/report/state/data.mdb")" = acme-ca-report ] ||
             { echo "    A: $a"; echo "    B: $b"; ls -la "$2/report/state" | sed "s/^/    /"; exit 1; }' _ "$S" "$SB"
check "restored: no staging, no replaced parts left in the state directory" \
  test -z "$(find "$SB" -maxdepth 1 \( -name '.acme-ca-restore.*' -o -name '.acme-ca-replaced.*' \) -print)"
rc=0; "$RESTORE" --from "$b1" --passphrase-file "$PASS" --no-start >"$T/r6.log" 2>&1 || rc=$?
check "a second restore over the restored appliance: refused" \
  refused "$T/r6.log" "exists: restore goes into a fresh install" "$rc"
"$B/usr/sbin/acme-ca-setup" stop >/dev/null 2>&1

if ((fails == 0)); then echo "restore_e2e: all checks passed"; else echo "restore_e2e: $fails check(s) failed"; fi
[ "$fails" -eq 0 ]
