#!/usr/bin/env python3
"""Checks the repository's layout rules (docs/ARCHITECTURE.md) over every tracked C++ file:

* each folder includes only the folders its dependency rule allows (no include runs upward, the
  gateway never includes engine internals or hsm/, only hsm/ talks PKCS#11, ...);
* `X/testing/` helpers are included only by tests, benchmarks and other testing helpers;
* a file's namespace matches its folder (ca::<folder path with / as ::>; common/ is ca and its
  wrappers' sub-namespaces);
* no non-test source file is longer than MAX_LINES.

Prints one line per violation and exits 1 if there is any. Usage: layout_check.py [REPO_ROOT]
"""
import os
import re
import subprocess
import sys

MAX_LINES = 600

# folder -> include prefixes it may use (besides itself). Longest matching folder wins.
ALLOWED = {
    "common": [],
    # The store interface and its engines (issue 20): LMDB over common/lmdb.h; PostgreSQL (libpq).
    "kv": ["common/"],
    "kv/postgres": ["common/", "kv/"],
    "pki": ["common/"],
    "dns": ["common/"],  # the DNS client and the CAA rules: gateway/validation and appliance/ra
    "hsm": ["common/"],
    "profiles/policy": ["common/", "kv/", "pki/"],
    "profiles/policy/admin": ["common/", "pki/", "profiles/policy/"],
    "profiles/issuance": ["common/", "pki/", "profiles/policy/"],
    "crl_ocsp": ["common/", "kv/", "pki/"],
    "crl_ocsp/server": ["common/", "pki/", "crl_ocsp/"],
    "crl_ocsp/tools": ["common/", "pki/", "crl_ocsp/"],
    # The status replica knows the export's manifest and files, not the store or the server.
    "crl_ocsp/mirror": ["common/", "pki/"],
    # The static export reads the status store like the server; it never includes the server.
    "crl_ocsp/export": ["common/", "kv/", "pki/", "crl_ocsp/status_store.h", "crl_ocsp/crl_scope.h",
                        "crl_ocsp/ocsp_response.h", "crl_ocsp/ocsp_request.h",
                        "crl_ocsp/revocation.h"],
    "engine/api": ["common/", "pki/"],
    "engine": ["common/", "kv/", "pki/", "hsm/", "profiles/", "crl_ocsp/"],
    "gateway": ["common/", "kv/", "dns/", "pki/", "profiles/policy/", "profiles/issuance/profile.h",
                "profiles/issuance/weak_key.h", "engine/api/"],
    "appliance/ceremony": ["common/", "pki/", "hsm/", "profiles/"],
    "reports": ["common/", "kv/", "pki/", "profiles/policy/"],
    # The dashboard reads the ledger and the policy store; never the HSM, the engine or the gateway.
    "dashboard": ["common/", "pki/", "profiles/policy/", "reports/"],
    "reports/mail": ["common/", "pki/"],  # the SMTP sender knows nothing of reports
    "appliance/ra": ["common/", "kv/", "dns/", "pki/", "profiles/", "engine/api/", "reports/"],
    "appliance/audit": ["common/"],
    "tests": None,  # end-to-end fixtures may use any library
    # libFuzzer harnesses: only the decoders they fuzz (and those libraries' test support).
    "fuzz": ["common/", "pki/", "crl_ocsp/", "engine/api/", "gateway/", "profiles/policy/",
             "profiles/issuance/"],
}
# Include prefixes nobody outside the named folders may use, whatever the table says.
PRIVATE = [
    ("profiles/policy/admin/", ["profiles/policy/admin", "appliance/ra", "tests"]),
]
# System headers that belong to one folder.
SYSTEM_OWNERS = {
    "pkcs11.h": ["hsm"],
    "p11-kit/pkcs11.h": ["hsm"],
    "microhttpd.h": ["gateway", "crl_ocsp/server", "dashboard"],
    # Stores are written against kv/kv.h: only the engines' code talks LMDB or libpq.
    "lmdb.h": ["common", "kv"],
    "libpq-fe.h": ["kv/postgres"],
    # gateway/validation: remote_client.cpp (the gateway asking ca-validation-agents, R28) and its test.
    "curl/curl.h": ["reports/mail", "crl_ocsp/mirror", "gateway/validation"],
}
# Namespace of each folder, when it is not ca::<path>. A file may open namespaces nested in its
# folder's (ca::hsm::p11 in hsm/), never a parent's or a sibling's.
NAMESPACE_EXCEPTIONS = {
    "common": r"ca(::(ossl|lmdb|log|audit))?",
    "crl_ocsp/export": r"ca::crl_ocsp::exporter",  # `export` is a C++ keyword
}


