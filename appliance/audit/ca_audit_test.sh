#!/bin/bash
# ca-audit verify-audit on files written by an independent implementation of the format (Python,
# below): intact -> exit 0 and a summary; one edited byte, a deleted line, swapped lines, a torn
# last line -> exit 1 naming the line; a torn line sealed by a matching audit_tail_repaired entry
# (append-only files) -> intact.
set -euo pipefail
ca_audit=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

/usr/bin/python3 - "$dir/good.jsonl" <<'PY'
import hashlib, json, sys
prev = "0" * 64
with open(sys.argv[1], "w") as f:
    for seq in range(1, 5):
        e = {"event": "issued", "seq": seq, "ts": "2026-11-27T00:00:00.000Z", "writer": "py", "pid": 1,
             "serial": "0a%02d" % seq, "account": "acct", "prev": prev}
        canon = lambda v: json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        e["hash"] = hashlib.sha256((prev + "\n" + canon(e)).encode()).hexdigest()
        f.write(canon(e) + "\n")
        prev = e["hash"]
PY

out=$("$ca_audit" verify-audit "$dir/good.jsonl") || fail "intact file refused: $out"
grep -q "intact: 4 entries, last seq 4" <<<"$out" || fail "no summary: $out"

expect_tamper() {  # expect_tamper NAME LINE WORDS
  local out rc=0
  out=$("$ca_audit" verify-audit "$dir/$1") || rc=$?
  [ "$rc" = 1 ] || fail "$1: exit $rc, expected 1: $out"
  grep -q "^$dir/$1:$2: .*$3" <<<"$out" || fail "$1: line $2 ($3) not reported: $out"
  grep -q "TAMPERED" <<<"$out" || fail "$1: no verdict: $out"
}
sed '2s/"serial":"0a02"/"serial":"0a12"/' "$dir/good.jsonl" >"$dir/edited.jsonl"
expect_tamper edited.jsonl 2 "hash does not match"
sed '3d' "$dir/good.jsonl" >"$dir/deleted.jsonl"
expect_tamper deleted.jsonl 3 "deleted"
{ sed -n 1p "$dir/good.jsonl"; sed -n 3p "$dir/good.jsonl"; sed -n 2p "$dir/good.jsonl"; sed -n 4p "$dir/good.jsonl"; } >"$dir/swapped.jsonl"
expect_tamper swapped.jsonl 2 "prev does not match"
head -c -10 "$dir/good.jsonl" >"$dir/torn.jsonl"
expect_tamper torn.jsonl 4 "incomplete last line"

# A torn line sealed in an append-only file: the next entry (audit_tail_repaired) names the torn
# bytes' SHA-256 and chains from the entry before them -> intact; other bytes there -> refused.
/usr/bin/python3 - "$dir/good.jsonl" "$dir/sealed.jsonl" "$dir/badseal.jsonl" <<'PY'
import hashlib, json, sys
canon = lambda v: json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
lines = open(sys.argv[1]).read().splitlines()
last = json.loads(lines[-1])
torn = lines[1][:40]
def sealed(fragment, named):
    e = {"event": "audit_tail_repaired", "seq": last["seq"] + 1, "ts": "2026-11-27T00:00:00.000Z",
         "writer": "py", "pid": 1, "torn_bytes": len(named), "prev": last["hash"],
         "torn_sha256": hashlib.sha256(named.encode()).hexdigest()}
    e["hash"] = hashlib.sha256((e["prev"] + "\n" + canon(e)).encode()).hexdigest()
    return "\n".join(lines + [fragment, canon(e)]) + "\n"
open(sys.argv[2], "w").write(sealed(torn, torn))
open(sys.argv[3], "w").write(sealed(torn + "x", torn))
PY
out=$("$ca_audit" verify-audit "$dir/sealed.jsonl") || fail "sealed torn line refused: $out"
grep -q "intact: 5 entries, last seq 5" <<<"$out" || fail "sealed: no summary: $out"
expect_tamper badseal.jsonl 5 "not a JSON object"

rc=0; "$ca_audit" verify-audit "$dir/missing.jsonl" 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "missing file: exit $rc"
rc=0; "$ca_audit" 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "no arguments: exit $rc"
echo "ca-audit: all checks passed"
