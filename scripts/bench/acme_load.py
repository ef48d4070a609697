#!/usr/bin/python3
"""Full-flow ACME load generator (RFC 8555 + EAB + http-01), for any ACME directory.

    /usr/bin/python3 scripts/bench/acme_load.py --env STATE/appliance.env --orders 100 --concurrency 16 \
        --names 1 --http01-port 14002 --server-pids "$ENGINE_PID,$GATEWAY_PID,$STATUS_PID" --json out.json

    /usr/bin/python3 scripts/bench/acme_load.py keys --count 500 --out /tmp/keys.pem   # key pool only

Each of C workers (threads spread over --procs processes, so the client is not held by one GIL)
registers its own ACME account with External Account Binding, then takes orders from a shared
counter until N have been started: newOrder with K fresh names (<random>.SUFFIX), for every
authorization POST-as-GET, answer http-01 through pebble-challtestsrv's management API
(/add-http01, /del-http01), POST the challenge, poll the authorizations until valid, finalize with a
CSR for a fresh RSA-3072 key, poll the order until valid, download the chain and check it (it parses,
the leaf names equal the order's, the leaf key is the CSR's, the leaf is signed by the next
certificate). Keys and CSRs are made before the timed window, in parallel processes (a key pool
file can be kept across runs with --key-pool; --key-offset picks unused keys from it).

The timed window starts when every account exists and ends when the last flow ends. Reported (JSON
with --json, and a table on stdout): orders/s, p50/p95/p99 latency per step and overall
(newOrder -> certificate downloaded), errors by ACME problem type, and with --server-pids the
servers' CPU (utime+stime of the given PIDs from /proc/PID/stat, children excluded) per issued
certificate over the window; also the client's own CPU and the machine's busy share, to show
whether the client or the machine was the limit.

Only the Python standard library and python3-cryptography (Debian's, for /usr/bin/python3).
Talks to the given directory and challtestsrv only; stops by itself (--max-seconds); stops the
pebble-challtestsrv it started (--http01-port) by PID.
"""
import argparse
import base64
import email.utils
import hashlib
import hmac
import http.client
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import ssl
import string
import subprocess
import sys
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

STEPS = ["newOrder", "authz+challenge", "validation", "finalize", "poll", "download", "total"]
ACME_ERR = "urn:ietf:params:acme:error:"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------- helpers
def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jdump(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


def percentile(sorted_values, q):
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def proc_cpu_ticks(pid):
    """utime + stime (fields 14, 15) of /proc/PID/stat, in clock ticks; children not included."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()  # after "pid (comm) "
    return int(fields[11]) + int(fields[12])


def proc_mem_kb(pid):
    """{"rss_kb": VmRSS, "hwm_kb": VmHWM} of /proc/PID/status (VmHWM: the peak RSS since the process
    started; it cannot be reset from outside, so a point reports the peak so far)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out["rss_kb" if k == "VmRSS" else "hwm_kb"] = int(v.split()[0])
    except OSError:
        pass
    return out


def proc_name(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return str(pid)


def retry_after_seconds(headers, default):
    """Seconds to wait before the next poll, as python-acme 2.1.0's ClientV2.retry_after (acme/client.py)
    computes it: the Retry-After header as an integer of seconds, else as an HTTP date, else `default`
    (also when the header is absent). A date in the past gives 0."""
    value = headers.get("Retry-After")
    if value is None:
        return float(default)
    try:
        return float(max(0, int(value)))
    except ValueError:
        pass
    when = email.utils.parsedate_tz(value)
    if when is not None:
        try:
            return max(0.0, email.utils.mktime_tz(when) - time.time())
        except (ValueError, OverflowError):
            pass
    return float(default)


def machine_cpu():
    """(busy, total) jiffies from the first line of /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    return sum(parts) - idle, sum(parts)


def read_env_file(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
                v = v[1:-1]
            env[k] = v
    return env


# ---------------------------------------------------------------------------------------- key pool
def _gen_key_pem(_):
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def split_pem(text, marker):
    end = f"-----END {marker}-----"
    out = []
    for chunk in text.split(end):
        begin = chunk.find(f"-----BEGIN {marker}-----")
        if begin >= 0:
            out.append(chunk[begin:] + end + "\n")
    return out


def ensure_key_pool(path, count, procs):
    """Returns `count` RSA-3072 private keys (PEM). With a path, keys are kept there and only the
    missing ones are generated (appended)."""
    keys = []
    if path and os.path.exists(path):
        with open(path) as f:
            keys = split_pem(f.read(), "PRIVATE KEY")
    missing = count - len(keys)
    if missing > 0:
        t = time.monotonic()
        with mp.get_context("fork").Pool(procs) as pool:
            fresh = pool.map(_gen_key_pem, range(missing), chunksize=4)
        log(f"generated {missing} RSA-3072 keys in {time.monotonic() - t:.1f} s with {procs} processes")
        keys.extend(fresh)
        if path:
            tmp = path + ".tmp"
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                f.write("".join(keys))
            os.replace(tmp, path)
    return keys


def _skip_rsa_key_check():
    """Keys of the pool are ones this tool generated: skip OpenSSL's RSA_check_key when loading them
    (100+ ms of CPU per RSA-3072 key otherwise). Private switch of python3-cryptography 38; newer
    versions take unsafe_skip_rsa_key_validation instead. Only ever set in the pool's processes."""
    try:
        from cryptography.hazmat.backends.openssl import backend
        if hasattr(backend, "_rsa_skip_check_key"):
            backend._rsa_skip_check_key = True
    except ImportError:
        pass


def _make_csr(job):
    key_pem, names = job
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
           .sign(key, hashes.SHA256()))
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return csr.public_bytes(serialization.Encoding.DER), spki


def random_label(rng, n=12):
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(n))


