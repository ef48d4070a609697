#!/usr/bin/python3
"""docs/NETWORK_FLOWS.md (ANSSI R36) against what acme-ca-setup configures, so the flow matrix
cannot drift:

* every backticked `KEY=VALUE` in the document is a setting of the shipped
  appliance/setup/setup.conf with exactly that default (empty after '=' means empty), and a
  setting acme-ca-setup knows (its `declare -A conf` table);
* every setting of setup.conf that makes the appliance listen or connect (a port, a listen address,
  the resolver, the validator's networks, the agents, the SMTP relay, the PKCS#11 module, the
  status URLs) is named in the document;
* every backticked `listen N` is a `listen N;` of the shipped nginx site.

Prints one line per defect and exits 1 when there is any. Usage: flows_check.py ROOT
"""
import pathlib
import re
import sys

FLOW_KEY = re.compile(r"(_PORT|_ADDRESS|_BASE_URL)$|^(DNS_RESOLVER|VALIDATOR_NETWORKS|VALIDATION_AGENTS|"
                      r"REPORT_SMTP_URL|PKCS11_MODULE|STAGING)$")


def setup_conf(root):
    """The shipped defaults: uncommented KEY=VALUE lines, quotes removed as acme-ca-setup does."""
    values = {}
    for line in (root / "appliance/setup/setup.conf").read_text().splitlines():
        m = re.match(r"^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$", line)
        if m:
            value = m.group(2)
            q = re.fullmatch(r"\"(.*)\"|'(.*)'", value)
            values[m.group(1)] = q.group(q.lastindex) if q else value
    return values


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    doc = (root / "docs/NETWORK_FLOWS.md").read_text()
    conf = setup_conf(root)
    script = (root / "appliance/setup/acme-ca-setup").read_text()
    known = set(re.findall(r"\[([A-Z0-9_]+)\]=", script.split("declare -A conf=(", 1)[1].split("\n)", 1)[0]))
    nginx = (root / "appliance/nginx/acme-ca-status.conf").read_text()
    problems = []

    named = set()
    for token in re.findall(r"`([^`\n]+)`", doc):
        m = re.fullmatch(r"([A-Z][A-Z0-9_]+)=(.*)", token)
        if m:
            key, value = m.groups()
            named.add(key)
            if key not in conf:
                problems.append(f"NETWORK_FLOWS.md: `{token}`: {key} is not a setting of setup.conf")
            elif conf[key] != value:
                problems.append(f"NETWORK_FLOWS.md: `{token}`: setup.conf has {key}={conf[key]}")
            if key not in known:
                problems.append(f"NETWORK_FLOWS.md: `{token}`: acme-ca-setup does not know {key}")
            continue
        if re.fullmatch(r"[A-Z][A-Z0-9_]+", token):
            named.add(token)
        m = re.search(r"\blisten (\d+)$", token)
        if m and not re.search(rf"^\s*listen {m.group(1)};", nginx, re.M):
            problems.append(f"NETWORK_FLOWS.md: `{token}`: the nginx site has no `listen {m.group(1)};`")

    for key in sorted(conf):
        if FLOW_KEY.search(key) and key not in named:
            problems.append(f"NETWORK_FLOWS.md: setup.conf's {key} (a flow setting) is in no row")

    for p in problems:
        print(p)
    if not problems:
        print(f"flows_check: {len(named)} settings named, every flow setting of setup.conf covered")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
