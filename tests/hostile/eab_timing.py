#!/usr/bin/python3
"""EAB timing, black box (issue 14: "an unknown kid and a wrong MAC must be indistinguishable to the
client"). Not a ctest test (no timed tests): a measuring tool, its figures in the README ("Hostile
input").

Against a running dev appliance (scripts/appliance-dev.sh up): N newAccount requests whose
externalAccountBinding names an unknown kid, and N naming the appliance's real kid with a wrong MAC
key, alternating (so that load on the shared machine falls on both alike), all signed by one account
key that is never registered. Only the POST is timed (nonce fetched and JWS built beforehand), on
one kept-alive TLS connection. Every answer must be the same problem (status, type, detail) or the
run fails. Prints p50 / p90 / mean of each kind in microseconds and their differences, as the client
sees them and, from the gateway's log (STATE/logs/gateway.log: each request's `duration_ms`, its
kind from the `eab_refused` line before it), inside the server, without the network's noise.

Usage: eab_timing.py --env STATE/appliance.env [-n 300] [--warmup 30] [--json OUT]
"""
import argparse
import json
import os
import statistics
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "acme_protocol"))
sys.path.insert(0, os.path.join(HERE, "..", "acme_clients"))
from acme_client import Client, jws  # noqa: E402
from appliance_cases import load_env  # noqa: E402


def percentile(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def table(title, times):
    """Prints and returns p50 / p90 / mean (us) of each kind and their difference."""
    stats = {}
    for k, v in times.items():
        stats[k] = {"n": len(v), "p50_us": percentile(v, 0.5), "p90_us": percentile(v, 0.9),
                    "mean_us": statistics.fmean(v)}
    d = {q: stats["wrong_mac"][q] - stats["unknown_kid"][q] for q in ("p50_us", "p90_us", "mean_us")}
    print(f"{title:34} {'n':>4} {'p50 us':>9} {'p90 us':>9} {'mean us':>9}")
    for k, s in stats.items():
        print(f"  {k:32} {s['n']:4} {s['p50_us']:9.1f} {s['p90_us']:9.1f} {s['mean_us']:9.1f}")
    print(f"  {'difference (wrong_mac - unknown)':32} {'':4} {d['p50_us']:+9.1f} {d['p90_us']:+9.1f} "
          f"{d['mean_us']:+9.1f}")
    return {"stats": stats, "difference": d}


def server_times(log_path, offset):
    """{kind: [us]} from the gateway's log after `offset`: each new-account acme_request line, its
    kind from the eab_refused line before it."""
    out = {"unknown_kid": [], "wrong_mac": []}
    reason = None
    with open(log_path) as f:
        f.seek(offset)
        for line in f:
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if j.get("event") == "eab_refused":
                reason = {"unknown kid": "unknown_kid", "wrong MAC": "wrong_mac"}.get(j.get("reason"))
            elif j.get("event") == "acme_request" and j.get("endpoint") == "new-account" and reason:
                out[reason].append(j["duration_ms"] * 1000)
                reason = None
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--env", required=True)
    p.add_argument("-n", type=int, default=300)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--json")
    args = p.parse_args()
    env = load_env(args.env)
    c = Client(env["ACME_DIR"].rsplit("/directory", 1)[0])
    c.s.verify = env["ACME_CA_BUNDLE"]
    url = c.url("/acme/new-account")

    def request(kind):
        """(a prepared newAccount body, the kind): unknown kid, or the real kid with a wrong MAC."""
        kid = str(uuid.uuid4()) if kind == "unknown_kid" else env["EAB_KID"]
        eab = c.eab(kid, os.urandom(32))
        payload = {"termsOfServiceAgreed": True, "externalAccountBinding": eab}
        return jws(c.key, {"nonce": c.nonce(), "url": url, "jwk": c.key.jwk()}, payload)

    log_path = os.path.join(os.path.dirname(os.path.abspath(args.env)), "logs", "gateway.log")
    kinds = ["unknown_kid", "wrong_mac"]
    times = {k: [] for k in kinds}
    log_offset = None
    answers = {}
    total = args.warmup * 2 + args.n * 2
    for i in range(total):
        kind = kinds[i % 2] if (i // 2) % 2 == 0 else kinds[1 - i % 2]  # ABBA: neither always first
        body = json.dumps(request(kind))
        t0 = time.perf_counter_ns()
        r = c.s.post(url, data=body, headers={"Content-Type": "application/jose+json"})
        elapsed = (time.perf_counter_ns() - t0) / 1000
        problem = r.json() if r.headers.get("Content-Type", "").startswith("application/problem") else r.text
        answers.setdefault(kind, set()).add((r.status_code, json.dumps(problem, sort_keys=True)))
        if i == args.warmup * 2 - 1 and os.path.exists(log_path):
            log_offset = os.path.getsize(log_path)
        if i >= args.warmup * 2:
            times[kind].append(elapsed)

    distinct = answers["unknown_kid"] | answers["wrong_mac"]
    ok = len(distinct) == 1
    print(f"{args.n} + {args.n} newAccount POSTs, alternating (ABBA), {args.warmup * 2} warm-up; "
          f"load average {os.getloadavg()[0]:.2f}")
    report = {"client": table("client (round trip)", times)}
    if log_offset is not None:
        report["server"] = table("server (gateway log duration_ms)", server_times(log_path, log_offset))
    print(f"answers identical: {ok}: {sorted(distinct)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(report, identical=ok, answers=sorted(distinct), loadavg=os.getloadavg()),
                      f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
