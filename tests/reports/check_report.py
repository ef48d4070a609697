#!/usr/bin/python3
"""check_report.py REPORT_JSON OUT_DIR KID ISSUED_A ISSUED_B FAILED_NAME ADDED_DOMAIN SERIAL_A SERIAL_B

Checks what `ca-ra report --json --out OUT_DIR` said and wrote for the scenario of
reports_cli_e2e.sh: certificates for ISSUED_A (then revoked, superseded) and ISSUED_B, one failed
dns-01 validation of FAILED_NAME, one domain.add of ADDED_DOMAIN. Prints each failed check; exits 1
if any."""
import csv
import io
import json
import os
import sys

(report_json, out_dir, kid, name_a, name_b, failed_name, added, serial_a, serial_b) = sys.argv[1:10]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("  check failed: " + what)


r = json.load(open(report_json))
check(r["kid"] == kid, f"kid {r['kid']}")
check(r["issued"] == 2, f"issued {r['issued']} (want 2)")
check(r["issued_by_profile"] == {"SSL": 2}, f"issued_by_profile {r['issued_by_profile']}")
check(r["revoked"] == 1, f"revoked {r['revoked']} (want 1)")
check(r["revoked_by_reason"] == {"superseded": 1}, f"revoked_by_reason {r['revoked_by_reason']}")
check(r["valid_now"] == 1, f"valid_now {r['valid_now']} (want 1)")
check(r["expiring_soon"] == 0, f"expiring_soon {r['expiring_soon']}")
issued = {c["serial"]: c for c in r["certificates_issued"]}
check(set(issued) == {serial_a, serial_b}, f"issued serials {sorted(issued)} (want {serial_a}, {serial_b})")
check(issued.get(serial_a, {}).get("names") == [name_a], f"names of {serial_a}")
check(issued.get(serial_b, {}).get("names") == [name_b], f"names of {serial_b}")
check(issued.get(serial_b, {}).get("revoked") is False, f"{serial_b} not revoked")
revoked = r["certificates_revoked"]
check(len(revoked) == 1 and revoked[0]["serial"] == serial_a and revoked[0]["reason_name"] == "superseded"
      and revoked[0]["reason"] == 4, f"revoked certificate {revoked}")
check(r["validation_failures"] == 1, f"validation_failures {r['validation_failures']} (want 1)")
check(r["rate_limit_refusals"] == 0, f"rate_limit_refusals {r['rate_limit_refusals']}")
vf = [f for f in r["failures"] if f["kind"] == "validation"]
check(len(vf) == 1 and vf[0]["name"] == failed_name and vf[0]["challenge"] == "dns-01"
      and vf[0]["result_code"] != "", f"validation failure {vf}")
changes = r["changes"]
check(len(changes) == 1 and changes[0]["action"] == "domain.add" and changes[0]["object_id"] == added
      and changes[0]["actor"] == "reports-e2e", f"changes {changes}")
check(any(d.startswith(added + " (pending)") for d in r["domains"]), f"domains {r['domains']}")

html_path, csv_path = r["files"]["html"], r["files"]["csv"]
check(os.path.dirname(os.path.abspath(html_path)) == os.path.abspath(out_dir), f"html in {out_dir}: {html_path}")
check(os.path.basename(html_path).startswith("report-" + kid + "-"), f"html name {html_path}")
html = open(html_path, encoding="utf-8").read()
for needle in (serial_a, serial_b, name_a, "superseded", "domain.add", added, failed_name):
    check(needle in html, f"HTML lacks {needle}")
check("<script" not in html and "http://" not in html and "https://" not in html, "HTML is self-contained")

raw = open(csv_path, "rb").read()
check(b"\r\n" in raw and raw.endswith(b"\r\n"), "CSV lines end with CRLF")
rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
by_section = {}
for row in rows:
    by_section.setdefault(row["section"], []).append(row)
check(sorted(by_section) == ["change", "failure", "issued", "revoked"], f"CSV sections {sorted(by_section)}")
check(sorted(x["serial"] for x in by_section.get("issued", [])) == sorted([serial_a, serial_b]), "CSV issued rows")
rev = by_section.get("revoked", [])
check(len(rev) == 1 and rev[0]["serial"] == serial_a and rev[0]["reason"] == "superseded", f"CSV revoked rows {rev}")
fail_rows = by_section.get("failure", [])
check(len(fail_rows) == 1 and fail_rows[0]["kind"] == "validation" and fail_rows[0]["identifier"] == failed_name,
      f"CSV failure rows {fail_rows}")
ch = by_section.get("change", [])
check(len(ch) == 1 and ch[0]["action"] == "domain.add" and ch[0]["object"] == "domain " + added, f"CSV change rows {ch}")
sys.exit(1 if failures else 0)
