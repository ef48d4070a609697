#!/usr/bin/python3
"""Validator SSRF, black box: a real ca-gateway validates http-01 challenges whose name resolves to,
or redirects to, an address outside validation.allowed_networks, or whose responder sends a Location
built to inject into the validator's request, or a body that must not come back in the error.

Names resolve through pebble-challtestsrv's DNS (Debian package pebble). Listeners on 127.0.0.2
(not listed: "the internal service") and 127.0.0.3 (listed: "the attacker's responder") record every
connection, so "the validator never connected there" is asserted, not assumed.

HOSTILE_OMIT_ALLOW_LIST=1 leaves allowed_networks out of the gateway config (to run this test against
a gateway from before the allow-list, which refuses the key).
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "acme_protocol"))
from acme_client import URN, b64d  # noqa: E402
import acme_protocol_test as proto  # noqa: E402

FORBIDDEN, RESPONDER = "127.0.0.2", "127.0.0.3"


class Listener:
    """TCP listener on ip:port answering each connection with handler(request bytes) and recording
    the raw requests (one entry per connection)."""

    def __init__(self, ip, port, handler):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.requests = []
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                conn.settimeout(3)
                data = b""
                try:
                    while b"\r\n\r\n" not in data and len(data) < 65536:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    # whatever follows the head (a second, injected request) arrives within a moment
                    conn.settimeout(0.3)
                    try:
                        data += conn.recv(4096)
                    except socket.timeout:
                        pass
                except OSError:
                    pass
                self.requests.append(data)
                try:
                    conn.sendall(self.handler(data))
                except OSError:
                    pass

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()


def response(status, body=b"", headers=b""):
    reason = {200: b"OK", 302: b"Found", 404: b"Not Found"}[status]
    return (b"HTTP/1.1 %d %s\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n"
            % (status, reason, headers, len(body)) + body)


def free_port_on_both():
    """A port free on FORBIDDEN and RESPONDER alike (the validator dials one http-01 port)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((FORBIDDEN, 0))
            port = s.getsockname()[1]
        try:
            with socket.socket() as s:
                s.bind((RESPONDER, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no common free port")


class ChallTestSrv:
    def __init__(self):
        self.dns_port = proto.Gateway._free_port()
        self.mgmt_port = proto.Gateway._free_port()
        self.proc = subprocess.Popen(
            ["pebble-challtestsrv", "-management", f"127.0.0.1:{self.mgmt_port}",
             "-dns01", f"127.0.0.1:{self.dns_port}", "-http01", "", "-https01", "", "-tlsalpn01", "",
             "-defaultIPv4", FORBIDDEN, "-defaultIPv6", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline and self.proc.poll() is None:
            try:
                self.post("/clear-a", {"host": "probe.test."})
                return
            except requests.exceptions.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("pebble-challtestsrv did not start")

    def post(self, path, body):
        r = requests.post(f"http://127.0.0.1:{self.mgmt_port}{path}", json=body, timeout=5)
        r.raise_for_status()

    def set_a(self, host, address):
        self.post("/clear-a", {"host": host + "."})
        self.post("/add-a", {"host": host + ".", "addresses": [address]})

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class ValidatorSsrfTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="hostile-ssrf-")
        cls.addClassCleanup(shutil.rmtree, cls.workdir, ignore_errors=True)
        import json
        cls.engine = proto.Engine(cls.workdir)  # the policy store and the real ca-engine (EAB)
        cls.addClassCleanup(cls.engine.stop)
        cls.policy = cls.engine.info
        cls.dns = ChallTestSrv()
        cls.addClassCleanup(cls.dns.stop)
        cls.http01_port = free_port_on_both()
        cls.forbidden = Listener(FORBIDDEN, cls.http01_port, lambda req: response(200, b"internal secret"))
        cls.addClassCleanup(cls.forbidden.stop)
        cls.route = {}  # path -> raw response of the attacker's responder
        cls.responder = Listener(RESPONDER, cls.http01_port, cls._respond)
        cls.addClassCleanup(cls.responder.stop)
        cls.gw = proto.Gateway(cls.workdir, cls.policy)
        with open(cls.gw.config) as f:
            config = json.load(f)
        config["validation"] = {"resolver": f"127.0.0.1:{cls.dns.dns_port}", "http01_port": cls.http01_port,
                                "https_port": cls.http01_port, "connect_timeout_ms": 2000,
                                "io_timeout_ms": 3000, "dns_timeout_seconds": 1, "dns_attempts": 1}
        if os.environ.get("HOSTILE_OMIT_ALLOW_LIST") != "1":
            config["validation"]["allowed_networks"] = [RESPONDER + "/32"]
        with open(cls.gw.config, "w") as f:
            json.dump(config, f)
        cls.addClassCleanup(cls.gw.stop)
        cls.gw.start()

    @classmethod
    def _respond(cls, request):
        path = request.split(b" ", 2)[1].decode("latin-1") if request.count(b" ") >= 2 else ""
        for suffix, raw in cls.route.items():
            if path.endswith(suffix):
                return raw
        return response(404)

    def validate(self, name, address):
        """Points `name` at `address`, answers an http-01 challenge for it, returns the challenge's
        final state and the token."""
        self.dns.set_a(name, address)
        c = proto.Client(self.gw.base)
        r = c.new_account(c.eab(self.policy["kid"], b64d(self.policy["mac"])))
        self.assertEqual(r.status_code, 201, r.text)
        r = c.new_order(name)
        self.assertEqual(r.status_code, 201, r.text)
        authz = c.post(r.json()["authorizations"][0], None).json()
        ch = next(x for x in authz["challenges"] if x["type"] == "http-01")
        return c, ch

    def finish(self, c, ch):
        r = c.post(ch["url"], {})
        self.assertEqual(r.status_code, 200, r.text)
        deadline = time.time() + 30
        while time.time() < deadline:
            state = c.post(ch["url"], None).json()
            if state["status"] in ("valid", "invalid"):
                return state
            time.sleep(0.2)
        self.fail("challenge still processing: " + str(state))

    def assertRefused(self, state, type_, fragment):
        self.assertEqual(state["status"], "invalid", state)
        self.assertEqual(state["error"]["type"], URN + type_, state)
        self.assertIn(fragment, state["error"]["detail"], state)

    def test_name_resolving_to_unlisted_network_is_never_dialed(self):
        before = len(self.forbidden.requests)
        c, ch = self.validate("a.example.com", FORBIDDEN)
        state = self.finish(c, ch)
        self.assertEqual(len(self.forbidden.requests), before, "the validator connected to " + FORBIDDEN)
        self.assertRefused(state, "connection", "a.example.com resolves to 127.0.0.2")
        self.assertIn("allowed_networks", state["error"]["detail"])

    def test_redirect_into_unlisted_network_is_never_dialed(self):
        self.dns.set_a("internal.example.net", FORBIDDEN)
        before_forbidden, before_responder = len(self.forbidden.requests), len(self.responder.requests)
        c, ch = self.validate("b.example.com", RESPONDER)
        self.route["/" + ch["token"]] = response(302, headers=b"Location: http://internal.example.net/admin\r\n")
        state = self.finish(c, ch)
        self.assertEqual(len(self.forbidden.requests), before_forbidden, "the validator followed the redirect")
        self.assertGreater(len(self.responder.requests), before_responder)
        self.assertRefused(state, "connection", "internal.example.net resolves to 127.0.0.2")

    def test_location_cannot_inject_into_the_request(self):
        before = len(self.responder.requests)
        c, ch = self.validate("a.example.com", RESPONDER)
        self.route["/" + ch["token"]] = response(
            302, headers=b"Location: /x HTTP/1.1\nX-Injected: yes\n\nGET /second\r\n")
        state = self.finish(c, ch)
        seen = self.responder.requests[before:]
        self.assertFalse([r for r in seen if b"X-Injected" in r or b"/second" in r], seen)
        self.assertEqual(len(seen), 1, seen)  # the challenge request only: the redirect was refused
        self.assertRefused(state, "connection", "refused: control character")

    def test_fetched_body_is_not_echoed(self):
        c, ch = self.validate("b.example.com", RESPONDER)
        self.route["/" + ch["token"]] = response(200, b"SECRET-db-password=hunter2")
        state = self.finish(c, ch)
        self.assertEqual(state["status"], "invalid", state)
        self.assertEqual(state["error"]["type"], URN + "incorrectResponse", state)
        self.assertNotIn("SECRET", state["error"]["detail"], state)
        self.assertNotIn("hunter2", state["error"]["detail"], state)


def main():
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--fixture", required=True)
    parser.add_argument("--engine", required=True)
    proto.ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
