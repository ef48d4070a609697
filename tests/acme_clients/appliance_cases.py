#!/usr/bin/python3
"""End-to-end cases against the running dev appliance (scripts/appliance-dev.sh): full issuance through
gateway -> engine -> HSM with dns-01, then the refusals an operator relies on, each checked on the
problem document's type and operator result code, and on OCSP where a certificate's status changes.

Usage: appliance_cases.py --env STATE/appliance.env [unittest args]
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

import requests
from cryptography import x509
from cryptography.x509 import ocsp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "acme_protocol"))
from acme_client import URN, Client, Key, b64, b64d, jws  # noqa: E402

ENV = {}


def load_env(path):
    env = {}
    for line in open(path):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            env[k] = shlex.split(v)[0] if v else ""
    return env


def ra(*args):
    """Runs the RA admin CLI of the appliance; returns its stdout, raises with its stderr line."""
    cmd = shlex.split(ENV["RA_CLI"]) + ["--actor", "e2e"] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"ca-ra {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def dns(endpoint, body):
    requests.post(ENV["DNS_MGMT"] + endpoint, json=body, timeout=5).raise_for_status()


def rsa_key(bits=3072):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def csr_der(key, names):
    builder = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False))
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def ocsp_status(cert_pem):
    """`openssl ocsp` against the appliance's responder: (its output, the SingleResponse parsed by
    python3-cryptography or None). openssl prints reasons past removeFromCRL as (UNKNOWN), so the
    reason is read from the parsed response."""
    with tempfile.TemporaryDirectory() as d:
        cert, resp = os.path.join(d, "cert.pem"), os.path.join(d, "resp.der")
        with open(cert, "w") as f:
            f.write(cert_pem)
        r = subprocess.run(["openssl", "ocsp", "-issuer", ENV["INTERMEDIATE_CA_PEM"], "-cert", cert,
                            "-url", ENV["OCSP_URL"], "-CAfile", ENV["ROOT_CA_PEM"], "-no_nonce",
                            "-respout", resp], capture_output=True, text=True)
        single = None
        if os.path.exists(resp):
            # Pre-signed responses carry two SingleResponses (SHA-1 and SHA-256 CertIDs) that agree.
            with open(resp, "rb") as f:
                singles = list(ocsp.load_der_ocsp_response(f.read()).responses)
            assert len({(x.serial_number, x.certificate_status) for x in singles}) == 1, singles
            single = singles[0]
        return r.stdout + r.stderr, single


class AcmeClient(Client):
    """The test client, trusting the appliance's root and speaking the flows the cases need."""

    def __init__(self):
        super().__init__(ENV["ACME_DIR"].rsplit("/directory", 1)[0])
        self.s.verify = ENV["ACME_CA_BUNDLE"]

    def register(self, kid=None, mac=None):
        r = self.new_account(self.eab(kid or ENV["EAB_KID"], b64d(mac or ENV["EAB_HMAC"])))
        assert r.status_code == 201, r.text
        return r.json()

    @property
    def account_id(self):
        return self.kid.rsplit("/", 1)[1]

    def poll(self, url, until, timeout=30):
        deadline = time.time() + timeout
        while True:
            body = self.post(url, None).json()
            if body.get("status") in until or time.time() > deadline:
                return body
            time.sleep(0.2)

    def solve_dns01(self, order):
        for authz_url in order["authorizations"]:
            authz = self.post(authz_url, None).json()
            if authz["status"] == "valid":
                continue
            chall = next(c for c in authz["challenges"] if c["type"] == "dns-01")
            digest = hashlib.sha256(f"{chall['token']}.{self.key.thumbprint()}".encode()).digest()
            name = authz["identifier"]["value"]
            dns("/set-txt", {"host": f"_acme-challenge.{name}.", "value": b64(digest)})
            r = self.post(chall["url"], {})
            assert r.status_code == 200, r.text
            done = self.poll(authz_url, ("valid", "invalid"))
            assert done["status"] == "valid", done

    def issue(self, names, key=None, **order_fields):
        """newOrder -> dns-01 -> finalize -> download; returns (certificate PEM chain, finalize response)."""
        r = self.new_order(*names, **order_fields)
        assert r.status_code == 201, r.text
        order, order_url = r.json(), r.headers["Location"]
        self.solve_dns01(order)
        fin = self.post(order["finalize"], {"csr": b64(csr_der(key or rsa_key(), names))})
        if fin.status_code != 200:
            return None, fin
        order = self.poll(order_url, ("valid", "invalid"))
        assert order["status"] == "valid", order
        cert = self.post(order["certificate"], None)
        assert cert.headers["Content-Type"].startswith("application/pem-certificate-chain"), cert.headers
        return cert.text, fin


