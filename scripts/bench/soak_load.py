#!/usr/bin/python3
"""Soak load: C concurrent ACME clients for S seconds, mixed with OCSP (GET and POST) and CRL fetches.

    /usr/bin/python3 scripts/bench/soak_load.py --env STATE/appliance.env --http01-port 14002 \
        --clients 1000 --duration 600 --key-pool /tmp/soak-keys/rsa3072.pem \
        --server-pids engine=PID,gateway=PID,status=PID --json soak.json

Every client is a thread (threads spread over --procs processes, each with its own GIL) holding its
own ACME account (EAB, created during a ramp of --ramp seconds), its own keep-alive HTTPS connection
to the gateway and its own connection to the status server, from one of --source-addrs loopback
addresses 127.0.0.10, .11, ... (as real clients come from many addresses; the gateway limits
connections per address, listen.max_connections_per_ip, 64 by default). During the window a client:
- runs a full ACME flow (acme_load.run_flow: newOrder, authz, http-01 challenge, validation polling,
  finalize, certificate download, chain verified) whenever an order ticket is free: tickets are
  released at --order-rate per second (default: the key pool spread over the window, since each
  order needs a fresh RSA-3072 key: the appliance refuses a key it has certified before);
- otherwise, every --status-interval seconds on average (exponential), fetches status: an OCSP GET
  or POST for a random certificate its process has been issued (the response must be `successful`,
  for that serial, `good`) or the issuer's CRL;
- sleeps between ticks (0.2-1 s), so most clients are idle-but-connected most of the time, as real ones.

Every HTTP request is recorded (endpoint, status, latency, Retry-After), so the report gives per
endpoint p50/p99 and the 5xx count (503 with Retry-After, i.e. a busy engine, apart). A sampler reads
RSS (anonymous and file-backed, /proc/PID/status) and open descriptors (/proc/PID/fd) of each
--server-pids process before the ramp, at the window's start, every --sample-interval seconds, at the
end of the window and after the clients have closed their connections. At the end every issued
certificate's OCSP status is fetched once more (POST) and must be `good`.

Exit status: 0 when the --check-* conditions hold (see --help), 3 otherwise.
Only the standard library and python3-cryptography; uses acme_load.py (same folder) for the ACME flow.
"""
import argparse
import base64
import json
import math
import multiprocessing as mp
import os
import random
import resource
import signal
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acme_load  # noqa: E402
from acme_load import AcmeClient, Challtestsrv, FlowError, AcmeProblem, log, percentile  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.x509 import ocsp  # noqa: E402

ENDPOINTS = ["directory", "newNonce", "newAccount", "newOrder", "authz", "challenge", "authz-poll", "finalize",
             "order-poll", "certificate", "OCSP GET", "OCSP POST", "CRL"]
STEP_TO_ENDPOINT = {"validation": "authz-poll", "poll": "order-poll", "download": "certificate"}
TL = threading.local()  # per client thread: sink (request records), source address, step


class RecordingHttp(acme_load.Http):
    """acme_load.Http that records every request: (t, endpoint, status or 'exc:Type', seconds,
    has Retry-After). The endpoint is the ACME client's current step (set by SoakClient.post)."""

    def __init__(self, ssl_context, timeout, source=None):
        super().__init__(ssl_context, timeout, source or getattr(TL, "source", None))
        self.sink = getattr(TL, "sink", None)
        self.fixed_tag = None

    def request(self, method, url, body=None, headers=None, tag=None):
        if tag is None:
            tag = self.fixed_tag
        if tag is None:
            tag = "newNonce" if method == "HEAD" else ("directory" if method == "GET" else
                                                      STEP_TO_ENDPOINT.get(TL.step, TL.step))
        t = time.monotonic()
        try:
            status, hdrs, data = super().request(method, url, body, headers)
        except Exception as e:
            if self.sink is not None:
                self.sink.append((t, tag, "exc:" + type(e).__name__, time.monotonic() - t, False))
            raise
        if self.sink is not None:
            self.sink.append((t, tag, status, time.monotonic() - t, hdrs.get("retry-after") is not None))
        return status, hdrs, data


