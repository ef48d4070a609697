#!/usr/bin/python3
"""Origin side of replica_e2e.sh: changes the export directory the way the engine's exporter does
(files first, each by rename, then manifest.json last, by rename) and measures how long every
replica takes to answer the new bytes, polling each replica's nginx over its veth.

  replica_driver.py publish STATE EXPORT [--wait HOSTS] [--bound S] PATH=SRC[:NEXT_UPDATE] ...
  replica_driver.py measure STATE EXPORT --wait HOSTS --bound S --changes N [--interval S] GEN_DIR
  replica_driver.py bad-manifest STATE EXPORT

STATE is a JSON file outside the export (path -> next_update). NEXT_UPDATE defaults to the
artifact's own nextUpdate read with openssl. HOSTS is a comma-separated list of host:port.
"""
import hashlib
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone


def next_update_of(src):
    """nextUpdate of a DER CRL or OCSP response, unix seconds (openssl prints it)."""
    out = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", src, "-noout", "-nextupdate"],
                         capture_output=True, text=True)
    if out.returncode == 0:
        text = out.stdout.split("=", 1)[1].strip()
    else:
        resp = subprocess.run(["openssl", "ocsp", "-respin", src, "-resp_text", "-noverify"],
                              capture_output=True, text=True, check=True).stdout
        text = [l for l in resp.splitlines() if "Next Update:" in l][0].split("Next Update:", 1)[1].strip()
    return int(datetime.strptime(text, "%b %d %H:%M:%S %Y GMT").replace(tzinfo=timezone.utc).timestamp())


def write_atomic(path, data, mtime=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    if mtime is not None:
        os.utime(tmp, (mtime, mtime))
    os.rename(tmp, path)


def next_manifest_mtime(path):
    """As the exporter does: a later second than the current manifest's mtime, so that nginx's
    ETag (mtime and size) changes and a mirror's If-None-Match never gets a 304 for it."""
    now = int(time.time())
    try:
        return max(now, int(os.stat(path).st_mtime) + 1)
    except FileNotFoundError:
        return now


class Origin:
    def __init__(self, state_file, export):
        self.state_file, self.export = state_file, export
        self.state = json.load(open(state_file)) if os.path.exists(state_file) else {}

    def put(self, path, src, next_update=None):
        data = open(src, "rb").read()
        write_atomic(os.path.join(self.export, path), data)
        self.state[path] = next_update if next_update is not None else next_update_of(src)
        return hashlib.sha256(data).hexdigest()

    def publish(self, extra=()):
        files = []
        for path, nu in sorted(self.state.items()):
            data = open(os.path.join(self.export, path), "rb").read()
            files.append({"path": path, "sha256": hashlib.sha256(data).hexdigest(),
                          "size": len(data), "next_update": nu})
        files.extend(extra)
        manifest = {"generated_at": int(time.time()), "files": files}
        target = os.path.join(self.export, "manifest.json")
        write_atomic(target, json.dumps(manifest).encode(), next_manifest_mtime(target))
        json.dump(self.state, open(self.state_file, "w"))
        return time.monotonic()


class Replica:
    def __init__(self, hostport):
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        self.conn = None

    def get(self, path):
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
                self.conn.request("GET", "/" + path)
                r = self.conn.getresponse()
                body = r.read()
                return r.status, body
            except (OSError, http.client.HTTPException):
                self.conn = None
        return None, b""


def quote(path):
    return "".join(c if c.isalnum() or c in "._-~/" else "%%%02X" % ord(c) for c in path)


def wait_visible(replicas, expected, start, bound):
    """Seconds until each replica answers every path with the expected SHA-256 (None: gone)."""
    seen = [None] * len(replicas)
    while None in seen:
        for i, r in enumerate(replicas):
            if seen[i] is not None:
                continue
            ok = True
            for path, sha in expected.items():
                status, body = r.get(quote(path))
                if sha is None:
                    ok = ok and status == 404
                else:
                    ok = ok and status == 200 and hashlib.sha256(body).hexdigest() == sha
            if ok:
                seen[i] = time.monotonic() - start
        if time.monotonic() - start > bound:
            missing = [replicas[i].host for i, s in enumerate(seen) if s is None]
            raise SystemExit(f"FAIL: not visible at {missing} within {bound:.1f} s: {sorted(expected)}")
        time.sleep(0.02)
    return seen


def parse_flags(args):
    flags, rest = {}, []
    while args:
        a = args.pop(0)
        if a.startswith("--"):
            flags[a[2:]] = args.pop(0)
        else:
            rest.append(a)
    return flags, rest


def main():
    cmd, state_file, export = sys.argv[1:4]
    flags, rest = parse_flags(sys.argv[4:])
    origin = Origin(state_file, export)
    replicas = [Replica(h) for h in flags.get("wait", "").split(",") if h]
    bound = float(flags.get("bound", "10"))
    if cmd == "publish":
        expected = {}
        for spec in rest:
            path, src = spec.split("=", 1)
            nu = None
            if ":" in src:
                src, nu = src.rsplit(":", 1)
                nu = int(nu)
            expected[path] = origin.put(path, src, nu)
        start = origin.publish()
        if replicas:
            seen = wait_visible(replicas, expected, start, bound)
            print("visible at every replica after %.3f s (%s)" % (max(seen), ", ".join("%.3f" % s for s in seen)))
    elif cmd == "bad-manifest":
        origin.publish(extra=[{"path": "../../escaped", "sha256": "0" * 64, "size": 1,
                               "next_update": int(time.time()) + 3600}])
    elif cmd == "measure":
        gen = rest[0]
        n = int(flags["changes"])
        ocsp_path = {k: open(f"{gen}/path{k}").read().strip() for k in range(1, n + 1)}
        every, per_replica = [], []
        for k in range(1, n + 1):
            expected = {ocsp_path[k]: origin.put(ocsp_path[k], f"{gen}/revoked{k}.der"),
                        "crl/e2e-ca/0.crl": origin.put("crl/e2e-ca/0.crl", f"{gen}/crl{k}.der")}
            start = origin.publish()
            seen = wait_visible(replicas, expected, start, bound)
            every.append(max(seen))
            per_replica.extend(seen)
            # The next change lands at a random point of the replicas' pass interval.
            time.sleep(random.uniform(0.05, float(flags.get("interval", "1"))))
        q = statistics.quantiles(every, n=100, method="inclusive")
        print(f"revocation -> visible at all {len(replicas)} replicas over {n} changes: "
              f"p50 {statistics.median(every):.3f} s, p90 {q[89]:.3f} s, max {max(every):.3f} s; "
              f"per replica p50 {statistics.median(per_replica):.3f} s (bound {bound:.1f} s)")
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
