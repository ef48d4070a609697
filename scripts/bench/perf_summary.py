#!/usr/bin/python3
"""perf_summary.py PERF_DATA PID=NAME [PID=NAME ...] [--certs=N]: where each server's CPU time went.

Reads `perf script` of a recording made with --call-graph dwarf (profile-appliance.sh, or
acme_load.py --perf-record) and prints, per process: CPU seconds sampled, self time by shared object,
the top self symbols, and the inclusive share of (a) named cost categories (a sample counts for a
category when any frame of its stack matches; categories overlap) and (b) the project's own
functions (ca::...), so that the HSM signature can be told apart from everything else; and an
exclusive attribution that adds up to 100 % (in ms per certificate with --certs=N, N the certificates
issued while recording)."""
import collections
import re
import subprocess
import sys

# (label, regex on "symbol (dso)" of any frame). Order is only the print order.
CATEGORIES = [
    ("HSM: libsofthsm2 (C_SignInit/C_Sign: key unwrap + private-key op)", r"\(/\S*libsofthsm2\.so"),
    ("LMDB commit (mdb_txn_commit, incl. its fdatasync)", r"^mdb_txn_commit "),
    ("fdatasync/fsync/msync (kernel side of durability)", r"^__x64_sys_fdatasync|^__x64_sys_fsync|^__x64_sys_msync"),
    ("X.509/CSR DER parsing (ca::ossl::CertFromDer/CsrFromDer)", r"^ca::ossl::(CertFromDer|CsrFromDer) "),
    ("public key re-encoding (ca::ossl::PublicKeyToDer, i2d_PUBKEY)", r"^ca::ossl::PublicKeyToDer |^i2d_PUBKEY "),
    ("TLS (GnuTLS: libmicrohttpd's HTTPS)", r"\(/\S*lib(gnutls|nettle|hogweed|gmp)\.so"),
    ("TLS (OpenSSL libssl: engine channel)", r"\(/\S*libssl\.so"),
    ("libmicrohttpd (any request handling below it)", r"\(/\S*libmicrohttpd\.so"),
    ("JSON (nlohmann)", r"^nlohmann::"),
    ("logging (ca::log)", r"^ca::log::"),
    ("JWS: key from JWK (PublicKeyFromJwk)", r"^ca::gateway::PublicKeyFromJwk "),
    ("JWS: signature check (VerifyJwsSignature)", r"^ca::gateway::VerifyJwsSignature "),
    ("nonces (NonceService)", r"^ca::gateway::NonceService::"),
    ("CSR checks (CheckCsr)", r"^ca::(gateway|issuance)::CheckCsr "),
    ("policy decision (ca::policy::)", r"^ca::policy::"),
    ("validation: DNS queries (DnsClient::Query)", r"^ca::validation::DnsClient::Query "),
    ("validation: http-01 fetch (CheckHttp01)", r"^ca::validation::CheckHttp01 "),
    ("engine call from the gateway (EngineClient::Call)", r"^ca::engine_api::EngineClient::Call "),
    ("TBS build + lint (BuildTbs, LintTbs, LintCertificate)", r"^ca::issuance::(BuildTbs|LintTbs|LintCertificate) "),
    ("OCSP pre-signing + publication (PublishOcsp)", r"^ca::engine::CaInstance::PublishOcsp "),
    ("OCSP response re-check (InspectOcspResponse)", r"^ca::status::InspectOcspResponse "),
    ("memory allocation (malloc/free)", r"^(__GI___libc_malloc|__GI___libc_free|_int_malloc|_int_free|malloc|free|cfree|operator new|operator delete) "),
    ("page faults (kernel)", r"^exc_page_fault "),
    ("futex (kernel)", r"^__x64_sys_futex "),
    ("network syscalls (kernel)", r"^__x64_sys_(sendto|recvfrom|sendmsg|recvmsg|read|write|writev|epoll_wait|poll|connect|accept4?|socket|close) "),
]


# Exclusive attribution: each sample goes to the first rule (in this order) that matches a frame of
# its stack, so the shares add up to 100 % of the process's sampled CPU.
PARTITION = [
    ("HSM signature (SoftHSM C_SignInit/C_Sign, via ca::hsm)", r"\(/\S*libsofthsm2\.so|^ca::hsm::HsmKeyImpl::RawSign "),
    ("LMDB commits (write-out + fdatasync)", r"^mdb_txn_commit "),
    ("X.509/CSR DER parsing (CertFromDer/CsrFromDer)", r"^ca::ossl::(CertFromDer|CsrFromDer) "),
    ("SPKI re-encoding (PublicKeyToDer)", r"^ca::ossl::PublicKeyToDer "),
    ("JWS key import from JWK (PublicKeyFromJwk)", r"^ca::gateway::PublicKeyFromJwk "),
    ("JWS signature verification", r"^ca::gateway::VerifyJwsSignature "),
    ("OCSP response re-check (InspectOcspResponse)", r"^ca::status::InspectOcspResponse "),
    ("OCSP build (BuildOcspResponse, rest)", r"^ca::status::BuildOcspResponse "),
    ("lint (LintTbs/LintCertificate, rest)", r"^ca::issuance::(LintTbs|LintCertificate) "),
    ("TBS build (BuildTbs, rest)", r"^ca::issuance::BuildTbs "),
    ("CSR checks (rest: weak-key tests, signature)", r"^ca::(issuance|gateway)::CheckCsr "),
    ("validation: DNS (DnsClient::Query)", r"^ca::validation::DnsClient::Query "),
    ("validation: http-01 (CheckHttp01)", r"^ca::validation::CheckHttp01 "),
    ("engine channel (TLS over the Unix socket)", r"\(/\S*libssl\.so|^ca::engine_api::TlsConnection"),
    ("HTTPS (GnuTLS in libmicrohttpd)", r"\(/\S*lib(gnutls|nettle|hogweed|gmp)\.so"),
    ("JSON (nlohmann)", r"^nlohmann::"),
    ("LMDB reads/puts (rest of liblmdb)", r"\(/\S*liblmdb\.so"),
    ("logging (ca::log)", r"^ca::log::"),
    ("policy (ca::policy)", r"^ca::policy::"),
    ("malloc/free", r"^(__GI___libc_malloc|__GI___libc_free|_int_malloc|_int_free|malloc|free|cfree|malloc_consolidate|tcache_get|unlink_chunk) "),
    ("kernel: network syscalls", r"^__x64_sys_(sendto|recvfrom|sendmsg|recvmsg|read|write|writev|epoll_wait|poll|connect|accept4?|socket|close) "),
    ("kernel: futex", r"^__x64_sys_futex "),
    ("nonces (NonceService)", r"^ca::gateway::NonceService::"),
    ("other project code (ca::)", r"^ca::"),
    ("libmicrohttpd itself (polling, parsing, buffers)", r"\(/\S*libmicrohttpd\.so"),
]


