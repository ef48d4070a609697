# Steps both appliance tests take, as the operator guide gives them. Sourced by appliance_e2e.sh and
# image_e2e.sh; each caller defines pass/fail.
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib" && pwd)/pidfile.sh"

# first_external_account RA_RUNNER... -- ORG_NAME CONTACT DOMAIN CHALLENGES
# Runs the guide's "first external account" with the given acme-ca-ra command (e.g. `"$RA"`,
# `in_root acme-ca-ra`); sets EAB_KID and EAB_HMAC.
first_external_account() {
  local runner=()
  while [ "$1" != -- ]; do runner+=("$1"); shift; done
  shift
  local name=$1 contact=$2 domain=$3 challenges=$4 org eab
  org=$("${runner[@]}" --json org create --name "$name" --country FR --locality Paris \
          --registration-id 12345678900011 | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  "${runner[@]}" org validate "$org" >/dev/null
  eab=$("${runner[@]}" --json ext-account create --org "$org" --contact "$contact" --profiles SSL \
          --challenges "$challenges" --active)
  read -r EAB_KID EAB_HMAC < <(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["kid"], j["mac_key"])' "$eab")
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
  stop_pidfiles -w 100 "$1"/run/acme-ca/{gateway,status,engine}.pid
}

# loopback_setup_conf FILE PORT_BASE: points setup.conf at 127.0.0.1 with the test's ports (gateway
# PORT_BASE, status +1, http-01 +2, tls-alpn-01 +3, pebble-challtestsrv DNS +53).
loopback_setup_conf() {
  local pb=$2
  sed -i -e "s|^ACME_HOSTNAME=.*|ACME_HOSTNAME=localhost|" \
         -e "s|^ACME_IP_ADDRESSES=.*|ACME_IP_ADDRESSES=127.0.0.1|" \
         -e "s|^STATUS_BASE_URL=.*|STATUS_BASE_URL=http://127.0.0.1:$((pb + 1))|" \
         -e "s|^GATEWAY_LISTEN_ADDRESS=.*|GATEWAY_LISTEN_ADDRESS=127.0.0.1|" \
         -e "s|^GATEWAY_PORT=.*|GATEWAY_PORT=$pb|" \
         -e "s|^STATUS_LISTEN_ADDRESS=.*|STATUS_LISTEN_ADDRESS=127.0.0.1|" \
         -e "s|^STATUS_PORT=.*|STATUS_PORT=$((pb + 1))|" \
         -e "s|^DNS_RESOLVER=.*|DNS_RESOLVER=127.0.0.1:$((pb + 53))|" \
         -e "s|^HTTP01_PORT=.*|HTTP01_PORT=$((pb + 2))|" \
         -e "s|^HTTPS_PORT=.*|HTTPS_PORT=$((pb + 2))|" \
         -e "s|^TLSALPN01_PORT=.*|TLSALPN01_PORT=$((pb + 3))|" \
         -e "s|^VALIDATOR_NETWORKS=.*|VALIDATOR_NETWORKS=127.0.0.0/8|" "$1"
}
