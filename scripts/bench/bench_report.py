#!/usr/bin/python3
"""bench_report.py OUT_DIR: the one table of scripts/bench/bench-acme.sh, from the files of a run.

Reads OUT_DIR/{appliance,pebble}-c<C>-k<K>.json (acme_load.py summaries), hsm_bench.txt,
bench-ocsp.txt and machine.txt; prints the table and writes OUT_DIR/summary.json. Targets are those
of the issue (scripts/bench/README.md)."""
import glob
import json
import os
import re
import sys

TARGET_CPU = 0.75        # appliance server CPU per certificate <= 0.75 x Pebble's
TARGET_VS_PEBBLE = 2.0   # certificates/s at c=16 >= 2 x Pebble's
TARGET_VS_HSM = 0.40     # certificates/s at c=16 >= 40 % of raw 2-thread HSM signatures/s
TARGET_TAIL = 2.0        # p99 <= 2 x p50 (newOrder -> certificate) at c=16
TARGET_OCSP = 0.8        # OCSP GET req/s >= 0.8 x nginx


def load_points(out):
    pts = {}
    for path in glob.glob(os.path.join(out, "*-c*-k*.json")):
        m = re.match(r"(appliance|pebble)-c(\d+)-k(\d+)\.json$", os.path.basename(path))
        if not m:
            continue
        with open(path) as f:
            pts[(m.group(1), int(m.group(2)), int(m.group(3)))] = json.load(f)
    return pts


def parse_hsm(out):
    path = os.path.join(out, "hsm_bench.txt")
    rates = {}
    if os.path.exists(path):
        for line in open(path):
            m = re.match(r"^\s*([12])\s+([\d.]+)\s+([\d.]+)", line)
            if m:
                rates[int(m.group(1))] = {"raw": float(m.group(2)), "seam": float(m.group(3))}
    return rates


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