def git_files(root):
    out = subprocess.run(["git", "-C", root, "ls-files", "*.h", "*.cpp"], capture_output=True,
                         text=True, check=True).stdout
    return [f for f in out.split() if os.path.exists(os.path.join(root, f))]


def folder_rule(path):
    best = None
    for folder in ALLOWED:
        if path.startswith(folder + "/") and (best is None or len(folder) > len(best)):
            best = folder
    return best


def is_test_code(path):
    base = os.path.basename(path)
    return (base.endswith("_test.cpp") or "/testing/" in path or "/bench/" in path
            or path.startswith("tests/") or base.endswith("_fuzz.cpp") or "/fuzz/" in path)


def expected_namespace(folder):
    if folder in NAMESPACE_EXCEPTIONS:
        return NAMESPACE_EXCEPTIONS[folder]
    return re.escape("ca::" + folder.replace("/", "::"))


def check_file(root, path, problems):
    folder = folder_rule(path)
    if folder is None:
        return
    text = open(os.path.join(root, path), encoding="utf-8", errors="replace").read()
    test_code = is_test_code(path)
    allowed = ALLOWED[folder]
    for n, line in enumerate(text.split("\n"), 1):
        m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
        if m:
            inc = m.group(1)
            if "/testing/" in inc and not test_code:
                problems.append(f"{path}:{n}: production code includes test support {inc}")
            for prefix, owners in PRIVATE:
                if (inc.startswith(prefix) and not test_code
                        and not any(path.startswith(o + "/") for o in owners)):
                    problems.append(f"{path}:{n}: {inc} is private to {', '.join(owners)}")
            if allowed is None or inc.startswith(folder + "/") or "/testing/" in inc:
                continue
            if not any(inc.startswith(a) for a in allowed):
                problems.append(f"{path}:{n}: {folder}/ may not include {inc}")
        m = re.match(r"\s*#\s*include\s+<([^>]+)>", line)
        if m and m.group(1) in SYSTEM_OWNERS:
            owners = SYSTEM_OWNERS[m.group(1)]
            if not any(path.startswith(o + "/") for o in owners):
                problems.append(f"{path}:{n}: only {', '.join(owners)} may include <{m.group(1)}>")
    if folder != "tests":
        # Test support, benchmarks and tools share the namespace of the folder they serve.
        home = re.sub(r"(/(testing|bench|tools|fuzz))+$", "", os.path.dirname(path))
        want = expected_namespace(home)
        for n, line in enumerate(text.split("\n"), 1):
            m = re.match(r"namespace (ca(::\w+)*)\s*\{", line)
            if m and not re.fullmatch(want + r"(::\w+)*", m.group(1)):
                problems.append(f"{path}:{n}: namespace {m.group(1)} does not match its folder (want {want.replace(chr(92), '')})")
    if not test_code and text.count("\n") > MAX_LINES:
        problems.append(f"{path}: {text.count(chr(10))} lines (limit {MAX_LINES})")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    problems = []
    files = git_files(root)
    for path in files:
        check_file(root, path, problems)
    for p in problems:
        print(p)
    print(f"layout: {len(files)} files checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
