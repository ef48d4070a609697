#!/usr/bin/python3
"""bench_report.py OUT_DIR: the tables of scripts/bench/bench-acme.sh, from the files of a run.

Reads OUT_DIR/{appliance,pebble}-c<C>-k<K>.json and -c1-k1-ra.json (acme_load.py summaries; `-ra` =
the client honours Retry-After), engine_bench.txt (its `RATIO engine ...` and `CPU engine ...` lines),
bench-ocsp.txt and machine.txt; prints the targets of issue 16 with their verdicts, the figures per
point and the peak RSS per process, and writes OUT_DIR/summary.json. Targets: scripts/bench/README.md.
Also importable: parse_engine_bench() is used by scripts/bench/quick.sh.
"""
import glob
import json
import os
import re
import sys

TARGET_ENGINE = 0.85     # engine certificates/s >= 0.85 x 1/(t_rsa + t_ecdsa), at 1 and 2 threads
TARGET_GATEWAY_MS = 2.0  # gateway CPU per certificate <= 2.0 ms, full flow c=16 K=1
TARGET_CPU = 0.75        # appliance server CPU per certificate <= 0.75 x Pebble's, every point
TARGET_VS_PEBBLE = 1.0   # appliance orders/s >= 1.0 x Pebble's, every point
TARGET_TAIL = 2.0        # p99 <= 2 x p50 (newOrder -> certificate) at c=16
TARGET_RA_S = 0.5        # p50 newOrder -> certificate <= 0.5 s (and <= Pebble's) for a client honouring Retry-After
TARGET_OCSP = 0.8        # OCSP GET req/s >= 0.8 x nginx
GATEWAY = "ca-gateway"
ENGINE = "ca-engine"


def load_points(out):
    """{(server, c, k): summary} of the ordinary points and {server: summary} of the Retry-After points."""
    pts, ra = {}, {}
    for path in glob.glob(os.path.join(out, "*-c*-k*.json")):
        base = os.path.basename(path)
        m = re.match(r"(appliance|pebble)-c(\d+)-k(\d+)(-ra)?\.json$", base)
        if not m:
            continue
        with open(path) as fh:
            s = json.load(fh)
        if m.group(4):
            ra[m.group(1)] = s
        else:
            pts[(m.group(1), int(m.group(2)), int(m.group(3)))] = s
    return pts, ra


def _kv(text):
    out = {}
    for k, v in re.findall(r"(\w+)=(\S+)", text):
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return out


def parse_engine_bench(path):
    """{"ratio": {threads: {certs_per_s, limit_per_s, ratio}}, "other": [line], "cpu": [{ms_per_cert, ...}]}
    from the `RATIO engine threads=N certs_per_s=X limit_per_s=Y ratio=Z` and `CPU engine ms_per_cert=X`
    lines of engine_bench's output ("other": RATIO lines of another name, e.g. engine_lone, shown as
    they are); None when the file is missing. No RATIO engine line -> "ratio" is empty."""
    if not os.path.exists(path):
        return None
    res = {"ratio": {}, "other": [], "cpu": []}
    with open(path) as fh:
        for line in fh:
            m = re.match(r"^RATIO (\S+) (.*)$", line.strip())
            if m:
                kv = _kv(m.group(2))
                if m.group(1) == "engine" and "threads" in kv:
                    kv["line"] = line.strip()
                    res["ratio"][int(kv["threads"])] = kv
                else:
                    res["other"].append(line.strip())
                continue
            m = re.match(r"^CPU engine (.*)$", line.strip())
            if m:
                kv = _kv(m.group(1))
                kv["line"] = line.strip()
                res["cpu"].append(kv)
    return res


def parse_ocsp(out):
    path = os.path.join(out, "bench-ocsp.txt")
    if not os.path.exists(path):
        return None
    text = open(path).read()
    m = re.search(r"mean rps server ([\d.]+) nginx ([\d.]+); ratio server/nginx: ([\d.]+).*worst p99 ([\d.]+) ms", text)
    if not m:
        return None
    return {"server_rps": float(m.group(1)), "nginx_rps": float(m.group(2)), "ratio": float(m.group(3)),
            "server_p99_ms": float(m.group(4))}