class SoakClient(AcmeClient):
    def post(self, step, url, payload, use_jwk=False, expect_json=True):
        TL.step = step
        return super().post(step, url, payload, use_jwk, expect_json)


def ocsp_request_der(leaf, issuer, algorithm):
    return (ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, algorithm).build()
            .public_bytes(serialization.Encoding.DER))


def check_ocsp(status, data, serial):
    """'good', or what was wrong."""
    if status != 200:
        return f"http-{status}"
    try:
        r = ocsp.load_der_ocsp_response(data)
    except ValueError as e:
        return f"unparsable: {e}"[:80]
    if r.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return f"status-{r.response_status.name}"
    # The engine's responses may carry more than one SingleResponse: the one for this serial decides.
    singles = list(r.responses) if hasattr(r, "responses") else [r]
    mine = [x for x in singles if x.serial_number == serial]
    if not mine:
        return "serial-mismatch"
    st = mine[0].certificate_status
    return "good" if st == ocsp.OCSPCertStatus.GOOD else st.name.lower()


# ---------------------------------------------------------------------------------------- workers
G = {}  # set by the parent before fork


def status_fetch(sh, certs, rng, ocsp_url, crl_url, bad):
    kind = rng.random()
    if not certs or kind < 0.2:
        status, _, data = sh.request("GET", crl_url, tag="CRL")
        if status != 200 or not data.startswith(b"\x30"):
            bad.append(f"CRL: http-{status}, {len(data)} bytes")
        return
    serial, req_sha1, req = rng.choice(certs)
    if kind < 0.6:
        path = urllib.parse.quote(base64.b64encode(req_sha1).decode(), safe="")
        status, _, data = sh.request("GET", f"{ocsp_url}/{path}", tag="OCSP GET")
    else:
        status, _, data = sh.request("POST", ocsp_url, body=req, tag="OCSP POST",
                                     headers={"Content-Type": "application/ocsp-request"})
    verdict = check_ocsp(status, data, serial)
    if verdict != "good":
        bad.append(f"OCSP {serial:x}: {verdict}")


def client_thread(idx, ctx, out):
    """One client: account during the ramp, then ACME flows (when a ticket is free) and status fetches."""
    opts, rng = G["opts"], random.Random()
    TL.sink, TL.step = out["records"], "directory"
    TL.source = opts["sources"][idx % len(opts["sources"])] if opts["sources"] else None
    time.sleep(opts["ramp"] * idx / max(1, opts["clients"]))
    try:
        client = SoakClient(opts["directory"], ctx, opts["http_timeout"])
        client.register(opts["eab_kid"], opts["eab_hmac"])
    except Exception as e:  # noqa: BLE001
        out["setup_errors"].append(f"client {idx}: {e}"[:300])
        return
    chall = Challtestsrv(opts["challtestsrv"], opts["http_timeout"])
    chall.http.sink = None  # the test responder is not the appliance: not recorded
    sh = RecordingHttp(None, opts["http_timeout"])
    with out["lock"]:
        out["ready"] += 1
    G["start"].wait()
    counter, jobs, t0, stop_at = G["counter"], G["jobs"], G["t0"].value, G["stop_at"].value
    next_status = time.monotonic() + rng.uniform(0, opts["status_interval"])
    next_unfinished = time.monotonic() + rng.uniform(0, opts["unfinished_interval"] or 1)
    while True:
        now = time.monotonic()
        if now >= stop_at:
            break
        job = None
        with counter.get_lock():
            i = counter.value
            if i < len(jobs) and now >= t0 + i / opts["order_rate"]:
                counter.value += 1
                job = i
        if job is not None:
            run_one(client, chall, jobs[job], opts, out)
            continue
        if opts["unfinished_interval"] and now >= next_unfinished:
            run_unfinished(client, chall, opts, out, rng)
            next_unfinished = time.monotonic() + rng.expovariate(1.0 / opts["unfinished_interval"])
            continue
        if now >= next_status:
            try:
                status_fetch(sh, out["certs"], rng, opts["ocsp_url"], opts["crl_url"], out["status_bad"])
            except Exception as e:  # noqa: BLE001
                out["status_bad"].append(f"status fetch: {e!r}"[:200])
                sh.close()
            next_status = time.monotonic() + rng.expovariate(1.0 / opts["status_interval"])
        time.sleep(min(max(0.0, stop_at - time.monotonic()), rng.uniform(0.2, 1.0)))
    out["clients"].append((client, chall, sh))