class ApplianceCases(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.suffix = ENV["SUFFIX"]
        cls.tag = os.urandom(3).hex()

    def name(self, label):
        return f"{label}-{self.tag}.{self.suffix}"

    def assertProblem(self, r, type_, status, code, name=None):
        self.assertEqual(r.headers.get("Content-Type"), "application/problem+json", r.text)
        body = r.json()
        self.assertEqual(body["type"], URN + type_, r.text)
        self.assertEqual(r.status_code, status, r.text)
        self.assertTrue(body["detail"].startswith(code), body["detail"])
        if name is not None:
            self.assertIn(name, body["detail"])
            self.assertIn(name, [s["identifier"]["value"] for s in body.get("subproblems", [])], body)
        return body

    def test_issuance_certificate_content_and_ocsp_good(self):
        c = AcmeClient()
        c.register()
        names = [self.name("multi"), "www." + self.name("multi"), "api." + self.name("multi")]
        chain, fin = c.issue(names)
        self.assertIsNotNone(chain, fin.text)
        self.assertEqual(fin.json()["status"], "valid")  # finalize answers with the order already valid
        leaf = x509.load_pem_x509_certificate(chain.encode())
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual(san.get_values_for_type(x509.DNSName), names)
        self.assertEqual(leaf.public_key().key_size, 3072)
        self.assertEqual(leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value, "Demo Organization")
        self.assertEqual(leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value, names[0])
        self.assertFalse(leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        self.assertLessEqual((leaf.not_valid_after - leaf.not_valid_before).total_seconds(), 90 * 86400)
        self.assertIn(x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
                      leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
        aia = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        self.assertIn(ENV["OCSP_URL"], [d.access_location.value for d in aia])
        with tempfile.NamedTemporaryFile("w", suffix=".pem") as f:
            f.write(chain)
            f.flush()
            v = subprocess.run(["openssl", "verify", "-CAfile", ENV["ROOT_CA_PEM"], "-untrusted",
                                ENV["INTERMEDIATE_CA_PEM"], f.name], capture_output=True, text=True)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        out, resp = ocsp_status(chain)
        self.assertIn("Response verify OK", out)
        self.assertIn(": good", out)
        self.assertEqual(resp.certificate_status, ocsp.OCSPCertStatus.GOOD)
        self.assertEqual(resp.serial_number, leaf.serial_number)

    def test_short_lived_profile_no_ocsp_no_crldp_listed_in_the_full_crl(self):
        """SSL_SHORT (issue 19): granted by the RA, asked for in newOrder; 6 days, caIssuers only, no
        CRL distribution point, no OCSP response; revoked, it is in the full CRL."""
        directory = requests.get(ENV["ACME_DIR"], verify=ENV["ACME_CA_BUNDLE"], timeout=10).json()
        self.assertIn("SSL_SHORT", directory["meta"]["profiles"])
        c = AcmeClient()
        c.register()
        name = self.name("short")
        # Not granted yet: the account's profile is SSL.
        self.assertProblem(c.new_order(name, profile="SSL_SHORT"), "invalidProfile", 400, "PROFILE_NOT_ALLOWED")
        ra("ext-account", "update", ENV["EAB_KID"], "--profiles", "SSL,SSL_SHORT")
        # The account must keep its profile for every request, revokeCert included.
        try:
            ra("acme-account", "set-profile", c.account_id, "SSL_SHORT")
            chain, fin = c.issue([name], profile="SSL_SHORT")
            self.assertIsNotNone(chain, fin.text)
            leaf = x509.load_pem_x509_certificate(chain.encode())
            self.assertEqual((leaf.not_valid_after - leaf.not_valid_before).total_seconds(), 6 * 86400 - 1)
            aia = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
            self.assertEqual([d.access_method for d in aia], [x509.oid.AuthorityInformationAccessOID.CA_ISSUERS])
            with self.assertRaises(x509.ExtensionNotFound):
                leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints)
            with tempfile.NamedTemporaryFile("w", suffix=".pem") as f:
                f.write(chain)
                f.flush()
                v = subprocess.run(["openssl", "verify", "-CAfile", ENV["ROOT_CA_PEM"], "-untrusted",
                                    ENV["INTERMEDIATE_CA_PEM"], f.name], capture_output=True, text=True)
                self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
                # No OCSP response exists for it: the responder says unauthorized, never good.
                o = subprocess.run(["openssl", "ocsp", "-issuer", ENV["INTERMEDIATE_CA_PEM"], "-cert", f.name,
                                    "-url", ENV["OCSP_URL"], "-CAfile", ENV["ROOT_CA_PEM"], "-no_nonce"],
                                   capture_output=True, text=True)
                self.assertIn("unauthorized", o.stdout + o.stderr)
            # ca-status-server's /health has nothing to say about it (no response to keep fresh).
            health = requests.get(ENV["STATUS_URL"] + "/health", timeout=10).text
            self.assertNotIn(format(leaf.serial_number, "x"), health.lower())
            # renewalInfo (RFC 9773): a window inside its 6 days, from 2/3 of its life.
            aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
            serial = leaf.serial_number.to_bytes((leaf.serial_number.bit_length() + 7) // 8, "big")
            ari = requests.get(directory["renewalInfo"] + "/" + b64(aki) + "." + b64(serial),
                               verify=ENV["ACME_CA_BUNDLE"], timeout=10)
            self.assertEqual(ari.status_code, 200, ari.text)
            window = ari.json()["suggestedWindow"]
            start = datetime.datetime.strptime(window["start"], "%Y-%m-%dT%H:%M:%SZ")
            end = datetime.datetime.strptime(window["end"], "%Y-%m-%dT%H:%M:%SZ")
            life = leaf.not_valid_after - leaf.not_valid_before
            self.assertLessEqual(start, leaf.not_valid_before + life * 2 / 3)
            self.assertGreater(start, leaf.not_valid_before + life / 2)
            self.assertLess(end, leaf.not_valid_after)
            self.assertLessEqual(int(ari.headers["Retry-After"]), 6 * 3600)
            der = leaf.public_bytes(serialization.Encoding.DER)
            r = c.post(c.url("/acme/revoke-cert"), {"certificate": b64(der), "reason": 4})
            self.assertEqual(r.status_code, 200, r.text)
            # The full CRL lists it within the engine's revocation delay (30 s).
            deadline = time.time() + 60
            while True:
                crl = x509.load_der_x509_crl(requests.get(ENV["CRL_URL"], timeout=10).content)
                entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
                if entry is not None or time.time() > deadline:
                    break
                time.sleep(1)
            self.assertIsNotNone(entry, "revoked SSL_SHORT certificate not in the full CRL")
        finally:
            ra("ext-account", "update", ENV["EAB_KID"], "--profiles", "SSL")

    def test_name_outside_the_allowed_list(self):
        c = AcmeClient()
        c.register()
        name = f"www.not-ours-{self.tag}.example"
        self.assertProblem(c.new_order(name), "rejectedIdentifier", 400, "DOMAIN_NOT_FOUND", name)
        # The refusal is in the audit trail (the gateway's hash-chained file), not only in a log.
        audit = os.path.join(ENV["STATE_DIR"], "audit", "gateway.jsonl")
        with open(audit) as f:
            entries = [json.loads(line) for line in f if line.strip()]
        refused = [e for e in entries if e.get("event") == "issuance_refused" and name in e.get("names", [])]
        self.assertEqual(len(refused), 1, entries[-3:])
        self.assertEqual(refused[0]["endpoint"], "new-order")
        self.assertEqual(refused[0]["result_code"], "DOMAIN_NOT_FOUND")
        self.assertEqual(refused[0]["problem"], "urn:ietf:params:acme:error:rejectedIdentifier")
        self.assertEqual(refused[0]["external_account"], ENV["EAB_KID"])
        out = subprocess.run([ENV["AUDIT_CLI"], "verify-audit", audit], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("intact", out.stdout + out.stderr)

    def test_subdomain_not_implied(self):
        exact = f"exact-{self.tag}.test"
        ra("domain", "add", ENV["EAB_KID"], exact, "--dcv", "dns-01,http-01")
        ra("domain", "validate", ENV["EAB_KID"], exact)
        c = AcmeClient()
        c.register()
        self.assertEqual(c.new_order(exact).status_code, 201)
        self.assertProblem(c.new_order("www." + exact), "rejectedIdentifier", 400, "DOMAIN_NOT_FOUND", "www." + exact)

    def test_wildcard_on_an_ssl_account(self):
        c = AcmeClient()
        c.register()
        wild = "*." + self.name("wild")
        self.assertProblem(c.new_order(wild), "rejectedIdentifier", 400, "INVALID_PROFILE_FOR_WILDCARD", wild)

    def test_suspended_external_account_then_reactivated(self):
        c = AcmeClient()
        c.register()
        ra("ext-account", "suspend", ENV["EAB_KID"])
        try:
            self.assertProblem(c.new_order(self.name("susp")), "unauthorized", 403, "SUSPENDED")
            other = AcmeClient()
            r = other.new_account(other.eab(ENV["EAB_KID"], b64d(ENV["EAB_HMAC"])))
            self.assertProblem(r, "unauthorized", 403, "SUSPENDED_EXTERNAL_ACCOUNT")
        finally:
            ra("ext-account", "reactivate", ENV["EAB_KID"])
        self.assertEqual(c.new_order(self.name("susp")).status_code, 201)

    def test_revoked_acme_account_revokes_its_certificates(self):
        c = AcmeClient()
        c.register()
        chain, fin = c.issue([self.name("revacct")])
        self.assertIsNotNone(chain, fin.text)
        self.assertIn(": good", ocsp_status(chain)[0])
        ra("acme-account", "revoke", c.account_id, "--reason", "privilegeWithdrawn", "--yes")
        self.assertProblem(c.new_order(self.name("revacct2")), "unauthorized", 403, "REVOKED_ACCOUNT")
        deadline = time.time() + 10
        while ": revoked" not in (out := ocsp_status(chain))[0] and time.time() < deadline:
            time.sleep(0.25)
        self.assertIn(": revoked", out[0])
        self.assertIn("Response verify OK", out[0])
        self.assertEqual(out[1].certificate_status, ocsp.OCSPCertStatus.REVOKED)
        self.assertEqual(out[1].revocation_reason, x509.ReasonFlags.privilege_withdrawn)

    def test_revoke_by_account_reason_in_ocsp(self):
        c = AcmeClient()
        c.register()
        chain, fin = c.issue([self.name("byacct")])
        self.assertIsNotNone(chain, fin.text)
        der = x509.load_pem_x509_certificate(chain.encode()).public_bytes(serialization.Encoding.DER)
        r = c.post(c.url("/acme/revoke-cert"), {"certificate": b64(der), "reason": 4})
        self.assertEqual(r.status_code, 200, r.text)
        r = c.post(c.url("/acme/revoke-cert"), {"certificate": b64(der), "reason": 4})
        self.assertProblem(r, "alreadyRevoked", 400, "")
        out, single = ocsp_status(chain)
        self.assertIn(": revoked", out)
        self.assertEqual(single.revocation_reason, x509.ReasonFlags.superseded)

    def test_keycompromise_by_certificate_key_ocsp_within_a_second_get_post_and_unknown(self):
        c = AcmeClient()
        c.register()
        cert_key = rsa_key()
        chain, fin = c.issue([self.name("keycomp")], key=cert_key)
        self.assertIsNotNone(chain, fin.text)
        leaf = x509.load_pem_x509_certificate(chain.encode())
        der = leaf.public_bytes(serialization.Encoding.DER)
        # keyCompromise signed by the account key is refused; signed by the certificate key it is accepted.
        r = c.post(c.url("/acme/revoke-cert"), {"certificate": b64(der), "reason": 1})
        self.assertProblem(r, "badRevocationReason", 400, "keyCompromise")
        by_key = AcmeClient()
        by_key.key = Key("RS256")
        by_key.key.priv = cert_key
        r = by_key.post(by_key.url("/acme/revoke-cert"), {"certificate": b64(der), "reason": 1}, use_jwk=True)
        self.assertEqual(r.status_code, 200, r.text)
        revoked_at = time.time()
        while (single := ocsp_status(chain)[1]).certificate_status != ocsp.OCSPCertStatus.REVOKED:
            self.assertLess(time.time() - revoked_at, 1.0, "OCSP still says good 1 s after the revocation")
            time.sleep(0.05)
        self.assertLessEqual(time.time() - revoked_at, 1.0)
        self.assertEqual(single.revocation_reason, x509.ReasonFlags.key_compromise)
        # GET (RFC 5019: base64 of the DER request in the path) answers the same as POST.
        issuer = x509.load_pem_x509_certificate(open(ENV["INTERMEDIATE_CA_PEM"], "rb").read())
        req = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()
        path = base64.b64encode(req.public_bytes(serialization.Encoding.DER)).decode()
        get = requests.get(ENV["OCSP_URL"] + "/" + urllib.parse.quote(path, safe=""), timeout=5)
        self.assertEqual(get.status_code, 200)
        self.assertEqual(get.headers["Content-Type"], "application/ocsp-response")
        self.assertIn("max-age=", get.headers.get("Cache-Control", ""))
        got = ocsp.load_der_ocsp_response(get.content)
        self.assertEqual(got.response_status, ocsp.OCSPResponseStatus.SUCCESSFUL)
        self.assertEqual({x.certificate_status for x in got.responses}, {ocsp.OCSPCertStatus.REVOKED})
        post = requests.post(ENV["OCSP_URL"], data=req.public_bytes(serialization.Encoding.DER),
                             headers={"Content-Type": "application/ocsp-request"}, timeout=5)
        self.assertEqual(post.content, get.content)
        # A serial this CA never issued: unauthorized, never good.
        r = subprocess.run(["openssl", "ocsp", "-issuer", ENV["INTERMEDIATE_CA_PEM"], "-serial", "0x0123456789abcdef",
                            "-url", ENV["OCSP_URL"], "-no_nonce"], capture_output=True, text=True)
        self.assertIn("unauthorized", r.stdout + r.stderr)
        self.assertNotIn(": good", r.stdout)

    def test_caa_forbidding_the_second_name(self):
        first, second = self.name("caa1"), self.name("caa2")
        dns("/add-caa", {"host": second + ".", "policies": [{"tag": "issue", "value": "another-ca.example"}]})
        try:
            c = AcmeClient()
            c.register()
            r = c.new_order(first, second)
            self.assertEqual(r.status_code, 201, r.text)  # CAA is checked at validation (and finalize)
            order = r.json()
            for url in order["authorizations"]:
                authz = c.post(url, None).json()
                name = authz["identifier"]["value"]
                chall = next(ch for ch in authz["challenges"] if ch["type"] == "dns-01")
                digest = hashlib.sha256(f"{chall['token']}.{c.key.thumbprint()}".encode()).digest()
                dns("/set-txt", {"host": f"_acme-challenge.{name}.", "value": b64(digest)})
                c.post(chall["url"], {})
                done = c.poll(chall["url"], ("valid", "invalid"))
                if name == first:
                    self.assertEqual(done["status"], "valid", done)
                else:
                    self.assertEqual(done["status"], "invalid", done)
                    self.assertEqual(done["error"]["type"], URN + "caa", done)
                    self.assertTrue(done["error"]["detail"].startswith("INVALID_DNSCAA"), done)
                    self.assertIn(second, done["error"]["detail"])
            self.assertEqual(c.post(r.headers["Location"], None).json()["status"], "invalid")
        finally:
            dns("/clear-caa", {"host": second + "."})

    def test_rsa2048_csr_refused(self):
        c = AcmeClient()
        c.register()
        chain, fin = c.issue([self.name("rsa2048")], key=rsa_key(2048))
        self.assertIsNone(chain)
        body = fin.json()
        self.assertEqual(body["type"], URN + "badCSR", body)
        self.assertIn("2048", body["detail"])

    def test_default_profile_takes_rsa3072_only(self):
        """The shipped SSL profile takes RSA-3072 keys only (the technical document): RSA-4096 and
        ECDSA P-256 are badCSR with ACME_ORDER_FINALIZE_ERROR, and no certificate is issued."""
        c = AcmeClient()
        c.register()
        for label, key, detail in (
                ("rsa4096", rsa_key(4096), "RSA key size 4096 not accepted: the profile requires 3072 bits"),
                ("p256", ec.generate_private_key(ec.SECP256R1()),
                 "key type EC not accepted: the profile requires RSA 3072")):
            chain, fin = c.issue([self.name(label)], key=key)
            self.assertIsNone(chain, label)
            body = fin.json()
            self.assertEqual(body["type"], URN + "badCSR", body)
            self.assertEqual(body["detail"], "ACME_ORDER_FINALIZE_ERROR: " + detail, body)

    def test_reused_certificate_key_refused(self):
        c = AcmeClient()
        c.register()
        key = rsa_key()
        chain, fin = c.issue([self.name("reuse1")], key=key)
        self.assertIsNotNone(chain, fin.text)
        chain, fin = c.issue([self.name("reuse2")], key=key)
        self.assertIsNone(chain)
        body = fin.json()
        self.assertEqual(body["type"], URN + "badCSR", body)
        self.assertIn("certified before", body["detail"])

    def test_key_change_then_deactivation(self):
        c = AcmeClient()
        c.register()
        old, new = c.key, Key("ES256")
        url = c.url("/acme/key-change")
        inner = jws(new, {"jwk": new.jwk(), "url": url}, {"account": c.kid, "oldKey": old.jwk()})
        self.assertEqual(c.post(url, inner).status_code, 200)
        c.key = new
        self.assertEqual(c.new_order(self.name("rollover")).status_code, 201)
        c.key = old  # the old key no longer authenticates the account
        r = c.new_order(self.name("rollover"))
        self.assertProblem(r, "malformed", 400, "BAD_SIGNATURE")
        c.key = new
        r = c.post(c.kid, {"status": "deactivated"})
        self.assertEqual(r.json()["status"], "deactivated", r.text)
        self.assertProblem(c.new_order(self.name("rollover")), "unauthorized", 403, "DEACTIVATED")

    def test_sixth_failed_validation_in_an_hour_is_rate_limited(self):
        c = AcmeClient()
        c.register()
        name = self.name("fail")
        for attempt in range(6):
            order = c.new_order(name).json()
            authz = c.post(order["authorizations"][0], None).json()
            chall = next(ch for ch in authz["challenges"] if ch["type"] == "dns-01")
            r = c.post(chall["url"], {})  # no TXT record published: the validation fails
            if attempt < 5:
                self.assertEqual(r.status_code, 200, r.text)
                done = c.poll(chall["url"], ("valid", "invalid"))
                self.assertEqual(done["status"], "invalid", done)
            else:
                self.assertProblem(r, "rateLimited", 429, "RATE_LIMITED")
                self.assertTrue(r.headers.get("Retry-After"))


class SecondGateway:
    """Another ca-gateway of the appliance (the running one's binary and configuration, its own port and
    store, the same engine, policy and DNS) with `limits` changed; stopped by PID."""

    def __init__(self, limits):
        self.dir = tempfile.mkdtemp(prefix="acme-gw2-")
        with open(os.path.join(ENV["STATE_DIR"], "gateway.json")) as f:
            config = json.load(f)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        config["listen"]["port"] = port
        config["base_url"] = f"https://127.0.0.1:{port}"
        config["store"] = os.path.join(self.dir, "store")
        config.setdefault("limits", {}).update(limits)
        # Not the first gateway's metrics port, nor its audit file (one writer per hash chain).
        config["metrics"] = {"enabled": False}
        config.pop("audit_log", None)
        path = os.path.join(self.dir, "gateway.json")
        with open(path, "w") as f:
            json.dump(config, f)
        self.base = config["base_url"]
        self.log = open(os.path.join(self.dir, "gateway.log"), "wb")
        exe = os.readlink(f"/proc/{ENV['GATEWAY_PID']}/exe")
        self.proc = subprocess.Popen([exe, "--config", path], stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while True:
            try:
                requests.get(self.base + "/directory", verify=ENV["ACME_CA_BUNDLE"], timeout=2)
                return
            except requests.exceptions.ConnectionError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise
                time.sleep(0.1)

    def client(self):
        c = AcmeClient()
        c.base = self.base
        return c

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class HostileFinalize(unittest.TestCase):
    """Finalize requests that must not give a certificate (issue 14): each fails on the old gateway."""

    @classmethod
    def setUpClass(cls):
        cls.tag = os.urandom(3).hex()

    def name(self, label):
        return f"{label}-{self.tag}.{ENV['SUFFIX']}"

    def ready_order(self, c, names):
        r = c.new_order(*names)
        self.assertEqual(r.status_code, 201, r.text)
        order, url = r.json(), r.headers["Location"]
        c.solve_dns01(order)
        self.assertEqual(c.poll(url, ("ready", "invalid"))["status"], "ready")
        return order, url

    def test_deactivated_authorization_gives_no_certificate(self):
        # RFC 8555 §7.5.2: a deactivated authorization authorizes nothing; §7.1.6: the order becomes
        # invalid; §7.4: finalize of an order that is not ready is orderNotReady.
        c = AcmeClient()
        c.register()
        names = [self.name("deact")]
        order, url = self.ready_order(c, names)
        r = c.post(order["authorizations"][0], {"status": "deactivated"})
        self.assertEqual(r.json()["status"], "deactivated", r.text)
        fin = c.post(order["finalize"], {"csr": b64(csr_der(rsa_key(), names))})
        body = fin.json()
        self.assertEqual(fin.status_code, 403, fin.text)
        self.assertEqual(body["type"], URN + "orderNotReady", body)
        self.assertTrue(body["detail"].startswith("ACME_DEACTIVATED: "), body)
        after = c.post(url, None).json()
        self.assertEqual(after["status"], "invalid", after)
        self.assertEqual(after["error"]["type"], URN + "unauthorized", after)
        self.assertTrue(after["error"]["detail"].startswith("ACME_DEACTIVATED: "), after)
        self.assertNotIn("certificate", after)

    def test_csr_with_the_account_key_refused(self):
        # RFC 8555 §11.1: the certificate key must not be the account key.
        c = AcmeClient()
        c.key = Key("RS256")
        c.key.priv = rsa_key()  # RSA 3072: a key the SSL profile would otherwise accept
        c.register()
        names = [self.name("acctkey")]
        order, url = self.ready_order(c, names)
        fin = c.post(order["finalize"], {"csr": b64(csr_der(c.key.priv, names))})
        body = fin.json()
        self.assertEqual(fin.status_code, 400, fin.text)
        self.assertEqual(body["type"], URN + "badCSR", body)
        self.assertIn("account", body["detail"])
        self.assertEqual(c.post(url, None).json()["status"], "ready")  # nothing changed

    def test_caa_validationmethods_on_the_finalize_recheck(self):
        # CAA published after the validation and before finalize allows only http-01; the name was
        # validated with dns-01: the recheck at finalize (forced by caa_recheck_seconds -1) refuses.
        gw = SecondGateway({"caa_recheck_seconds": -1})
        name = self.name("caamethod")
        try:
            c = gw.client()
            c.register()
            order, url = self.ready_order(c, [name])
            dns("/add-caa", {"host": name + ".", "policies": [
                {"tag": "issue", "value": "acme-ca.demo.test; validationmethods=http-01"}]})
            fin = c.post(order["finalize"], {"csr": b64(csr_der(rsa_key(), [name]))})
            body = fin.json()
            self.assertEqual(fin.status_code, 403, fin.text)
            self.assertEqual(body["type"], URN + "caa", body)
            self.assertTrue(body["detail"].startswith("INVALID_DNSCAA"), body)
            self.assertIn("validationmethods", body["detail"])
            dns("/clear-caa", {"host": name + "."})
            dns("/add-caa", {"host": name + ".", "policies": [
                {"tag": "issue", "value": "acme-ca.demo.test; validationmethods=dns-01"}]})
            fin = c.post(order["finalize"], {"csr": b64(csr_der(rsa_key(), [name]))})
            self.assertEqual(fin.status_code, 200, fin.text)  # the method that validated it is allowed
        finally:
            dns("/clear-caa", {"host": name + "."})
            gw.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--env", required=True)
    args, rest = parser.parse_known_args()
    ENV.update(load_env(args.env))
    ENV["STATE_DIR"] = os.path.dirname(os.path.abspath(args.env))
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
