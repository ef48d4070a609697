#!/usr/bin/python3
"""End-to-end test of ca-ra through the binary: organization -> external account -> domains ->
lists -> suspend -> reactivate -> revoke, ACME-account actions on accounts seeded in a gateway-like
store, MAC-key regeneration, audit filters, and bad input (one clear line, store unchanged)."""

import argparse
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
B64URL_256 = re.compile(r"^[A-Za-z0-9_-]{43}$")

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


class Ra:
    def __init__(self, binary, tmp):
        self.binary = binary
        self.store = os.path.join(tmp, "policy")
        # Stand-in for the HSM MAC wrapping key's public half (ca-engine make-mac-wrap-key).
        self.key = os.path.join(tmp, "mac-wrap.pub.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072",
                        "-out", os.path.join(tmp, "mac-wrap.key")], check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", os.path.join(tmp, "mac-wrap.key"), "-pubout", "-out", self.key],
                       check=True, capture_output=True)
        self.gateway = os.path.join(tmp, "gateway")

    def run(self, *args, ok=True):
        cmd = [self.binary, "--store", self.store, "--mac-wrap-public-key", self.key,
               "--gateway-store", self.gateway, "--actor", "e2e-operator", "--json", *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if ok and p.returncode != 0:
            raise AssertionError(f"{args} failed ({p.returncode}): {p.stderr.strip()}")
        return p

    def json(self, *args):
        return json.loads(self.run(*args).stdout)

    def snapshot(self):
        return self.json("dump-snapshot")

    def refused(self, expect_substring, *args):
        """Bad input: non-zero exit, exactly one line on stderr naming the problem, no change."""
        before = self.snapshot()
        p = self.run(*args, ok=False)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        check(p.returncode != 0, f"{args}: expected failure, got exit 0")
        check(len(lines) == 1, f"{args}: expected one stderr line, got {lines!r}")
        check(expect_substring in p.stderr, f"{args}: stderr {p.stderr!r} lacks {expect_substring!r}")
        check(p.stdout == "", f"{args}: stdout not empty on failure: {p.stdout!r}")
        after = self.snapshot()
        check(after == before, f"{args}: store changed on refused input")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ca-ra", required=True)
    ap.add_argument("--seed", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ra-e2e-")
    try:
        run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("ra_e2e: all checks passed")
    return 0


def seed(args, ra, acme_id, kid, profile, status="valid"):
    subprocess.run([args.seed, ra.gateway, acme_id, kid, profile, status], check=True, timeout=30)


def seed_cert(args, ra, serial, acme_id, kid, names, not_after):
    subprocess.run([args.seed, ra.gateway, "--cert", serial, acme_id, kid, names, "SSL", str(not_after)],
                   check=True, timeout=30)


def run(args, tmp):
    ra = Ra(args.ca_ra, tmp)

    # --- init: the store only (MAC keys are wrapped to the HSM); a second init refuses.
    init = ra.json("init")
    check(init["version"] == 1, "init reports version 1")
    p = ra.run("init", ok=False)
    check(p.returncode != 0, "second init refused")
    snap = ra.snapshot()
    check(snap["version"] == 1 and snap["schema_version"] == 1, "fresh store at version 1")

    # --- organization
    org = ra.json("org", "create", "--name", "Exemple SA", "--country", "fr", "--locality", "Paris",
                  "--registration-id", "12345678900011")
    check(org["status"] == "pending", "new organization is pending")
    check(org["country"] == "FR", "country upper-cased")
    check(UUID4.match(org["id"]) is not None, "organization id is a UUID")
    org = ra.json("org", "validate", org["id"])
    check(org["status"] == "valid", "organization validated")
    orgs = ra.json("org", "list")
    check([o["name"] for o in orgs] == ["Exemple SA"], "org list shows the organization")
    ra.refused("already has registration id 12345678900011", "org", "create", "--name", "Exemple",
               "--country", "FR", "--locality", "Lyon", "--registration-id", "12345678900011")
    v = ra.snapshot()["version"]
    again = ra.json("org", "validate", org["id"])
    check(again["status"] == "valid" and ra.snapshot()["version"] == v, "validating twice changes nothing")

    # --- external account with credentials shown once
    created = ra.json("ext-account", "create", "--org", org["id"], "--contact", "Jeanne Martin",
                      "--contact", "Paul Durand", "--profiles", "SSL,WILD", "--challenges",
                      "http-01,dns-01", "--not-before", "2025-01-01", "--not-after", "2027-12-31",
                      "--active", "--max-acme-accounts", "3", "--orders-per-hour", "50", "--show-mac-key")
    kid, mac = created["kid"], created["mac_key"]
    check(UUID4.match(kid) is not None, f"KeyID {kid} is a UUID v4")
    check(B64URL_256.match(mac) is not None, "MAC key is 43 base64url chars (256 bits, no padding)")
    ext = created["external_account"]
    check(ext["status"] == "active" and ext["contacts"] == ["Jeanne Martin", "Paul Durand"],
          "external account fields")
    check(ext["allowed_profiles"] == ["SSL", "WILD"], "allowed profiles stored")
    check(ext["limits"] == {"max_acme_accounts": 3, "orders_per_hour": 50}, "limits stored")
    check("mac_wrapped" not in ext, "no key material in output records")

    # --- domains
    d = ra.json("domain", "add", kid, "Example.COM.", "--include-subdomains")
    check(d["fqdn"] == "example.com" and d["status"] == "pending", "domain normalised, pending")
    check(d["dcv_methods"] == ["http-01", "dns-01"], "domain DCV defaults to the account's")
    w = ra.json("domain", "add", kid, "*.example.org")
    check(w["dcv_methods"] == ["dns-01"], "wildcard domain is dns-01 only")
    ra.json("domain", "add", kid, "xn--bcher-kva.example")
    ra.json("domain", "validate", kid, "example.com")
    ra.json("domain", "validate", kid, "*.example.org")
    doms = {x["fqdn"]: x for x in ra.json("domain", "list", kid)}
    check(set(doms) == {"example.com", "*.example.org", "xn--bcher-kva.example"}, f"domain list {set(doms)}")
    check(doms["example.com"]["status"] == "valid" and doms["example.com"]["include_subdomains"],
          "example.com valid with subdomains")
    check(doms["xn--bcher-kva.example"]["status"] == "pending", "A-label domain pending")
    removed = ra.json("domain", "remove", kid, "xn--bcher-kva.example")
    check(removed["removed"] == "xn--bcher-kva.example", "domain removed")
    # A typo in the suffix is accepted (the syntax is right) but warned about, once, on stderr.
    p = ra.run("domain", "add", kid, "app.example.con")
    check("warning: app.example.con is under none of the domains" in p.stderr
          and "example.com" in p.stderr, f"suffix typo warned: {p.stderr!r}")
    p = ra.run("domain", "add", kid, "www.example.com")
    check("under none of the domains" not in p.stderr, f"a name under a known domain: no typo warning: {p.stderr!r}")
    ra.json("domain", "remove", kid, "app.example.con")
    ra.json("domain", "remove", kid, "www.example.com")

    # --- list, suspend, reactivate
    lst = ra.json("ext-account", "list")
    check(len(lst) == 1 and lst[0]["kid"] == kid and lst[0]["display_status"] == "active", "ext list")
    check(lst[0]["organization_name"] == "Exemple SA", "ext list names the organization")
    p = subprocess.run([args.ca_ra, "--store", ra.store, "ext-account", "list"], capture_output=True,
                       text=True, timeout=60)
    check("Exemple SA" in p.stdout and "Jeanne Martin" in p.stdout, f"human ext list has names: {p.stdout!r}")
    v_before = ra.snapshot()["version"]
    s = ra.json("ext-account", "suspend", kid)
    check(s["status"] == "suspended", "suspended")
    check(ra.snapshot()["version"] == v_before + 1, "one write, one version")
    s2 = ra.json("ext-account", "suspend", kid)
    check(s2["changed"] is False and s2["external_account"]["status"] == "suspended",
          f"suspending a suspended account is a no-op: {s2}")
    check(ra.snapshot()["version"] == v_before + 1, "the repeated suspend wrote nothing")
    audit = ra.json("audit", "--account", kid)
    last = audit[-1]
    check(last["action"] == "ext-account.suspend" and last["actor"] == "e2e-operator", "audit suspend")
    check(last["before"]["status"] == "active" and last["after"]["status"] == "suspended",
          "audit before/after")
    check(last["policy_version"] == v_before + 1, "audit record carries the version")
    r = ra.json("ext-account", "reactivate", kid)
    check(r["status"] == "active", "reactivated")
    shown = ra.json("ext-account", "show", kid)
    check([x["fqdn"] for x in shown["domains"]] == ["*.example.org", "example.com"], "show lists domains")

    # --- ACME accounts (created by the gateway in its store)
    seed(args, ra, "acct-1", kid, "SSL")
    seed(args, ra, "acct-2", kid, "SSL")
    accts = {a["id"]: a for a in ra.json("acme-account", "list")}
    check(set(accts) == {"acct-1", "acct-2"}, "acme-account list from the gateway store")
    check(accts["acct-1"]["status"] == "active" and accts["acct-1"]["profile"] == "SSL", "defaults")
    a1 = ra.json("acme-account", "suspend", "acct-1")
    check(a1["status"] == "suspended", "ACME account suspended")
    a1 = ra.json("acme-account", "reactivate", "acct-1")
    check(a1["status"] == "active", "ACME account reactivated")
    ra.refused("not a profile name 'short' (SSL, SSL_RGS, WILD, SSL_SHORT or an operator's)", "acme-account",
               "set-profile", "acct-1", "short")
    ra.refused("profile SHORT is not allowed for external account", "acme-account", "set-profile", "acct-1", "SHORT")
    ra.refused("not allowed for external account", "acme-account", "set-profile", "acct-1", "SSL_SHORT")
    # The short-lived profile is granted per external account like the others.
    granted = ra.json("ext-account", "update", kid, "--profiles", "SSL,WILD,SSL_SHORT")
    check(granted["allowed_profiles"] == ["SSL", "WILD", "SSL_SHORT"], "SSL_SHORT granted")
    a1 = ra.json("acme-account", "set-profile", "acct-1", "SSL_SHORT")
    check(a1["profile"] == "SSL_SHORT", "SSL_SHORT set on an ACME account")
    granted = ra.json("ext-account", "update", kid, "--profiles", "SSL,WILD")
    check(granted["allowed_profiles"] == ["SSL", "WILD"], "SSL_SHORT withdrawn")
    # The staging service's grant (CA-8): off by default, set and withdrawn per external account.
    check(ra.json("ext-account", "show", kid)["staging"] is False, "staging not granted by default")
    check(ra.json("ext-account", "update", kid, "--staging", "yes")["staging"] is True, "staging granted")
    ra.refused("--staging is yes or no, not 'maybe'", "ext-account", "update", kid, "--staging", "maybe")
    check(ra.json("ext-account", "update", kid, "--staging", "no")["staging"] is False, "staging withdrawn")
    a1 = ra.json("acme-account", "set-profile", "acct-1", "WILD")
    check(a1["profile"] == "WILD", "profile set")
    a1 = ra.json("acme-account", "set-domains", "acct-1", "*.example.org")
    check(a1["domains"] == ["*.example.org"], "domain subset set")
    # --- certificates the gateway delivered: find, list, revoke one by serial
    far, past = 4102444800, 1000000000
    seed_cert(args, ra, "0a11", "acct-1", kid, "www.example.com", far)
    seed_cert(args, ra, "0a21", "acct-2", kid, "a.example.com,b.example.com", far)
    seed_cert(args, ra, "0a22", "acct-2", kid, "c.example.com", far)
    seed_cert(args, ra, "0a23", "acct-2", kid, "old.example.com", past)
    shown = ra.json("cert", "show", "0A:21")
    check(shown["serial_hex"] == "0a21" and shown["acme_account_id"] == "acct-2"
          and shown["external_account_kid"] == kid and shown["organization_name"] == "Exemple SA"
          and shown["names"] == ["a.example.com", "b.example.com"] and shown["revocation_recorded"] is None,
          f"cert show finds the accounts of a serial: {shown}")
    ra.refused("unknown certificate 0bad", "cert", "show", "0bad")
    ra.refused("is not a certificate serial", "cert", "show", "xyz")
    check([c["serial_hex"] for c in ra.json("cert", "list", "--acme-account", "acct-2")] == ["0a21", "0a22", "0a23"],
          "cert list --acme-account")
    check([c["serial_hex"] for c in ra.json("cert", "list", "--account", kid, "--valid")] == ["0a11", "0a21", "0a22"],
          "cert list --account --valid leaves the expired one out")
    check([c["serial_hex"] for c in ra.json("cert", "list", "--domain", "c.example.com")] == ["0a22"],
          "cert list --domain")
    v = ra.snapshot()["version"]
    dry = ra.json("cert", "revoke", "0a11", "--dry-run")
    check(dry["dry_run"] is True and ra.snapshot()["version"] == v, "cert revoke --dry-run changes nothing")
    one = ra.json("cert", "revoke", "0a11", "--reason", "superseded")
    check(one["revocation"]["serial_hex"] == "0a11" and one["revocation"]["reason_name"] == "superseded"
          and one["certificates"] == 1, f"cert revoke records one serial: {one}")
    check(ra.json("cert", "show", "0a11")["revocation_recorded"]["serial_hex"] == "0a11",
          "cert show reports the recorded revocation")
    check(ra.json("audit", "--account", kid)[-1]["action"] == "certificate.revoke", "cert revoke audited")
    mass_before = len(ra.snapshot()["mass_revocations"])

    # --- account-wide revocation: confirmation, --dry-run, count
    v = ra.snapshot()["version"]
    p = ra.run("acme-account", "revoke", "acct-2", "--reason", "keyCompromise", ok=False)
    check(p.returncode == 2 and "revokes its 2 unexpired certificate(s)" in p.stderr and "--yes" in p.stderr,
          f"account-wide revoke asks for --yes: {p.stderr!r}")
    check(ra.snapshot()["version"] == v, "unconfirmed revoke changes nothing")
    dry = ra.json("acme-account", "revoke", "acct-2", "--dry-run")
    check(dry["dry_run"] is True and dry["certificates"] == 2 and dry["serials"] == ["0a21", "0a22"],
          f"--dry-run lists the certificates: {dry}")
    check(ra.snapshot()["version"] == v, "--dry-run changes nothing")
    a2 = ra.json("acme-account", "revoke", "acct-2", "--reason", "keyCompromise", "--yes")
    check(a2["status"] == "revoked", "ACME account revoked")
    check(a2["certificates_revoked"] == 2, f"the count of revoked certificates is printed: {a2}")
    again = ra.json("acme-account", "revoke", "acct-2", "--yes")
    check(again["changed"] is False, "revoking a revoked ACME account is a no-op")
    snap = ra.snapshot()
    mr = snap["mass_revocations"][mass_before:]
    check(len(mr) == 1 and mr[0]["acme_account_id"] == "acct-2" and mr[0]["external_account_kid"] == kid
          and mr[0]["reason"] == 1 and mr[0]["reason_name"] == "keyCompromise"
          and mr[0]["policy_version"] == snap["version"], f"ACME-account mass revocation {mr}")

    # --- MAC regeneration: counted, new key, old one no longer the stored one
    p = ra.run("ext-account", "regenerate-mac", kid, ok=False)
    check(p.returncode != 0 and "--recipient-key" in p.stderr and "mac_regenerations\": 0" not in p.stdout,
          "regenerate-mac without a hand-over choice refused")
    regen = ra.json("ext-account", "regenerate-mac", kid, "--show-mac-key")
    check(regen["external_account"]["mac_regenerations"] == 1, "regeneration counted (the refusal changed nothing)")
    check(B64URL_256.match(regen["mac_key"]) and regen["mac_key"] != mac, "new MAC key differs")
    everything = ra.run("audit").stdout + json.dumps(ra.snapshot())
    check(mac not in everything and regen["mac_key"] not in everything, "MAC keys never audited/stored in clear")

    # --- dashboard credentials (R50): printed once, stored only as a hash, audited, re-issue replaces
    d1 = ra.json("ext-account", "dashboard-credential", kid)["dashboard_credential"]
    d2 = ra.json("ext-account", "dashboard-credential", kid)["dashboard_credential"]
    check(d1.startswith(kid + ".") and d2.startswith(kid + ".") and d1 != d2, f"dashboard credentials {d1} {d2}")
    op = ra.json("dashboard-credential", "--operator", "alice")
    check(op["operator"] == "alice" and op["dashboard_credential"].startswith("operator:alice."),
          f"operator dashboard credential {op}")
    everything = ra.run("audit").stdout + json.dumps(ra.snapshot())
    check(all(c.split(".")[-1] not in everything for c in (d1, d2, op["dashboard_credential"])),
          "dashboard credentials never audited/stored in clear")
    check("ext-account.dashboard-credential" in everything and "dashboard.operator-credential" in everything,
          "dashboard credential issuance audited")
    ra.refused("unknown external account", "ext-account", "dashboard-credential", "no-such-kid")
    ra.refused("operator name", "dashboard-credential", "--operator", "Not Valid")

    # --- revoke the external account: final, one mass revocation for the whole account
    rv = ra.json("ext-account", "revoke", kid, "--yes")
    check(rv["status"] == "revoked", "external account revoked")
    check(rv["certificates_revoked"] == 3, f"external-account revoke counts every unexpired certificate: {rv}")
    snap = ra.snapshot()
    mr = snap["mass_revocations"][mass_before:]
    check(len(mr) == 2 and mr[1]["acme_account_id"] == "" and mr[1]["external_account_kid"] == kid
          and mr[1]["reason_name"] == "privilegeWithdrawn" and mr[1]["policy_version"] == snap["version"],
          f"external-account mass revocation {mr}")

    # --- audit filters
    by_domain = ra.json("audit", "--domain", "EXAMPLE.com")
    check(by_domain and all(x["domain"] == "example.com" for x in by_domain), "audit --domain")
    check([x["action"] for x in by_domain] == ["domain.add", "domain.validate"], "domain history")
    all_audit = ra.json("audit")
    check(len(all_audit) == snap["audit_count"], "audit count")
    check(ra.json("audit", "--since", "@0", "--until", "@1") == [], "audit --until before everything")
    check(len(ra.json("audit", "--since", "2020-01-01")) == len(all_audit), "audit --since")
    check(len(ra.json("audit", "--account", "acct-2")) == 1, "audit --account with an ACME account id")
    kid_actions = [x["action"] for x in ra.json("audit", "--account", kid)]
    check("acme-account.revoke" in kid_actions and "domain.add" in kid_actions
          and "org.create" not in kid_actions, f"audit --account KID covers its ACME accounts: {kid_actions}")

    # --- bad input: one line, non-zero, nothing changed
    other = ra.json("ext-account", "create", "--org", org["id"], "--contact", "X", "--active", "--show-mac-key")
    okid = other["kid"]
    ra.json("domain", "add", okid, "shop.example.net")
    ra.refused("unknown external account", "ext-account", "suspend", "6f1c1c59-0c3e-4c61-9a55-0d3c1d7f0a11")
    ra.refused("unknown organization", "org", "validate", "nope")
    ra.refused("invalid domain name 'exa_mple.com'", "domain", "add", okid, "exa_mple.com")
    ra.refused("use the A-label form", "domain", "add", okid, "bücher.example")
    ra.refused("not valid IDNA", "domain", "add", okid, "xn--zz.example")
    ra.refused("longer than 3 years", "ext-account", "create", "--org", org["id"], "--contact", "X",
               "--not-before", "2026-01-01", "--not-after", "2029-01-02", "--show-mac-key")
    ra.refused("longer than 3 years", "ext-account", "update", okid, "--not-after", "2040-01-01")
    ra.refused("needs the WILD profile", "domain", "add", okid, "*.example.net")
    ra.refused("cannot reactivate: the account is revoked (final)", "ext-account", "reactivate", kid)
    ra.refused("is revoked (final)", "domain", "add", kid, "new.example.com")
    ra.refused("already listed", "domain", "add", okid, "SHOP.example.net")
    ra.refused("unknown challenge type", "ext-account", "update", okid, "--challenges", "smtp-01")
    ra.refused("country must be two letters", "org", "create", "--name", "N", "--country", "FRA",
               "--locality", "L", "--registration-id", "1")
    ra.json("domain", "invalidate", okid, "shop.example.net")
    ra.refused("invalid, which is final", "domain", "validate", okid, "shop.example.net")
    ra.refused("unknown ACME account", "acme-account", "suspend", "acct-404")
    ra.refused("cannot reactivate: the account is revoked (final)", "acme-account", "reactivate", "acct-2")
    ra.refused("not allowed for external account", "acme-account", "set-profile", "acct-1", "SSL_RGS")
    ra.refused("unknown revocation reason", "acme-account", "revoke", "acct-1", "--reason", "because")
    ra.refused("unknown option --bogus", "org", "list", "--bogus")

    # Unknown schema: the CLI refuses to open the store.
    bad_store = os.path.join(tmp, "empty")
    os.mkdir(bad_store)
    p = subprocess.run([args.ca_ra, "--store", bad_store, "org", "list"], capture_output=True, text=True)
    check(p.returncode != 0 and "no policy store" in p.stderr, "missing store refused")

    # Human output exists too.
    p = subprocess.run([args.ca_ra, "--store", ra.store, "ext-account", "show", okid],
                       capture_output=True, text=True)
    check(p.returncode == 0 and f"kid: {okid}" in p.stdout and "shop.example.net" in p.stdout,
          "human output of ext-account show")


if __name__ == "__main__":
    sys.exit(main())