def run_unfinished(client, chall, opts, out, rng):
    """An order validated but never finalized (a client that gives up, or renews later): newOrder,
    authz, http-01 challenge, polling until valid. Needs no key, so it can run at any rate."""
    rec = {"start": time.monotonic(), "unfinished": True}
    name = f"{acme_load.random_label(rng)}-u.{opts['suffix']}"
    tokens = []
    try:
        _, _, order = client.post("newOrder", client.dir["newOrder"], {"identifiers": [{"type": "dns", "value": name}]})
        az_url = order["authorizations"][0]
        _, _, az = client.post("authz", az_url, None)
        ch = next(c for c in az["challenges"] if c.get("type") == "http-01")
        chall.call("/add-http01", {"token": ch["token"], "content": ch["token"] + "." + client.thumbprint})
        tokens.append(ch["token"])
        client.post("challenge", ch["url"], {})
        deadline, delay = time.monotonic() + opts["flow_timeout"], opts["poll_min"]
        while True:
            _, _, az = client.post("validation", az_url, None)
            if az.get("status") != "pending" or time.monotonic() + delay > deadline:
                break
            time.sleep(delay)
            delay = min(opts["poll_max"], delay * 2)
        if az.get("status") != "valid":
            raise FlowError("validation", "client:authz-" + str(az.get("status")), name)
        rec["ok"] = True
    except (AcmeProblem, FlowError) as e:
        rec.update(ok=False, step=e.step, kind=e.kind, detail=str(e))
    except Exception as e:  # noqa: BLE001
        rec.update(ok=False, step=client.step, kind="client:" + type(e).__name__, detail=f"{client.step}: {e!r}"[:300])
        client.http.close()
    finally:
        for tok in tokens:
            try:
                chall.call("/del-http01", {"token": tok})
            except Exception:  # noqa: BLE001
                pass
    rec["end"] = time.monotonic()
    out["flows"].append(rec)


def run_one(client, chall, job, opts, out):
    names, csr_der, spki = job
    counters = {"polls": 0}
    rec = {"start": time.monotonic()}
    try:
        rec["t"] = acme_load.run_flow(client, chall, names, csr_der, spki, opts, counters)
        rec["ok"] = True
        chain = acme_load.split_chain(counters["pem"])
        # GETs ask with a SHA-1 CertID (what most clients send), POSTs with SHA-256.
        out["certs"].append((chain[0].serial_number, ocsp_request_der(chain[0], chain[1], hashes.SHA1()),
                             ocsp_request_der(chain[0], chain[1], hashes.SHA256())))
    except (AcmeProblem, FlowError) as e:
        rec.update(ok=False, step=e.step, kind=e.kind, detail=str(e))
    except Exception as e:  # noqa: BLE001 - socket errors, timeouts: the flow failed
        rec.update(ok=False, step=client.step, kind="client:" + type(e).__name__, detail=f"{client.step}: {e!r}"[:300])
        client.http.close()
    rec["end"] = time.monotonic()
    out["flows"].append(rec)


