#!/usr/bin/python3
"""Checks the mails smtp_sink.py saved (report_mail_e2e.sh).

report: exactly --count (1) "Certificate report" mails to --to, the latest checked; RFC 5322 headers present; the HTML summary
says --issued, --revoked (reason=count,...) and --valid; the CSV attachment parses with the csv
module and has one issued row per certificate, the revoked rows by reason, the --change
(action:text) row; every --serials serial appears, no --absent-serials serial does.
notice: exactly one "Certificates expiring soon" mail to --to, listing --serials and not
--absent-serials.
"""
import argparse
import csv
import email
import email.policy
import glob
import html
import io
import json
import re
import sys


def fail(msg):
    print("check_mail: " + msg)
    sys.exit(1)


def mails_to(directory, address, subject_prefix, count=1):
    found = []
    for path in sorted(glob.glob(directory + "/*.eml")):
        envelope = json.load(open(path[:-4] + ".json"))
        msg = email.message_from_bytes(open(path, "rb").read(), policy=email.policy.default)
        if address in envelope["rcpt_tos"] and str(msg["Subject"]).startswith(subject_prefix):
            if not envelope["tls"] or not envelope["auth"]:
                fail(path + " was accepted without STARTTLS or AUTH")
            found.append((path, msg, envelope))
    if len(found) != count:
        fail("%d mails '%s...' to %s, expected %d" % (len(found), subject_prefix, address, count))
    path, msg, envelope = found[-1]  # the latest
    if envelope["rcpt_tos"] != [address]:
        fail("%s went to %s, expected only %s" % (path, envelope["rcpt_tos"], address))
    for h in ("Date", "Message-ID", "From", "To", "Subject"):
        if not msg[h]:
            fail("%s has no %s header" % (path, h))
    if msg["To"].addresses[0].addr_spec != address:
        fail("To header %s" % msg["To"])
    return path, msg


def body_text(msg):
    part = msg.get_body(preferencelist=("html",))
    if part is None:
        fail("no HTML body")
    raw = part.get_content()
    return raw, html.unescape(re.sub(r"<[^>]+>", " ", raw))


def serial_checks(args, haystack, what):
    for s in filter(None, args.serials.split(",")):
        if s.lstrip("0") not in haystack:
            fail("%s does not mention serial %s" % (what, s))
    for s in filter(None, args.absent_serials.split(",")):
        if s.lstrip("0") in haystack:
            fail("%s mentions serial %s of another account or state" % (what, s))


def check_report(args):
    path, msg = mails_to(args.dir, args.to, "Certificate report", args.count)
    raw, text = body_text(msg)
    text = " ".join(text.split())
    if args.kid not in text:
        fail("the report does not name %s" % args.kid)
    m = re.search(r"Certificates issued (\d+)", text)
    if not m or int(m.group(1)) != args.issued:
        fail("issued: %s, expected %d" % (m and m.group(1), args.issued))
    m = re.search(r"Certificates revoked (\d+) \(([^)]*)\)", text)
    want = dict(kv.split("=") for kv in filter(None, args.revoked.split(",")))
    got = {} if not m or m.group(2) == "-" else dict(kv.split(": ") for kv in m.group(2).split(", "))
    if not m or int(m.group(1)) != sum(int(v) for v in want.values()) or \
            {k: int(v) for k, v in got.items()} != {k: int(v) for k, v in want.items()}:
        fail("revoked: %s, expected %s" % (m and m.group(0), want))
    m = re.search(r"Valid at the end of the period (\d+)", text)
    if not m or int(m.group(1)) != args.valid:
        fail("valid: %s, expected %d" % (m and m.group(1), args.valid))
    attachments = [p for p in msg.iter_attachments() if p.get_filename("").endswith(".csv")]
    if len(attachments) != 1:
        fail("%d CSV attachments" % len(attachments))
    csv_text = attachments[0].get_content()
    if isinstance(csv_text, bytes):
        csv_text = csv_text.decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(csv_text, newline="")))
    issued = [r for r in rows if r["section"] == "issued"]
    if len(issued) != args.issued:
        fail("CSV: %d issued rows, expected %d" % (len(issued), args.issued))
    reasons = {}
    for r in rows:
        if r["section"] == "revoked":
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    if reasons != {k: int(v) for k, v in want.items()}:
        fail("CSV revoked rows %s, expected %s" % (reasons, want))
    if args.change:
        action, needle = args.change.split(":", 1)
        if not any(r["action"] == action and needle in " ".join(r.values()) for r in rows):
            fail("CSV has no change %s about %s" % (action, needle))
        if needle not in text:
            fail("the HTML does not show the change about %s" % needle)
    serial_checks(args, raw + csv_text, "the report")
    print("check_mail: %s ok (%d CSV rows)" % (path, len(rows)))


def check_notice(args):
    path, msg = mails_to(args.dir, args.to, "Certificates expiring soon")
    raw, _ = body_text(msg)
    serial_checks(args, raw, "the notice")
    print("check_mail: %s ok" % path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["report", "notice"])
    p.add_argument("--dir", required=True)
    p.add_argument("--to", required=True)
    p.add_argument("--kid", default="")
    p.add_argument("--count", type=int, default=1, help="report mails expected; the latest is checked")
    p.add_argument("--issued", type=int, default=0)
    p.add_argument("--revoked", default="")
    p.add_argument("--valid", type=int, default=0)
    p.add_argument("--change", default="")
    p.add_argument("--serials", default="")
    p.add_argument("--absent-serials", default="")
    args = p.parse_args()
    (check_report if args.mode == "report" else check_notice)(args)


if __name__ == "__main__":
    main()
