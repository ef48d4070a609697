#!/usr/bin/python3
"""A reader PROCESS (ra_snapshot_reader) takes policy snapshots in a loop while ca-ra performs many
writes; every snapshot must satisfy the invariants each write transaction preserves (see
snapshot_reader.cpp). Passes when the reader reports 0 violations and observed several versions."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

WRITES = 60


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ca-ra", required=True)
    ap.add_argument("--reader", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ra-consistency-")
    reader = None
    try:
        store, key, stop = (os.path.join(tmp, n) for n in ("policy", "wrap.key", "stop"))
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072", "-out", key],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", key + ".pub"], check=True, capture_output=True)
        base = [args.ca_ra, "--store", store, "--mac-wrap-public-key", key + ".pub", "--actor", "writer", "--json"]

        def ra(*a):
            return json.loads(subprocess.run(base + list(a), check=True, capture_output=True,
                                             text=True, timeout=60).stdout)

        ra("init")
        org = ra("org", "create", "--name", "Org", "--country", "FR", "--locality", "Paris",
                 "--registration-id", "1")["id"]
        kid = ra("ext-account", "create", "--org", org, "--contact", "Jane", "--show-mac-key")["kid"]
        start_version = ra("dump-snapshot")["version"]

        reader = subprocess.Popen([args.reader, store, stop], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        writes = 0
        for i in range(WRITES // 3):
            ra("domain", "add", kid, f"host{i}.example.com")
            ra("org", "update", org, "--locality", f"Paris {i}")
            writes += 2
            if i % 2 == 0:
                ra("domain", "remove", kid, f"host{i}.example.com")
                writes += 1
        end_version = ra("dump-snapshot")["version"]
        open(stop, "w").close()
        out, err = reader.communicate(timeout=120)
        pid = reader.pid
        reader = None
        report = json.loads(out)
        print(f"reader pid {pid}: {report}; writer made {writes} writes "
              f"(versions {start_version}..{end_version})")
        ok = True
        if end_version != start_version + writes:
            print(f"FAIL: version advanced by {end_version - start_version}, expected {writes}",
                  file=sys.stderr)
            ok = False
        if report["violations"] != 0:
            print(f"FAIL: {report['violations']} violations:\n{err}", file=sys.stderr)
            ok = False
        if report["versions_seen"] < 5:
            print(f"FAIL: the reader saw only {report['versions_seen']} versions", file=sys.stderr)
            ok = False
        if report["last"] != end_version:
            print(f"FAIL: the reader's last snapshot is {report['last']}, not {end_version}",
                  file=sys.stderr)
            ok = False
        return 0 if ok else 1
    finally:
        if reader is not None:
            reader.kill()
            reader.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
