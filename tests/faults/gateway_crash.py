#!/usr/bin/python3
"""The gateway SIGKILLed at random points of finalize and of challenge validation (issue 15).

Against the dev appliance brought up by with_appliance.sh: each round starts a finalize (or a
challenge validation) and SIGKILLs ca-gateway after a random delay spanning the request's measured
duration (before the order or challenge is set processing, while the engine signs, before the
outcome is recorded, after), then restarts it with the same command line; every other validation round is held in processing
(the DNS server is paused until the kill) so that a validation is surely interrupted. The client then behaves
as an ACME client does: it polls the order or authorization, and finalizes again (with a NEW CSR)
or posts the challenge again when the server says ready / pending.

Passes when: no order or challenge is left processing, every order is valid, every serial the engine
logged as issued is served by the gateway and is the certificate of its order, and no order has two
certificates. Usage: gateway_crash.py --state STATE_DIR [--rounds N]
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "acme_clients"))
import appliance_cases as ac  # noqa: E402
from acme_client import b64  # noqa: E402

DEADLINE = time.time() + 240  # whole run, seconds


class Gateway:
    """The running ca-gateway: SIGKILL by PID, restart with the same command line (pid file kept
    current so that appliance-dev.sh down stops the last one)."""

    def __init__(self, state):
        self.pidfile = os.path.join(state, "run", "gateway.pid")
        self.log = os.path.join(state, "logs", "gateway.log")
        self.pid = int(open(self.pidfile).read())
        with open(f"/proc/{self.pid}/cmdline", "rb") as f:
            self.cmd = [a.decode() for a in f.read().split(b"\0") if a]
        self.proc = None  # a restarted one is our child
        self.env = None  # the environment of a restart (None: this process's)

    def kill(self):
        os.kill(self.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)
        else:
            for _ in range(200):
                if not os.path.exists(f"/proc/{self.pid}"):
                    break
                time.sleep(0.01)

    def start(self, client):
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                         env=self.env)
        self.pid = self.proc.pid
        with open(self.pidfile, "w") as f:
            f.write(f"{self.pid}\n")
        for _ in range(150):
            try:
                if client.fresh().get(client.url("/directory"), timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited at restart with {self.proc.returncode}")
            time.sleep(0.1)
        raise AssertionError("gateway did not answer 15 s after its restart")


class Client(ac.AcmeClient):
    def fresh(self):
        """A new HTTP session: the old one may hold a connection to the killed process."""
        verify = self.s.verify
        self.s = requests.Session()
        self.s.trust_env = False
        self.s.verify = verify
        return self.s

    def get_json(self, url):
        for _ in range(20):
            try:
                r = self.post(url, None)
                if r.status_code == 200:
                    return r.json()
            except requests.RequestException:
                self.fresh()
            time.sleep(0.2)
        raise AssertionError(f"POST-as-GET {url} kept failing")

    def wait_status(self, url, leave, timeout=30):
        """Polls until the resource's status is not in `leave` (bounded)."""
        deadline = min(time.time() + timeout, DEADLINE)
        while True:
            body = self.get_json(url)
            if body["status"] not in leave or time.time() > deadline:
                return body
            time.sleep(0.2)

    def ready_order(self, name):
        """A new order for `name`, its dns-01 challenge solved: (order URL, order)."""
        r = self.new_order(name)
        assert r.status_code == 201, r.text
        order, url = r.json(), r.headers["Location"]
        self.solve_dns01(order)
        return url, self.wait_status(url, ("pending",))

    def set_txt(self, order):
        authz = self.get_json(order["authorizations"][0])
        chall = next(c for c in authz["challenges"] if c["type"] == "dns-01")
        digest = ac.hashlib.sha256(f"{chall['token']}.{self.key.thumbprint()}".encode()).digest()
        ac.dns("/set-txt", {"host": f"_acme-challenge.{authz['identifier']['value']}.", "value": b64(digest)})
        return order["authorizations"][0], chall["url"]

    def finalize(self, order, name, csr=None):
        """POSTs finalize with `csr` (made beforehand when the call is timed), else a fresh one."""
        return self.post(order["finalize"], {"csr": b64(csr or ac.csr_der(ac.rsa_key(), [name]))})


def timed(fn):
    t = time.time()
    fn()
    return time.time() - t


def kill_during(gw, client, request, window):
    """Sends `request` in a thread, SIGKILLs the gateway after a random delay in [0, window], waits
    for the request to end (answer or broken connection), restarts the gateway."""
    thread = threading.Thread(target=lambda: _swallow(request))
    thread.start()
    delay = random.uniform(0, window)
    time.sleep(delay)
    gw.kill()
    thread.join(timeout=30)
    gw.start(client)
    return delay


def _swallow(request):
    try:
        request()
    except requests.RequestException:
        pass


