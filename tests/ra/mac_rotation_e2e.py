#!/usr/bin/python3
"""MAC key rotation end to end (issue 18, ANSSI R9), with real processes on loopback only:

- a real ca-engine on SoftHSM that verifies EAB in the HSM, and its policy store
  (acme_protocol_policy_fixture engine), a real ca-gateway on it (tests/acme_protocol);
- a real SMTP server (tests/reports/smtp_sink.py, python3-aiosmtpd, STARTTLS + AUTH) that ca-ra
  reaches through the reporter's relay configuration (reports/mail);
- ca-ra itself: ext-account create with --recipient-key and --mac-rotation-days, then
  `ext-account rotate-due --now T` at chosen times (its injectable clock).

Checks: bad input gives one line and changes nothing; no notice before the window; the notice mail
arrives 14 days ahead, once; nothing rotates before the announced time; at that time the key is
replaced once and the mail holds it only encrypted to the recipient key; `openssl pkeyutl
-decrypt` opens it; the new key registers a new ACME account with EAB, the old key is refused, the
ACME account made with the old key keeps working; a relay that cannot be reached is audited as a
failure (notice and delivery) and retried by the next run, the rotated key kept sealed meanwhile.
Ports: 23000-23900. Stops what it starts, by PID.
"""
import base64
import email
import email.policy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "acme_protocol"))
import acme_protocol_test as proto  # noqa: E402
from acme_client import URN, Client, b64d  # noqa: E402

ARGS = None  # set in setUpClass from proto.ARGS
DAY = 86400
NOTICE_DAYS = 14
PERIOD_DAYS = 30


_GIVEN = set()


def free_port():
    """A free loopback port in this test's range (23000-23900), never the same one twice."""
    for port in range(23000 + os.getpid() % 400, 23900):
        if port in _GIVEN:
            continue
        _GIVEN.add(port)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port in 23000-23900")


class Gateway(proto.Gateway):
    _free_port = staticmethod(free_port)


