#!/usr/bin/python3
"""Connection exhaustion (issue 14): one LAN host opens 1,000 TLS connections to ca-gateway and 1,000
plain connections to ca-status-server, each trickling one request byte every 10 s (reconnecting when
the server drops it). Meanwhile clients on other source addresses (127.0.0.2, 127.0.0.3) must get the
ACME directory and an OCSP answer within 1 s each, and the gateway must close every connection that has
not delivered a complete request within its request deadline (10 s by default), including connections
that never start the TLS handshake.

The real ca-gateway (no engine: the directory needs none) and ca-status-server (a store published by
ca-status-publish for a CA made here with the openssl CLI) run on 127.0.0.1 with their default limits;
the attacker runs in a child process (this script with --attack) so its event loop never delays the
probes. Bounded: about 40 s. Every process is stopped by PID.
"""
import argparse
import asyncio
import base64
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "acme_protocol"))

ATTACK_CONNECTIONS = 1000  # per server, from 127.0.0.1
TRICKLE_SECONDS = 10
SILENT_SOURCE = "127.0.0.4"  # TCP connections to the gateway that never send a byte (no TLS handshake)
SILENT_CONNECTIONS = 5
PROBE_SOURCES = ["127.0.0.2", "127.0.0.3"]
PROBE_LIMIT_SECONDS = 1.0
# The machine running the suite is shared (2 cores, parallel builds): a probe may lose the CPU for a
# moment. Each probe must answer correctly; at most this share may take more than 1 s, none more than 3 s.
SLOW_SHARE = 0.1
PROBE_TIMEOUT_SECONDS = 3.0
PROBE_WINDOW_SECONDS = 16
ATTACK_SECONDS = 30
# The gateway's default request deadline (listen.request_deadline_seconds) plus scheduling slack (the
# inactivity timeout, 30 s, is what closed stalled connections before).
DEADLINE_SECONDS = 10 + 5


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --------------------------------------------------------------------------------------------------
# The attacker (child process): prints one JSON line when its connections are open, one at the end.

class Held:
    def __init__(self):
        self.opened = 0          # connections that completed TCP (and TLS) setup
        self.refused = 0         # attempts the server refused or dropped before setup completed
        self.closed_by_server = []  # lifetimes (s) of connections the server closed
        self.open_since = {}     # id -> monotonic open time


async def hold_one(host, port, source, tls, held, stop_at, trickle, key):
    request = b"GET /directory HTTP/1.1\r\nHost: x\r\n"
    await asyncio.sleep(key * 0.003)  # the initial burst over ~3 s, as one host's stack would open it
    while time.monotonic() < stop_at:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=tls, server_hostname="127.0.0.1" if tls else None,
                                        local_addr=(source, 0)), 15)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            held.refused += 1
            await asyncio.sleep(1)
            continue
        held.opened += 1
        start = time.monotonic()
        held.open_since[key] = start
        i = 0
        closed = False
        while time.monotonic() < stop_at and not closed:
            if trickle:
                try:
                    writer.write(request[i % len(request):i % len(request) + 1])
                    await writer.drain()
                except (OSError, ssl.SSLError):
                    closed = True
                    break
                i += 1
            try:
                data = await asyncio.wait_for(reader.read(1), min(TRICKLE_SECONDS, max(0.1, stop_at - time.monotonic())))
                closed = data == b""
            except asyncio.TimeoutError:
                pass
            except (OSError, ssl.SSLError):
                closed = True
        held.open_since.pop(key, None)
        if closed:
            held.closed_by_server.append(time.monotonic() - start)
        writer.transport.abort()
        await asyncio.sleep(0.5)


