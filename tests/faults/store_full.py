#!/usr/bin/python3
"""The gateway store's map full, end to end (issue 15, Growth: "a clean refusal (no corruption,
recovery after pruning) when full").

Against the dev appliance brought up by with_appliance.sh: ca-gateway is restarted with a 1 MiB
store map (`store_map_size_mb`), retention every 2 s (`retention`), under libfaketime reading its
offset from a file (wall clock only; the monotonic clock goes on). A client then fills the store with
real newOrders until they are refused, and the test checks:
  - the refusal: 503, `Retry-After: 60`, type serverInternal, detail `ACME_OTHER_ERROR: the CA's
    order store is full; retry later` (README "Store size and retention"); every order before it 201;
  - nothing written by a refused write: the store's `orders`, `authorizations` and `challenges`
    tables (mdb_stat) hold exactly the orders that were answered 201;
  - reads still work: directory, new-nonce, the account, an order and its authorization (POST-as-GET);
  - `/metrics` (metrics listener): acme_store_map_bytes is the 1 MiB map, acme_store_used_bytes
    within the reserve kept for retention (10 % of the map, at least 256 KiB: AcmeStore::kMinReserveBytes);
  - no corruption: after SIGKILL, `mdb_dump -a` reads every table, and the restarted gateway serves
    the old orders (and still refuses cleanly);
  - recovery without an operator: the clock moves 9 days on (orders expire after 7 days, retention
    keeps them 1 day more), the background retention pass prunes every filled order (`store_pruned`),
    new orders are accepted again by the same process, the fill level is back out of the reserve.
Usage: store_full.py --state STATE_DIR
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gateway_crash  # noqa: E402  (Gateway: SIGKILL and restart by PID; Client: reconnecting client)
from gateway_crash import ac  # noqa: E402

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
MAP_MB = 1
MAP = MAP_MB << 20
RESERVE = max(MAP // 10, 256 << 10)  # gateway/store.h AcmeStore::kMinReserveBytes
MAX_ORDERS = 5000  # a 1 MiB map fills long before
REFUSAL = {"status": 503, "retry_after": "60", "type": ac.URN + "serverInternal",
           "detail": "ACME_OTHER_ERROR: the CA's order store is full; retry later"}

fails = []


def check(ok, what):
    print(("ok   - " if ok else "FAIL - ") + what)
    if not ok:
        fails.append(what)
    return ok


def refusal_of(r):
    """The parts of a response the refusal is checked on."""
    try:
        body = r.json()
    except ValueError:
        body = {}
    return {"status": r.status_code, "retry_after": r.headers.get("Retry-After"),
            "type": body.get("type"), "detail": body.get("detail")}


def metrics(url):
    text = requests.get(url, timeout=5).text
    values = {}
    for name in ("acme_store_map_bytes", "acme_store_used_bytes"):
        m = re.search(rf"^{name} (\d+)$", text, re.M)
        values[name] = int(m.group(1)) if m else None
    return values


def table_entries(store):
    """{table: entries} of the gateway store, read by mdb_stat (a second LMDB reader)."""
    out = {}
    for table in ("orders", "authorizations", "challenges"):
        r = subprocess.run(["mdb_stat", "-s", table, store], capture_output=True, text=True)
        m = re.search(r"Entries: (\d+)", r.stdout)
        out[table] = int(m.group(1)) if r.returncode == 0 and m else None
    return out


def log_events(path, event):
    found = []
    with open(path) as f:
        for line in f:
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if j.get("event") == event:
                found.append(j)
    return found


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--state", required=True)
    args = p.parse_args()
    if not os.path.exists(FAKETIME_LIB):
        print(f"FAIL - {FAKETIME_LIB} missing (Debian package faketime, scripts/install-deps.sh)")
        return 1
    ac.ENV.update(ac.load_env(os.path.join(args.state, "appliance.env")))
    store = os.path.join(args.state, "gateway-store")
    metrics_url = ac.ENV["GATEWAY_METRICS_URL"]
    offset_file = os.path.join(args.state, "faketime")

    # The gateway again, with a 1 MiB map, retention every 2 s, its wall clock from offset_file.
    gw = gateway_crash.Gateway(args.state)
    gw.kill()
    config_path = os.path.join(args.state, "gateway.json")
    with open(config_path) as f:
        config = json.load(f)
    config["store_map_size_mb"] = MAP_MB
    config["retention"] = {"order_days": 1, "failed_validation_hours": 1, "interval_seconds": 2}
    with open(config_path, "w") as f:
        json.dump(config, f)
    with open(offset_file, "w") as f:
        f.write("+0\n")
    gw.env = dict(os.environ, LD_PRELOAD=FAKETIME_LIB, FAKETIME_TIMESTAMP_FILE=offset_file,
                  FAKETIME_NO_CACHE="1", FAKETIME_DONT_FAKE_MONOTONIC="1")
    c = gateway_crash.Client()
    gw.start(c)
    c.register()
    tag = os.urandom(3).hex()
    suffix = ac.ENV["SUFFIX"]
    entries_at_start = table_entries(store)

    # Fill: newOrders until one is refused.
    started = time.time()
    orders = []  # (URL, name) of every order answered 201
    refused = None
    while len(orders) < MAX_ORDERS:
        name = f"fill{len(orders)}-{tag}.{suffix}"
        r = c.new_order(name)
        if r.status_code != 201:
            refused = r
            break
        orders.append((r.headers["Location"], name))
    print(f"{len(orders)} orders written in {time.time() - started:.1f} s before the first refusal")
    if not check(refused is not None, f"newOrder refused within {MAX_ORDERS} orders of a {MAP_MB} MiB map"):
        return 1
    check(refusal_of(refused) == REFUSAL, f"the refusal is {REFUSAL}: got {refusal_of(refused)} {refused.text[:300]}")
    check(refused.headers.get("Content-Type", "").startswith("application/problem+json"),
          "the refusal is a problem document")
    full = [e.get("error", "") for e in log_events(gw.log, "store_full")]
    check(full and all("only its reserve is left" in e for e in full),
          f"the gateway logged store_full, each time refused by its reserve, never by LMDB itself: "
          f"{sorted(set(full))[:3]}")

    m = metrics(metrics_url)
    check(m["acme_store_map_bytes"] == MAP, f"/metrics acme_store_map_bytes is the map: {m}")
    check(m["acme_store_used_bytes"] is not None and m["acme_store_used_bytes"] > MAP - RESERVE,
          f"/metrics acme_store_used_bytes is within the last {RESERVE} bytes of the map: {m}")

    # Refused writes write nothing: more refusals (newOrder, newAccount), then the tables hold
    # exactly the orders answered 201.
    again = [refusal_of(c.new_order(f"again{i}-{tag}.{suffix}")) for i in range(5)]
    other = gateway_crash.Client()
    acct = other.new_account(other.eab(ac.ENV["EAB_KID"], ac.b64d(ac.ENV["EAB_HMAC"])))
    check(all(a == REFUSAL for a in again), f"5 more newOrders refused alike: {again}")
    check(refusal_of(acct) == REFUSAL, f"newAccount refused alike: {refusal_of(acct)}")
    entries = table_entries(store)
    n = len(orders)
    expected = {"orders": entries_at_start["orders"] + n,
                "authorizations": entries_at_start["authorizations"] + n}
    check(all(entries[t] == expected[t] for t in expected),
          f"the store holds exactly the {n} orders answered 201 and their authorizations: {entries}, expected {expected}")
    challenges_per_order = (entries["challenges"] - entries_at_start["challenges"]) / n
    check(challenges_per_order == int(challenges_per_order) and challenges_per_order >= 1,
          f"whole orders only: {entries['challenges'] - entries_at_start['challenges']} challenges for {n} orders")

    # Reads still work.
    first_url, first_name = orders[0]
    check(c.s.get(c.url("/directory")).status_code == 200, "GET /directory answers 200")
    check("Replay-Nonce" in c.s.head(c.url("/acme/new-nonce")).headers, "HEAD new-nonce gives a nonce")
    check(c.post(c.kid, None).status_code == 200, "the account (POST-as-GET) answers 200")
    r = c.post(first_url, None)
    body = r.json() if r.status_code == 200 else {}
    check(r.status_code == 200 and body.get("status") == "pending" and
          body.get("identifiers") == [{"type": "dns", "value": first_name}],
          f"an existing order (POST-as-GET) answers 200, pending, its name: {r.status_code} {r.text[:200]}")
    if body.get("authorizations"):
        r = c.post(body["authorizations"][0], None)
        check(r.status_code == 200 and r.json().get("identifier", {}).get("value") == first_name,
              f"its authorization (POST-as-GET) answers 200: {r.status_code} {r.text[:200]}")

    # No corruption: SIGKILL, every table read back whole, the restarted gateway serves the old orders.
    gw.kill()
    dump = subprocess.run(["mdb_dump", "-a", store], capture_output=True, text=True)
    check(dump.returncode == 0 and dump.stdout.count("HEADER=END") >= 12,
          f"mdb_dump -a reads every table after SIGKILL: rc {dump.returncode} {dump.stderr.strip()[:200]}")
    check(table_entries(store) == entries, f"the tables after SIGKILL are those before: {table_entries(store)}")
    gw.start(c)
    served = 0
    for url, name in (orders[0], orders[n // 2], orders[-1]):
        r = c.post(url, None)
        served += r.status_code == 200 and r.json().get("identifiers") == [{"type": "dns", "value": name}]
    check(served == 3, f"the restarted gateway serves the old orders (first, middle, last): {served}/3")
    r = c.new_order(f"restarted-{tag}.{suffix}")
    check(refusal_of(r) == REFUSAL, f"the restarted gateway refuses alike while full: {refusal_of(r)}")

    # Recovery without an operator: 9 days later the filled orders are past retention (expired
    # after 7 days, kept 1 more); the running gateway's retention pass prunes them and newOrder
    # succeeds again.
    with open(offset_file, "w") as f:
        f.write("+9d\n")
    deadline = time.time() + 30
    recovered = None
    while time.time() < deadline:
        r = c.new_order(f"after-{tag}.{suffix}")
        if r.status_code == 201:
            recovered = r
            break
        if refusal_of(r) != REFUSAL:
            check(False, f"while retention runs, newOrder answers the refusal or 201: {refusal_of(r)} {r.text[:200]}")
            break
        time.sleep(0.5)
    if not check(recovered is not None, "newOrder accepted again (same gateway process) within 30 s of the clock moving on"):
        return 1
    prune_failed = log_events(gw.log, "store_prune_failed")
    check(not prune_failed, f"retention never failed: {prune_failed[:2]}")
    for _ in range(50):  # the pass logs store_pruned once done: writes may resume just before
        pruned = sum(e.get("orders", 0) for e in log_events(gw.log, "store_pruned"))
        if pruned >= n:
            break
        time.sleep(0.1)
    check(pruned == n, f"retention pruned the {n} filled orders (store_pruned): {pruned}")
    more = [c.new_order(f"after{i}-{tag}.{suffix}").status_code for i in range(20)]
    check(more == [201] * 20, f"20 more newOrders accepted: {more}")
    m = metrics(metrics_url)
    check(m["acme_store_used_bytes"] is not None and m["acme_store_used_bytes"] < MAP - RESERVE,
          f"/metrics: the fill level is back out of the reserve: {m}")
    r = c.post(first_url, None)
    check(r.status_code == 404, f"a pruned order is gone (404): {r.status_code}")
    print(f"{n} orders filled the {MAP_MB} MiB map; whole run {time.time() - started:.0f} s")
    if not fails:
        print("ok - a full store refuses cleanly, reads go on, nothing is corrupted, retention brings writes back")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