class SmtpSink:
    """tests/reports/smtp_sink.py: STARTTLS and AUTH required, each mail saved as DIR/NNN.eml."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "mail")
        os.makedirs(self.dir)
        self.cert, key = os.path.join(workdir, "smtp-cert.pem"), os.path.join(workdir, "smtp-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", self.cert, "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
        self.password_file = os.path.join(workdir, "smtp-password")
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("relay-pw-" + os.urandom(6).hex())
        self.port = free_port()
        ready = os.path.join(workdir, "smtp.ready")
        self.log = open(os.path.join(workdir, "smtp.log"), "ab")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(HERE, "..", "reports", "smtp_sink.py"), "--port", str(self.port),
             "--cert", self.cert, "--key", key, "--dir", self.dir, "--user", "ra",
             "--password-file", self.password_file, "--ready-file", ready],
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 15
        while not os.path.exists(ready):
            if time.time() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("SMTP sink did not start")
            time.sleep(0.1)

    def mails(self):
        out = []
        for name in sorted(n for n in os.listdir(self.dir) if n.endswith(".eml")):
            with open(os.path.join(self.dir, name), "rb") as f:
                msg = email.message_from_binary_file(f, policy=email.policy.default)
            with open(os.path.join(self.dir, name[:-4] + ".json")) as f:
                envelope = json.load(f)
            out.append((msg, envelope))
        return out

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc = None
        self.log.close()


def html_of(msg):
    return msg.get_body(preferencelist=("html",)).get_content()


class MacRotationE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="mac-rotation-e2e-")
        global ARGS
        ARGS = proto.ARGS
        cls.engine = cls.gw = cls.smtp = None
        try:
            cls.engine = proto.Engine(cls.workdir)
            cls.policy = cls.engine.info
            cls.gw = Gateway(cls.workdir, cls.policy)
            cls.gw.start()
            cls.smtp = SmtpSink(cls.workdir)
        except Exception:
            cls.tearDownClass()
            raise
        cls.report_config = cls.write_report_config("report.json", cls.smtp.port)
        # A relay nobody listens on: the failure path.
        cls.dead_config = cls.write_report_config("report-dead.json", free_port())
        cls.norelay_config = cls.write_report_config("report-norelay.json", None)
        cls.ra_conf = os.path.join(cls.workdir, "ra.conf")
        with open(cls.ra_conf, "w") as f:
            f.write(f"store = {cls.policy['policy']}\n"
                    f"mac_wrap_public_key = {cls.policy['mac_wrap_public_key']}\n"
                    f"report_config = {cls.report_config}\n"
                    f"mac_rotation_notice_days = {NOTICE_DAYS}\n")
        # The same with a default period for every account (MAC_ROTATION_DAYS).
        cls.ra_default_conf = os.path.join(cls.workdir, "ra-default.conf")
        with open(cls.ra_conf) as src, open(cls.ra_default_conf, "w") as dst:
            dst.write(src.read() + f"mac_rotation_days = {PERIOD_DAYS}\n")
        cls.recipient_key = os.path.join(cls.workdir, "requester.key")
        cls.recipient_pub = os.path.join(cls.workdir, "requester.pub")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", cls.recipient_key], check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", cls.recipient_key, "-pubout", "-out", cls.recipient_pub],
                       check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        for started in (cls.smtp, cls.gw, cls.engine):
            if started is not None:
                started.stop()
        if not os.environ.get("KEEP_STATE"):
            shutil.rmtree(cls.workdir, ignore_errors=True)

    @classmethod
    def write_report_config(cls, name, port):
        path = os.path.join(cls.workdir, name)
        with open(path, "w") as f:
            json.dump({"audit_files": {}, "policy_store": cls.policy["policy"],
                       "state_dir": os.path.join(cls.workdir, "report-state"),
                       "report_dir": os.path.join(cls.workdir, "report-files"),
                       "smtp": None if port is None else {
                           "url": f"smtp://127.0.0.1:{port}", "from": "ACME CA <ra@ca.test>",
                           "ca_file": cls.smtp.cert, "username": "ra",
                           "password_file": cls.smtp.password_file, "timeout_seconds": 10}}, f)
        return path

    def ra(self, *args, expect=0, conf=None):
        r = subprocess.run([ARGS.ca_ra, "--config", conf or self.ra_conf, "--actor", "rotation-e2e", *args],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, expect, f"ca-ra {' '.join(args)}: {r.stdout}{r.stderr}")
        return r

    def ra_json(self, *args, expect=0, conf=None):
        return json.loads(self.ra("--json", *args, expect=expect, conf=conf).stdout)

    def snapshot(self):
        s = self.ra_json("dump-snapshot")
        s.pop("generated_at", None)
        return s

    def decrypt(self, sealed_b64):
        sealed = os.path.join(self.workdir, "sealed.bin")
        with open(sealed, "wb") as f:
            f.write(base64.b64decode(sealed_b64))
        r = subprocess.run(["openssl", "pkeyutl", "-decrypt", "-inkey", self.recipient_key,
                            "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
                            "-pkeyopt", "rsa_mgf1_md:sha256", "-in", sealed],
                           capture_output=True, text=True, check=True)
        return r.stdout.strip()

    def new_account(self, kid, mac_text):
        c = Client(self.gw.base)
        r = c.new_account(c.eab(kid, b64d(mac_text)))
        return c, r

    def assert_refused_unchanged(self, args, message):
        before = self.snapshot()
        r = self.ra(*args, expect=1)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(message, lines[0])
        self.assertEqual(self.snapshot(), before)

    def test_rotation(self):
        org = self.policy["org"]
        common = ["--org", org, "--contact", "Rita Requester <rita@req.example>", "--active",
                  "--profiles", "SSL", "--challenges", "http-01"]
        # Bad input: one line, nothing changed.
        self.assert_refused_unchanged(["ext-account", "create", *common, "--show-mac-key",
                                       "--mac-rotation-days", "30"], "needs the requester's recipient key")
        self.assert_refused_unchanged(["ext-account", "create", *common, "--recipient-key", self.recipient_pub,
                                       "--mac-rotation-days", "10"], "longer than the notice lead time (14 days")
        self.assert_refused_unchanged(["ext-account", "create", *common, "--recipient-key", self.recipient_pub,
                                       "--mac-rotation-days", "ten"], "must be a number of days")
        self.assert_refused_unchanged(["ext-account", "create", "--org", org, "--contact", "Rita, no mail",
                                       "--active", "--recipient-key", self.recipient_pub,
                                       "--mac-rotation-days", "30"], "give a contact with a mail address")
        self.assert_refused_unchanged(["ext-account", "rotate-due", "--now", "yesterday"], "")

        created = self.ra_json("ext-account", "create", *common, "--recipient-key", self.recipient_pub,
                               "--mac-rotation-days", str(PERIOD_DAYS))
        kid = created["kid"]
        acct = created["external_account"]
        self.assertEqual(acct["mac_rotation"]["period_days"], PERIOD_DAYS)
        self.assertTrue(acct["mac_rotation"]["recipient_key"])
        issued = acct["mac_rotation"]["key_issued_at"]
        old_mac = self.decrypt(created["mac_key_encrypted"])
        due = issued + PERIOD_DAYS * DAY

        # The key works: a real newAccount with EAB, verified by the engine in the HSM.
        old_client, r = self.new_account(kid, old_mac)
        self.assertEqual(r.status_code, 201, r.text)

        def rotate_due(t, config=None, expect=0, conf=None):
            args = ["ext-account", "rotate-due", "--now", f"@{t}"]
            if config:
                args += ["--report-config", config]
            return self.ra_json(*args, expect=expect, conf=conf)["accounts"]

        def mine(lines):
            return [(l["result"], l["detail"]) for l in lines if l["kid"] == kid]

        # Before the notice window: nothing, no mail.
        self.assertEqual(mine(rotate_due(due - NOTICE_DAYS * DAY - 1)), [])
        self.assertEqual(self.smtp.mails(), [])
        # No relay configured: nobody told, nothing rotated, nothing written. With a default period
        # (MAC_ROTATION_DAYS), an account without a recipient key is listed, not rotated.
        plain = self.ra_json("ext-account", "create", *common, "--show-mac-key")["kid"]
        before = self.snapshot()
        blocked = mine(rotate_due(due - NOTICE_DAYS * DAY, self.norelay_config))
        self.assertEqual(blocked, [("not rotated", f"no SMTP relay in {self.norelay_config}")])
        listed = [(l["result"], l["detail"]) for l in
                  rotate_due(due - NOTICE_DAYS * DAY, self.norelay_config, conf=self.ra_default_conf)
                  if l["kid"] == plain]
        self.assertEqual(len(listed), 1, listed)
        self.assertEqual(listed[0][0], "not rotated")
        self.assertIn("no recipient key registered", listed[0][1])
        self.assertEqual(self.snapshot(), before)
        # The relay cannot be reached: audited as a failure, nothing recorded as announced.
        failed = mine(rotate_due(due - NOTICE_DAYS * DAY, self.dead_config, expect=1))
        self.assertEqual(failed[0][0], "notice failed", failed)
        self.assertEqual(self.ra_json("ext-account", "show", kid)["mac_rotation"]["announced_at"], 0)
        # The notice, 14 days ahead; a second run sends no second one.
        noticed = mine(rotate_due(due - NOTICE_DAYS * DAY))
        self.assertEqual(noticed[0][0], "notice sent", noticed)
        self.assertEqual(mine(rotate_due(due - NOTICE_DAYS * DAY + 60)), [])
        mails = self.smtp.mails()
        self.assertEqual(len(mails), 1)
        notice, envelope = mails[0]
        self.assertEqual(envelope["rcpt_tos"], ["rita@req.example"])
        self.assertTrue(envelope["tls"] and envelope["auth"])
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(due))
        self.assertEqual(notice["Subject"], f"ACME external account {kid}: MAC key replaced on {when}")
        self.assertIn(f"<b>{when}</b>", html_of(notice))
        self.assertIn("keep working", html_of(notice))

        # Not before the announced time.
        self.assertEqual(mine(rotate_due(due - 1)), [])
        _, r = self.new_account(kid, old_mac)
        self.assertEqual(r.status_code, 201, r.text)
        # At the announced time, the relay down: rotated once, the sealed key kept for the next run
        # (and shown to the operator, still sealed).
        rotated = mine(rotate_due(due, self.dead_config, expect=1))
        self.assertEqual([x[0] for x in rotated], ["rotated", "delivery failed"], rotated)
        pending = self.ra_json("ext-account", "show", kid)
        self.assertTrue(pending["mac_rotation"]["delivery_pending"])
        kept = self.decrypt(pending["mac_key_encrypted"])
        # The next run: no second rotation, the key delivered sealed; then nothing more.
        delivered = mine(rotate_due(due + 60))
        self.assertEqual([x[0] for x in delivered], ["key delivered"], delivered)
        self.assertEqual(mine(rotate_due(due + 120)), [])
        mails = self.smtp.mails()
        self.assertEqual(len(mails), 2)
        key_mail, envelope = mails[1]
        self.assertEqual(envelope["rcpt_tos"], ["rita@req.example"])
        attachments = list(key_mail.iter_attachments())
        self.assertEqual([a.get_filename() for a in attachments], [f"mac-key-{kid}.b64"])
        sealed = attachments[0].get_content().strip()
        new_mac = self.decrypt(sealed)
        self.assertEqual(new_mac, kept)
        self.assertNotEqual(new_mac, old_mac)
        self.assertEqual(len(b64d(new_mac)), 32)
        raw = open(os.path.join(self.smtp.dir, "002.eml"), "rb").read()
        self.assertNotIn(new_mac.encode(), raw)  # never in clear in the mail
        shown = self.ra_json("ext-account", "show", kid)
        self.assertFalse(shown["mac_rotation"]["delivery_pending"])
        self.assertNotIn("mac_key_encrypted", shown)
        self.assertEqual(shown["mac_regenerations"], 1)

        # The new key registers; the old one is refused; the ACME account made before keeps working.
        _, r = self.new_account(kid, new_mac)
        self.assertEqual(r.status_code, 201, r.text)
        _, r = self.new_account(kid, old_mac)
        self.assertEqual(r.status_code, 403, r.text)
        self.assertEqual(r.json()["type"], URN + "unauthorized")
        self.assertEqual(old_client.post(old_client.kid, None).json()["status"], "valid")

        # The audit trail: the failure, the notice, the rotation, the delivery.
        actions = [a["action"] for a in self.ra_json("audit", "--account", kid)]
        self.assertEqual(actions, ["ext-account.create", "ext-account.mac-rotation-failed",
                                   "ext-account.mac-rotation-notice", "ext-account.rotate-mac",
                                   "ext-account.mac-rotation-failed", "ext-account.mac-key-delivered"])
        audit_text = self.ra("--json", "audit", "--account", kid).stdout
        self.assertNotIn(new_mac, audit_text)
        self.assertNotIn(sealed, audit_text)


def main():
    proto.run_tests("--ca-ra")


if __name__ == "__main__":
    main()