def main():
    out = sys.argv[1]
    pts = load_points(out)
    hsm = parse_hsm(out)
    ocsp = parse_ocsp(out)
    machine = open(os.path.join(out, "machine.txt")).read().strip() if os.path.exists(os.path.join(out, "machine.txt")) else ""
    cols = sorted({(c, k) for (_, c, k) in pts}, key=lambda ck: (ck[1], ck[0]))
    hsm2 = hsm.get(2, {}).get("raw")
    cmax = max((c for c, _ in cols), default=None)

    def get(server, ck, *path):
        v = pts.get((server, ck[0], ck[1]))
        for p in path:
            if v is None:
                return None
            v = v.get(p)
        return v

    rows = []  # (label, [values per column], target text, verdict text)
    summary = {"points": {}, "hsm": hsm, "ocsp": ocsp, "targets": {}}

    def row(label, values, spec=".2f", target="", ok=None):
        rows.append((label, [f(v, spec) if not isinstance(v, str) else v for v in values], target, verdict(ok)))

    def clean(server, ck):
        """A point whose flows failed (other than rateLimited) gives no figure to compare with."""
        e = get(server, ck, "errors")
        return e is not None and all(k == "rateLimited" for k in e)

    a_rate = [get("appliance", ck, "orders_per_s") for ck in cols]
    p_rate = [get("pebble", ck, "orders_per_s") if clean("pebble", ck) else None for ck in cols]
    rate_ratio = [div(a, p) for a, p in zip(a_rate, p_rate)]
    a_cpu = [get("appliance", ck, "server_cpu_ms_per_cert") for ck in cols]
    p_cpu = [get("pebble", ck, "server_cpu_ms_per_cert") if clean("pebble", ck) else None for ck in cols]
    cpu_ratio = [div(a, p) for a, p in zip(a_cpu, p_cpu)]
    vs_hsm = [div(a, hsm2) for a in a_rate]
    a_p50 = [get("appliance", ck, "latency_ms", "total", "p50") for ck in cols]
    a_p99 = [get("appliance", ck, "latency_ms", "total", "p99") for ck in cols]
    tail = [div(b, a) for a, b in zip(a_p50, a_p99)]
    p_p50 = [get("pebble", ck, "latency_ms", "total", "p50") if clean("pebble", ck) else None for ck in cols]
    p_p99 = [get("pebble", ck, "latency_ms", "total", "p99") if clean("pebble", ck) else None for ck in cols]

    def at_cmax(values):
        return [v for ck, v in zip(cols, values) if ck[0] == cmax and v is not None]

    def all_ok(values, pred):
        vals = [v for v in values if v is not None]
        return None if not vals else all(pred(v) for v in vals)

    def errs(server, ck):
        e = get(server, ck, "errors")
        if e is None:
            return None
        other = sum(v for k, v in e.items() if k != "rateLimited")
        return other, e.get("rateLimited", 0)

    def err_text(server, ck):
        e = errs(server, ck)
        n = get(server, ck, "attempted")
        return "-" if e is None else f"{e[0]}/{n}" + (f" +{e[1]}rl" if e[1] else "")

    row("appliance orders/s (= certificates/s)", a_rate)
    row("Pebble orders/s ('failed': flows failed, no figure)",
        [v if v is not None or get("pebble", ck, "errors") is None else "failed" for ck, v in zip(cols, p_rate)])
    ok = all_ok(at_cmax(rate_ratio), lambda v: v >= TARGET_VS_PEBBLE)
    row("orders/s / Pebble's", rate_ratio, target=f">= {TARGET_VS_PEBBLE:g} at c={cmax}", ok=ok)
    summary["targets"]["orders_vs_pebble_c16"] = {"values": at_cmax(rate_ratio), "met": ok}
    ok = all_ok(at_cmax(vs_hsm), lambda v: v >= TARGET_VS_HSM)
    row(f"certificates/s / raw HSM 2-thread sig/s ({f(hsm2, '.0f')})", vs_hsm, ".3f",
        target=f">= {TARGET_VS_HSM:g} at c={cmax}", ok=ok)
    summary["targets"]["certs_vs_hsm_c16"] = {"values": at_cmax(vs_hsm), "met": ok}
    row("appliance server CPU ms/certificate", a_cpu, ".1f")
    row("Pebble server CPU ms/certificate", p_cpu, ".1f")
    ok = all_ok(cpu_ratio, lambda v: v <= TARGET_CPU)
    row("server CPU per certificate / Pebble's", cpu_ratio, target=f"<= {TARGET_CPU:g} (every point)", ok=ok)
    summary["targets"]["cpu_vs_pebble"] = {"values": cpu_ratio, "met": ok}
    row("appliance p50 newOrder->cert ms", a_p50, ".0f")
    row("appliance p99 newOrder->cert ms", a_p99, ".0f")
    ok = all_ok(at_cmax(tail), lambda v: v <= TARGET_TAIL)
    row("appliance p99/p50", tail, target=f"<= {TARGET_TAIL:g} at c={cmax}", ok=ok)
    summary["targets"]["p99_over_p50_c16"] = {"values": at_cmax(tail), "met": ok}
    row("Pebble p50 / p99 newOrder->cert ms",
        [f"{f(a, '.0f')}/{f(b, '.0f')}" for a, b in zip(p_p50, p_p99)])
    row("Pebble p99/p50", [div(b, a) for a, b in zip(p_p50, p_p99)])
    row("appliance p50 finalize ms", [get("appliance", ck, "latency_ms", "finalize", "p50") for ck in cols], ".1f")
    row("appliance p50 validation wait ms", [get("appliance", ck, "latency_ms", "validation", "p50") for ck in cols], ".0f")
    e_ok = None
    for server in ("appliance",):
        for ck in cols:
            e = errs(server, ck)
            if e is not None:
                e_ok = (e_ok is not False) and e[0] == 0
    row("appliance errors/orders (+rateLimited)", [err_text("appliance", ck) for ck in cols],
        target="0 but rate limits", ok=e_ok)
    summary["targets"]["no_errors"] = {"met": e_ok}
    row("Pebble errors/orders", [err_text("pebble", ck) for ck in cols])
    row("client CPU share / machine busy %",
        [f"{f(100 * (get('appliance', ck, 'client_cpu_share') or 0), '.0f')}/"
         f"{f(100 * (get('appliance', ck, 'machine_busy_share') or 0), '.0f')}" for ck in cols])
    hsm_txt = (f"raw 1 thread {f(hsm.get(1, {}).get('raw'), '.0f')}/s, 2 threads {f(hsm2, '.0f')}/s; "
               f"through the OpenSSL seam {f(hsm.get(1, {}).get('seam'), '.0f')}/s, {f(hsm.get(2, {}).get('seam'), '.0f')}/s") if hsm else "not run"
    ocsp_ok = None if ocsp is None else ocsp["ratio"] >= TARGET_OCSP
    ocsp_txt = (f"status server {ocsp['server_rps']:.0f} req/s, nginx {ocsp['nginx_rps']:.0f} req/s: "
                f"ratio {ocsp['ratio']:.2f}, server p99 {ocsp['server_p99_ms']:.2f} ms") if ocsp else "not run"
    summary["targets"]["ocsp_vs_nginx"] = {"value": ocsp and ocsp["ratio"], "met": ocsp_ok}

    headers = [f"c={c} K={k}" for c, k in cols]
    lw = max(len(r[0]) for r in rows) + 1
    cw = max(10, max((len(v) for r in rows for v in r[1]), default=0) + 1)
    tw = max(len(r[2]) for r in rows) + 1
    line = "-" * (lw + cw * len(cols) + tw + 9)
    print(line)
    print("ACME full-flow benchmark (scripts/bench/bench-acme.sh)")
    for l in machine.splitlines():
        print("  " + l)
    print(line)
    print(f"{'figure':<{lw}}" + "".join(f"{h:>{cw}}" for h in headers) + f"  {'target':<{tw}}verdict")
    print(line)
    for label, values, target, v in rows:
        print(f"{label:<{lw}}" + "".join(f"{x:>{cw}}" for x in values) + f"  {target:<{tw}}{v if target else ''}")
    print(line)
    print(f"{'raw HSM RSA-3072 signatures/s (hsm_bench)':<{lw}}{hsm_txt}")
    print(f"{'OCSP GET req/s / nginx (bench-ocsp.sh)':<{lw}}{ocsp_txt}  [target >= {TARGET_OCSP:g}: {verdict(ocsp_ok)}]")
    retries_path = os.path.join(out, "pebble-retries.txt")
    reruns = [l.strip() for l in open(retries_path)] if os.path.exists(retries_path) else []
    summary["pebble_reruns"] = reruns
    print(f"{'Pebble points rerun after a stall':<{lw}}{'; '.join(reruns) if reruns else 'none'}")
    print(line)
    for (server, c, k), s in sorted(pts.items()):
        summary["points"][f"{server}-c{c}-k{k}"] = {
            "orders_per_s": s["orders_per_s"], "server_cpu_ms_per_cert": s["server_cpu_ms_per_cert"],
            "p50_ms": s["latency_ms"]["total"]["p50"], "p99_ms": s["latency_ms"]["total"]["p99"],
            "errors": s["errors"], "issued": s["issued"], "attempted": s["attempted"]}
    with open(os.path.join(out, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=1)


if __name__ == "__main__":
    main()