def f(v, spec=".2f"):
    return "-" if v is None else format(v, spec)


def div(a, b):
    return None if a is None or not b else a / b


def verdict(ok):
    return "-" if ok is None else ("MET" if ok else "NOT MET")


def span(values, spec=".2f"):
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    lo, hi = min(vals), max(vals)
    return f"{lo:{spec}}" if f"{lo:{spec}}" == f"{hi:{spec}}" else f"{lo:{spec}}-{hi:{spec}}"


def all_ok(values, pred):
    vals = [v for v in values if v is not None]
    return None if not vals else all(pred(v) for v in vals)


def mib(kb):
    return None if kb is None else kb / 1024.0


def table(headers, rows, first_width=None):
    """Plain fixed-width table: headers[0] left-aligned, the rest right-aligned."""
    w0 = first_width or max(len(headers[0]), *(len(r[0]) for r in rows)) + 1
    ws = [max(len(headers[i]), *(len(r[i]) for r in rows)) + 2 for i in range(1, len(headers))]
    lines = [f"{headers[0]:<{w0}}" + "".join(f"{h:>{w}}" for h, w in zip(headers[1:], ws))]
    for r in rows:
        lines.append(f"{r[0]:<{w0}}" + "".join(f"{x:>{w}}" for x, w in zip(r[1:], ws)))
    return lines


