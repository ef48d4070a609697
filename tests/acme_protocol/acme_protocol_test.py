#!/usr/bin/python3
"""Protocol-level tests of ca-gateway: a small ACME client (JWS built here with python3-cryptography,
HTTPS with python3-requests) against a real ca-gateway process on 127.0.0.1, with a policy store
written by the RA library and a real ca-engine on SoftHSM that verifies every EAB MAC in the HSM
(acme_protocol_policy_fixture engine: the MAC keys are wrapped to that engine's HSM key).

Finalize, certificate download and real clients run against the whole dev appliance in tests/acme_clients/
"""
import argparse
import datetime
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import requests
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acme_client import URN, Client, Key, b64, b64d, hs256, jws  # noqa: E402

urllib3.disable_warnings()
ARGS = None
PROFILE_MAX_NAMES = 3


class Engine:
    """The fixture that writes the policy store and runs a real ca-engine on SoftHSM
    (policy_fixture engine): its JSON line describes both. Stopped by closing its stdin, then by
    PID (it stops the engine by PID); the engine's PID is killed too if the fixture had to be."""

    def __init__(self, workdir):
        self.log_path = os.path.join(workdir, "engine-fixture.log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([ARGS.fixture, "engine", workdir, ARGS.engine], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log)
        self.info = None
        line = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if sel.select(timeout=180):
                line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError("policy_fixture engine did not start: " + open(self.log_path).read())
        self.info = json.loads(line)

    def stop(self):
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                if self.info:
                    try:
                        os.kill(self.info["engine"]["pid"], signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        self.proc.stdout.close()
        self.proc = None
        self.log.close()


class Gateway:
    """Starts ca-gateway on a free 127.0.0.1 port with its own store; stops it by PID."""

    def __init__(self, workdir, policy):
        self.workdir = workdir
        self.policy = policy
        self.port = self._free_port()
        self.base = f"https://127.0.0.1:{self.port}"
        self.metrics_port = self._free_port()
        self.metrics_base = f"http://127.0.0.1:{self.metrics_port}"
        self._write_tls()
        self.config = os.path.join(workdir, "gateway.json")
        with open(self.config, "w") as f:
            json.dump({
                "listen": {"address": "127.0.0.1", "port": self.port, "threads": 2},
                "metrics": {"address": "127.0.0.1", "port": self.metrics_port},
                "base_url": self.base,
                "tls": {"cert": os.path.join(workdir, "tls.crt"), "key": os.path.join(workdir, "tls.key")},
                "store": os.path.join(workdir, "gateway-store"),
                "policy_store": policy["policy"],
                "profiles_dir": self._profiles(),
                "engine": {k: policy["engine"][k] for k in ("socket", "client_cert", "client_key", "fingerprint")},
                "validation": {"resolver": "127.0.0.1:53"},
                "caa_identities": ["ca.test"],
                "terms_of_service": "https://ca.test/tos",
                "website": "https://ca.test/",
                "limits": {"max_body_bytes": 65536},
            }, f)
        self.proc = None

    def _profiles(self):
        """The production profiles, SSL limited to 3 names (the gateway's own cap is 100)."""
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "profiles", "data", "production")
        dst = os.path.join(self.workdir, "profiles")
        shutil.copytree(src, dst, dirs_exist_ok=True)
        with open(os.path.join(dst, "SSL.json")) as f:
            ssl = json.load(f)
        ssl["max_names"] = PROFILE_MAX_NAMES
        with open(os.path.join(dst, "SSL.json"), "w") as f:
            json.dump(ssl, f)
        return dst

    @staticmethod
    def _free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def _write_tls(self):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.utcnow()
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
        with open(os.path.join(self.workdir, "tls.crt"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        fd = os.open(os.path.join(self.workdir, "tls.key"), os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))

    def start(self):
        self.log = open(os.path.join(self.workdir, "gateway.log"), "ab")
        self.proc = subprocess.Popen([ARGS.gateway, "--config", self.config], stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("ca-gateway exited: " + open(os.path.join(self.workdir, "gateway.log")).read())
            try:
                requests.get(self.base + "/directory", verify=False, timeout=2)
                return
            except requests.exceptions.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("ca-gateway did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()


class ProtocolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="acme-protocol-")
        cls.addClassCleanup(shutil.rmtree, cls.workdir, ignore_errors=True)
        cls.engine = Engine(cls.workdir)
        cls.addClassCleanup(cls.engine.stop)  # also when setUpClass fails below
        cls.policy = cls.engine.info
        cls.mac = b64d(cls.policy["mac"])
        cls.mac2 = b64d(cls.policy["mac2"])
        cls.mac3 = b64d(cls.policy["mac3"])
        cls.gw = Gateway(cls.workdir, cls.policy)
        cls.addClassCleanup(cls.gw.stop)
        cls.gw.start()

    def client(self, **kw):
        return Client(self.gw.base, **kw)

    def registered(self, kid=None, mac=None, key=None):
        c = self.client(key=key)
        r = c.new_account(c.eab(kid or self.policy["kid"], mac or self.mac))
        self.assertEqual(r.status_code, 201, r.text)
        return c

    def assertProblem(self, r, type_, status=None, detail=None):
        self.assertEqual(r.headers.get("Content-Type"), "application/problem+json", r.text)
        body = r.json()
        self.assertEqual(body["type"], URN + type_, r.text)
        if status is not None:
            self.assertEqual(r.status_code, status, r.text)
        if detail is not None:
            self.assertIn(detail, body["detail"])
        self.assertTrue(r.headers.get("Replay-Nonce"))
        return body

    # --- directory and nonces -------------------------------------------------------------------
    def test_directory(self):
        r = requests.get(self.gw.base + "/directory", verify=False)
        self.assertEqual(r.status_code, 200)
        d = r.json()
        self.assertEqual(d["newAccount"], self.gw.base + "/acme/new-account")
        self.assertEqual(d["renewalInfo"], self.gw.base + "/acme/renewal-info")
        self.assertTrue(d["meta"]["externalAccountRequired"])
        self.assertEqual(d["meta"]["caaIdentities"], ["ca.test"])
        self.assertEqual(d["meta"]["termsOfService"], "https://ca.test/tos")
        self.assertEqual(sorted(d["meta"]["profiles"]), ["SSL", "SSL_RGS", "SSL_SHORT", "WILD"])

    def test_new_nonce(self):
        h = requests.head(self.gw.base + "/acme/new-nonce", verify=False)
        self.assertEqual(h.status_code, 200)
        g = requests.get(self.gw.base + "/acme/new-nonce", verify=False)
        self.assertEqual(g.status_code, 204)
        self.assertNotEqual(h.headers["Replay-Nonce"], g.headers["Replay-Nonce"])
        self.assertIn('rel="index"', g.headers["Link"])

    # --- EAB --------------------------------------------------------------------------------------
    def test_eab_success_and_existing(self):
        c = self.registered()
        self.assertRegex(c.kid, r"^https://127\.0\.0\.1:\d+/acme/acct/[A-Za-z0-9_-]+$")
        acct = c.post(c.kid, None)
        self.assertEqual(acct.json()["status"], "valid")
        self.assertEqual(acct.json()["contact"], ["mailto:ops@example.com"])
        again = c.new_account(c.eab(self.policy["kid"], self.mac))
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.headers["Location"], c.kid)
        only = c.post(c.url("/acme/new-account"), {"onlyReturnExisting": True}, use_jwk=True)
        self.assertEqual(only.headers["Location"], c.kid)
        fresh = self.client()
        r = fresh.post(fresh.url("/acme/new-account"), {"onlyReturnExisting": True}, use_jwk=True)
        self.assertProblem(r, "accountDoesNotExist", 400)

    def test_eab_rejections(self):
        kid = self.policy["kid"]
        c = self.client()
        other = Key()
        cases = [
            ("missing EAB", None, "externalAccountRequired", None),
            ("asymmetric alg", jws(c.key, {"alg": "ES256", "kid": kid, "url": c.url("/acme/new-account")}, c.key.jwk()),
             "malformed", "MAC algorithm"),
            ("missing alg", c.eab(kid, self.mac, edit=lambda h: h.pop("alg")), "badSignatureAlgorithm", "alg"),
            ("nonce in inner JWS", c.eab(kid, self.mac, edit=lambda h: h.update(nonce=c.nonce())), "malformed", "nonce"),
            ("url mismatch", c.eab(kid, self.mac, edit=lambda h: h.update(url=c.url("/acme/new-order"))), "malformed", "url"),
            ("jwk mismatch", c.eab(kid, self.mac, payload=other.jwk()), "malformed", "not the key"),
            ("unknown kid", c.eab("00000000-0000-4000-8000-000000000000", self.mac), "unauthorized",
             "BAD_SIGNATURE"),
            ("wrong MAC", c.eab(kid, self.mac2), "unauthorized", "BAD_SIGNATURE"),
        ]
        for name, eab, type_, detail in cases:
            with self.subTest(name):
                payload = {"termsOfServiceAgreed": True}
                if eab is not None:
                    payload["externalAccountBinding"] = eab
                r = c.post(c.url("/acme/new-account"), payload, use_jwk=True)
                self.assertProblem(r, type_, detail=detail)
        # None of them created an account for this key.
        r = c.post(c.url("/acme/new-account"), {"onlyReturnExisting": True}, use_jwk=True)
        self.assertProblem(r, "accountDoesNotExist")

    def test_eab_unknown_kid_and_wrong_mac_look_the_same(self):
        # Issue 14: the KeyID space cannot be probed, and an external account's state is told only to
        # whoever holds its MAC key (kid6 is suspended).
        def refusal(kid, mac):
            c = self.client()
            payload = {"termsOfServiceAgreed": True, "externalAccountBinding": c.eab(kid, mac)}
            r = c.post(c.url("/acme/new-account"), payload, use_jwk=True)
            return r.status_code, r.headers.get("Content-Type"), r.json()
        unknown = refusal("00000000-0000-4000-8000-000000000000", self.mac)
        wrong_mac = refusal(self.policy["kid"], self.mac2)
        suspended_wrong_mac = refusal(self.policy["kid6"], self.mac)
        self.assertEqual(unknown, wrong_mac)
        self.assertEqual(unknown, suspended_wrong_mac)
        self.assertEqual(unknown[0], 403)
        self.assertEqual(unknown[2]["type"], URN + "unauthorized")
        self.assertNotIn(self.policy["kid"], unknown[2]["detail"])
        # With the right MAC, the state of the external account is told.
        status, _, body = refusal(self.policy["kid6"], b64d(self.policy["mac6"]))
        self.assertEqual(status, 403)
        self.assertTrue(body["detail"].startswith("SUSPENDED_EXTERNAL_ACCOUNT"), body)

    def test_eab_max_accounts(self):
        # kid2 allows 3 ACME accounts and no other test uses it.
        made = 0
        while True:
            c = self.client()
            r = c.new_account(c.eab(self.policy["kid2"], self.mac2))
            if r.status_code != 201:
                break
            made += 1
            self.assertLessEqual(made, 3)
        self.assertProblem(r, "unauthorized", 403, "ACME accounts")

    # --- outer JWS --------------------------------------------------------------------------------
    def test_outer_jws_rejections(self):
        c = self.registered()
        url = c.url("/acme/new-order")
        header = {"alg": "none", "nonce": c.nonce(), "url": url, "kid": c.kid}
        none = {"protected": b64(json.dumps(header)), "payload": b64("{}"), "signature": ""}
        body = self.assertProblem(c.raw(url, none), "badSignatureAlgorithm", 400)
        self.assertIn("ES256", body["algorithms"])
        header.update(alg="HS256", nonce=c.nonce())
        self.assertProblem(c.raw(url, hs256(self.mac, header, {})), "badSignatureAlgorithm", 400)
        r = c.post(url, {}, edit=lambda h: h.update(jwk=c.key.jwk()))
        self.assertProblem(r, "malformed", 400, "exactly one of jwk and kid")
        r = c.post(url, {}, edit=lambda h: h.update(url=c.url("/acme/revoke-cert")))
        self.assertProblem(r, "unauthorized", 403, "does not match")
        general = {"payload": b64("{}"), "signatures": []}
        self.assertProblem(c.raw(url, general), "malformed", 400, "flattened")
        self.assertProblem(c.raw(url, jws(c.key, {"nonce": c.nonce(), "url": url, "kid": c.kid}, {}),
                                 content_type="application/json"), "malformed", 415)
        impostor = self.client()
        impostor.kid = c.kid
        self.assertProblem(impostor.post(c.kid, None), "malformed", 400, "BAD_SIGNATURE")

    def test_nonce_replay(self):
        c = self.registered()
        body = jws(c.key, {"nonce": c.nonce(), "url": c.kid, "kid": c.kid}, None)
        self.assertEqual(c.raw(c.kid, body).status_code, 200)
        r = c.raw(c.kid, body)
        self.assertProblem(r, "badNonce", 400, "already used")
        forged = b64(os.urandom(32))
        r = c.post(c.kid, None, edit=lambda h: h.update(nonce=forged))
        self.assertProblem(r, "badNonce", 400)

    def test_oversized_body_and_nesting(self):
        c = self.registered()
        r = c.raw(c.url("/acme/new-order"), "x" * 70000)
        self.assertProblem(r, "malformed", 413)
        deep = {"identifiers": []}
        for _ in range(40):
            deep = {"a": deep}
        r = c.post(c.url("/acme/new-order"), deep)
        self.assertProblem(r, "malformed", 400)

    # --- resources --------------------------------------------------------------------------------
    def test_order_and_post_as_get(self):
        c = self.registered()
        r = c.new_order("A.example.com", "b.example.com")
        self.assertEqual(r.status_code, 201, r.text)
        order = r.json()
        self.assertEqual(order["status"], "pending")
        self.assertEqual(order["profile"], "SSL")
        self.assertEqual([i["value"] for i in order["identifiers"]], ["a.example.com", "b.example.com"])
        loc = r.headers["Location"]
        for url in (loc, order["authorizations"][0]):
            g = requests.get(url, verify=False)
            self.assertEqual(g.status_code, 405)
            self.assertEqual(g.headers["Allow"], "POST")
        authz = c.post(order["authorizations"][0], None).json()
        self.assertEqual(authz["status"], "pending")
        self.assertEqual(authz["identifier"], {"type": "dns", "value": "a.example.com"})
        self.assertEqual(sorted(ch["type"] for ch in authz["challenges"]), ["dns-01", "http-01"])
        ch = c.post(authz["challenges"][0]["url"], None)
        self.assertEqual(ch.status_code, 200)
        self.assertIn('rel="up"', ch.headers["Link"])
        fin = c.post(order["finalize"], {"csr": b64(b"junk")})
        self.assertProblem(fin, "orderNotReady", 403)
        listing = c.post(c.kid + "/orders", None).json()
        self.assertIn(loc, listing["orders"])

    def test_new_order_refusals(self):
        c = self.registered()
        r = c.new_order("a.example.com", "nope.example.com")
        body = self.assertProblem(r, "rejectedIdentifier", 400)
        self.assertTrue(body["detail"].startswith("DOMAIN_NOT_FOUND: nope.example.com"), body["detail"])
        self.assertEqual(body["subproblems"][0]["identifier"], {"type": "dns", "value": "nope.example.com"})
        r = c.new_order("*.example.com")
        body = self.assertProblem(r, "rejectedIdentifier", 400)
        self.assertTrue(body["detail"].startswith("INVALID_PROFILE_FOR_WILDCARD: *.example.com"), body["detail"])
        r = c.new_order("a.example.com", profile="WILD")
        self.assertProblem(r, "invalidProfile", 400, "PROFILE_NOT_ALLOWED")
        r = c.post(c.url("/acme/new-order"), {"identifiers": [{"type": "ip", "value": "192.0.2.1"}]})
        self.assertProblem(r, "unsupportedIdentifier", 400)

    def test_suspended_external_account(self):
        c = self.registered(self.policy["kid3"], self.mac3)
        self.assertEqual(c.new_order("d.example.com").status_code, 201)
        subprocess.run([ARGS.fixture, "suspend", self.workdir, self.policy["kid3"]], check=True)
        r = c.new_order("d.example.com")
        body = self.assertProblem(r, "unauthorized", 403)
        self.assertTrue(body["detail"].startswith("SUSPENDED_EXTERNAL_ACCOUNT"), body["detail"])
        fresh = self.client()
        r = fresh.new_account(fresh.eab(self.policy["kid3"], self.mac3))
        self.assertProblem(r, "unauthorized", 403, "SUSPENDED_EXTERNAL_ACCOUNT")

    def refused_everywhere(self, c, order, challenge_url, code):
        """Every kid-signed endpoint answers the RA's refusal `code`."""
        authz_url = order["authorizations"][0]
        order_url = order["finalize"].rsplit("/finalize", 1)[0]
        new = Key()
        key_change = c.url("/acme/key-change")
        inner = jws(new, {"jwk": new.jwk(), "url": key_change}, {"account": c.kid, "oldKey": c.key.jwk()})
        requests_ = [
            ("challenge", challenge_url, {}),
            ("authz deactivate", authz_url, {"status": "deactivated"}),
            ("authz read", authz_url, None),
            ("order read", order_url, None),
            ("finalize", order["finalize"], {"csr": b64(b"junk")}),
            ("key change", key_change, inner),
            ("account read", c.kid, None),
            ("account update", c.kid, {"contact": ["mailto:other@example.com"]}),
            ("account deactivate", c.kid, {"status": "deactivated"}),
            ("orders list", c.kid + "/orders", None),
            ("certificate", c.url("/acme/cert/" + "0a" * 16), None),
            ("new order", c.url("/acme/new-order"), {"identifiers": [{"type": "dns", "value": "x.example"}]}),
            ("new account, existing key", c.url("/acme/new-account"), {"onlyReturnExisting": True}),
        ]
        for name, url, payload in requests_:
            with self.subTest(name):
                r = c.post(url, payload, use_jwk=url.endswith("/new-account"))
                body = self.assertProblem(r, "unauthorized", 403)
                self.assertTrue(body["detail"].startswith(code), body["detail"])

    def test_suspended_external_account_refused_on_every_endpoint(self):
        c = self.registered(self.policy["kid4"], b64d(self.policy["mac4"]))
        r = c.new_order("e.example.com")
        self.assertEqual(r.status_code, 201, r.text)
        order = r.json()
        authz = c.post(order["authorizations"][0], None).json()
        subprocess.run([ARGS.fixture, "suspend", self.workdir, self.policy["kid4"]], check=True)
        self.refused_everywhere(c, order, authz["challenges"][0]["url"], "SUSPENDED_EXTERNAL_ACCOUNT")
        # Nothing the refused requests asked for happened.
        subprocess.run([ARGS.fixture, "reactivate", self.workdir, self.policy["kid4"]], check=True)
        after = c.post(order["authorizations"][0], None).json()
        self.assertEqual(after["status"], "pending", after)
        self.assertEqual({ch["status"] for ch in after["challenges"]}, {"pending"}, after)
        account = c.post(c.kid, None).json()
        self.assertEqual((account["status"], account["contact"]), ("valid", ["mailto:ops@example.com"]), account)

    def test_revoked_acme_account_refused_on_every_endpoint(self):
        c = self.registered()
        r = c.new_order("a.example.com")
        self.assertEqual(r.status_code, 201, r.text)
        order = r.json()
        authz = c.post(order["authorizations"][0], None).json()
        account_id = c.kid.rsplit("/", 1)[1]
        subprocess.run([ARGS.fixture, "acme-account", self.workdir, self.policy["kid"], account_id, "revoke"],
                       check=True)
        self.refused_everywhere(c, order, authz["challenges"][0]["url"], "REVOKED_ACCOUNT")

    # --- per-domain challenge types (POL-5) and the profile's name limit --------------------------
    def test_domain_limited_to_dns01_offers_and_accepts_only_dns01(self):
        subprocess.run([ARGS.fixture, "dcv", self.workdir, self.policy["kid5"], "f.example.com", "dns-01"], check=True)
        c = self.registered(self.policy["kid5"], b64d(self.policy["mac5"]))
        r = c.new_order("www.f.example.com", "www.g.example.com")
        self.assertEqual(r.status_code, 201, r.text)
        offered = {}
        for url in r.json()["authorizations"]:
            authz = c.post(url, None).json()
            offered[authz["identifier"]["value"]] = sorted(ch["type"] for ch in authz["challenges"])
        self.assertEqual(offered, {"www.f.example.com": ["dns-01"], "www.g.example.com": ["dns-01", "http-01"]})
        # Narrowed by the RA after the order: the http-01 challenge already offered is refused.
        r = c.new_order("www.h.example.com")
        authz = c.post(r.json()["authorizations"][0], None).json()
        http01 = next(ch for ch in authz["challenges"] if ch["type"] == "http-01")
        subprocess.run([ARGS.fixture, "dcv", self.workdir, self.policy["kid5"], "h.example.com", "dns-01"], check=True)
        refused = c.post(http01["url"], {})
        body = self.assertProblem(refused, "unauthorized", 403)
        self.assertTrue(body["detail"].startswith("UNAUTHORIZED_DOMAIN: www.h.example.com"), body["detail"])
        self.assertIn("dns-01", body["detail"])
        self.assertEqual(c.post(http01["url"], None).json()["status"], "pending")

    def test_profile_max_names(self):
        c = self.registered(self.policy["kid5"], b64d(self.policy["mac5"]))
        names = [f"n{i}.g.example.com" for i in range(PROFILE_MAX_NAMES + 1)]
        r = c.new_order(*names)
        body = self.assertProblem(r, "rejectedIdentifier", 400)
        self.assertIn(f"at most {PROFILE_MAX_NAMES} names", body["detail"])
        self.assertEqual(c.new_order(*names[:PROFILE_MAX_NAMES]).status_code, 201)

    def test_key_change_conflict(self):
        a = self.registered()
        b = self.registered()
        url = a.url("/acme/key-change")
        inner = jws(b.key, {"jwk": b.key.jwk(), "url": url}, {"account": a.kid, "oldKey": a.key.jwk()})
        r = a.post(url, inner)
        self.assertProblem(r, "malformed", 409)
        self.assertEqual(r.headers["Location"], b.kid)
        new = Key("ES384")
        inner = jws(new, {"jwk": new.jwk(), "url": url}, {"account": a.kid, "oldKey": a.key.jwk()})
        self.assertEqual(a.post(url, inner).status_code, 200)
        a.key = new
        self.assertEqual(a.post(a.kid, None).status_code, 200)

    def test_renewal_info_unknown(self):
        r = requests.get(self.gw.base + "/acme/renewal-info/" + b64(b"\x01" * 20) + "." + b64(b"\x02" * 16), verify=False)
        self.assertProblem(r, "malformed", 404)

    def test_metrics(self):
        requests.get(self.gw.base + "/directory", verify=False)
        # Not on the ACME port (issue 21): an ACME 404 problem, no counters.
        r = requests.get(self.gw.base + "/metrics", verify=False)
        self.assertProblem(r, "malformed", 404)
        self.assertNotIn("acme_requests_total", r.text)
        # On the metrics listener (plain HTTP, loopback), only /metrics.
        m = requests.get(self.gw.metrics_base + "/metrics")
        self.assertEqual(m.status_code, 200)
        self.assertTrue(m.headers["Content-Type"].startswith("text/plain"), m.headers)
        self.assertRegex(m.text, r'acme_requests_total\{endpoint="directory",status="200"\} [1-9]')
        self.assertRegex(m.text, r'acme_requests_total\{endpoint="unknown",status="404"\} [1-9]')
        self.assertEqual(requests.get(self.gw.metrics_base + "/directory").status_code, 404)
        self.assertEqual(requests.post(self.gw.metrics_base + "/metrics", data=b"x").status_code, 405)

    def test_zz_restart_invalidates_nonces(self):
        c = self.registered()
        old = c.nonce()
        self.gw.stop()
        self.gw.start()
        r = c.post(c.kid, None, edit=lambda h: h.update(nonce=old))
        self.assertProblem(r, "badNonce", 400)
        fresh = r.headers["Replay-Nonce"]
        r = c.post(c.kid, None, edit=lambda h: h.update(nonce=fresh))
        self.assertEqual(r.status_code, 200, r.text)  # the account survived the restart


def run_tests(*extra_options):
    """Parses --gateway, --engine, --fixture and `extra_options` (required values) into ARGS, then
    runs the unittest cases of __main__ (also for tests/ra/mac_rotation_e2e.py, which imports this)."""
    global ARGS
    parser = argparse.ArgumentParser()
    for option in ("--gateway", "--engine", "--fixture", *extra_options):
        parser.add_argument(option, required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(module="__main__", argv=[sys.argv[0]] + rest, verbosity=2)


def main():
    run_tests()


if __name__ == "__main__":
    main()
