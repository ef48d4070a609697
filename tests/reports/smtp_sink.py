#!/usr/bin/python3
"""A real SMTP server on loopback for the report mail e2e test (Debian python3-aiosmtpd).

STARTTLS required (aiosmtpd refuses MAIL before it), AUTH required after TLS (LOGIN/PLAIN checked
against --user and the password in --password-file), each message saved as DIR/NNN.eml with its
envelope in DIR/NNN.json. Writes --ready-file once listening; runs until SIGTERM.
"""
import argparse
import json
import os
import signal
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Saver:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            base = os.path.join(self.out_dir, "%03d" % self.count)
        with open(base + ".json.tmp", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "tls": session.ssl is not None, "auth": bool(session.authenticated)}, f)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(base + ".json.tmp", base + ".json")
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 saved as %03d" % self.count


def main():
    p = argparse.ArgumentParser()
    for a in ("--port", "--cert", "--key", "--dir", "--user", "--password-file", "--ready-file"):
        p.add_argument(a, required=True)
    args = p.parse_args()
    password = open(args.password_file).read().strip().encode()
    user = args.user.encode()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = getattr(auth_data, "login", None) == user and getattr(auth_data, "password", None) == password
        return AuthResult(success=ok, handled=False)

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(args.cert, args.key)
    controller = Controller(Saver(args.dir), hostname="127.0.0.1", port=int(args.port),
                            tls_context=tls, require_starttls=True, authenticator=authenticator,
                            auth_required=True, auth_require_tls=True)
    controller.start()
    with open(args.ready_file, "w") as f:
        f.write("ready\n")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
