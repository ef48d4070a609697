#!/usr/bin/python3
"""Continuous ACME issuance through the pair's load balancer, for tests/ha/failover_e2e.sh.

    /usr/bin/python3 tests/ha/failover_load.py --directory https://acme.ha.test:25443/directory \
        --ca-bundle root.pem --eab-kid KID --eab-hmac MAC --challtestsrv http://10.93.0.14:25055 \
        --key-pool keys.pem --workers 4 --rate 4 --stop-file STOP --max-seconds 300 \
        --events flows.jsonl --out-dir certs/

W workers, each with its own ACME account (EAB), run full flows (scripts/bench/acme_load.py's
run_flow: newOrder, http-01 through pebble-challtestsrv, finalize, download, chain verified) one
after the other, started at most --rate per second in all, until STOP exists or --max-seconds pass.
Every flow ends as one JSON line in --events (wall-clock start/end, ok, the ACME problem or client
error of a failure, the serial of a success), flushed at once so that the test reads the figures
while the load runs; every certificate received (the acknowledgement the failover must not lose)
is written to --out-dir/SERIAL.pem with its chain. A worker whose connection broke reconnects
(the load balancer sends it to the surviving gateway). Keys: RSA-3072 (the profile's) from
--key-pool, each used once (generated and kept there when missing). Standard library and
python3-cryptography only.
"""
import argparse
import json
import os
import socket
import ssl
import sys
import threading
import time
import http.client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "bench"))
import acme_load as al  # noqa: E402  (the flow, the client and the key pool)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool-only", action="store_true", help="fill --key-pool and stop")
    ap.add_argument("--directory")
    ap.add_argument("--ca-bundle")
    ap.add_argument("--eab-kid")
    ap.add_argument("--eab-hmac")
    ap.add_argument("--challtestsrv", help="pebble-challtestsrv management URL")
    ap.add_argument("--key-pool", required=True)
    ap.add_argument("--keys", type=int, default=300, help="keys in the pool (flows at most)")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--rate", type=float, default=4.0, help="flows started per second at most")
    ap.add_argument("--suffix", default="ha.test")
    ap.add_argument("--stop-file")
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--events")
    ap.add_argument("--out-dir")
    ap.add_argument("--flow-timeout", type=float, default=30)
    args = ap.parse_args()

    keys = al.ensure_key_pool(args.key_pool, args.keys, os.cpu_count() or 1)[:args.keys]
    if args.pool_only:
        return 0
    for a in ("directory", "ca_bundle", "eab_kid", "eab_hmac", "challtestsrv", "stop_file", "events", "out_dir"):
        if not getattr(args, a):
            ap.error(f"--{a.replace('_', '-')} is required")
    al._skip_rsa_key_check()
    os.makedirs(args.out_dir, exist_ok=True)
    ctx = ssl.create_default_context(cafile=args.ca_bundle)
    opts = {"flow_timeout": args.flow_timeout, "poll_min": 0.05, "poll_max": 0.25}
    lock = threading.Lock()
    state = {"next": 0, "next_start": time.monotonic()}
    deadline = time.monotonic() + args.max_seconds
    events = open(args.events, "a", buffering=1)
    run_tag = al.random_label(al.random.SystemRandom(), 6)

    def record(rec):
        with lock:
            events.write(json.dumps(rec) + "\n")

    def stopping():
        return os.path.exists(args.stop_file) or time.monotonic() >= deadline

    def ticket():
        """The next key index, paced to --rate; None when stopping or out of keys."""
        while True:
            with lock:
                if state["next"] >= len(keys):
                    return None
                now = time.monotonic()
                if now >= state["next_start"]:
                    i = state["next"]
                    state["next"] += 1
                    state["next_start"] = max(now, state["next_start"]) + 1.0 / args.rate
                    return i
                wait = state["next_start"] - now
            if stopping():
                return None
            time.sleep(min(wait, 0.05))

    def connect(w):
        """An account (EAB) through the load balancer; retried while a failover is in progress."""
        while not stopping():
            try:
                c = al.AcmeClient(args.directory, ctx, 10)
                c.register(args.eab_kid, args.eab_hmac)
                return c
            except Exception as e:  # noqa: BLE001 - any failure here is retried
                record({"worker": w, "account_error": str(e)[:300], "at": time.time()})
                time.sleep(0.5)
        return None

    def worker(w):
        client = connect(w)
        chall = al.Challtestsrv(args.challtestsrv, 10)
        while client is not None and not stopping():
            i = ticket()
            if i is None:
                break
            name = f"{al.random_label(al.random.SystemRandom())}-{run_tag}.{args.suffix}"
            csr_der, spki = al._make_csr((keys[i], [name]))
            rec = {"i": i, "worker": w, "name": name, "start": time.time()}
            counters = {"polls": 0}
            try:
                al.run_flow(client, chall, [name], csr_der, spki, opts, counters)
                pem = counters["pem"]
                leaf = al.split_chain(pem)[0]
                serial = format(leaf.serial_number, "x")
                path = os.path.join(args.out_dir, serial + ".pem")
                with open(path, "wb") as f:
                    f.write(pem)
                rec.update(ok=True, serial=serial)
            except (al.AcmeProblem, al.FlowError) as e:
                rec.update(ok=False, step=e.step, kind=e.kind, detail=str(e)[:300])
            except (OSError, http.client.HTTPException, ssl.SSLError, socket.timeout) as e:
                rec.update(ok=False, step=client.step, kind="client:" + type(e).__name__, detail=repr(e)[:300])
                client.http.close()
                client.nonce = None
            except Exception as e:  # noqa: BLE001 - recorded, the load goes on
                rec.update(ok=False, step=client.step, kind="client:" + type(e).__name__, detail=repr(e)[:300])
                client.http.close()
                client.nonce = None
            rec["end"] = time.time()
            record(rec)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(args.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events.close()
    return 0

if __name__ == "__main__":
    sys.exit(main())