# ---------------------------------------------------------------------------------------- ACME client
class AcmeProblem(Exception):
    def __init__(self, step, status, problem):
        self.step = step
        self.status = status
        self.problem = problem if isinstance(problem, dict) else {}
        ptype = self.problem.get("type", "")
        self.kind = ptype[len(ACME_ERR):] if ptype.startswith(ACME_ERR) else (ptype or f"http-{status}")
        super().__init__(f"{step}: {status} {self.kind}: {self.problem.get('detail', '')}"[:400])


class FlowError(Exception):
    def __init__(self, step, kind, detail):
        self.step, self.kind = step, kind
        super().__init__(f"{step}: {kind}: {detail}"[:400])


class Headers(dict):
    """Response headers, names lower-cased (the last value wins; enough for ACME's single-valued ones)."""

    def get(self, name, default=None):
        return dict.get(self, name.lower(), default)


class Connection:
    """A minimal HTTP/1.1 keep-alive connection (plain or TLS). http.client parses headers with the
    email package, which cost more client CPU than everything else of a flow together."""

    def __init__(self, scheme, netloc, ssl_context, timeout, source=None):
        host, _, port = netloc.rpartition(":")
        if not host:
            host, port = netloc, ("443" if scheme == "https" else "80")
        host = host.strip("[]")
        # source: a local address to connect from (soak_load.py spreads clients over 127.0.0.x, as
        # many real clients come from many addresses; the gateway limits connections per address).
        raw = socket.create_connection((host, int(port)), timeout=timeout,
                                       source_address=(source, 0) if source else None)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = ssl_context.wrap_socket(raw, server_hostname=host) if scheme == "https" else raw
        self.reader = self.sock.makefile("rb", buffering=65536)
        self.host_header = netloc

    def request(self, method, path, body, headers):
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host_header}", "Accept: */*"]
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        if body is not None or method == "POST":
            lines.append(f"Content-Length: {len(body or b'')}")
        msg = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        self.sock.sendall(msg)
        status_line = self.reader.readline(65537)
        if not status_line:
            raise http.client.RemoteDisconnected("connection closed before the status line")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise http.client.BadStatusLine(repr(status_line[:80]))
        status = int(parts[1])
        hdrs = Headers()
        while True:
            line = self.reader.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            hdrs[name.strip().lower()] = value.strip()
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            data = b""
        elif hdrs.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.reader.readline(1024).split(b";")[0], 16)
                if size == 0:
                    while self.reader.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.reader.read(size))
                self.reader.readline(3)
            data = b"".join(chunks)
        elif "content-length" in hdrs:
            n = int(hdrs["content-length"])
            data = self.reader.read(n)
            if len(data) != n:
                raise http.client.IncompleteRead(data, n - len(data))
        else:  # body until close
            data = self.reader.read()
            hdrs["connection"] = "close"
        return status, hdrs, data

    def close(self):
        try:
            self.reader.close()
            self.sock.close()
        except OSError:
            pass


class Http:
    """One keep-alive connection per (scheme, host), reconnecting when the server closes it."""

    def __init__(self, ssl_context, timeout, source=None):
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.source = source
        self.conns = {}
        self.requests = 0
        self.reconnects = 0
        self.connects = 0

    def request(self, method, url, body=None, headers=None):
        u = urllib.parse.urlsplit(url)
        key = (u.scheme, u.netloc)
        path = (u.path or "/") + ("?" + u.query if u.query else "")
        if isinstance(body, str):
            body = body.encode()
        for attempt in (0, 1):
            c = self.conns.get(key)
            fresh = c is None
            if fresh:
                c = self.conns[key] = Connection(u.scheme, u.netloc, self.ssl_context, self.timeout, self.source)
                self.connects += 1
            try:
                status, hdrs, data = c.request(method, path, body, headers or {})
            except (http.client.RemoteDisconnected, http.client.BadStatusLine, ConnectionResetError,
                    BrokenPipeError, ConnectionAbortedError, ssl.SSLEOFError):
                c.close()
                self.conns.pop(key, None)
                self.reconnects += 1
                # A kept-alive connection the server had closed: resend once on a fresh one (for
                # JWS requests the nonce then decides whether the server accepts it again).
                if fresh or attempt == 1:
                    raise
                continue
            except Exception:
                c.close()
                self.conns.pop(key, None)
                raise
            self.requests += 1
            if hdrs.get("connection", "").lower() == "close":
                c.close()
                self.conns.pop(key, None)
            return status, hdrs, data
        raise AssertionError("unreachable")

    def close(self):
        for c in self.conns.values():
            c.close()
        self.conns.clear()


class AcmeClient:
    def __init__(self, directory, ssl_context, timeout):
        self.http = Http(ssl_context, timeout)
        self.directory_url = directory
        self.nonce = None
        self.key = ec.generate_private_key(ec.SECP256R1())
        nums = self.key.public_key().public_numbers()
        self.jwk = {"crv": "P-256", "kty": "EC", "x": b64u(nums.x.to_bytes(32, "big")),
                    "y": b64u(nums.y.to_bytes(32, "big"))}
        self.thumbprint = b64u(hashlib.sha256(jdump(self.jwk).encode()).digest())
        self.kid = None
        self.step = "directory"
        self.retries = {}
        status, _, body = self.http.request("GET", directory)
        if status != 200:
            raise FlowError("directory", f"http-{status}", body[:200])
        self.dir = json.loads(body)

    def _new_nonce(self):
        status, headers, _ = self.http.request("HEAD", self.dir["newNonce"])
        n = headers.get("Replay-Nonce")
        if not n:
            raise FlowError("nonce", f"http-{status}", "newNonce gave no Replay-Nonce")
        return n

    def _sign(self, url, payload, use_jwk=False, extra=None):
        protected = {"alg": "ES256", "nonce": self.nonce or self._new_nonce(), "url": url}
        self.nonce = None
        if use_jwk:
            protected["jwk"] = self.jwk
        else:
            protected["kid"] = self.kid
        p64 = b64u(json.dumps(protected).encode())
        pl64 = "" if payload is None else b64u(json.dumps(payload).encode())
        der = self.key.sign(f"{p64}.{pl64}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        sig = b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        return json.dumps({"protected": p64, "payload": pl64, "signature": sig})

    def post(self, step, url, payload, use_jwk=False, expect_json=True):
        """Signed POST (payload None = POST-as-GET). Retries once on badNonce. Returns (status, headers, body)."""
        self.step = step
        for attempt in range(3):
            body = self._sign(url, payload, use_jwk)
            status, headers, data = self.http.request(
                "POST", url, body=body, headers={"Content-Type": "application/jose+json"})
            n = headers.get("Replay-Nonce")
            if n:
                self.nonce = n
            if status >= 400:
                try:
                    problem = json.loads(data)
                except ValueError:
                    problem = {"detail": data[:200].decode(errors="replace")}
                err = AcmeProblem(step, status, problem)
                if err.kind == "badNonce" and attempt < 2:
                    self.retries["badNonce"] = self.retries.get("badNonce", 0) + 1
                    continue
                raise err
            if expect_json:
                try:
                    return status, headers, json.loads(data)
                except ValueError:
                    raise FlowError(step, "client:bad-json", data[:200])
            return status, headers, data
        raise AssertionError("unreachable")

    def register(self, eab_kid, eab_hmac):
        url = self.dir["newAccount"]
        payload = {"termsOfServiceAgreed": True}
        if eab_kid:
            eprot = b64u(json.dumps({"alg": "HS256", "kid": eab_kid, "url": url}).encode())
            epay = b64u(json.dumps(self.jwk).encode())
            esig = hmac.new(b64u_decode(eab_hmac), f"{eprot}.{epay}".encode(), hashlib.sha256).digest()
            payload["externalAccountBinding"] = {"protected": eprot, "payload": epay, "signature": b64u(esig)}
        status, headers, body = self.post("newAccount", url, payload, use_jwk=True)
        self.kid = headers.get("Location")
        if not self.kid or body.get("status") != "valid":
            raise FlowError("newAccount", "client:bad-account", f"{status} {body}")


class Challtestsrv:
    """pebble-challtestsrv management API (one keep-alive connection per worker thread)."""

    def __init__(self, url, timeout):
        self.url = url.rstrip("/")
        self.http = Http(None, timeout)

    def call(self, path, obj):
        status, _, data = self.http.request("POST", self.url + path, body=json.dumps(obj),
                                            headers={"Content-Type": "application/json"})
        if status != 200:
            raise FlowError("challtestsrv", f"client:challtestsrv-{status}", data[:200])


# ---------------------------------------------------------------------------------------- one flow
def note_retry_after(counters, step, headers):
    """Counts the Retry-After values the server gave per step ("absent" when it gave none)."""
    seen = counters.setdefault("retry_after", {}).setdefault(step, {})
    v = headers.get("Retry-After") or "absent"
    seen[v] = seen.get(v, 0) + 1


def poll(client, step, url, done, deadline, poll_min, poll_max, counters):
    """POST-as-GET url until done(body) is True/False (None = keep polling); returns the body.
    Ignores Retry-After: first delay poll_min, doubling up to poll_max."""
    delay = poll_min
    while True:
        _, headers, body = client.post(step, url, None)
        counters["polls"] += 1
        note_retry_after(counters, step, headers)
        verdict = done(body)
        if verdict is not None:
            return body, verdict
        if time.monotonic() + delay > deadline:
            raise FlowError(step, "client:timeout", f"{url} still {body.get('status')}")
        time.sleep(delay)
        delay = min(poll_max, delay * 2)


def sleep_until(seconds, deadline, step, what):
    if time.monotonic() + seconds > deadline:
        raise FlowError(step, "client:timeout", f"{what}: Retry-After {seconds:g} s passes the flow's deadline")
    if seconds > 0:
        time.sleep(seconds)


def poll_retry_after(client, step, urls, done, deadline, first_wait, default, counters):
    """Certbot's polling (certbot 2.1.0 AuthHandler._poll_authorizations; python-acme 2.1.0
    ClientV2.retry_after): wait first_wait, POST-as-GET every URL still pending, stop when none is;
    otherwise wait the largest Retry-After of the pending answers (`default` seconds where a server gave
    none) and poll the pending ones again. Returns {url: body}; verdicts from done(body) as in poll()."""
    pending = list(urls)
    final = {}
    wait = first_wait
    while True:
        sleep_until(wait, deadline, step, pending[0] if pending else "")
        waits = []
        still = []
        for url in pending:
            _, headers, body = client.post(step, url, None)
            counters["polls"] += 1
            note_retry_after(counters, step, headers)
            verdict = done(body)
            if verdict is None:
                still.append(url)
                waits.append(retry_after_seconds(headers, default))
            else:
                final[url] = (body, verdict)
        if not still:
            return final
        pending = still
        wait = max(waits)


def split_chain(pem_bytes):
    return [x509.load_pem_x509_certificate(p.encode()) for p in split_pem(pem_bytes.decode(), "CERTIFICATE")]


def verify_chain(pem_bytes, names, spki):
    try:
        chain = split_chain(pem_bytes)
    except Exception as e:  # noqa: BLE001 - any parse failure is a verification failure
        raise FlowError("verify", "client:chain-unparsable", str(e))
    if len(chain) < 2:
        raise FlowError("verify", "client:chain-too-short", f"{len(chain)} certificate(s)")
    leaf, issuer = chain[0], chain[1]
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        got = sorted(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        got = []
    if got != sorted(names):
        raise FlowError("verify", "client:names-mismatch", f"{got} != {sorted(names)}")
    if leaf.public_key().public_bytes(serialization.Encoding.DER,
                                      serialization.PublicFormat.SubjectPublicKeyInfo) != spki:
        raise FlowError("verify", "client:key-mismatch", "leaf key is not the CSR's")
    if leaf.issuer != issuer.subject:
        raise FlowError("verify", "client:issuer-mismatch", f"{leaf.issuer.rfc4514_string()}")
    pub = issuer.public_key()
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(leaf.signature, leaf.tbs_certificate_bytes, padding.PKCS1v15(),
                       leaf.signature_hash_algorithm)
        else:
            pub.verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(leaf.signature_hash_algorithm))
    except Exception as e:  # noqa: BLE001
        raise FlowError("verify", "client:bad-signature", str(e))


def run_flow(client, chall, names, csr_der, spki, opts, counters):
    """One order from newOrder to a verified certificate. Returns {step: seconds}."""
    deadline = time.monotonic() + opts["flow_timeout"]
    t = {}
    t0 = time.monotonic()
    _, headers, order = client.post("newOrder", client.dir["newOrder"],
                                    {"identifiers": [{"type": "dns", "value": n} for n in names]})
    order_url = headers.get("Location")
    if not order_url:
        raise FlowError("newOrder", "client:no-location", "newOrder without Location")
    t1 = time.monotonic()
    t["newOrder"] = t1 - t0

    honour = opts.get("honour_retry_after", False)
    tokens = []
    try:
        first_wait = None  # honour mode: the wait before the first authorization poll
        for az_url in order["authorizations"]:
            _, _, az = client.post("authz", az_url, None)
            if az.get("status") == "valid":
                continue  # reused authorization (Pebble may reuse): nothing to answer
            ch = next((c for c in az.get("challenges", []) if c.get("type") == "http-01"), None)
            if ch is None:
                raise FlowError("authz", "client:no-http-01", az)
            client.step = "challtestsrv"
            chall.call("/add-http01", {"token": ch["token"], "content": ch["token"] + "." + client.thumbprint})
            tokens.append(ch["token"])
            _, ch_headers, ch_body = client.post("challenge", ch["url"], {})
            note_retry_after(counters, "challenge", ch_headers)
            if ch_body.get("status") != "valid":
                w = retry_after_seconds(ch_headers, opts.get("ra_initial", 1.0))
                first_wait = w if first_wait is None else max(first_wait, w)
        t2 = time.monotonic()
        t["authz+challenge"] = t2 - t1

        def authz_done(body):
            s = body.get("status")
            if s == "valid":
                return True
            if s in ("invalid", "deactivated", "expired", "revoked"):
                return False
            return None

        def authz_failed(body):
            err = next((c.get("error") for c in body.get("challenges", []) if c.get("error")), {}) or {}
            return AcmeProblem("validation", 200, err or {"type": "client:authz-" + body.get("status", "?")})
        if honour:
            got = poll_retry_after(client, "validation", order["authorizations"], authz_done, deadline,
                                   first_wait or 0.0, opts.get("ra_authz", 3.0), counters)
            for az_url in order["authorizations"]:
                body, ok = got[az_url]
                if not ok:
                    raise authz_failed(body)
        else:
            for az_url in order["authorizations"]:
                body, ok = poll(client, "validation", az_url, authz_done, deadline, opts["poll_min"],
                                opts["poll_max"], counters)
                if not ok:
                    raise authz_failed(body)
        t3 = time.monotonic()
        t["validation"] = t3 - t2
    finally:
        for tok in tokens:  # cleanup, outside the steps' timings only when it fails
            try:
                chall.call("/del-http01", {"token": tok})
            except Exception:  # noqa: BLE001
                pass
    t3b = time.monotonic()  # del-http01 costs are excluded from finalize and total

    _, fin_headers, order = client.post("finalize", order["finalize"], {"csr": b64u(csr_der)})
    note_retry_after(counters, "finalize", fin_headers)
    t4 = time.monotonic()
    t["finalize"] = t4 - t3b

    def order_done(body):
        s = body.get("status")
        if s == "valid":
            return True
        if s == "invalid":
            return False
        return None
    if order.get("status") != "valid":
        if order.get("status") == "invalid":
            raise AcmeProblem("finalize", 200, order.get("error") or {"type": "client:order-invalid"})
        if honour:
            # python-acme 2.1.0 finalize_order sleeps 1 s before each order poll (and ignores
            # Retry-After); here the finalize answer's Retry-After decides, 1 s where it has none.
            dflt = opts.get("ra_order", 1.0)
            order, ok = poll_retry_after(client, "poll", [order_url], order_done, deadline,
                                         retry_after_seconds(fin_headers, dflt), dflt, counters)[order_url]
        else:
            order, ok = poll(client, "poll", order_url, order_done, deadline, opts["poll_min"], opts["poll_max"],
                             counters)
        if not ok:
            raise AcmeProblem("poll", 200, order.get("error") or {"type": "client:order-invalid"})
    t5 = time.monotonic()
    t["poll"] = t5 - t4

    _, _, pem = client.post("download", order["certificate"], None, expect_json=False)
    t6 = time.monotonic()
    t["download"] = t6 - t5
    t["total"] = (t6 - t0) - (t3b - t3)
    verify_chain(pem, names, spki)
    counters["pem"] = pem  # the verified chain, for callers that check its OCSP status (soak_load.py)
    return t


# ---------------------------------------------------------------------------------------- workers
G = {}  # set by the parent before fork: jobs, opts, shared counter, events


def worker_process(proc_index, n_threads, ready_q, result_q):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    opts = G["opts"]
    ctx = ssl.create_default_context(cafile=opts["ca_bundle"]) if opts["ca_bundle"] else ssl.create_default_context()
    if opts["insecure"]:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    clients = []
    setup_errors = []

    def setup(i):
        try:
            c = AcmeClient(opts["directory"], ctx, opts["http_timeout"])
            c.register(opts["eab_kid"], opts["eab_hmac"])
            clients.append((c, Challtestsrv(opts["challtestsrv"], opts["http_timeout"])))
        except Exception as e:  # noqa: BLE001
            setup_errors.append(f"worker {proc_index}.{i}: {e}")
    ths = [threading.Thread(target=setup, args=(i,)) for i in range(n_threads)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    ready_q.put((proc_index, len(clients), setup_errors))
    G["start"].wait()
    cpu0 = os.times()
    results = []
    lock = threading.Lock()
    counter, jobs, stop_at = G["counter"], G["jobs"], G["stop_at"]

    def loop(client, chall):
        mine = []
        counters = {"polls": 0}
        while True:
            with counter.get_lock():
                idx = counter.value
                if idx >= len(jobs) or time.monotonic() >= stop_at.value:
                    break
                counter.value += 1
            names, csr_der, spki = jobs[idx]
            start = time.monotonic()
            rec = {"i": idx, "start": start}
            req0, conn0 = client.http.requests, client.http.connects
            counters["polls"] = 0
            try:
                rec["t"] = run_flow(client, chall, names, csr_der, spki, opts, counters)
                rec["ok"] = True
            except AcmeProblem as e:
                rec.update(ok=False, step=e.step, kind=e.kind, detail=str(e))
            except FlowError as e:
                rec.update(ok=False, step=e.step, kind=e.kind, detail=str(e))
            except (socket.timeout, TimeoutError) as e:
                rec.update(ok=False, step=client.step, kind="client:timeout", detail=f"{client.step}: {e!r}")
            except (OSError, http.client.HTTPException, ssl.SSLError) as e:
                rec.update(ok=False, step=client.step, kind="client:" + type(e).__name__,
                           detail=f"{client.step}: {e!r}"[:300])
                client.http.close()
            rec["end"] = time.monotonic()
            rec["polls"] = counters["polls"]
            rec["retry_after"] = counters.pop("retry_after", {})
            rec["requests"] = client.http.requests - req0
            rec["connects"] = client.http.connects - conn0
            mine.append(rec)
        with lock:
            results.extend(mine)
    ths = [threading.Thread(target=loop, args=cc) for cc in clients]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    cpu1 = os.times()
    retries = {}
    for c, _ in clients:
        for k, v in c.retries.items():
            retries[k] = retries.get(k, 0) + v
        retries["reconnects"] = retries.get("reconnects", 0) + c.http.reconnects
    result_q.put({"proc": proc_index, "results": results, "retries": retries,
                  "cpu_s": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)})


# ---------------------------------------------------------------------------------------- main run
def log(msg):
    print(f"acme_load: {msg}", file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_challtestsrv(http01_port):
    """Starts pebble-challtestsrv answering http-01 on 127.0.0.1:http01_port; returns (proc, mgmt URL)."""
    mgmt = free_port()
    proc = subprocess.Popen(
        ["pebble-challtestsrv", "-management", f"127.0.0.1:{mgmt}", "-http01", f"127.0.0.1:{http01_port}",
         "-https01", "", "-dns01", "", "-tlsalpn01", "", "-defaultIPv6", ""],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{mgmt}"
    for _ in range(100):
        if proc.poll() is not None:
            raise SystemExit(f"acme_load: pebble-challtestsrv exited at start (http-01 port {http01_port} in use?)")
        try:
            c = http.client.HTTPConnection(f"127.0.0.1:{mgmt}", timeout=1)
            c.request("POST", "/add-http01", body='{"token":"probe","content":"probe"}')
            if c.getresponse().status == 200:
                c.close()
                return proc, url
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("acme_load: pebble-challtestsrv did not answer")


def summarize(args, results, retries, window, server_cpu_ms, client_cpu_s, machine_busy, n_workers,
              server_mem=None):
    ok = [r for r in results if r.get("ok")]
    failed = [r for r in results if not r.get("ok")]
    errors = {}
    for r in failed:
        key = r["kind"]
        errors[key] = errors.get(key, 0) + 1
    errors_by_step = {}
    for r in failed:
        key = f"{r['step']}:{r['kind']}"
        errors_by_step[key] = errors_by_step.get(key, 0) + 1
    lat = {}
    for step in STEPS:
        vals = sorted(r["t"][step] * 1000 for r in ok)
        lat[step] = {"p50": percentile(vals, 50), "p95": percentile(vals, 95), "p99": percentile(vals, 99),
                     "mean": (sum(vals) / len(vals)) if vals else None, "max": vals[-1] if vals else None}
    issued = len(ok)
    retry_after = {}
    for r in results:
        for step, seen in r.get("retry_after", {}).items():
            dst = retry_after.setdefault(step, {})
            for v, n in seen.items():
                dst[v] = dst.get(v, 0) + n
    names = {str(pid): proc_name(pid) for pid in args.server_pids}
    out = {
        "label": args.label, "directory": args.directory, "orders": args.orders, "concurrency": n_workers,
        "names_per_order": args.names, "procs": args.procs,
        "honour_retry_after": args.honour_retry_after,
        "retry_after_defaults_s": {"initial": args.ra_initial, "authz": args.ra_authz, "order": args.ra_order}
        if args.honour_retry_after else None,
        "retry_after_seen": retry_after,
        "attempted": len(results), "issued": issued, "failed": len(failed),
        "window_s": window,
        "orders_per_s": issued / window if window > 0 else None,
        "names_per_s": issued * args.names / window if window > 0 else None,
        "latency_ms": lat,
        "errors": errors, "errors_by_step": errors_by_step,
        "rate_limited": errors.get("rateLimited", 0),
        "error_samples": [r["detail"] for r in failed[:5]],
        "retries": retries,
        "polls_per_order": (sum(r["polls"] for r in ok) / issued) if issued else None,
        "requests_per_order": (sum(r["requests"] for r in ok) / issued) if issued else None,
        "connections_per_order": (sum(r["connects"] for r in results) / len(results)) if results else None,
        "server_pids": args.server_pids,
        "server_names": names,
        "server_cpu_ms": server_cpu_ms,
        "server_cpu_ms_per_cert": (sum(server_cpu_ms.values()) / issued) if (server_cpu_ms and issued) else None,
        # per process: {pid: ms}, and the same keyed by process name (comm) for reports
        "server_cpu_ms_per_cert_by_pid": {pid: ms / issued for pid, ms in server_cpu_ms.items()} if issued else {},
        "server_cpu_ms_per_cert_by_name": {names.get(pid, pid): ms / issued for pid, ms in server_cpu_ms.items()}
        if issued else {},
        # {pid: {rss_start_kb, rss_end_kb, hwm_start_kb, hwm_end_kb}}: VmRSS and VmHWM (peak RSS since the
        # process started) at the window's start and end
        "server_mem_kb": server_mem or {},
        "client_cpu_ms_per_order": (client_cpu_s * 1000 / len(results)) if results else None,
        "client_cpu_share": client_cpu_s / window / os.cpu_count() if window > 0 else None,
        "machine_busy_share": machine_busy,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return out


def kib_mib(v):
    return None if v is None else v / 1024.0


def fmt(v, spec=".1f"):
    return "-" if v is None else format(v, spec)


def print_table(s, stream=sys.stdout):
    w = stream.write
    w(f"\n== {s['label'] or s['directory']}: N={s['orders']} C={s['concurrency']} K={s['names_per_order']}"
      f" ({s['procs']} client processes)\n")
    w(f"issued {s['issued']}/{s['attempted']} in {s['window_s']:.2f} s: {fmt(s['orders_per_s'], '.2f')} orders/s "
      f"({fmt(s['names_per_s'], '.1f')} names/s); {fmt(s['requests_per_order'], '.1f')} requests and "
      f"{fmt(s['polls_per_order'], '.1f')} polls per order; {fmt(s['connections_per_order'], '.2f')} new "
      f"server connections per order\n")
    w(f"{'step (ms)':<18}{'p50':>10}{'p95':>10}{'p99':>10}{'mean':>10}{'max':>10}\n")
    for step in STEPS:
        l = s["latency_ms"][step]
        w(f"{step:<18}{fmt(l['p50']):>10}{fmt(l['p95']):>10}{fmt(l['p99']):>10}{fmt(l['mean']):>10}{fmt(l['max']):>10}\n")
    if s["server_cpu_ms_per_cert"] is not None:
        names = s.get("server_names", {})
        per = ", ".join(f"{names.get(pid, pid)} ({pid}) {ms:.2f}" for pid, ms in s["server_cpu_ms_per_cert_by_pid"].items())
        w(f"server CPU per certificate: {s['server_cpu_ms_per_cert']:.2f} ms ({per})\n")
    for pid, m in s.get("server_mem_kb", {}).items():
        name = s.get("server_names", {}).get(pid, pid)
        w(f"memory {name} ({pid}): VmRSS {fmt(kib_mib(m.get('rss_start_kb')))} -> {fmt(kib_mib(m.get('rss_end_kb')))} MiB, "
          f"peak VmHWM {fmt(kib_mib(m.get('hwm_end_kb')))} MiB\n")
    if s.get("retry_after_seen"):
        w("Retry-After given: " + "; ".join(
            f"{step} " + ", ".join(f"{v}x{n}" for v, n in sorted(seen.items()))
            for step, seen in sorted(s["retry_after_seen"].items())) +
          (" (honoured)" if s.get("honour_retry_after") else " (ignored)") + "\n")
    w(f"client CPU per order: {fmt(s['client_cpu_ms_per_order'], '.2f')} ms "
      f"({fmt(100 * (s['client_cpu_share'] or 0), '.0f')} % of the machine); machine busy "
      f"{fmt(100 * (s['machine_busy_share'] or 0), '.0f')} %\n")
    if s["errors"]:
        w("errors: " + ", ".join(f"{k}={v}" for k, v in sorted(s["errors_by_step"].items())) + "\n")
        for d in s["error_samples"]:
            w(f"  e.g. {d}\n")
    else:
        w("errors: none\n")
    if any(s["retries"].values()):
        w("retries: " + ", ".join(f"{k}={v}" for k, v in sorted(s["retries"].items()) if v) + "\n")


def cmd_run(args):
    if args.env:
        env = read_env_file(args.env)
        args.directory = args.directory or env.get("ACME_DIR")
        args.ca_bundle = args.ca_bundle or env.get("ACME_CA_BUNDLE")
        args.eab_kid = args.eab_kid or env.get("EAB_KID")
        args.eab_hmac = args.eab_hmac or env.get("EAB_HMAC")
        if not args.challtestsrv and not args.http01_port and env.get("HTTP01_PORT"):
            args.http01_port = int(env["HTTP01_PORT"])
        args.suffix = args.suffix or env.get("SUFFIX")
    args.suffix = args.suffix or "demo.test"
    if not args.directory:
        raise SystemExit("acme_load: --directory (or --env with ACME_DIR) is required")
    if not args.challtestsrv and not args.http01_port:
        raise SystemExit("acme_load: --challtestsrv URL or --http01-port PORT is required")
    pids = [int(p) for p in args.server_pids.replace(",", " ").split()] if args.server_pids else []
    args.server_pids = pids
    c = args.concurrency
    args.procs = max(1, min(args.procs or min(2, os.cpu_count() or 1), c))

    # ---- before timing: keys, names, CSRs (parallel processes)
    keys = ensure_key_pool(args.key_pool, args.key_offset + args.orders, args.keygen_procs)
    keys = keys[args.key_offset:args.key_offset + args.orders]
    rng = random.Random(args.seed) if args.seed is not None else random.SystemRandom()
    run_tag = random_label(rng, 6)
    names = [[f"{random_label(rng)}-{run_tag}.{args.suffix}" for _ in range(args.names)] for _ in range(args.orders)]
    t = time.monotonic()
    with mp.get_context("fork").Pool(args.keygen_procs, initializer=_skip_rsa_key_check) as pool:
        csrs = pool.map(_make_csr, list(zip(keys, names)), chunksize=8)
    log(f"{args.orders} CSRs ready in {time.monotonic() - t:.1f} s")
    jobs = [(names[i], csrs[i][0], csrs[i][1]) for i in range(args.orders)]

    chall_proc = perf_proc = None
    if not args.challtestsrv:
        chall_proc, args.challtestsrv = start_challtestsrv(args.http01_port)
    try:
        ctx = mp.get_context("fork")
        G["opts"] = {"directory": args.directory, "ca_bundle": args.ca_bundle, "insecure": args.insecure,
                     "eab_kid": args.eab_kid, "eab_hmac": args.eab_hmac, "challtestsrv": args.challtestsrv,
                     "http_timeout": args.http_timeout, "flow_timeout": args.flow_timeout,
                     "poll_min": args.poll_min, "poll_max": args.poll_max,
                     "honour_retry_after": args.honour_retry_after, "ra_initial": args.ra_initial,
                     "ra_authz": args.ra_authz, "ra_order": args.ra_order}
        G["jobs"] = jobs
        G["counter"] = ctx.Value("l", 0)
        G["stop_at"] = ctx.Value("d", float("inf"))
        G["start"] = ctx.Event()
        ready_q, result_q = ctx.Queue(), ctx.Queue()
        split = [c // args.procs + (1 if i < c % args.procs else 0) for i in range(args.procs)]
        procs = [ctx.Process(target=worker_process, args=(i, split[i], ready_q, result_q), daemon=True)
                 for i in range(args.procs)]
        for p in procs:
            p.start()
        n_workers = 0
        setup_errors = []
        for _ in procs:
            _, n, errs = ready_q.get(timeout=120)
            n_workers += n
            setup_errors.extend(errs)
        for e in setup_errors:
            log("account setup failed: " + e)
        if n_workers == 0:
            G["stop_at"].value = 0.0
            G["start"].set()
            raise SystemExit("acme_load: no account could be created")

        # ---- timed window
        if args.perf_record:
            if not pids:
                raise SystemExit("acme_load: --perf-record needs --server-pids")
            perf_proc = subprocess.Popen(
                ["perf", "record", "-q", "-e", "cpu-clock", "-F", str(args.perf_freq), "--call-graph", "dwarf,16384",
                 "-p", ",".join(map(str, pids)), "-o", args.perf_record],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)  # attached to every thread before the window opens
        mem0 = {pid: proc_mem_kb(pid) for pid in pids}
        cpu0 = {pid: proc_cpu_ticks(pid) for pid in pids}
        m0 = machine_cpu()
        t0 = time.monotonic()
        G["stop_at"].value = t0 + args.max_seconds
        G["start"].set()
        outs = [result_q.get(timeout=args.max_seconds + args.flow_timeout + 60) for _ in procs]
        cpu1 = {pid: proc_cpu_ticks(pid) for pid in pids}
        m1 = machine_cpu()
        mem1 = {pid: proc_mem_kb(pid) for pid in pids}
        if perf_proc is not None:
            perf_proc.send_signal(signal.SIGINT)
            try:
                perf_proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                perf_proc.kill()
                perf_proc.wait()
            perf_proc = None
        for p in procs:
            p.join(timeout=10)
    finally:
        if perf_proc is not None:
            perf_proc.kill()
            perf_proc.wait()
        if chall_proc is not None:
            chall_proc.terminate()
            try:
                chall_proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                chall_proc.kill()
                chall_proc.wait()
    results = [r for o in outs for r in o["results"]]
    retries = {}
    for o in outs:
        for k, v in o["retries"].items():
            retries[k] = retries.get(k, 0) + v
    t_end = max((r["end"] for r in results), default=t0)
    window = t_end - t0
    server_cpu_ms = {str(pid): (cpu1[pid] - cpu0[pid]) * 1000.0 / CLK_TCK for pid in pids}
    busy = (m1[0] - m0[0]) / (m1[1] - m0[1]) if m1[1] > m0[1] else None
    server_mem = {str(pid): {"rss_start_kb": mem0[pid].get("rss_kb"), "rss_end_kb": mem1[pid].get("rss_kb"),
                             "hwm_start_kb": mem0[pid].get("hwm_kb"), "hwm_end_kb": mem1[pid].get("hwm_kb")}
                  for pid in pids}
    summary = summarize(args, results, retries, window, server_cpu_ms, sum(o["cpu_s"] for o in outs), busy,
                        n_workers, server_mem)
    summary["setup_errors"] = setup_errors
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    print_table(summary)
    return 0 if summary["failed"] == 0 and not setup_errors else 3


def main():
    argv = sys.argv[1:]
    if argv and argv[0] == "keys":
        ap = argparse.ArgumentParser(prog="acme_load.py keys", description="make (or top up) an RSA-3072 key pool file")
        ap.add_argument("--count", type=int, required=True)
        ap.add_argument("--out", required=True)
        ap.add_argument("--procs", type=int, default=os.cpu_count() or 1)
        a = ap.parse_args(argv[1:])
        keys = ensure_key_pool(a.out, a.count, a.procs)
        log(f"{a.out}: {len(keys)} keys")
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", help="env file (appliance.env or the Pebble one): ACME_DIR, ACME_CA_BUNDLE, EAB_KID, "
                    "EAB_HMAC, HTTP01_PORT, SUFFIX")
    ap.add_argument("--directory", help="ACME directory URL")
    ap.add_argument("--ca-bundle", help="CA file that verifies the server's HTTPS certificate")
    ap.add_argument("--insecure", action="store_true", help="do not verify the server's HTTPS certificate")
    ap.add_argument("--eab-kid")
    ap.add_argument("--eab-hmac", help="base64url MAC key")
    ap.add_argument("--challtestsrv", help="management URL of a pebble-challtestsrv that answers http-01 "
                    "on the port the server validates")
    ap.add_argument("--http01-port", type=int, help="start a pebble-challtestsrv answering http-01 on this port "
                    "(stopped at exit)")
    ap.add_argument("--orders", "-n", type=int, default=50, help="N orders (default 50)")
    ap.add_argument("--concurrency", "-c", type=int, default=4, help="C workers, one ACME account each (default 4)")
    ap.add_argument("--names", "-k", type=int, default=1, help="K names per order (default 1)")
    ap.add_argument("--suffix", help="names are <random>.SUFFIX (default demo.test)")
    ap.add_argument("--procs", type=int, default=0, help="client processes (default min(2, cores, C))")
    ap.add_argument("--keygen-procs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--key-pool", help="file of RSA-3072 keys kept across runs (topped up as needed)")
    ap.add_argument("--key-offset", type=int, default=0, help="first key of the pool to use")
    ap.add_argument("--server-pids", default="", help="PIDs whose CPU is measured over the window (comma list)")
    ap.add_argument("--poll-min", type=float, default=0.02, help="first poll delay, doubling (s)")
    ap.add_argument("--poll-max", type=float, default=0.25, help="longest poll delay (s)")
    ap.add_argument("--honour-retry-after", action="store_true",
                    help="poll as certbot does: after the challenge POSTs wait what their Retry-After says "
                    "(--ra-initial where absent), poll the pending authorizations, wait the largest Retry-After "
                    "of the pending ones (--ra-authz where absent); after a finalize that is not yet valid wait "
                    "its Retry-After (--ra-order where absent) and poll the order the same way")
    ap.add_argument("--ra-initial", type=float, default=1.0, help="wait after the challenge POSTs when the "
                    "server gives no Retry-After (certbot: 1 s, 'an initial second')")
    ap.add_argument("--ra-authz", type=float, default=3.0, help="wait between authorization polls when the "
                    "server gives no Retry-After (certbot: retry_after(resp, 3))")
    ap.add_argument("--ra-order", type=float, default=1.0, help="wait between order polls after finalize when "
                    "the server gives no Retry-After (python-acme finalize_order: 1 s)")
    ap.add_argument("--http-timeout", type=float, default=30.0)
    ap.add_argument("--flow-timeout", type=float, default=60.0, help="one flow's limit (s)")
    ap.add_argument("--max-seconds", type=float, default=300.0, help="no order starts after this (s)")
    ap.add_argument("--perf-record", metavar="FILE", help="perf record (cpu-clock, DWARF call graphs) the "
                    "--server-pids over the timed window into FILE")
    ap.add_argument("--perf-freq", type=int, default=999, help="perf sampling frequency (Hz)")
    ap.add_argument("--seed", type=int, help="name generator seed (default: random)")
    ap.add_argument("--label", default="")
    ap.add_argument("--json", help="write the summary here")
    return cmd_run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
