# Steps both appliance tests take, as the operator guide gives them. Sourced by appliance_e2e.sh and
# image_e2e.sh; each caller defines pass/fail.
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib" && pwd)/pidfile.sh"

# first_external_account RA_RUNNER... -- ORG_NAME CONTACT DOMAIN CHALLENGES
# Runs the guide's "first external account" with the given acme-ca-ra command (e.g. `"$RA"`,
# `in_root acme-ca-ra`); sets EAB_KID and EAB_HMAC. With RECIPIENT_PUB / RECIPIENT_KEY set (an RSA
# key pair the RA's account can read), the MAC key is handed over encrypted to RECIPIENT_PUB and
# opened with openssl and RECIPIENT_KEY, as docs/REQUESTER_GUIDE.md says; otherwise --show-mac-key.
first_external_account() {
  local runner=()
  while [ "$1" != -- ]; do runner+=("$1"); shift; done
  shift
  local name=$1 contact=$2 domain=$3 challenges=$4 org eab
  org=$("${runner[@]}" --json org create --name "$name" --country FR --locality Paris \
          --registration-id 12345678900011 | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  "${runner[@]}" org validate "$org" >/dev/null
  local handover=(--show-mac-key)
  [ -z "${RECIPIENT_PUB:-}" ] || handover=(--recipient-key "$RECIPIENT_PUB")
  eab=$("${runner[@]}" --json ext-account create --org "$org" --contact "$contact" --profiles SSL \
          --challenges "$challenges" --active "${handover[@]}")
  if [ -n "${RECIPIENT_PUB:-}" ]; then
    EAB_KID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["kid"])' "$eab")
    EAB_HMAC=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["mac_key_encrypted"])' "$eab" | base64 -d |
               openssl pkeyutl -decrypt -inkey "$RECIPIENT_KEY" -pkeyopt rsa_padding_mode:oaep \
                 -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256)
  else
    read -r EAB_KID EAB_HMAC < <(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["kid"], j["mac_key"])' "$eab")
  fi
  "${runner[@]}" domain add "$EAB_KID" "$domain" --include-subdomains --dcv "$challenges" >/dev/null
  "${runner[@]}" domain validate "$EAB_KID" "$domain" >/dev/null
}

# certbot_issue DIR ROOT_PEM ACME_DIR NAME CERT_NAME
# certbot certonly (EAB with EAB_KID/EAB_HMAC, http-01 standalone on HTTP01_PORT, RSA-3072) into
# DIR/{conf,work,logs}, log in DIR.log; the certificate ends in DIR/conf/live/CERT_NAME/cert.pem.
certbot_issue() {
  local dir=$1 root=$2 acme_dir=$3 name=$4 cert_name=$5
  REQUESTS_CA_BUNDLE=$root certbot --non-interactive --agree-tos --email "ops@${name#*.}" --server "$acme_dir" \
    --config-dir "$dir/conf" --work-dir "$dir/work" --logs-dir "$dir/logs" \
    certonly --standalone --http-01-address 127.0.0.1 --http-01-port "$HTTP01_PORT" \
    --eab-kid "$EAB_KID" --eab-hmac-key="$EAB_HMAC" --key-type rsa --rsa-key-size 3072 \
    -d "$name" --cert-name "$cert_name" >"$dir.log" 2>&1
}

# stop_prefix PREFIX: stops the services acme-ca-setup --no-systemd started under PREFIX, by the PIDs
# it recorded in PREFIX/run/acme-ca (TERM, then KILL after 10 s).
stop_prefix() {
  stop_pidfiles -w 100 "$1"/run/acme-ca/{dashboard,gateway-staging,gateway,status-export-staging,status-export,status-staging,status,engine}.pid
}