def parse(perf_data):
    out = subprocess.run(["perf", "script", "-i", perf_data, "-F", "comm,pid,tid,period,ip,sym,dso"],
                         capture_output=True, text=True, errors="replace").stdout
    samples = []  # (pid, comm, period, [frame strings leaf->root])
    cur = None
    head = re.compile(r"^(\S.*?)\s+(\d+)/(\d+)\s+(\d+)\s*$")
    for line in out.splitlines():
        if not line.strip():
            if cur:
                samples.append(cur)
                cur = None
            continue
        if line[0] not in " \t":
            m = head.match(line)
            if m:
                cur = (int(m.group(2)), m.group(1), int(m.group(4)), [])
            continue
        if cur is not None:
            parts = line.strip().split(None, 1)
            cur[3].append(parts[1] if len(parts) > 1 else parts[0])
    if cur:
        samples.append(cur)
    return samples


def dso_of(frame):
    m = re.search(r"\(([^()]*)\)\s*$", frame)
    return (m.group(1).rsplit("/", 1)[-1]) if m else "?"


def sym_of(frame):
    s = re.sub(r"\s*\([^()]*\)\s*$", "", frame)
    s = re.sub(r"\+0x[0-9a-f]+$", "", s)
    return s


def short(sym, n=110):
    sym = re.sub(r"std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >", "std::string", sym)
    sym = re.sub(r"\(.*\)( const)?$", "()", sym) if len(sym) > n else sym
    return sym if len(sym) <= n else sym[:n - 3] + "..."


def main():
    perf_data = sys.argv[1]
    names = {}
    units = 0
    for a in sys.argv[2:]:
        if a.startswith("--certs="):
            units = int(a.split("=", 1)[1])
            continue
        pid, _, name = a.partition("=")
        names[int(pid)] = name or pid
    samples = parse(perf_data)
    by_pid = collections.defaultdict(list)
    for s in samples:
        by_pid[s[0]].append(s)
    pats = [(label, re.compile(rx)) for label, rx in CATEGORIES]
    parts = [(label, re.compile(rx)) for label, rx in PARTITION]

    for pid in names or sorted(by_pid):
        ss = by_pid.get(pid, [])
        total = sum(s[2] for s in ss)
        name = names.get(pid, str(pid))
        print(f"== {name} (pid {pid}): {len(ss)} samples, {total / 1e9:.2f} CPU s sampled")
        if not ss:
            continue
        threads = collections.Counter()
        dsos = collections.Counter()
        selfsym = collections.Counter()
        cats = collections.Counter()
        part = collections.Counter()
        incl = collections.Counter()
        for _, comm, period, frames in ss:
            threads[comm] += period
            if frames:
                dsos[dso_of(frames[0])] += period
                selfsym[f"{short(sym_of(frames[0]), 80)} [{dso_of(frames[0])}]"] += period
            joined = [f"{sym_of(f)} ({f.rsplit('(', 1)[-1]}" if "(" in f else f + " " for f in frames]
            for label, rx in pats:
                if any(rx.search(f) for f in joined):
                    cats[label] += period
            for label, rx in parts:
                if any(rx.search(f) for f in joined):
                    part[label] += period
                    break
            else:
                part["other (libc, libcrypto, kernel outside the rules above)"] += period
            seen = set()
            for f in frames:
                sym = sym_of(f)
                if sym.startswith("ca::") and sym not in seen:
                    seen.add(sym)
                    incl[sym] += period
        pct = lambda v: 100.0 * v / total  # noqa: E731
        print("  threads: " + ", ".join(f"{k} {pct(v):.0f}%" for k, v in threads.most_common(6)))
        print("  self time by shared object:")
        for k, v in dsos.most_common(10):
            print(f"    {pct(v):5.1f}%  {k}")
        print("  top self symbols:")
        for k, v in selfsym.most_common(15):
            print(f"    {pct(v):5.1f}%  {k}")
        print("  exclusive attribution (first matching rule; adds up to 100 %):")
        for k, v in part.most_common():
            ms = f"  {v / 1e6 / units:6.2f} ms/cert" if units else ""
            print(f"    {pct(v):5.1f}%{ms}  {k}")
        print("  inclusive, by category (overlapping):")
        for label, _ in CATEGORIES:
            if cats[label] and pct(cats[label]) >= 0.5:
                print(f"    {pct(cats[label]):5.1f}%  {label}")
        print("  inclusive, project functions (ca::...):")
        for k, v in incl.most_common(40):
            if pct(v) < 1.0:
                break
            print(f"    {pct(v):5.1f}%  {short(k)}")
        print()


if __name__ == "__main__":
    main()
