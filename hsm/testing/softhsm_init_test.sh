#!/usr/bin/env bash
# End-to-end test of ca-softhsm-init: $1 = the ca-softhsm-init binary.
set -euo pipefail
bin="$1"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

printf 'so-secret-1\n' >"$work/so.pin"
printf 'user-secret-1\n' >"$work/user.pin"
chmod 0400 "$work/so.pin" "$work/user.pin"

conf="$("$bin" --dir "$work/hsm" --label e2e-token --so-pin-file "$work/so.pin" --pin-file "$work/user.pin" 2>"$work/err")"
[ "$conf" = "$work/hsm/softhsm2.conf" ] || fail "printed '$conf'"
grep -q "directories.tokendir = $work/hsm/tokens" "$conf" || fail "tokendir not in $conf"
SOFTHSM2_CONF="$conf" softhsm2-util --show-slots | grep -q "Label:            e2e-token" || fail "token not listed"
# The user PIN works: pkcs11-tool logs in (a throwaway test PIN, so argv is acceptable here).
SOFTHSM2_CONF="$conf" pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label e2e-token \
  --login --pin "user-secret-1" --list-objects >/dev/null 2>&1 || fail "user PIN refused"

# A second token in the same dir works; the same label again is refused and changes nothing.
"$bin" --dir "$work/hsm" --label second --so-pin-file "$work/so.pin" --pin-file "$work/user.pin" >/dev/null 2>&1 \
  || fail "second token"
if "$bin" --dir "$work/hsm" --label e2e-token --so-pin-file "$work/so.pin" --pin-file "$work/user.pin" \
  >"$work/out" 2>"$work/err"; then fail "duplicate label accepted"; fi
grep -q "already-exists: a token labelled .e2e-token. is already initialised" "$work/err" || fail "duplicate: $(cat "$work/err")"
[ "$(wc -l <"$work/err")" -eq 1 ] || fail "more than one error line"
[ "$(SOFTHSM2_CONF="$conf" softhsm2-util --show-slots | grep -c 'Label:            e2e-token')" -eq 1 ] || fail "label twice"

# Bad input: missing flag, PIN file readable by others.
if "$bin" --dir "$work/x" --label l --pin-file "$work/user.pin" 2>"$work/err"; then fail "missing flag accepted"; fi
grep -q "missing --so-pin-file" "$work/err" || fail "missing flag: $(cat "$work/err")"
cp "$work/user.pin" "$work/open.pin"; chmod 0644 "$work/open.pin"
if "$bin" --dir "$work/y" --label l --so-pin-file "$work/so.pin" --pin-file "$work/open.pin" 2>"$work/err"; then
  fail "world-readable PIN file accepted"
fi
[ ! -e "$work/y" ] || fail "a refused run created files"
echo "ok"
