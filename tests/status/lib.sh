# Shared by the status e2e tests: work directory, assertions, a software CA made with the openssl
# CLI, publication with ca-status-publish and the server on a port it picks. Source after setting
# SERVER_BIN and PUBLISH_BIN.
WORK=$(mktemp -d /tmp/status_e2e.XXXXXX)
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"

fail() { echo "FAIL: $*" >&2; [[ -f server.log ]] && tail -5 server.log >&2; exit 1; }
expect_in() {  # expect_in FILE PATTERN WHAT
  grep -q -- "$2" "$1" || { echo "--- $1:" >&2; cat "$1" >&2; fail "$3"; }
}

make_ca() {
# --- a software CA: root, intermediate, delegated OCSP signer (ocsp-nocheck), two leaves -------
cat > ext.cnf <<'CNF'
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ocsp]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:leaf.example.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
q() { "$@" >/dev/null 2>&1 || fail "command failed: $*"; }
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key -out root.pem \
  -subj "/CN=E2E Test Root" -days 365 -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign"
q openssl req -newkey rsa:2048 -nodes -keyout int.key -out int.csr -subj "/CN=E2E Issuing CA"
q openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -set_serial 0x10 -days 200 \
  -extfile ext.cnf -extensions ca -out int.pem
q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ocsp.key -out ocsp.csr -subj "/CN=E2E OCSP Signer"
q openssl x509 -req -in ocsp.csr -CA int.pem -CAkey int.key -set_serial 0x20 -days 100 \
  -extfile ext.cnf -extensions ocsp -out ocsp.pem
for n in 1 2; do
  q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf$n.key -out leaf$n.csr -subj "/CN=leaf$n"
  q openssl x509 -req -in leaf$n.csr -CA int.pem -CAkey int.key -set_serial 0x7a0$n -days 30 \
    -extfile ext.cnf -extensions leaf -out leaf$n.pem
done
cat root.pem int.pem > chain.pem
}

publish() {
  "$PUBLISH_BIN" --store store --issuer-name e2e-ca --issuer int.pem --ocsp-cert ocsp.pem \
    --ocsp-key ocsp.key "$@" > publish.out 2> publish.err || { cat publish.err >&2; fail "publish $*"; }
}

# start_server ISSUERS_JSON THREADS: sets SERVER_PID, PORT and URL.
start_server() {
  cat > server.json <<JSON
{"listen_address": "127.0.0.1", "port": 0, "store": "$WORK/store", "issuers": $1,
 "max_age_seconds": 600, "threads": $2}
JSON
  "$SERVER_BIN" --config server.json 2> server.log &
  SERVER_PID=$!
  PORT=""
  for _ in $(seq 1 100); do
    PORT=$(grep -o '"event":"listening"[^}]*' server.log 2>/dev/null | grep -o '"port":[0-9]*' | cut -d: -f2 || true)
    [[ -n "$PORT" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "server exited"
    sleep 0.1
  done
  [[ -n "$PORT" ]] || fail "server did not report its port"
  URL="http://127.0.0.1:$PORT"
}

ocsp() {  # ocsp OUT extra-args...
  local out=$1; shift
  openssl ocsp -issuer int.pem -CAfile chain.pem -url "$URL/ocsp" "$@" > "$out" 2>&1 || true
}
