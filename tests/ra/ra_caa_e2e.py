#!/usr/bin/python3
"""ANSSI R7 end to end: the real ca-ra binary looks CAA up when the RA feeds the authorised-domain
list (`domain add`, `domain validate`), from a real DNS server on loopback (pebble-challtestsrv),
with caa_identities / caa_resolver from its ra.conf as acme-ca-setup writes them. A CAA set naming
another CA, an issuewild forbidding a wildcard entry, a SERVFAIL and a silent resolver each refuse
with one line and change nothing; a set naming this CA, or none, lets the entry in.

Usage: ra_caa_e2e.py --ca-ra PATH [--port-base N]"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

OUR_CAA = "acme-ca.caa-e2e.test"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ra_e2e  # noqa: E402  (the RA driver and the check list)

check = ra_e2e.check


def free_port(start, stop):
    """A port in [start, stop) free for TCP and UDP on 127.0.0.1 (challtestsrv's DNS uses both)."""
    for port in range(start, stop):
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError(f"no free port in {start}-{stop}")


class DnsServer:
    """pebble-challtestsrv answering DNS on loopback, its mock records set over its management API."""

    def __init__(self, port_base):
        self.dns_port = free_port(port_base, port_base + 50)
        self.mgmt_port = free_port(self.dns_port + 1, port_base + 100)
        self.proc = subprocess.Popen(
            ["pebble-challtestsrv", "-management", f"127.0.0.1:{self.mgmt_port}",
             "-dns01", f"127.0.0.1:{self.dns_port}", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
             "-http01", "", "-https01", "", "-tlsalpn01", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.mgmt_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("pebble-challtestsrv did not start")

    def post(self, endpoint, body):
        req = urllib.request.Request(f"http://127.0.0.1:{self.mgmt_port}{endpoint}",
                                     data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200, endpoint

    def caa(self, host, *policies):
        self.post("/add-caa", {"host": host + ".",
                               "policies": [{"tag": t, "value": v} for t, v in policies]})

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class CaaRa(ra_e2e.Ra):
    """ra_e2e's driver (its MAC wrapping key, `json`, `snapshot`, `refused`: one stderr line, nothing on
    stdout, the store unchanged), run with a ra.conf as acme-ca-setup writes it."""

    def __init__(self, binary, tmp, resolver):
        super().__init__(binary, tmp)
        self.audit = os.path.join(tmp, "ra.jsonl")
        self.conf = os.path.join(tmp, "ra.conf")
        self.write_conf(resolver)

    def write_conf(self, resolver, identities=OUR_CAA):
        # caa_identities / caa_resolver come from setup.conf's CAA_IDENTITIES and DNS_RESOLVER.
        with open(self.conf, "w") as f:
            f.write(f"store = {self.store}\nmac_wrap_public_key = {self.key}\naudit_log = {self.audit}\n")
            if identities:
                f.write(f"caa_identities = other-name.caa-e2e.test, {identities}\ncaa_resolver = {resolver}\n")

    def run(self, *args, ok=True):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CA_")}
        p = subprocess.run([self.binary, "--config", self.conf, "--actor", "caa-e2e", "--json", *args],
                           capture_output=True, text=True, timeout=60, env=env)
        if ok and p.returncode != 0:
            raise AssertionError(f"{args} failed ({p.returncode}): {p.stderr.strip()}")
        return p

    def audit_lines(self):
        return open(self.audit).read().count("\n") if os.path.exists(self.audit) else 0

    def refused(self, expect, *args):
        """ra_e2e's refusal checks, and the audit file does not grow."""
        before = self.audit_lines()
        super().refused(expect, *args)
        check(self.audit_lines() == before, f"{args}: the audit file grew")


def run(args, tmp, dns):
    ra = CaaRa(args.ca_ra, tmp, f"127.0.0.1:{dns.dns_port}")
    ra.json("init")
    org = ra.json("org", "create", "--name", "CAA SA", "--country", "FR", "--locality", "Paris",
                  "--registration-id", "55555555500011")
    ra.json("org", "validate", org["id"])
    kid = ra.json("ext-account", "create", "--org", org["id"], "--contact", "Jeanne Martin",
                  "--profiles", "SSL,WILD", "--challenges", "http-01,dns-01", "--active",
                  "--show-mac-key")["kid"]

    # No CAA anywhere up the tree: permitted.
    d = ra.json("domain", "add", kid, "nocaa.caa-e2e.test")
    check(d["fqdn"] == "nocaa.caa-e2e.test" and d["status"] == "pending", f"no CAA: added {d}")

    # A set naming another CA: refused, one line naming the record and this CA's identities.
    dns.caa("theirs.caa-e2e.test", ("issue", "other-ca.example"))
    ra.refused('ca-ra: CAA record for theirs.caa-e2e.test prevents issuance: issue names "other-ca.example", '
               f"not this CA (this CA's CAA identities: other-name.caa-e2e.test, {OUR_CAA}); nothing was changed\n",
               "domain", "add", kid, "theirs.caa-e2e.test")
    # ...also below it (tree climbing), with RFC 8657 parameters for this CA permitted at RA time.
    ra.refused("CAA record for theirs.caa-e2e.test prevents issuance",
               "domain", "add", kid, "www.theirs.caa-e2e.test")
    dns.caa("ours.caa-e2e.test", ("issue", OUR_CAA.upper() + "; accounturi=https://acme.example/acct/7"))
    check(ra.json("domain", "add", kid, "ours.caa-e2e.test")["fqdn"] == "ours.caa-e2e.test",
          "a set naming this CA (any case, with accounturi) lets the entry in")

    # A wildcard entry is judged by issuewild; the base name by issue.
    dns.caa("wild.caa-e2e.test", ("issue", OUR_CAA), ("issuewild", ";"))
    ra.refused('CAA record for wild.caa-e2e.test prevents issuance: issuewild ";" forbids every CA',
               "domain", "add", kid, "*.wild.caa-e2e.test")
    check(ra.json("domain", "add", kid, "wild.caa-e2e.test")["status"] == "pending",
          "the base name of a wildcard-forbidding set is added (issue names this CA)")
    dns.caa("wildok.caa-e2e.test", ("issue", "other-ca.example"), ("issuewild", OUR_CAA))
    check(ra.json("domain", "add", kid, "*.wildok.caa-e2e.test")["fqdn"] == "*.wildok.caa-e2e.test",
          "issuewild naming this CA lets a wildcard entry in although issue names another CA")

    # SERVFAIL refuses (RFC 8659: a failed lookup does not permit).
    dns.post("/set-servfail", {"host": "broken.caa-e2e.test."})
    ra.refused("CAA lookup for broken.caa-e2e.test failed: SERVFAIL (RFC 8659: a failed CAA lookup does not "
               "permit issuance); nothing was changed",
               "domain", "add", kid, "broken.caa-e2e.test")

    # validate looks again: CAA changed after the add refuses the validation; invalidate needs no CAA.
    dns.caa("later.caa-e2e.test", ("issue", OUR_CAA))
    ra.json("domain", "add", kid, "later.caa-e2e.test")
    check(ra.json("domain", "validate", kid, "ours.caa-e2e.test")["status"] == "valid",
          "validate with CAA naming this CA")
    dns.post("/clear-caa", {"host": "later.caa-e2e.test."})
    dns.caa("later.caa-e2e.test", ("issue", "other-ca.example"))
    ra.refused("CAA record for later.caa-e2e.test prevents issuance",
               "domain", "validate", kid, "later.caa-e2e.test")
    doms = {x["fqdn"]: x for x in ra.json("domain", "list", kid)}
    check(doms["later.caa-e2e.test"]["status"] == "pending", "the refused validation left it pending")
    check(ra.json("domain", "invalidate", kid, "later.caa-e2e.test")["status"] == "invalid",
          "invalidate is not a CAA matter")

    # The refusals left no trace in the store; the accepted changes are in the audit trail.
    names = {x["fqdn"] for x in ra.json("domain", "list", kid)}
    check(names == {"nocaa.caa-e2e.test", "ours.caa-e2e.test", "wild.caa-e2e.test",
                    "*.wildok.caa-e2e.test", "later.caa-e2e.test"}, f"domains {sorted(names)}")

    # A resolver that does not answer refuses too (the check cannot be skipped by a dead DNS).
    dns.stop()
    ra.refused("CAA for silent.caa-e2e.test could not be looked up",
               "domain", "add", kid, "silent.caa-e2e.test")

    # Without caa_identities (a store outside the appliance): added, with a warning after success.
    ra.write_conf("", identities="")
    p = ra.run("domain", "add", kid, "unchecked.caa-e2e.test")
    check(json.loads(p.stdout)["fqdn"] == "unchecked.caa-e2e.test", "added without CAA settings")
    check(p.stderr.strip() == "ca-ra: warning: CAA was not checked for unchecked.caa-e2e.test: no "
          "caa_identities configured (ra.conf, CA_CAA_IDENTITIES)", f"warning: {p.stderr!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ca-ra", required=True)
    ap.add_argument("--port-base", type=int, default=26000)
    args = ap.parse_args()
    if shutil.which("pebble-challtestsrv") is None:
        print("pebble-challtestsrv missing (scripts/install-deps.sh installs pebble)", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="ra-caa-e2e-")
    dns = DnsServer(args.port_base)
    try:
        run(args, tmp, dns)
    finally:
        dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if ra_e2e.failures:
        print(f"{len(ra_e2e.failures)} check(s) failed", file=sys.stderr)
        return 1
    print("ra_caa_e2e: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