def engine_issued(state):
    """{serial: order id} from the engine's log lines {"event":"issued",...} (and recoveries)."""
    out = {}
    with open(os.path.join(state, "logs", "engine.log")) as f:
        for line in f:
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if j.get("event") == "issued":
                out[j["serial"]] = j.get("order", "")
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--state", required=True)
    p.add_argument("--rounds", type=int, default=10)
    args = p.parse_args()
    ac.ENV.update(ac.load_env(os.path.join(args.state, "appliance.env")))
    gw = Gateway(args.state)
    c = Client()
    c.register()
    tag = os.urandom(3).hex()
    suffix = ac.ENV["SUFFIX"]
    orders = {}  # order URL -> name
    fails = []

    # The windows: one undisturbed finalize and validation, measured.
    name = f"base-{tag}.{suffix}"
    url, order = c.ready_order(name)
    orders[url] = name
    csr = ac.csr_der(ac.rsa_key(), [name])
    fin_time = timed(lambda: c.finalize(order, name, csr))
    r = c.new_order(f"basev-{tag}.{suffix}")
    order, vurl = r.json(), r.headers["Location"]
    orders[vurl] = f"basev-{tag}.{suffix}"
    authz_url, chall_url = c.set_txt(order)
    val_time = timed(lambda: (c.post(chall_url, {}), c.wait_status(authz_url, ("pending",))))
    print(f"finalize takes {fin_time * 1000:.0f} ms, validation {val_time * 1000:.0f} ms")

    # Finalize rounds: the gateway killed at a random point of each.
    for i in range(args.rounds):
        name = f"fin{i}-{tag}.{suffix}"
        url, order = c.ready_order(name)
        orders[url] = name
        csr = ac.csr_der(ac.rsa_key(), [name])
        delay = kill_during(gw, c, lambda: c.finalize(order, name, csr), fin_time * 1.5)
        after = c.wait_status(url, ("processing",))
        print(f"finalize round {i}: killed after {delay * 1000:.0f} ms; order then {after['status']}")
        if after["status"] == "ready":  # killed before processing: finalize again, another CSR
            c.finalize(after, name)

    # Validation rounds: the gateway killed at a random point of each.
    for i in range(args.rounds):
        name = f"val{i}-{tag}.{suffix}"
        r = c.new_order(name)
        assert r.status_code == 201, r.text
        order, url = r.json(), r.headers["Location"]
        orders[url] = name
        authz_url, chall_url = c.set_txt(order)
        if i % 2:
            # Held in processing: the DNS server (pebble-challtestsrv, started by this test's
            # appliance) is paused, so the validation is waiting for its TXT answer when the gateway
            # is killed; DNS answers again before the restart.
            dns_pid = int(ac.ENV["CHALLTESTSRV_PID"])
            os.kill(dns_pid, signal.SIGSTOP)
            try:
                c.post(chall_url, {})
                time.sleep(1.0)
                gw.kill()
            finally:
                os.kill(dns_pid, signal.SIGCONT)
            gw.start(c)
            delay = 1.0
        else:
            delay = kill_during(gw, c, lambda: c.post(chall_url, {}), val_time * 1.5)
        authz = c.wait_status(authz_url, ("processing",))
        chall = next(x for x in authz["challenges"] if x["type"] == "dns-01")
        print(f"validation round {i}: killed after {delay * 1000:.0f} ms; challenge then {chall['status']}")
        if chall["status"] == "pending":  # killed before the POST was recorded: post it again
            c.post(chall_url, {})

    # Every order ends: finalize the validated ones (no kill), then check.
    for url in orders:
        order = c.wait_status(url, ("pending", "processing"))
        if order["status"] == "ready":
            c.finalize(order, orders[url])
    final = {url: c.wait_status(url, ("pending", "processing", "ready")) for url in orders}
    stuck = [u for u, o in final.items() if o["status"] == "processing"]
    if stuck:
        fails.append(f"{len(stuck)} order(s) stuck in processing: {stuck}")
    not_valid = {u: o["status"] for u, o in final.items() if o["status"] != "valid"}
    if not_valid:
        fails.append(f"orders not valid: {not_valid}")

    # The engine's certificates: each known to the gateway, one per order, the order's own.
    issued = engine_issued(args.state)
    per_order = {}
    for serial, order_id in issued.items():
        per_order.setdefault(order_id, []).append(serial)
        r = c.post(c.url(f"/acme/cert/{serial}"), None)
        if r.status_code != 200 or "BEGIN CERTIFICATE" not in r.text:
            fails.append(f"serial {serial} (order {order_id}) signed by the engine is unknown to the gateway: "
                         f"{r.status_code} {r.text[:200]}")
    for order_id, serials in per_order.items():
        if len(serials) > 1:
            fails.append(f"order {order_id} has {len(serials)} certificates: {serials}")
    for url, o in final.items():
        order_id = url.rsplit("/", 1)[1]
        serial = o.get("certificate", "").rsplit("/", 1)[-1]
        if o["status"] == "valid" and per_order.get(order_id) != [serial]:
            fails.append(f"order {order_id} serves {serial}, the engine signed {per_order.get(order_id)}")
    print(f"{len(orders)} orders, {len(issued)} certificates signed by the engine")
    for f in fails:
        print("FAIL -", f)
    if not fails:
        print("ok - no order stuck in processing, every engine serial known to the gateway, one per order")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
