# Shared by the status benchmarks (bench-ocsp.sh, bench-export.sh): a temp dir removed at exit
# with every process in PIDS stopped by PID, free loopback ports, a small EC CA (ca, ocsp, leaf
# 0x5eed), the status server on the store, and wrk with one result line per run.
#   . bench_lib.sh NAME   (then: bench_workdir; bench_make_ca; ...)
BENCH_NAME=$1
WORKERS=2
PIDS=()

bench_require() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$BENCH_NAME: $tool is required (scripts/install-deps.sh)" >&2; exit 1; }
  done
}

bench_workdir() {
  WORK=$(mktemp -d "/tmp/${BENCH_NAME}.XXXXXX")
  trap bench_cleanup EXIT
  cd "$WORK"
  chmod 755 "$WORK"
}

bench_cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ca.pem/ca.key (EC P-256), ocsp.pem/ocsp.key (delegated responder), leaf.pem (serial 0x5eed).
bench_make_ca() {
  cat > ext.cnf <<'CNF'
[ocsp]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
[leaf]
basicConstraints = critical,CA:FALSE
extendedKeyUsage = serverAuth
CNF
  {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
      -subj "/CN=Bench CA" -days 30 -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ocsp.key -out ocsp.csr -subj "/CN=Bench OCSP"
    openssl x509 -req -in ocsp.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 30 -extfile ext.cnf -extensions ocsp -out ocsp.pem
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=leaf"
    openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 0x5eed -days 30 -extfile ext.cnf -extensions leaf -out leaf.pem
  } >/dev/null 2>&1
}

# Starts ca-status-server (binary $1) on the store ./store, issuer "bench"; sets PORT.
bench_start_server() {
  PORT=$(free_port)
  cat > server.json <<JSON
{"listen_address": "127.0.0.1", "port": $PORT, "store": "$WORK/store", "issuers": ["bench"], "threads": $WORKERS}
JSON
  "$1" --config server.json 2> server.log &
  PIDS+=($!)
}

# bench_run URL: one wrk run (WRK_THREADS, CONNS, DURATION), one line
# "rps=… p50_ms=… p99_ms=… requests=… non2xx=… socket_errors=…".
bench_run() {
  [[ -f report.lua ]] || cat > report.lua <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d socket_errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
  wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency -s report.lua "$1" | grep '^rps='
}
