#!/usr/bin/env bash
# Test of copy-token.sh: $1 = ca-softhsm-init. Node 1's token gets an RSA key; after the copy,
# node 2's token (its own softhsm2.conf and token directory) signs with that key: both nodes'
# signatures verify under the public key read from node 1, and are the same bytes. A second copy
# onto a token directory that holds a token is refused and changes nothing.
set -euo pipefail
init="$1"
here=$(cd "$(dirname "$0")" && pwd)
work="$(mktemp -d)"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
module=/usr/lib/softhsm/libsofthsm2.so

printf 'so-secret-1\n' >"$work/so.pin"
printf 'user-secret-1\n' >"$work/user.pin"
chmod 0400 "$work/so.pin" "$work/user.pin"
conf1="$("$init" --dir "$work/node1" --label ca --so-pin-file "$work/so.pin" --pin-file "$work/user.pin")"
mkdir -p "$work/node2"
printf 'directories.tokendir = %s/node2/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$work" >"$work/node2/softhsm2.conf"
conf2=$work/node2/softhsm2.conf
# Throwaway test PINs: argv is acceptable here (pkcs11-tool takes no PIN file).
p11() { local conf=$1; shift; SOFTHSM2_CONF=$conf pkcs11-tool --module "$module" --token-label ca --login --pin user-secret-1 "$@"; }
p11 "$conf1" --keypairgen --key-type rsa:2048 --label issuer --id 01 >/dev/null 2>&1 || fail "key generation"
p11 "$conf1" --read-object --type pubkey --label issuer -o "$work/pub.der" >/dev/null 2>&1 || fail "public key"
openssl pkey -pubin -inform DER -in "$work/pub.der" -out "$work/pub.pem" || fail "public key DER"

out=$("$here/copy-token.sh" --from "$conf1" --to "$conf2") || fail "copy refused"
grep -Eq "^node 2 \($conf2\): label=ca serial=[0-9a-f]+$" <<<"$out" || fail "node 2's slots not reported: $out"

printf 'to be signed by either node\n' >"$work/data"
for n in 1 2; do
  conf=$work/node$n/softhsm2.conf
  p11 "$conf" --sign --mechanism SHA256-RSA-PKCS --label issuer -i "$work/data" -o "$work/sig$n" \
    >/dev/null 2>&1 || fail "node $n cannot sign"
  openssl dgst -sha256 -verify "$work/pub.pem" -signature "$work/sig$n" "$work/data" >/dev/null ||
    fail "node $n's signature does not verify under node 1's key"
done
# RSA PKCS#1 v1.5 is deterministic: the same key signs the same bytes identically on both nodes.
cmp -s "$work/sig1" "$work/sig2" || fail "the nodes' signatures differ"

# Node 2 holds a token now: a second copy is refused and leaves it as it was.
before=$(cd "$work/node2/tokens" && find . -type f -exec sha256sum {} + | sort)
if "$here/copy-token.sh" --from "$conf1" --to "$conf2" 2>"$work/err"; then fail "copy onto a token accepted"; fi
grep -q "is not empty: it already holds a token" "$work/err" || fail "refusal: $(cat "$work/err")"
[ "$(wc -l <"$work/err")" -eq 1 ] || fail "more than one error line"
[ "$(cd "$work/node2/tokens" && find . -type f -exec sha256sum {} + | sort)" = "$before" ] || fail "refused copy changed node 2"
# Bad usage: one line, exit 2.
set +e; "$here/copy-token.sh" --from "$conf1" 2>/dev/null; rc=$?; set -e
[ "$rc" -eq 2 ] || fail "missing --to: exit $rc"
echo "ok"