def main():
    out = sys.argv[1]
    pts, ra = load_points(out)
    eng = parse_engine_bench(os.path.join(out, "engine_bench.txt"))
    ocsp = parse_ocsp(out)
    mpath = os.path.join(out, "machine.txt")
    machine = open(mpath).read().strip() if os.path.exists(mpath) else ""
    cols = sorted({(c, k) for (_, c, k) in pts}, key=lambda ck: (ck[1], ck[0]))
    cmax = max((c for c, _ in cols), default=None)

    def get(server, ck, *path):
        v = pts.get((server, ck[0], ck[1]))
        for p in path:
            if v is None:
                return None
            v = v.get(p)
        return v

    def clean(s):
        """A run whose flows failed (other than rateLimited) gives no figure to compare with."""
        e = None if s is None else s.get("errors")
        return e is not None and all(k == "rateLimited" for k in e)

    def cleanp(server, ck):
        return clean(pts.get((server, ck[0], ck[1])))

    def proc_ms(server, ck, name):
        s = pts.get((server, ck[0], ck[1]))
        return None if s is None else (s.get("server_cpu_ms_per_cert_by_name") or {}).get(name)

    a_rate = [get("appliance", ck, "orders_per_s") for ck in cols]
    p_rate = [get("pebble", ck, "orders_per_s") if cleanp("pebble", ck) else None for ck in cols]
    rate_ratio = [div(a, p) for a, p in zip(a_rate, p_rate)]
    a_cpu = [get("appliance", ck, "server_cpu_ms_per_cert") for ck in cols]
    p_cpu = [get("pebble", ck, "server_cpu_ms_per_cert") if cleanp("pebble", ck) else None for ck in cols]
    cpu_ratio = [div(a, p) for a, p in zip(a_cpu, p_cpu)]
    a_p50 = [get("appliance", ck, "latency_ms", "total", "p50") for ck in cols]
    a_p99 = [get("appliance", ck, "latency_ms", "total", "p99") for ck in cols]
    tail = [div(b, a) for a, b in zip(a_p50, a_p99)]
    p_p50 = [get("pebble", ck, "latency_ms", "total", "p50") if cleanp("pebble", ck) else None for ck in cols]
    p_p99 = [get("pebble", ck, "latency_ms", "total", "p99") if cleanp("pebble", ck) else None for ck in cols]
    gw_cpu = [proc_ms("appliance", ck, GATEWAY) for ck in cols]
    eng_cpu = [proc_ms("appliance", ck, ENGINE) for ck in cols]
    summary = {"points": {}, "engine_bench": eng, "ocsp": ocsp, "targets": {}}
    T = summary["targets"]

    # ------------------------------------------------------------------ targets (issue 16)
    trows = []  # (figure, value, target, verdict)

    def target(key, label, value_text, target_text, ok, values=None):
        trows.append((label, value_text, target_text, verdict(ok)))
        T[key] = {"values": values, "met": ok}

    for th in (1, 2):
        r = (eng or {}).get("ratio", {}).get(th)
        v = None if r is None else r.get("ratio")
        txt = "not run" if eng is None else ("no RATIO line" if r is None else
                                             f"{v:.2f} ({f(r.get('certs_per_s'), '.0f')} / {f(r.get('limit_per_s'), '.0f')} per s)")
        target(f"engine_vs_hsm_limit_{th}t", f"engine certificates/s / HSM limit, {th} thread{'s' if th > 1 else ''}",
               txt, f">= {TARGET_ENGINE:g}", None if v is None else v >= TARGET_ENGINE, v)
    ck1 = (cmax, 1)
    g = proc_ms("appliance", ck1, GATEWAY) if ck1 in cols else None
    target("gateway_cpu_ms_c16_k1", f"gateway CPU ms per certificate, c={cmax} K=1", f(g),
           f"<= {TARGET_GATEWAY_MS:g} ms", None if g is None else g <= TARGET_GATEWAY_MS, g)
    ok = all_ok(cpu_ratio, lambda v: v <= TARGET_CPU)
    n = sum(v is not None for v in cpu_ratio)
    target("cpu_vs_pebble", "server CPU per certificate / Pebble's, every point",
           f"{span(cpu_ratio)} ({n}/{len(cols)} points)", f"<= {TARGET_CPU:g} each", ok, cpu_ratio)
    ok = all_ok(rate_ratio, lambda v: v >= TARGET_VS_PEBBLE)
    n = sum(v is not None for v in rate_ratio)
    target("orders_vs_pebble", "orders/s / Pebble's, every point",
           f"{span(rate_ratio)} ({n}/{len(cols)} points)", f">= {TARGET_VS_PEBBLE:g} each", ok, rate_ratio)
    tails = [v for ck, v in zip(cols, tail) if ck[0] == cmax]
    ok = all_ok(tails, lambda v: v <= TARGET_TAIL)
    target("p99_over_p50_c16", f"p99/p50 newOrder->certificate, c={cmax}",
           ", ".join(f"{f(v)} (K={ck[1]})" for ck, v in zip(cols, tail) if ck[0] == cmax) or "-",
           f"<= {TARGET_TAIL:g}", ok, tails)
    ra_a, ra_p = ra.get("appliance"), ra.get("pebble")
    ra_a50 = ra_a["latency_ms"]["total"]["p50"] / 1000 if ra_a and clean(ra_a) else None
    ra_p50 = ra_p["latency_ms"]["total"]["p50"] / 1000 if ra_p and clean(ra_p) else None
    ok = None if ra_a50 is None else (ra_a50 <= TARGET_RA_S and (ra_p50 is None or ra_a50 <= ra_p50))
    if ok and ra_p50 is None:
        ok = None  # half the target cannot be judged without Pebble's figure
    target("retry_after_p50_c1", "p50 newOrder->cert s, client honouring Retry-After, c=1",
           f"{f(ra_a50, '.3f')} (Pebble {f(ra_p50, '.3f') if ra_p else 'not run'})",
           f"<= {TARGET_RA_S:g} s and <= Pebble", ok, {"appliance": ra_a50, "pebble": ra_p50})
    rss_cols = [ck for ck in cols if ck[0] == cmax]
    have_rss = any(get("appliance", ck, "server_mem_kb") for ck in rss_cols)
    trows.append((f"peak RSS per process, c={cmax}", "below" if have_rss else "not recorded",
                  "reported (flat: soak.sh)", "MET" if have_rss else "NOT MET"))
    T["peak_rss_reported"] = {"met": have_rss}
    ocsp_ok = None if ocsp is None else ocsp["ratio"] >= TARGET_OCSP
    target("ocsp_vs_nginx", "OCSP GET req/s / nginx",
           "not run" if ocsp is None else f"{ocsp['ratio']:.2f} ({ocsp['server_rps']:.0f} / {ocsp['nginx_rps']:.0f})",
           f">= {TARGET_OCSP:g}", ocsp_ok, ocsp and ocsp["ratio"])
    e_ok = None
    for s in [v for (sv, _, _), v in pts.items() if sv == "appliance"] + ([ra_a] if ra_a else []):
        e = s.get("errors")
        if e is not None:
            e_ok = (e_ok is not False) and all(k == "rateLimited" for k in e)
    target("no_errors", "appliance failed flows (but rate limits)", "none" if e_ok else ("-" if e_ok is None else "some"),
           "none", e_ok)

    w0 = max(len(r[0]) for r in trows) + 2
    w1 = max(len(r[1]) for r in trows) + 2
    w2 = max(len(r[2]) for r in trows) + 2
    width = max(w0 + w1 + w2 + 8, 100)
    line = "-" * width
    print(line)
    print("ACME benchmark (scripts/bench/bench-acme.sh): targets of issue 16")
    for l in machine.splitlines():
        print("  " + l)
    print(line)
    print(f"{'figure':<{w0}}{'value':<{w1}}{'target':<{w2}}verdict")
    print(line)
    for r in trows:
        print(f"{r[0]:<{w0}}{r[1]:<{w1}}{r[2]:<{w2}}{r[3]}")
    print(line)

    # ------------------------------------------------------------------ per point
    rows = []

    def row(label, values, spec=".2f"):
        rows.append([label] + [f(v, spec) if not isinstance(v, str) else v for v in values])

    def err_text(server, ck):
        e = get(server, ck, "errors")
        n = get(server, ck, "attempted")
        if e is None:
            return "-"
        other = sum(v for k, v in e.items() if k != "rateLimited")
        return f"{other}/{n}" + (f" +{e['rateLimited']}rl" if e.get("rateLimited") else "")

    if cols:
        row("appliance orders/s (= certificates/s)", a_rate)
        row("Pebble orders/s ('failed': no figure)",
            [v if v is not None or get("pebble", ck, "errors") is None else "failed" for ck, v in zip(cols, p_rate)])
        row("orders/s / Pebble's", rate_ratio)
        row("appliance server CPU ms/certificate", a_cpu, ".1f")
        row("  of which ca-engine", eng_cpu, ".2f")
        row("  of which ca-gateway", gw_cpu, ".2f")
        row("Pebble server CPU ms/certificate", p_cpu, ".1f")
        row("server CPU per certificate / Pebble's", cpu_ratio)
        row("appliance p50 / p99 newOrder->cert ms", [f"{f(a, '.0f')}/{f(b, '.0f')}" for a, b in zip(a_p50, a_p99)])
        row("appliance p99/p50", tail)
        row("Pebble p50 / p99 newOrder->cert ms", [f"{f(a, '.0f')}/{f(b, '.0f')}" for a, b in zip(p_p50, p_p99)])
        row("Pebble p99/p50", [div(b, a) for a, b in zip(p_p50, p_p99)])
        row("appliance p50 finalize ms", [get("appliance", ck, "latency_ms", "finalize", "p50") for ck in cols], ".1f")
        row("appliance p50 validation wait ms", [get("appliance", ck, "latency_ms", "validation", "p50") for ck in cols], ".0f")
        row("appliance errors/orders (+rateLimited)", [err_text("appliance", ck) for ck in cols])
        row("Pebble errors/orders", [err_text("pebble", ck) for ck in cols])
        row("client CPU share / machine busy %",
            [f"{f(100 * (get('appliance', ck, 'client_cpu_share') or 0), '.0f')}/"
             f"{f(100 * (get('appliance', ck, 'machine_busy_share') or 0), '.0f')}" for ck in cols])
        print("per point (the client ignores Retry-After: polls after 20 ms, doubling up to 250 ms)")
        for l in table(["figure"] + [f"c={c} K={k}" for c, k in cols], rows):
            print(l)
        print(line)

    # ------------------------------------------------------------------ Retry-After-honouring client
    if ra:
        print("client honouring Retry-After (acme_load.py --honour-retry-after, c=1 K=1): ms")
        rrows = []
        for server in ("appliance", "pebble"):
            s = ra.get(server)
            if s is None:
                continue
            lat = s["latency_ms"]
            seen = s.get("retry_after_seen") or {}
            ra_txt = "; ".join(f"{step} " + ",".join(f"{v}x{n}" for v, n in sorted(c.items()))
                               for step, c in sorted(seen.items()) if step in ("challenge", "validation", "finalize", "poll"))
            rrows.append([server, f"{s['issued']}/{s['attempted']}"] +
                         [f(lat[st]["p50"], ".0f") for st in ("total", "validation", "finalize", "poll")] +
                         [f(s.get("polls_per_order"), ".1f"), ra_txt or "-"])
        for l in table(["server", "issued", "p50 total", "validation", "finalize", "order poll", "polls/order",
                        "Retry-After given (value x count)"], rrows):
            print(l)
        print(line)

    # ------------------------------------------------------------------ peak RSS at c=cmax
    mrows = []
    for ck in rss_cols:
        s = pts.get(("appliance", ck[0], ck[1]))
        if not s or not s.get("server_mem_kb"):
            continue
        names = s.get("server_names", {})
        for pid, m in s["server_mem_kb"].items():
            mrows.append([f"{names.get(pid, pid)} (c={ck[0]} K={ck[1]})", f(mib(m.get("rss_start_kb")), ".1f"),
                          f(mib(m.get("rss_end_kb")), ".1f"), f(mib(m.get("hwm_end_kb")), ".1f")])
        summary["points"].setdefault(f"appliance-c{ck[0]}-k{ck[1]}", {})["mem_kb"] = s["server_mem_kb"]
    if mrows:
        print(f"peak RSS per process at c={cmax} (VmHWM = peak since the process started; it cannot be reset)")
        for l in table(["process (point)", "VmRSS start MiB", "VmRSS end MiB", "VmHWM end MiB"], mrows):
            print(l)
        print(line)

    # ------------------------------------------------------------------ the rest
    if eng is not None:
        for line_ in [r["line"] for _, r in sorted(eng["ratio"].items())] + eng["other"] + [c["line"] for c in eng["cpu"]]:
            print("engine_bench: " + line_)
    if ocsp:
        print(f"OCSP (bench-ocsp.sh): status server {ocsp['server_rps']:.0f} req/s, nginx {ocsp['nginx_rps']:.0f} "
              f"req/s: ratio {ocsp['ratio']:.2f}, server p99 {ocsp['server_p99_ms']:.2f} ms")
    retries_path = os.path.join(out, "pebble-retries.txt")
    reruns = [l.strip() for l in open(retries_path)] if os.path.exists(retries_path) else []
    summary["pebble_reruns"] = reruns
    print(f"Pebble points rerun after a stall: {'; '.join(reruns) if reruns else 'none'}")
    print(line)
    for key, s in [((sv, c, k), s) for (sv, c, k), s in sorted(pts.items())] + \
                  [((sv, 1, 1, "ra"), s) for sv, s in sorted(ra.items())]:
        name = f"{key[0]}-c{key[1]}-k{key[2]}" + ("-ra" if len(key) > 3 else "")
        summary["points"].setdefault(name, {}).update({
            "orders_per_s": s["orders_per_s"], "server_cpu_ms_per_cert": s["server_cpu_ms_per_cert"],
            "server_cpu_ms_per_cert_by_name": s.get("server_cpu_ms_per_cert_by_name"),
            "p50_ms": s["latency_ms"]["total"]["p50"], "p99_ms": s["latency_ms"]["total"]["p99"],
            "errors": s["errors"], "issued": s["issued"], "attempted": s["attempted"]})
    with open(os.path.join(out, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=1)


if __name__ == "__main__":
    main()