async def attack(gateway_port, status_port):
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    stop_at = time.monotonic() + ATTACK_SECONDS
    gw, st, silent = Held(), Held(), Held()
    tasks = []
    for n in range(ATTACK_CONNECTIONS):
        tasks.append(asyncio.create_task(hold_one("127.0.0.1", gateway_port, "127.0.0.1", tls, gw, stop_at, True, n)))
        tasks.append(asyncio.create_task(hold_one("127.0.0.1", status_port, "127.0.0.1", None, st, stop_at, True, n)))
    for n in range(SILENT_CONNECTIONS):
        tasks.append(asyncio.create_task(hold_one("127.0.0.1", gateway_port, SILENT_SOURCE, None, silent, stop_at,
                                                  False, n)))
    await asyncio.sleep(6)  # the burst is open (or refused) by now
    print(json.dumps({"ready": True, "gateway_open": len(gw.open_since), "status_open": len(st.open_since)}),
          flush=True)
    await asyncio.sleep(max(0.0, stop_at - 0.5 - time.monotonic()))
    now = time.monotonic()
    oldest = {id(h): max((now - t for t in h.open_since.values()), default=0.0) for h in (gw, st, silent)}
    await asyncio.gather(*tasks)

    def summary(h):
        return {"opened": h.opened, "refused": h.refused, "closed_by_server": len(h.closed_by_server),
                "longest_closed": round(max(h.closed_by_server, default=0.0), 2),
                "still_open_oldest": round(oldest[id(h)], 2)}
    print(json.dumps({"gateway": summary(gw), "status": summary(st), "silent": summary(silent)}), flush=True)


# --------------------------------------------------------------------------------------------------
# The servers and the probes (parent process).

def make_status_store(work, publish_bin):
    """A CA, a delegated OCSP signer and one leaf made with the openssl CLI, published into a store."""
    def run(*cmd):
        subprocess.run(cmd, cwd=work, check=True, capture_output=True)
    with open(os.path.join(work, "ext.cnf"), "w") as f:
        f.write("[ocsp]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=OCSPSigning\nnoCheck=ignored\n"
                "[leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:leaf.example.test\n")
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Hostile Test CA", "-days", "30",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, ext, serial in (("ocsp", "ocsp", "0x20"), ("leaf", "leaf", "0x7a01")):
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name)
        run("openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", serial, "-days", "10", "-extfile", "ext.cnf", "-extensions", ext, "-out", name + ".pem")
    run(publish_bin, "--store", "status-store", "--issuer-name", "hostile-ca", "--issuer", "ca.pem",
        "--ocsp-cert", "ocsp.pem", "--ocsp-key", "ocsp.key", "--crl-key", "ca.key", "--cert", "leaf.pem")
    run("openssl", "ocsp", "-issuer", "ca.pem", "-cert", "leaf.pem", "-no_nonce", "-reqout", "req.der")
    with open(os.path.join(work, "req.der"), "rb") as f:
        return base64.urlsafe_b64encode(f.read()).decode().rstrip("=")


def start_status_server(work, server_bin):
    with open(os.path.join(work, "status.json"), "w") as f:
        json.dump({"listen_address": "127.0.0.1", "port": 0, "store": os.path.join(work, "status-store"),
                   "issuers": ["hostile-ca"], "max_age_seconds": 600, "threads": 2}, f)
    log_path = os.path.join(work, "status.log")
    log = open(log_path, "wb")
    proc = subprocess.Popen([server_bin, "--config", os.path.join(work, "status.json")], stdout=log, stderr=log)
    deadline = time.time() + 10
    while time.time() < deadline:
        m = re.search(rb'"event":"listening"[^}]*"port":(\d+)', open(log_path, "rb").read())
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError("ca-status-server did not start: " + open(log_path).read())


def timed(fn):
    start = time.monotonic()
    try:
        ok, what = fn()
    except Exception as e:  # noqa: BLE001 - any failure of a probe is reported, not raised
        ok, what = False, f"{type(e).__name__}: {e}"
    return ok, what, time.monotonic() - start


def directory_probe(port, source):
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT_SECONDS, context=tls,
                                    source_address=(source, 0))
    try:
        c.request("GET", "/directory")
        r = c.getresponse()
        body = r.read()
        ok = r.status == 200 and "newNonce" in json.loads(body)
        return ok, f"HTTP {r.status}"
    finally:
        c.close()


def ocsp_probe(port, source, request_b64):
    from cryptography.x509 import ocsp
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT_SECONDS, source_address=(source, 0))
    try:
        c.request("GET", "/ocsp/" + request_b64)
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            return False, f"HTTP {r.status}"
        resp = ocsp.load_der_ocsp_response(body)
        if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return False, resp.response_status.name
        statuses = [single.certificate_status for single in resp.responses]
        return all(s == ocsp.OCSPCertStatus.GOOD for s in statuses), f"certificate status {statuses}"
    finally:
        c.close()


