#!/usr/bin/python3
"""ca-ra's hash-chained audit file: every committed policy change reaches it once, in the policy
store's order, also when several ca-ra processes write at the same time; the chain verifies (checked
here by an independent implementation of the format, and by ca-audit verify-audit); a missing
file is caught up from the store by the next change."""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def canonical(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def verify_chain(path):
    """The format of common/audit_log.h, re-implemented: returns the entries."""
    prev, entries = "0" * 64, []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            check(line.endswith("\n"), f"line {n} complete")
            e = json.loads(line)
            check(canonical(e) == line.rstrip("\n"), f"line {n} canonical")
            body = dict(e)
            del body["hash"]
            check(e["prev"] == prev, f"line {n} chains to line {n - 1}")
            check(e["seq"] == n, f"line {n} seq")
            check(hashlib.sha256((prev + "\n" + canonical(body)).encode()).hexdigest() == e["hash"],
                  f"line {n} hash")
            prev = e["hash"]
            entries.append(e)
    return entries


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ca-ra", required=True)
    ap.add_argument("--ca-audit", required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        audit = os.path.join(tmp, "ra.jsonl")
        env = dict(os.environ, CA_RA_AUDIT_LOG=audit)
        base = [a.ca_ra, "--store", os.path.join(tmp, "policy"), "--wrap-key", os.path.join(tmp, "k"),
                "--actor", "auditor"]

        def run(*args, **kw):
            return subprocess.run(base + list(args), capture_output=True, text=True, env=env, timeout=60, **kw)

        p = run("init")
        check(p.returncode == 0, f"init: {p.stderr}")
        # Two writers at once, six changes each.
        procs = []
        for w in range(2):
            script = " && ".join(
                " ".join(base + ["org", "create", "--name", f"W{w}-{i}", "--country", "FR", "--locality", "Paris",
                                 "--registration-id", f"{w}{i}"]) + " >/dev/null" for i in range(6))
            procs.append(subprocess.Popen(["/bin/sh", "-c", script], env=env, stderr=subprocess.PIPE, text=True))
        for pr in procs:
            _, err = pr.communicate(timeout=120)
            check(pr.returncode == 0, f"concurrent writer: {err}")
        p = run("org", "list")  # a read: appends nothing
        check(p.returncode == 0, "org list")
        p = run("org", "create", "--name", "X", "--country", "FRA", "--locality", "P", "--registration-id", "x")
        check(p.returncode != 0, "bad country refused")

        entries = verify_chain(audit)
        records = json.loads(run("--json", "audit").stdout)
        check([e["policy_audit_seq"] for e in entries] == [r["seq"] for r in records],
              f"each policy audit record once, in order: {[e['policy_audit_seq'] for e in entries]}")
        check(len(entries) == 13, f"13 entries (init + 12 creates), got {len(entries)}")
        check(all(e["event"] == "policy_change" and e["writer"] == "ca-ra" for e in entries), "event and writer")
        check([e["action"] for e in entries] == [r["action"] for r in records], "actions")
        check(all(e["actor"] == "auditor" for e in entries), "actor")
        names = sorted(e["after"]["name"] for e in entries if e["action"] == "org.create")
        check(names == sorted(f"W{w}-{i}" for w in range(2) for i in range(6)), f"names: {names}")

        p = subprocess.run([a.ca_audit, "verify-audit", audit], capture_output=True, text=True)
        check(p.returncode == 0 and "intact: 13 entries" in p.stdout, f"ca-audit verify-audit: {p.stdout}")

        # The file lost (moved away): the next change writes the store's whole history again.
        os.rename(audit, audit + ".old")
        p = run("org", "create", "--name", "Z", "--country", "FR", "--locality", "P", "--registration-id", "z")
        check(p.returncode == 0, f"create after the file was moved: {p.stderr}")
        check(len(verify_chain(audit)) == 14, "caught up from the store")

        # An edited file: ca-ra refuses to extend it and says so in one line; the change is committed.
        with open(audit) as f:
            lines = f.readlines()
        lines[-1] = lines[-1].replace('"name":"Z"', '"name":"Y"')
        with open(audit, "w") as f:
            f.writelines(lines)
        p = run("org", "create", "--name", "V", "--country", "FR", "--locality", "P", "--registration-id", "v")
        err = [l for l in p.stderr.splitlines() if l.strip()]
        check(p.returncode == 1 and len(err) == 1 and "last entry is corrupt" in err[0], f"tampered file: {err}")
        p = subprocess.run([a.ca_audit, "verify-audit", audit], capture_output=True, text=True)
        check(p.returncode == 1 and f"{audit}:14: hash does not match" in p.stdout, f"verify names line 14: {p.stdout}")
    if failures:
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("ra audit file: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
