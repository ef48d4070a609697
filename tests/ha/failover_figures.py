#!/usr/bin/python3
"""The failover test's figures (tests/ha/failover_e2e.sh), one JSON line on stdout.

    failover_figures.py EVENTS KILL_AT STORE_SERIALS [key=value ...]

EVENTS: failover_load.py's flows (JSON lines); KILL_AT: unix time of the SIGKILL of the active
node; STORE_SERIALS: the serials (hex, one a line) of every certificate the surviving CA store
holds as issued. Extra key=value pairs are added to the line as they are (numbers when they parse).
Figures: flows (ok, failed, failed by kind, failed after the kill), outage_seconds (from the kill to
the first issuance completed after it), max_gap_seconds (the longest time between two issuances
completed in the run), acknowledged_missing (certificates the load generator received that the
surviving store does not hold), duplicate_serials (serials received twice, or held twice).
"""
import json
import sys


def main():
    events_path, kill_at, serials_path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    flows = []
    with open(events_path) as f:
        for line in f:
            rec = json.loads(line)
            if "ok" in rec:
                flows.append(rec)
    ok = sorted((r for r in flows if r["ok"]), key=lambda r: r["end"])
    failed = [r for r in flows if not r["ok"]]
    by_kind = {}
    for r in failed:
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + 1
    after = [r["end"] for r in ok if r["end"] > kill_at]
    ends = [r["end"] for r in ok]
    gaps = [b - a for a, b in zip(ends, ends[1:])]
    with open(serials_path) as f:
        held = [s.strip().lower().lstrip("0") for s in f if s.strip()]
    received = [r["serial"].lower().lstrip("0") for r in ok]
    held_set = set(held)
    out = {
        "flows": len(flows), "flows_ok": len(ok), "flows_failed": len(failed),
        "failed_by_kind": by_kind,
        "failed_after_kill": sum(1 for r in failed if r["end"] > kill_at),
        "issued_before_kill": sum(1 for e in ends if e <= kill_at), "issued_after_kill": len(after),
        "outage_seconds": round(after[0] - kill_at, 2) if after else None,
        "max_gap_seconds": round(max(gaps), 2) if gaps else None,
        "acknowledged_missing": sum(1 for s in received if s not in held_set),
        "duplicate_serials": (len(received) - len(set(received))) + (len(held) - len(held_set)),
        "store_issued": len(held_set),
    }
    for kv in sys.argv[4:]:
        k, _, v = kv.partition("=")
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
