#!/usr/bin/env bash
# ceremony_e2e.sh CA_CEREMONY PKCS11_MODULE
# Runs every ceremony against a throwaway SoftHSM token in a temp dir and checks the results with
# openssl and pkcs11-tool (the TLS server certificate also with a real handshake), then checks that
# bad inputs fail with one line and change nothing.
set -euo pipefail
CEREMONY=$1
MODULE=$2
T=$(mktemp -d /tmp/ceremony-e2e.XXXXXX)
SERVER_PID=
trap 'if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi; rm -rf "$T"' EXIT
export SOFTHSM2_CONF=$T/softhsm2.conf
mkdir "$T/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$T" >"$SOFTHSM2_CONF"
(umask 077; echo "user-pin-4321" >"$T/pin"; echo "so-pin-8765" >"$T/sopin"; echo "wrong-pin-0000" >"$T/badpin")
PIN=user-pin-4321  # throwaway token: pkcs11-tool only takes the PIN on argv

fails=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}
has() {  # has DESCRIPTION FILE REGEX
  if grep -Eq -- "$3" "$2"; then pass "$1"; else fail "$1 (no /$3/ in $2)"; fi
}
p11_objects() {
  pkcs11-tool --module "$MODULE" --token-label "$1" --login --pin "$PIN" --list-objects 2>/dev/null
}

token_section() {  # token_section LABEL [PINFILE] [MODULE]
  printf '"token": {"module": "%s", "label": "%s", "user_pin": "file:%s"}' "${3:-$MODULE}" "$1" "${2:-$T/pin}"
}

# ---------------------------------------------------------------- init-token
cat >"$T/init.json" <<JSON
{"ceremony": "init-token", "operator": "Alice Operator",
 "token": {"module": "$MODULE", "label": "ca-e2e", "user_pin": "file:$T/pin", "so_pin": "file:$T/sopin"},
 "output_dir": "$T/out-init"}
JSON
check "init-token ceremony" "$CEREMONY" run "$T/init.json"
check "init-token transcript verifies (unsigned)" "$CEREMONY" verify-transcript "$T/out-init"
has "init-token transcript records the token" "$T/out-init/transcript.json" '"token_label": "ca-e2e"'

# ---------------------------------------------------------------- root
cat >"$T/root.json" <<JSON
{"ceremony": "root", "operator": "Alice Operator", $(token_section ca-e2e),
 "output_dir": "$T/out-root",
 "root": {"key_label": "e2e-root", "key_type": "rsa3072",
          "subject": {"C": "FR", "O": "E2E Org", "CN": "E2E Root CA"}, "validity_days": 7305}}
JSON
if "$CEREMONY" run "$T/root.json" >"$T/root.out" 2>&1; then pass "root ceremony"; else fail "root ceremony"; cat "$T/root.out"; fi
R=$T/out-root/root.pem
# The fingerprint the operator writes down, as openssl prints it; in the transcript and in
# verify-transcript's answer too.
ROOT_FP=$(openssl x509 -in "$R" -noout -fingerprint -sha256 | sed 's/^[^=]*=//')
has "root: ceremony prints the root's SHA-256 fingerprint (openssl x509 -fingerprint -sha256)" "$T/root.out" \
  "^  SHA-256 Fingerprint=$ROOT_FP\$"
has "root: ceremony prints the root's subject" "$T/root.out" '^root certificate: CN=E2E Root CA,O=E2E Org,C=FR$'
has "root: transcript records the root's fingerprint" "$T/out-root/transcript.json" \
  "\"sha256_fingerprint\": \"$ROOT_FP\""
"$CEREMONY" verify-transcript "$T/out-root" >"$T/verify-root.out" 2>&1 || true
has "root: verify-transcript says against which root (subject and fingerprint)" "$T/verify-root.out" \
  "^verified against root CN=E2E Root CA,O=E2E Org,C=FR SHA-256 Fingerprint=$ROOT_FP "