def worker_process(proc_index, client_ids, ready_q, done_q, result_q):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    opts = G["opts"]
    ctx = acme_load.ssl.create_default_context(cafile=opts["ca_bundle"])
    out = {"records": [], "setup_errors": [], "certs": [], "status_bad": [], "flows": [], "clients": [],
           "lock": threading.Lock(), "ready": 0}
    threading.stack_size(1024 * 1024)
    ths = [threading.Thread(target=client_thread, args=(i, ctx, out), daemon=True) for i in client_ids]
    for th in ths:
        th.start()
    deadline = time.monotonic() + opts["ramp"] + opts["http_timeout"] * 3 + 30
    while out["ready"] + len(out["setup_errors"]) < len(client_ids) and time.monotonic() < deadline:
        time.sleep(0.2)
    ready_q.put((proc_index, out["ready"], list(out["setup_errors"])))
    for th in ths:
        th.join()
    done_q.put(proc_index)
    G["closed"].wait()  # the parent samples the servers while every connection is still open, then here
    for client, chall, sh in out["clients"]:
        client.http.close()
        chall.http.close()
        sh.close()
    # Final check: every certificate issued to this process answers `good` (POST, one connection).
    final = {"good": 0, "bad": []}
    sh = RecordingHttp(None, opts["http_timeout"])
    sh.sink, sh.fixed_tag = None, "OCSP POST"
    for serial, _, req in out["certs"]:
        try:
            status, _, data = sh.request("POST", opts["ocsp_url"], body=req,
                                         headers={"Content-Type": "application/ocsp-request"})
            v = check_ocsp(status, data, serial)
        except Exception as e:  # noqa: BLE001
            v = repr(e)[:100]
        if v == "good":
            final["good"] += 1
        else:
            final["bad"].append(f"{serial:x}: {v}")
    sh.close()
    result_q.put({"records": out["records"], "flows": out["flows"], "status_bad": out["status_bad"],
                  "final_ocsp": final, "issued": len(out["certs"])})