def stop(proc):
    if proc is not None and proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def run(args):
    import acme_protocol_test as apt
    apt.ARGS = argparse.Namespace(gateway=args.gateway, fixture=args.fixture, engine=args.engine)
    work = tempfile.mkdtemp(prefix="hostile-conn-")
    status_proc = attacker = gw = engine = None
    failures = []
    try:
        print(f"file descriptor limit: {raise_fd_limit()} (the servers inherit it)")
        engine = apt.Engine(work)  # the policy store and the real ca-engine that verifies EAB
        policy = engine.info
        request_b64 = make_status_store(work, args.publish)
        status_proc, status_port = start_status_server(work, args.status_server)
        gw = apt.Gateway(work, policy)
        gw.start()
        print(f"gateway https://127.0.0.1:{gw.port}, status server http://127.0.0.1:{status_port}")
        for source in PROBE_SOURCES:  # both answer before the attack
            for name, probe in (("directory", lambda: directory_probe(gw.port, source)),
                                ("ocsp", lambda: ocsp_probe(status_port, source, request_b64))):
                ok, what, took = timed(probe)
                if not ok:
                    failures.append(f"before the attack: {name} from {source}: {what}")

        attacker = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--attack-gateway", str(gw.port),
                                     "--attack-status", str(status_port)], stdout=subprocess.PIPE, text=True)
        ready = json.loads(attacker.stdout.readline() or "{}")
        print("attack under way:", ready)
        if not ready.get("ready"):
            raise RuntimeError("the attacker did not start")

        probes = slow = 0
        end = time.monotonic() + PROBE_WINDOW_SECONDS
        while time.monotonic() < end:
            for source in PROBE_SOURCES:
                for name, probe in (("directory", lambda: directory_probe(gw.port, source)),
                                    ("ocsp", lambda: ocsp_probe(status_port, source, request_b64))):
                    ok, what, took = timed(probe)
                    probes += 1
                    if not ok or took > PROBE_TIMEOUT_SECONDS:
                        failures.append(f"under attack: {name} from {source}: {what} after {took:.2f} s")
                    elif took > PROBE_LIMIT_SECONDS:
                        slow += 1
                        print(f"slow: {name} from {source}: {what} after {took:.2f} s")
            time.sleep(0.5)
        print(f"{probes} probes under attack: {probes - slow} answered within {PROBE_LIMIT_SECONDS} s, {slow} slower "
              f"(at most {PROBE_TIMEOUT_SECONDS} s), {len(failures)} failed")
        if slow > SLOW_SHARE * probes:
            failures.append(f"{slow} of {probes} probes took more than {PROBE_LIMIT_SECONDS} s")

        final = json.loads(attacker.stdout.readline() or "{}")
        attacker.wait(timeout=30)
        print("attacker:", json.dumps(final))
        g, s = final.get("gateway", {}), final.get("status", {})
        if g.get("opened", 0) < 10 or s.get("opened", 0) < 10:
            failures.append("the attack did not open connections: " + json.dumps(final))
        for name in ("gateway", "silent"):
            h = final.get(name, {})
            if h.get("closed_by_server", 0) == 0:
                failures.append(f"{name}: no stalled connection was closed by the gateway")
            if h.get("longest_closed", 0) > DEADLINE_SECONDS or h.get("still_open_oldest", 0) > DEADLINE_SECONDS:
                failures.append(f"{name}: a connection without a complete request stayed open more than "
                                f"{DEADLINE_SECONDS} s: {json.dumps(h)}")
        if gw.proc.poll() is not None or status_proc.poll() is not None:
            failures.append("a server exited during the attack")
    finally:
        stop(attacker)
        if gw is not None and gw.proc is not None:
            gw.stop()
        if engine is not None:
            engine.stop()
        stop(status_proc)
        if failures:
            for name in ("gateway.log", "status.log"):
                path = os.path.join(work, name)
                if os.path.exists(path):
                    print(f"--- last lines of {name}:\n" + "".join(open(path, errors="replace").readlines()[-5:]))
        shutil.rmtree(work, ignore_errors=True)
    for f in failures[:20]:
        print("FAIL:", f)
    if len(failures) > 20:
        print(f"... and {len(failures) - 20} more")
    print("PASS" if not failures else f"FAILED ({len(failures)})")
    return 0 if not failures else 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway")
    parser.add_argument("--fixture")
    parser.add_argument("--engine")
    parser.add_argument("--status-server")
    parser.add_argument("--publish")
    parser.add_argument("--attack-gateway", type=int)
    parser.add_argument("--attack-status", type=int)
    args = parser.parse_args()
    if args.attack_gateway:
        raise_fd_limit()
        asyncio.run(attack(args.attack_gateway, args.attack_status))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