openssl x509 -in "$R" -noout -text >"$T/root.txt"
has "root: CA:TRUE pathlen:1" "$T/root.txt" 'CA:TRUE, pathlen:1'
has "root: basicConstraints critical" "$T/root.txt" 'Basic Constraints: critical'
has "root: keyUsage critical certSign+cRLSign" "$T/root.txt" 'Key Usage: critical'
has "root: keyCertSign, cRLSign" "$T/root.txt" '^ +Certificate Sign, CRL Sign$'
has "root: SKI present" "$T/root.txt" 'Subject Key Identifier'
has "root: subject from config" "$T/root.txt" 'Subject: C ?= ?FR, O ?= ?E2E Org, CN ?= ?E2E Root CA'
has "root: RSA 3072" "$T/root.txt" 'Public-Key: \(3072 bit\)'
days=$(( ( $(date -d "$(openssl x509 -in "$R" -noout -enddate | cut -d= -f2)" +%s) - $(date +%s) ) / 86400 ))
if [ "$days" -ge 7303 ] && [ "$days" -le 7305 ]; then pass "root: 20-year validity ($days days)"; else fail "root validity $days days"; fi
serial=$(openssl x509 -in "$R" -noout -serial | cut -d= -f2)
if [ ${#serial} -ge 16 ] && [ ${#serial} -le 36 ] && [[ $serial =~ ^[0-7] ]]; then pass "root: positive serial of 8 to 18 octets (pki::Serial::Generate)"; else fail "root serial $serial"; fi
check "root: self-verifies" openssl verify -CAfile "$R" "$R"
check "root: transcript verifies" "$CEREMONY" verify-transcript "$T/out-root"
check "root: transcript signature checks with openssl dgst" \
  bash -c "openssl x509 -in '$R' -noout -pubkey >'$T/root.pub' && openssl dgst -sha256 -verify '$T/root.pub' -signature '$T/out-root/transcript.json.sig' '$T/out-root/transcript.json'"
has "root: transcript has the config hash" "$T/out-root/transcript.json" "\"config_sha256\": \"$(sha256sum "$T/root.json" | cut -d' ' -f1)\""
has "root: transcript has the operator" "$T/out-root/transcript.json" '"operator": "Alice Operator"'
has "root: transcript records the CKA_ID" "$T/out-root/transcript.json" \
  "\"key_id\": \"$(openssl x509 -in "$R" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :' | tr A-F a-f)\""
has "root: manifest names the key" "$T/out-root/ceremony.json" '"key_label": "e2e-root"'

# ---------------------------------------------------------------- intermediate
cat >"$T/int.json" <<JSON
{"ceremony": "intermediate", "operator": "Alice Operator", $(token_section ca-e2e),
 "output_dir": "$T/out-int",
 "issuer": {"key_label": "e2e-root", "certificate": "$R"},
 "intermediate": {"key_label": "e2e-acme", "key_type": "rsa3072",
                  "subject": {"C": "FR", "O": "E2E Org", "CN": "E2E ACME CA"}, "validity_days": 1826,
                  "crl_url": "http://127.0.0.1:8080/root.crl", "ca_issuers_url": "http://127.0.0.1:8080/root.cer",
                  "permitted_dns": ["example.com", ".example.org"]}}
JSON
check "intermediate ceremony" "$CEREMONY" run "$T/int.json"
I=$T/out-int/intermediate.pem
check "openssl verify -CAfile root intermediate" openssl verify -CAfile "$R" "$I"
openssl x509 -in "$I" -noout -text >"$T/int.txt"
has "intermediate: CA:TRUE pathlen:0" "$T/int.txt" 'CA:TRUE, pathlen:0'
has "intermediate: keyUsage critical" "$T/int.txt" 'Key Usage: critical'
has "intermediate: keyCertSign, cRLSign" "$T/int.txt" '^ +Certificate Sign, CRL Sign$'
has "intermediate: EKU serverAuth" "$T/int.txt" 'TLS Web Server Authentication'
has "intermediate: AKI" "$T/int.txt" 'Authority Key Identifier'
has "intermediate: CRL DP" "$T/int.txt" 'URI:http://127.0.0.1:8080/root.crl'
has "intermediate: AIA caIssuers" "$T/int.txt" 'CA Issuers - URI:http://127.0.0.1:8080/root.cer'
has "intermediate: name constraints critical" "$T/int.txt" 'Name Constraints: critical'
has "intermediate: permitted DNS" "$T/int.txt" 'DNS:.example.org'
check "intermediate: transcript verifies with --trust root" "$CEREMONY" verify-transcript "$T/out-int" --trust "$R"
"$CEREMONY" verify-transcript "$T/out-int" --trust "$R" >"$T/verify-int.out" 2>&1 || true
has "intermediate: verify-transcript --trust names the root and its fingerprint" "$T/verify-int.out" \
  "^verified against root CN=E2E Root CA,O=E2E Org,C=FR SHA-256 Fingerprint=$ROOT_FP \(--trust\)$"
check "intermediate: ca-ceremony lint" "$CEREMONY" lint --role intermediate "$I" "$R"

# ---------------------------------------------------------------- OCSP signer
cat >"$T/ocsp.json" <<JSON
{"ceremony": "ocsp-signer", "operator": "Alice Operator", $(token_section ca-e2e),
 "output_dir": "$T/out-ocsp",
 "issuer": {"key_label": "e2e-acme", "certificate": "$I"},
 "ocsp_signer": {"key_label": "e2e-ocsp", "subject": {"O": "E2E Org", "CN": "E2E ACME CA OCSP"}, "validity_days": 365}}
JSON
check "ocsp-signer ceremony" "$CEREMONY" run "$T/ocsp.json"
O=$T/out-ocsp/ocsp-signer.pem
check "openssl verify -CAfile root -untrusted intermediate ocsp-signer" openssl verify -CAfile "$R" -untrusted "$I" "$O"
openssl x509 -in "$O" -noout -text >"$T/ocsp.txt"
has "ocsp: EKU OCSP Signing" "$T/ocsp.txt" 'OCSP Signing'
has "ocsp: ocsp-nocheck" "$T/ocsp.txt" 'OCSP No Check'
has "ocsp: keyUsage critical" "$T/ocsp.txt" 'Key Usage: critical'
has "ocsp: digitalSignature" "$T/ocsp.txt" '^ +Digital Signature$'
has "ocsp: EC P-256 by default" "$T/ocsp.txt" 'NIST CURVE: P-256'
has "ocsp: signed by the RSA intermediate" "$T/ocsp.txt" 'Signature Algorithm: sha256WithRSAEncryption'
check "ocsp: transcript verifies" "$CEREMONY" verify-transcript "$T/out-ocsp"

# ---------------------------------------------------------------- TLS server (the gateway's HTTPS)
objects_before_tls=$(p11_objects ca-e2e | grep -c 'Object;' || true)
cat >"$T/tls.json" <<JSON
{"ceremony": "tls-server", "operator": "Alice Operator", $(token_section ca-e2e),
 "output_dir": "$T/out-tls",
 "issuer": {"key_label": "e2e-acme", "certificate": "$I"},
 "tls_server": {"subject": {"O": "E2E Org", "CN": "acme.example.com"},
                "dns_names": ["acme.example.com", "example.com"], "ip_addresses": ["127.0.0.1", "::1"],
                "validity_days": 397}}
JSON
check "tls-server ceremony" "$CEREMONY" run "$T/tls.json"
L=$T/out-tls/tls-server.pem
K=$T/out-tls/tls-server.key
check "openssl verify -CAfile root -untrusted intermediate tls-server" openssl verify -CAfile "$R" -untrusted "$I" "$L"
check "tls: verifies as an sslserver for acme.example.com" \
  openssl verify -purpose sslserver -verify_hostname acme.example.com -CAfile "$R" -untrusted "$I" "$L"
check "tls: verifies as an sslserver for ::1" openssl verify -purpose sslserver -verify_ip ::1 -CAfile "$R" -untrusted "$I" "$L"
if openssl verify -verify_hostname localhost -CAfile "$R" -untrusted "$I" "$L" >/dev/null 2>&1; then
  fail "tls: accepted for a name it does not list"
else
  pass "tls: refused for a name it does not list"
fi
openssl x509 -in "$L" -noout -text >"$T/tls.txt"
has "tls: basicConstraints critical" "$T/tls.txt" 'Basic Constraints: critical'
has "tls: CA:FALSE" "$T/tls.txt" '^ +CA:FALSE$'
has "tls: keyUsage critical" "$T/tls.txt" 'Key Usage: critical'
has "tls: digitalSignature only (EC key)" "$T/tls.txt" '^ +Digital Signature$'
has "tls: EKU serverAuth only" "$T/tls.txt" '^ +TLS Web Server Authentication$'
has "tls: SAN with every name and address" "$T/tls.txt" \
  '^ +DNS:acme.example.com, DNS:example.com, IP Address:127.0.0.1, IP Address:(0:0:0:0:0:0:0:1|::1)$'
has "tls: SKI" "$T/tls.txt" 'Subject Key Identifier'
has "tls: AKI" "$T/tls.txt" 'Authority Key Identifier'
has "tls: EC P-256 by default" "$T/tls.txt" 'NIST CURVE: P-256'
has "tls: signed by the RSA intermediate" "$T/tls.txt" 'Signature Algorithm: sha256WithRSAEncryption'
serial=$(openssl x509 -in "$L" -noout -serial | cut -d= -f2)
if [ ${#serial} -ge 16 ] && [ ${#serial} -le 36 ] && [[ $serial =~ ^[0-7] ]]; then pass "tls: positive serial of 8 to 18 octets (pki::Serial::Generate)"; else fail "tls serial $serial"; fi
check "tls: ca-ceremony lint --role tls-server" "$CEREMONY" lint --role tls-server "$L" "$I"
mode=$(stat -c %a "$K")
if [ "$mode" = 600 ]; then pass "tls: key file mode 600"; else fail "tls: key file mode $mode"; fi
if [ "$(head -1 "$K")" = "-----BEGIN PRIVATE KEY-----" ]; then pass "tls: key is PKCS#8 PEM"; else fail "tls: key format"; fi
check "tls: key matches the certificate" \
  bash -c "cmp <(openssl pkey -in '$K' -pubout) <(openssl x509 -in '$L' -noout -pubkey)"
check "tls: chain file is the leaf then the intermediate" bash -c "cat '$L' '$I' | cmp - '$T/out-tls/tls-server-chain.pem'"
check "tls: transcript verifies with --trust root" "$CEREMONY" verify-transcript "$T/out-tls" --trust "$R"
has "tls: transcript signed by the intermediate's key" "$T/out-tls/transcript.json" '"certificate": "issuer.pem"'
has "tls: transcript records the key's fingerprint" "$T/out-tls/transcript.json" \
  "\"public_key_sha256\": \"$(openssl pkey -in "$K" -pubout -outform DER | sha256sum | cut -d' ' -f1)\""
if grep -q 'PRIVATE KEY' "$T/out-tls/transcript.json" "$T/out-tls/ceremony.json" ||
  grep -Fq "$(sed -n 2p "$K")" "$T/out-tls/transcript.json" "$T/out-tls/ceremony.json"; then
  fail "tls: private key material in the transcript or manifest"
else
  pass "tls: no private key material in the transcript or manifest"
fi
objects_after_tls=$(p11_objects ca-e2e | grep -c 'Object;' || true)
if [ "$objects_before_tls" = "$objects_after_tls" ]; then pass "tls: no token object created"; else fail "tls: token objects $objects_before_tls -> $objects_after_tls"; fi
# A real handshake: openssl s_server on 127.0.0.1 (ephemeral port) with the key and certificate,
# sending the intermediate; s_client trusts only the root, checks the host name and makes one
# request (-www answers it and closes cleanly).
openssl s_server -www -accept 127.0.0.1:0 -naccept 1 -cert "$L" -key "$K" -cert_chain "$I" \
  >"$T/s_server.log" 2>&1 </dev/null &
SERVER_PID=$!
port=
for _ in $(seq 50); do
  port=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/s_server.log")
  [ -n "$port" ] && break
  sleep 0.1
done
if [ -n "$port" ] && printf 'GET / HTTP/1.0\r\n\r\n' | timeout 20 openssl s_client -ign_eof -connect "127.0.0.1:$port" \
  -servername acme.example.com -verify_hostname acme.example.com -CAfile "$R" -verify_return_error \
  >"$T/s_client.log" 2>&1 && grep -q '^Verified peername: acme.example.com$' "$T/s_client.log" &&
  grep -q '^HTTP/1.0 200 ok' "$T/s_client.log"; then
  pass "tls: handshake with s_server verifies (root trusted, intermediate sent by the server)"
else
  fail "tls: handshake (port '$port'): $(tail -3 "$T/s_client.log" 2>/dev/null | tr '\n' ' ')"
fi
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
sed -e "s#$T/out-tls#$T/out-tls-rsa#" -e 's/"validity_days": 397/"key_type": "rsa3072", "validity_days": 30/' \
  "$T/tls.json" >"$T/tls-rsa.json"
check "tls-server ceremony (rsa3072)" "$CEREMONY" run "$T/tls-rsa.json"
openssl x509 -in "$T/out-tls-rsa/tls-server.pem" -noout -text >"$T/tls-rsa.txt"
has "tls rsa: RSA 3072" "$T/tls-rsa.txt" 'Public-Key: \(3072 bit\)'
has "tls rsa: digitalSignature + keyEncipherment" "$T/tls-rsa.txt" '^ +Digital Signature, Key Encipherment$'
check "tls rsa: verifies" openssl verify -purpose sslserver -CAfile "$R" -untrusted "$I" "$T/out-tls-rsa/tls-server.pem"
mode=$(stat -c %a "$T/out-tls-rsa/tls-server.key")
if [ "$mode" = 600 ]; then pass "tls rsa: key file mode 600"; else fail "tls rsa: key file mode $mode"; fi

# ---------------------------------------------------------------- root CRL (twice: counter)
for n in 1 2; do
  cat >"$T/crl$n.json" <<JSON
{"ceremony": "root-crl", "operator": "Bob Witness", $(token_section ca-e2e),
 "output_dir": "$T/out-crl$n",
 "issuer": {"key_label": "e2e-root", "certificate": "$R"},
 "root_crl": {"crl_number_file": "$T/root-crl.counter", "next_update_days": 365,
              "revoked": [{"serial": "0123456789abcdef", "reason": "cACompromise", "revocation_date": "2026-01-02T03:04:05Z"}]}}
JSON
  check "root-crl ceremony #$n" "$CEREMONY" run "$T/crl$n.json"
done
openssl crl -in "$T/out-crl2/root-crl.pem" -noout -text >"$T/crl.txt"
has "crl: number 2 from the counter" "$T/crl.txt" '^ +2$'
has "crl: AKI" "$T/crl.txt" 'Authority Key Identifier'
has "crl: revoked serial" "$T/crl.txt" 'Serial Number: 0123456789ABCDEF'
has "crl: reason" "$T/crl.txt" 'CA Compromise'
has "crl: next update" "$T/crl.txt" 'Next Update: '
if [ "$(cat "$T/root-crl.counter")" = "2" ]; then pass "crl counter file holds 2"; else fail "crl counter"; fi
check "crl: openssl crl -CAfile verifies" openssl crl -in "$T/out-crl2/root-crl.pem" -CAfile "$R" -noout
check "crl: DER copy parses" openssl crl -inform DER -in "$T/out-crl2/root-crl.crl" -noout
check "crl: chain verifies with -crl_check" openssl verify -crl_check -CAfile "$R" -CRLfile "$T/out-crl2/root-crl.pem" "$I"
check "crl: transcript verifies (signed by root)" "$CEREMONY" verify-transcript "$T/out-crl2" --trust "$R"

# ---------------------------------------------------------------- token contents
p11_objects ca-e2e >"$T/objects.txt"
for label in e2e-root e2e-acme e2e-ocsp; do
  if awk -v l="$label" '/^Private Key Object/{p=1;next} /^[A-Z]/{p=0} p && $1=="label:" && $2==l {found=1} p && found && /Access:/ {print; exit}' "$T/objects.txt" |
    grep -q 'sensitive, always sensitive, never extractable'; then
    pass "pkcs11-tool: $label private key is sensitive, never extractable"
  else
    fail "pkcs11-tool: $label private key attributes"
  fi
done
has "pkcs11-tool: intermediate certificate stored on the token" "$T/objects.txt" 'subject: +DN: C=FR, O=E2E Org, CN=E2E ACME CA$'
if pkcs11-tool --module "$MODULE" --token-label ca-e2e --list-objects --type privkey 2>/dev/null | grep -q 'Private Key'; then
  fail "private keys visible without login"
else
  pass "private keys are private (not listed without login)"
fi

# ---------------------------------------------------------------- staging hierarchy
cat >"$T/staging.json" <<JSON
{"ceremony": "staging", "operator": "Alice Operator", $(token_section ca-e2e),
 "output_dir": "$T/out-staging",
 "root": {"key_label": "stg-root", "key_type": "ec-p384", "subject": {"O": "E2E Org", "CN": "E2E TEST Root CA"}},
 "intermediate": {"key_label": "stg-acme", "key_type": "rsa3072", "subject": {"O": "E2E Org", "CN": "E2E TEST ACME CA"},
                  "crl_url": "http://127.0.0.1:8080/test-root.crl", "ca_issuers_url": "http://127.0.0.1:8080/test-root.cer"},
 "ocsp_signer": {"key_label": "stg-ocsp", "subject": {"CN": "E2E TEST OCSP"}}}
JSON
check "staging ceremony" "$CEREMONY" run "$T/staging.json"
S=$T/out-staging
check "staging: chain verifies" openssl verify -CAfile "$S/root.pem" -untrusted "$S/intermediate.pem" "$S/ocsp-signer.pem"
for f in root intermediate ocsp-signer; do
  if openssl x509 -in "$S/$f.pem" -noout -subject | grep -q 'CN *= *[^,]*TEST'; then pass "staging: $f CN has TEST"; else fail "staging: $f CN"; fi
done
if openssl verify -CAfile "$R" "$S/intermediate.pem" >/dev/null 2>&1; then fail "staging chains to the production root"; else pass "staging root is separate"; fi

# ---------------------------------------------------------------- transcript tampering
cp -a "$T/out-int" "$T/tamper1"; echo "# extra" >>"$T/tamper1/intermediate.pem"
if "$CEREMONY" verify-transcript "$T/tamper1" 2>"$T/err"; then fail "tampered artifact accepted"; else has "tampered artifact detected" "$T/err" 'intermediate.pem does not match'; fi
cp -a "$T/out-int" "$T/tamper2"; sed -i 's/Alice Operator/Mallory/' "$T/tamper2/transcript.json"
if "$CEREMONY" verify-transcript "$T/tamper2" 2>"$T/err"; then fail "tampered transcript accepted"; else has "tampered transcript detected" "$T/err" 'signature does not verify'; fi
if "$CEREMONY" verify-transcript "$T/out-int" --trust "$S/root.pem" 2>"$T/err"; then fail "wrong trust anchor accepted"; else has "wrong trust anchor refused" "$T/err" 'neither the trust anchor'; fi

# ---------------------------------------------------------------- bad inputs: one line, non-zero, nothing changed
count_objects() { p11_objects ca-e2e | grep -c 'Object;' || true; }
before_objects=$(count_objects)
mkdir "$T/io"  # the checks' own stdout/stderr captures, outside the snapshot
snapshot() { (cd "$T" && find . \( -path ./tokens -o -path ./io \) -prune -o -type f -print0 | sort -z | xargs -0 sha256sum) ; }
bad() {  # bad NAME EXPECTED_RC REGEX CONFIG
  local name=$1 want_rc=$2 regex=$3 config=$4 rc=0
  local before; before=$(snapshot)
  "$CEREMONY" run "$config" >"$T/io/bad.out" 2>"$T/io/bad.err" || rc=$?
  local lines; lines=$(wc -l <"$T/io/bad.err")
  if [ "$rc" -eq "$want_rc" ] && [ "$lines" -eq 1 ] && grep -Eq -- "$regex" "$T/io/bad.err"; then
    pass "bad input: $name -> exit $rc: $(cat "$T/io/bad.err")"
  else
    fail "bad input: $name (rc=$rc, $lines lines: $(cat "$T/io/bad.err"))"
  fi
  if [ "$(snapshot)" == "$before" ] && ! ls -d "$T"/out-bad* >/dev/null 2>&1; then
    pass "bad input: $name changed no file"
  else
    fail "bad input: $name left files behind"
  fi
  rm -f "$T/io/bad.out" "$T/io/bad.err"
}
root_cfg() {  # root_cfg KEY_TYPE LABEL TOKEN_SECTION [EXTRA]
  printf '{"ceremony": "root", "operator": "Alice Operator", %s, "output_dir": "%s", "root": {"key_label": "%s", "key_type": "%s", "subject": {"CN": "Bad Root"}%s}}' \
    "$3" "$T/out-bad" "$2" "$1" "${4:-}"
}
mkdir "$T/cfg"
root_cfg rsa3072 bad-root "$(token_section ca-e2e "$T/badpin")" >"$T/cfg/wrong-pin.json"
bad "wrong PIN" 1 'PIN' "$T/cfg/wrong-pin.json"
root_cfg rsa3072 bad-root "$(token_section ca-e2e "$T/pin" /usr/lib/softhsm/no-such-module.so)" >"$T/cfg/no-module.json"
bad "missing module" 2 'no-such-module.so does not exist' "$T/cfg/no-module.json"
root_cfg rsa2048 bad-root "$(token_section ca-e2e)" >"$T/cfg/rsa2048.json"
bad "unsupported key size" 2 "unsupported key type 'rsa2048'" "$T/cfg/rsa2048.json"
root_cfg rsa3072 bad-root "$(token_section ca-e2e)" ', "colour": "blue"' >"$T/cfg/unknown-key.json"
bad "unknown config key" 2 'root.colour: unknown field' "$T/cfg/unknown-key.json"
root_cfg rsa3072 bad-root "$(token_section ca-e2e)" ', "validity_days": 20000' >"$T/cfg/validity.json"
bad "validity out of range" 2 'validity_days: out of range' "$T/cfg/validity.json"
root_cfg rsa3072 e2e-root "$(token_section ca-e2e)" >"$T/cfg/label-exists.json"
bad "HSM label exists" 1 "already has an object labelled 'e2e-root'" "$T/cfg/label-exists.json"
sed "s#$T/out-root\"#$T/out-root\"#" "$T/root.json" | sed 's/e2e-root/fresh-root/' >"$T/cfg/out-exists.json"
bad "output directory exists" 2 'out-root already exists' "$T/cfg/out-exists.json"
sed -e "s#$T/out-int#$T/out-bad#" -e 's/"key_label": "e2e-root"/"key_label": "no-such-root"/' -e 's/e2e-acme/fresh-acme/' "$T/int.json" >"$T/cfg/missing-issuer.json"
bad "missing issuer key label (intermediate before root)" 1 "no key labelled 'no-such-root'" "$T/cfg/missing-issuer.json"
sed -e "s#$T/out-int#$T/out-bad#" -e 's/"key_label": "e2e-root"/"key_label": "stg-root"/' -e 's/e2e-acme/fresh-acme/' "$T/int.json" >"$T/cfg/wrong-issuer.json"
bad "issuer key does not match its certificate" 1 "does not match" "$T/cfg/wrong-issuer.json"
sed -e "s#$T/out-staging#$T/out-bad#" -e 's/E2E TEST ACME CA/E2E ACME CA/' -e 's/stg-/stg2-/g' "$T/staging.json" >"$T/cfg/staging-no-test.json"
bad "staging CN without TEST" 2 'must contain "TEST"' "$T/cfg/staging-no-test.json"
sed -e "s#$T/out-tls#$T/out-bad#" -e 's/"example.com"\]/"localhost"]/' "$T/tls.json" >"$T/cfg/tls-outside-constraints.json"
bad "tls-server name outside the intermediate's name constraints" 2 \
  "tls_server.dns_names\[1\]: 'localhost' is not allowed by the issuer's name constraints" "$T/cfg/tls-outside-constraints.json"
sed -e "s#$T/out-tls#$T/out-bad#" -e 's/"validity_days": 397/"validity_days": 398/' "$T/tls.json" >"$T/cfg/tls-validity.json"
bad "tls-server validity over 397 days" 2 'tls_server.validity_days: out of range: 398' "$T/cfg/tls-validity.json"
sed -e "s#$T/out-tls#$T/out-bad#" -e 's/"ip_addresses": \["127.0.0.1", "::1"\]/"ip_addresses": ["127.0.0.256"]/' \
  "$T/tls.json" >"$T/cfg/tls-bad-ip.json"
bad "tls-server bad IP address" 2 "'127.0.0.256' is not an IPv4 or IPv6 address" "$T/cfg/tls-bad-ip.json"
sed -e "s#$T/out-tls#$T/out-bad#" -e 's/"key_label": "e2e-acme"/"key_label": "e2e-root"/' -e "s#\"certificate\": \"$I\"#\"certificate\": \"$R\"#" \
  "$T/tls.json" >"$T/cfg/tls-root-issuer.json"
bad "tls-server issued by the root" 2 'is a self-signed root' "$T/cfg/tls-root-issuer.json"
after_objects=$(count_objects)
if [ "$before_objects" = "$after_objects" ]; then pass "bad inputs created no token object ($after_objects objects)"; else fail "token objects $before_objects -> $after_objects"; fi

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all ceremony e2e checks passed"