# loopback_setup_conf FILE PORT_BASE: points setup.conf at 127.0.0.1 with the test's ports (gateway
# PORT_BASE, status +1, http-01 +2, tls-alpn-01 +3, gateway metrics +4, dashboard +6,
# pebble-challtestsrv DNS +53).
loopback_setup_conf() {
  local pb=$2
  sed -i -e "s|^ACME_HOSTNAME=.*|ACME_HOSTNAME=localhost|" \
         -e "s|^ACME_IP_ADDRESSES=.*|ACME_IP_ADDRESSES=127.0.0.1|" \
         -e "s|^STATUS_BASE_URL=.*|STATUS_BASE_URL=http://127.0.0.1:$((pb + 1))|" \
         -e "s|^GATEWAY_LISTEN_ADDRESS=.*|GATEWAY_LISTEN_ADDRESS=127.0.0.1|" \
         -e "s|^GATEWAY_PORT=.*|GATEWAY_PORT=$pb|" \
         -e "s|^GATEWAY_METRICS_PORT=.*|GATEWAY_METRICS_PORT=$((pb + 4))|" \
         -e "s|^STATUS_LISTEN_ADDRESS=.*|STATUS_LISTEN_ADDRESS=127.0.0.1|" \
         -e "s|^STATUS_PORT=.*|STATUS_PORT=$((pb + 1))|" \
         -e "s|^DNS_RESOLVER=.*|DNS_RESOLVER=127.0.0.1:$((pb + 53))|" \
         -e "s|^HTTP01_PORT=.*|HTTP01_PORT=$((pb + 2))|" \
         -e "s|^HTTPS_PORT=.*|HTTPS_PORT=$((pb + 2))|" \
         -e "s|^TLSALPN01_PORT=.*|TLSALPN01_PORT=$((pb + 3))|" \
         -e "s|^DASHBOARD_LISTEN_ADDRESS=.*|DASHBOARD_LISTEN_ADDRESS=127.0.0.1|" \
         -e "s|^DASHBOARD_PORT=.*|DASHBOARD_PORT=$((pb + 6))|" \
         -e "s|^VALIDATOR_NETWORKS=.*|VALIDATOR_NETWORKS=127.0.0.0/8|" "$1"
}

# install_prefix PREFIX SOURCE_DIR CA_ENGINE CA_GATEWAY CA_STATUS_SERVER CA_STATUS_PUBLISH CA_RA CA_CEREMONY CA_AUDIT
#                CA_DASHBOARD CA_REPORT
# The built programs, scripts and profiles laid out under PREFIX as the Debian package lays them out.
install_prefix() {
  local p=$1 src=$2
  install -d -m 0755 "$p/usr/lib/acme-ca" "$p/usr/bin" "$p/usr/sbin" "$p/usr/share/acme-ca" "$p/etc/acme-ca"
  install -m 0755 "$3" "$4" "$5" "$6" "${10}" "${11}" "$p/usr/lib/acme-ca/"
  # ca-status-export (the status export, on by default) is built beside ca-status-server.
  if [ -x "$(dirname "$5")/../export/ca-status-export" ]; then
    install -m 0755 "$(dirname "$5")/../export/ca-status-export" "$p/usr/lib/acme-ca/"
  fi
  install -m 0755 "$7" "$8" "$9" "$p/usr/bin/"
  install -m 0755 "$src"/appliance/setup/acme-ca-{setup,backup,restore,ra} "$p/usr/sbin/"
  cp -r "$src/profiles/data" "$p/usr/share/acme-ca/profiles"
  chmod -R a+rX "$p/usr"
  install -m 0644 "$src/appliance/setup/setup.conf" "$p/etc/acme-ca/setup.conf.example"
}

# postinst_prefix PREFIX: what the package's postinst does, with the scripts installed in PREFIX
# (they take PREFIX as their root): accounts, setup.conf from the example, directories and modes,
# and the empty, append-only audit files.
postinst_prefix() {
  local p=$1
  "$p/usr/sbin/acme-ca-setup" create-users &&
    { [ -e "$p/etc/acme-ca/setup.conf" ] || install -m 0644 "$p/etc/acme-ca/setup.conf.example" "$p/etc/acme-ca/setup.conf"; } &&
    "$p/usr/sbin/acme-ca-setup" fix-permissions
}

# free_port_base: a port base with nothing listening on base+{0..9,53} (7..9: the staging service),
# or ACME_CA_TEST_PORT_BASE when set.
free_port_base() {
  local pb busy off
  # A machine shared by several runs gives each its own range.
  if [ -n "${ACME_CA_TEST_PORT_BASE:-}" ]; then echo "$ACME_CA_TEST_PORT_BASE"; return; fi
  for _ in $(seq 20); do
    pb=$((20000 + (RANDOM % 200) * 100))
    busy=0
    for off in 0 1 2 3 4 5 6 7 8 9 53; do (exec 3<>/dev/tcp/127.0.0.1/$((pb + off))) 2>/dev/null && busy=1; done
    ((busy)) || break
  done
  echo "$pb"
}