# ---------------------------------------------------------------------------------------- sampling
def sample(pids):
    """{name: {rss_kb, hwm_kb, rss_anon_kb, rss_file_kb, fds, threads}} of each named PID (hwm_kb = VmHWM,
    the peak RSS since the process started)."""
    snap = {}
    for name, pid in pids.items():
        s = {}
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"):
                        s[{"VmRSS": "rss_kb", "VmHWM": "hwm_kb", "RssAnon": "rss_anon_kb", "RssFile": "rss_file_kb",
                           "Threads": "threads"}[k]] = int(v.split()[0])
            s["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
        except OSError as e:
            s["error"] = str(e)
        snap[name] = s
    return snap


class Sampler(threading.Thread):
    def __init__(self, pids, interval):
        super().__init__(daemon=True)
        self.pids, self.interval, self.samples = pids, interval, []
        self.stop = threading.Event()
        self.t0 = None

    def take(self, label):
        t = 0.0 if self.t0 is None else time.monotonic() - self.t0
        self.samples.append({"label": label, "t_s": round(t, 1), "procs": sample(self.pids)})
        log(f"sample {label}: " + ", ".join(f"{n} rss {p.get('rss_kb', 0) // 1024} MiB fds {p.get('fds')}"
                                              for n, p in self.samples[-1]["procs"].items()))

    def run(self):
        k = 1
        while not self.stop.wait(max(0.0, self.t0 + k * self.interval - time.monotonic())):
            self.take(f"+{k * self.interval:g} s")
            k += 1


# ---------------------------------------------------------------------------------------- report
def summarize(args, outs, sampler, t0, t_end, setup_errors, n_ready):
    records = [r for o in outs for r in o["records"]]
    flows = [f for o in outs for f in o["flows"]]
    per = {}
    for t, tag, status, dt, ra in records:
        e = per.setdefault(tag, {"n": 0, "lat": [], "5xx": 0, "503_retry_after": 0, "429": 0, "4xx": 0,
                                 "exceptions": 0})
        e["n"] += 1
        e["lat"].append(dt * 1000)
        if isinstance(status, str):
            e["exceptions"] += 1
        elif status >= 500:
            e["5xx"] += 1
            if status == 503 and ra:
                e["503_retry_after"] += 1
        elif status == 429:
            e["429"] += 1
        elif status >= 400:
            e["4xx"] += 1
    endpoints = {}
    for tag in ENDPOINTS + sorted(set(per) - set(ENDPOINTS)):
        if tag not in per:
            continue
        e = per.pop(tag)
        lat = sorted(e.pop("lat"))
        endpoints[tag] = dict(e, p50_ms=percentile(lat, 50), p99_ms=percentile(lat, 99), max_ms=lat[-1])
    minutes = {}
    for t, tag, status, dt, ra in records:
        if isinstance(status, int) and status >= 500:
            m = str(int((t - t0) // 60)) if t >= t0 else "ramp"
            minutes[m] = minutes.get(m, 0) + 1
    unfinished = [f for f in flows if f.get("unfinished")]
    flows = [f for f in flows if not f.get("unfinished")]
    failed = [f for f in flows + unfinished if not f.get("ok")]
    errors = {}
    for f in failed:
        errors[f"{f['step']}:{f['kind']}"] = errors.get(f"{f['step']}:{f['kind']}", 0) + 1
    totals = sorted(f["t"]["total"] * 1000 for f in flows if f.get("ok"))
    final_bad = [b for o in outs for b in o["final_ocsp"]["bad"]]
    status_bad = [b for o in outs for b in o["status_bad"]]
    s5 = sum(e["5xx"] for e in endpoints.values())
    s503 = sum(e["503_retry_after"] for e in endpoints.values())
    procs = {}
    samples = sampler.samples
    for name in sampler.pids:
        series = [(x["t_s"], x["procs"][name]) for x in samples if "fds" in x["procs"][name]]
        window = [(x["t_s"], x["procs"][name]) for x in samples
                  if x["t_s"] >= 60 and (x["label"].startswith("+") or x["label"] == "end")
                  and "fds" in x["procs"][name]]
        slope = None
        if len(window) >= 3:  # least squares of anonymous RSS over the window after the first minute
            xs, ys = [t / 60 for t, _ in window], [p.get("rss_anon_kb", 0) / 1024 for _, p in window]
            mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
            den = sum((x - mx) ** 2 for x in xs)
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else None
        hwm = [p.get("hwm_kb") for _, p in series if p.get("hwm_kb") is not None]
        procs[name] = {"first": series[0][1] if series else None, "last": series[-1][1] if series else None,
                       "rss_anon_mib_per_min_after_1min": slope,
                       "peak_rss_kb": max(hwm) if hwm else None,
                       "max_sampled_rss_kb": max((p.get("rss_kb", 0) for _, p in series), default=None)}
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "clients": args.clients,
        "clients_ready": n_ready, "source_addrs": args.source_addrs, "procs": args.procs,
        "duration_s": args.duration, "window_s": t_end - t0, "order_rate": args.order_rate,
        "status_interval_s": args.status_interval, "orders_started": len(flows),
        "unfinished_interval_s": args.unfinished_interval, "unfinished_orders": len(unfinished),
        "unfinished_validated": sum(1 for f in unfinished if f.get("ok")),
        "issued": sum(o["issued"] for o in outs), "failed_flows": len(failed), "flow_errors": errors,
        "flow_error_samples": [f["detail"] for f in failed[:5]], "setup_errors": setup_errors[:10],
        "setup_error_count": len(setup_errors),
        "total_p50_ms": percentile(totals, 50), "total_p99_ms": percentile(totals, 99),
        "requests": len(records), "requests_per_s": len([r for r in records if r[0] >= t0]) / max(1e-9, t_end - t0),
        "http_5xx": s5, "http_503_retry_after": s503, "http_5xx_by_minute": minutes,
        "status_fetch_problems": len(status_bad), "status_fetch_problem_samples": status_bad[:10],
        "final_ocsp_good": sum(o["final_ocsp"]["good"] for o in outs), "final_ocsp_bad": final_bad[:20],
        "final_ocsp_bad_count": len(final_bad),
        "endpoints": endpoints, "samples": samples, "processes": procs,
    }


def print_report(s, stream=sys.stdout):
    w = stream.write
    w(f"\n== soak {s['date']}: {s['clients_ready']}/{s['clients']} clients from {s['source_addrs']} addresses, "
      f"{s['window_s']:.0f} s window, order tickets {s['order_rate']:.2f}/s, a status fetch every "
      f"{s['status_interval_s']:g} s per idle client\n")
    w(f"validated-never-finalized orders (one per idle client every {s['unfinished_interval_s']:g} s): "
      f"{s['unfinished_validated']} / {s['unfinished_orders']}\n")
    w(f"orders: {s['issued']} issued / {s['orders_started']} started, {s['failed_flows']} failed flows in all "
      f"{s['flow_errors'] or ''}; newOrder->certificate p50 {fmt(s['total_p50_ms'])} ms p99 {fmt(s['total_p99_ms'])} ms\n")
    w(f"requests: {s['requests']} ({s['requests_per_s']:.0f}/s in the window); HTTP 5xx: {s['http_5xx']} "
      f"(of which 503 with Retry-After: {s['http_503_retry_after']}) by minute {s['http_5xx_by_minute'] or '{}'}\n")
    w(f"OCSP at the end: {s['final_ocsp_good']} good, {s['final_ocsp_bad_count']} not good; status fetch "
      f"problems during the window: {s['status_fetch_problems']}\n")
    w(f"{'endpoint':<13}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'5xx':>6}{'503+RA':>7}{'429':>5}{'4xx':>5}{'exc':>5}\n")
    for tag, e in s["endpoints"].items():
        w(f"{tag:<13}{e['n']:>9}{fmt(e['p50_ms']):>9}{fmt(e['p99_ms']):>9}{fmt(e['max_ms']):>9}{e['5xx']:>6}"
          f"{e['503_retry_after']:>7}{e['429']:>5}{e['4xx']:>5}{e['exceptions']:>5}\n")
    names = list(s["processes"])
    w(f"{'sample':<13}{'t s':>7}" + "".join(f"{n + ' RSS/anon MiB, fds':>36}" for n in names) + "\n")
    for x in s["samples"]:
        cells = []
        for n in names:
            p = x["procs"][n]
            cells.append(f"{p.get('rss_kb', 0) / 1024:.1f}/{p.get('rss_anon_kb', 0) / 1024:.1f}, {p.get('fds', '?')}")
        w(f"{x['label']:<13}{x['t_s']:>7.0f}" + "".join(f"{c:>36}" for c in cells) + "\n")
    for n, p in s["processes"].items():
        sl = p["rss_anon_mib_per_min_after_1min"]
        pk, ms = p.get("peak_rss_kb"), p.get("max_sampled_rss_kb")
        w(f"{n}: peak RSS (VmHWM) {'-' if pk is None else f'{pk / 1024:.1f} MiB'} (largest sampled VmRSS "
          f"{'-' if ms is None else f'{ms / 1024:.1f} MiB'}); anonymous RSS trend after the first minute "
          f"{'-' if sl is None else f'{sl:+.2f} MiB/min'}\n")
    for d in s["flow_error_samples"] + s["setup_errors"] + s["status_fetch_problem_samples"] + s["final_ocsp_bad"][:5]:
        w(f"  e.g. {d}\n")


def fmt(v):
    return "-" if v is None else f"{v:.1f}"


def checks(args, s):
    """List of failed conditions (empty = pass)."""
    bad = []
    if args.check_no_5xx and s["http_5xx"]:
        bad.append(f"{s['http_5xx']} HTTP 5xx ({s['http_503_retry_after']} of them 503 with Retry-After)")
    if args.check_no_failures and (s["failed_flows"] or s["setup_error_count"] or s["status_fetch_problems"]):
        bad.append(f"{s['failed_flows']} failed flows, {s['setup_error_count']} failed accounts, "
                   f"{s['status_fetch_problems']} bad status fetches")
    if args.check_ocsp_good and (s["final_ocsp_bad_count"] or s["final_ocsp_good"] != s["issued"] or not s["issued"]):
        bad.append(f"final OCSP: {s['final_ocsp_good']} good of {s['issued']} issued")
    if args.check_fd_growth is not None:
        first = s["samples"][0]["procs"]
        last = s["samples"][-1]["procs"]
        for n in first:
            g = last[n].get("fds", 10 ** 6) - first[n].get("fds", 0)
            if g > args.check_fd_growth:
                bad.append(f"{n}: {g} more open descriptors after the clients closed than before the ramp")
    return bad


# ---------------------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", required=True, help="appliance.env of scripts/appliance-dev.sh")
    ap.add_argument("--http01-port", type=int, help="start a pebble-challtestsrv answering http-01 here")
    ap.add_argument("--challtestsrv", help="or use this running one (management URL)")
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=600, help="window in seconds (after the ramp)")
    ap.add_argument("--ramp", type=float, default=30, help="clients create their accounts spread over this (s)")
    ap.add_argument("--procs", type=int, default=4, help="client processes")
    ap.add_argument("--source-addrs", type=int, default=0,
                    help="spread clients over 127.0.0.10..: N addresses (default: clients/32 rounded up)")
    ap.add_argument("--key-pool", required=True)
    ap.add_argument("--order-rate", type=float, default=0, help="order tickets per second (default: keys / duration)")
    ap.add_argument("--max-orders", type=int, default=0, help="keys to use from the pool (default all)")
    ap.add_argument("--unfinished-interval", type=float, default=180,
                    help="mean s between an idle client's validated-but-never-finalized orders (0: none)")
    ap.add_argument("--status-interval", type=float, default=5.0, help="mean s between an idle client's status fetches")
    ap.add_argument("--server-pids", default="", help="name=PID,... sampled for RSS and descriptors")
    ap.add_argument("--sample-interval", type=float, default=60)
    ap.add_argument("--http-timeout", type=float, default=60)
    ap.add_argument("--flow-timeout", type=float, default=120)
    ap.add_argument("--json")
    ap.add_argument("--check-no-5xx", action="store_true")
    ap.add_argument("--check-no-failures", action="store_true")
    ap.add_argument("--check-ocsp-good", action="store_true")
    ap.add_argument("--check-fd-growth", type=int, help="max descriptors more after the clients closed than before")
    args = ap.parse_args()

    env = acme_load.read_env_file(args.env)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 3 connections per client
    args.source_addrs = args.source_addrs or math.ceil(args.clients / 32)
    sources = [f"127.0.0.{10 + i}" for i in range(min(args.source_addrs, 240))]
    pids = {}
    for item in filter(None, args.server_pids.split(",")):
        k, _, v = item.partition("=")
        pids[k] = int(v)

    keys = acme_load.ensure_key_pool(args.key_pool, 0, 1)
    if args.max_orders:
        keys = keys[:args.max_orders]
    if not keys:
        raise SystemExit("soak_load: the key pool is empty (acme_load.py keys --count N --out FILE)")
    args.order_rate = args.order_rate or len(keys) / args.duration
    rng = random.SystemRandom()
    tag = acme_load.random_label(rng, 6)
    names = [[f"{acme_load.random_label(rng)}-{tag}.{env.get('SUFFIX', 'demo.test')}"] for _ in keys]
    t = time.monotonic()
    with mp.get_context("fork").Pool(os.cpu_count() or 1, initializer=acme_load._skip_rsa_key_check) as pool:
        csrs = pool.map(acme_load._make_csr, list(zip(keys, names)), chunksize=8)
    log(f"{len(keys)} CSRs ready in {time.monotonic() - t:.1f} s")

    chall_proc = None
    challtestsrv = args.challtestsrv
    if not challtestsrv:
        chall_proc, challtestsrv = acme_load.start_challtestsrv(args.http01_port)
    ctx = mp.get_context("fork")
    G["opts"] = {"directory": env["ACME_DIR"], "ca_bundle": env["ACME_CA_BUNDLE"], "eab_kid": env["EAB_KID"],
                 "eab_hmac": env["EAB_HMAC"], "challtestsrv": challtestsrv, "ocsp_url": env["OCSP_URL"],
                 "crl_url": env["CRL_URL"], "http_timeout": args.http_timeout, "flow_timeout": args.flow_timeout,
                 "poll_min": 0.05, "poll_max": 1.0, "ramp": args.ramp, "clients": args.clients,
                 "sources": sources, "status_interval": args.status_interval, "order_rate": args.order_rate,
                 "unfinished_interval": args.unfinished_interval, "suffix": env.get("SUFFIX", "demo.test")}
    G["jobs"] = [(names[i], csrs[i][0], csrs[i][1]) for i in range(len(keys))]
    G["counter"], G["t0"], G["stop_at"] = ctx.Value("l", 0), ctx.Value("d", 0.0), ctx.Value("d", 0.0)
    G["start"], G["closed"] = ctx.Event(), ctx.Event()
    acme_load.Http = RecordingHttp  # AcmeClient and Challtestsrv build their connections through it
    sampler = Sampler(pids, args.sample_interval)
    try:
        sampler.take("before ramp")
        ready_q, done_q, result_q = ctx.Queue(), ctx.Queue(), ctx.Queue()
        split = [list(range(i, args.clients, args.procs)) for i in range(args.procs)]
        procs = [ctx.Process(target=worker_process, args=(i, split[i], ready_q, done_q, result_q), daemon=True)
                 for i in range(args.procs)]
        for p in procs:
            p.start()
        n_ready, setup_errors = 0, []
        for _ in procs:
            _, n, errs = ready_q.get(timeout=args.ramp + args.http_timeout * 3 + 120)
            n_ready += n
            setup_errors.extend(errs)
        log(f"{n_ready} clients have an account ({len(setup_errors)} failed); window of {args.duration:g} s")
        for e in setup_errors[:5]:
            log("account setup failed: " + e)
        t0 = time.monotonic()
        G["t0"].value, G["stop_at"].value = t0, t0 + args.duration
        sampler.t0 = t0
        sampler.take("window start")
        sampler.start()
        G["start"].set()
        # Flows still running at the end of the window finish (bounded by --flow-timeout) before the
        # end sample, taken while every client connection is still open.
        for _ in procs:
            done_q.get(timeout=args.duration + args.flow_timeout + args.http_timeout * 3 + 60)
        sampler.stop.set()
        sampler.take("end")
        t_end = time.monotonic()
        G["closed"].set()
        outs = [result_q.get(timeout=args.flow_timeout + 600) for _ in procs]
        for p in procs:
            p.join(timeout=10)
        time.sleep(2)  # the servers see the closes
        sampler.take("after close")
    finally:
        if chall_proc is not None:
            chall_proc.terminate()
            chall_proc.wait(timeout=10)
    s = summarize(args, outs, sampler, t0, t_end, setup_errors, n_ready)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(s, f, indent=1)
    print_report(s)
    bad = checks(args, s)
    for b in bad:
        print(f"soak: CHECK FAILED: {b}")
    return 3 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