# The checks every appliance test reports with: "ok   - …" / "FAIL - …" lines and a failure count
# (`fails`) the test turns into its exit status.
fails=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

# setup_prefix_or_exit PREFIX LOG DESCRIPTION: acme-ca-setup --no-systemd of PREFIX (output in
# LOG); on failure prints LOG, the services' and the ceremony's logs and exits 1.
setup_prefix_or_exit() {
  local p=$1 log=$2 f
  if "$p/usr/sbin/acme-ca-setup" --prefix "$p" --no-systemd >"$log" 2>&1; then pass "$3"; return 0; fi
  cat "$log"
  for f in "$p"/var/log/acme-ca/*.log "$p/var/lib/acme-ca/ceremony/ceremony.log"; do
    [ -f "$f" ] && { echo "== $f"; tail -20 "$f"; }
  done
  echo "FAIL: setup did not complete"; exit 1
}

# mode_is PATH MODE OWNER GROUP
mode_is() {
  local got
  got=$(stat -c '%a %U %G' "$1" 2>/dev/null) || { echo "    missing: $1"; return 1; }
  [ "$got" = "$2 $3 $4" ] || { echo "    $1: $got, want $2 $3 $4"; return 1; }
}

# record_created_accounts: sets created_accounts and created_groups to the service accounts and
# groups that do not exist yet (those the test's setup will create, and remove_test_state removes).
record_created_accounts() {
  local u g
  created_accounts=() created_groups=()
  for u in acme-ca-engine acme-ca-gateway acme-ca-status acme-ca-ra acme-ca-dashboard acme-ca-report; do
    getent passwd "$u" >/dev/null || created_accounts+=("$u")
  done
  for g in acme-ca-policy acme-ca-engine-clients acme-ca-audit; do getent group "$g" >/dev/null || created_groups+=("$g"); done
}

# remove_test_state: deletes the service accounts and groups the test created (created_accounts,
# created_groups: those that did not exist before it) and its temporary directory T (kept, and
# said, with KEEP_STATE=1; append-only audit files lose +a first so that rm can remove them).
remove_test_state() {
  local u g
  for u in "${created_accounts[@]}"; do
    userdel "$u" 2>/dev/null
    getent group "$u" >/dev/null && groupdel "$u" 2>/dev/null
  done
  for g in "${created_groups[@]}"; do getent group "$g" >/dev/null && groupdel "$g" 2>/dev/null; done
  if [ -n "${KEEP_STATE:-}" ]; then echo "state kept in $T"; else chattr -R -a "$T" 2>/dev/null; rm -rf "$T"; fi
}

# ocsp_answer ISSUER_PEM CERT URL CA_PEM: the certificate's status ("good", "revoked", ...) as the
# OCSP responder at URL answers it (openssl ocsp, no nonce), empty if there is no answer.
ocsp_answer() {
  openssl ocsp -issuer "$1" -cert "$2" -url "$3" -CAfile "$4" -no_nonce 2>/dev/null | sed -n "s|^$2: *||p"
}

# exported_ocsp_status EXPORT_DIR ISSUER_PEM CERT CA_PEM: the status in the pre-signed response that
# ca-status-export wrote for CERT (the file named by the GET path of openssl's request, SHA-1 CertID,
# crl_ocsp/export/README.md), empty if there is no such file.
exported_ocsp_status() {
  local req f
  req=$(mktemp)
  openssl ocsp -issuer "$2" -cert "$3" -no_nonce -reqout "$req" >/dev/null 2>&1
  f=$1/ocsp/$(base64 -w0 "$req")
  rm -f "$req"
  [[ $f == */ ]] && f=${f}index.der
  [ -f "$f" ] || return 0
  openssl ocsp -respin "$f" -issuer "$2" -cert "$3" -CAfile "$4" 2>/dev/null | sed -n "s|^$3: *||p"
}
