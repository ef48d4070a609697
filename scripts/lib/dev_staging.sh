# The staging service of the dev appliance (CA-8, ANSSI R53/R54), sourced by appliance-dev.sh:
# its own TEST root, intermediate and OCSP signer (ceremony "staging"), the engine's staging
# instance, a status server of its own over the staging status store, and a second ACME gateway
# (environment "staging") on its own port. The functions use appliance-dev.sh's variables
# (state, root, module, secrets, port_base, crl_shards, the program paths, start, wait_for, die).
# Ports: staging gateway N+7, staging status N+8, staging gateway metrics N+9.
# shellcheck shell=bash disable=SC2154  # the caller's variables
staging_issuer=acme-stg staging_root_name=stg-root

# The staging hierarchy, once per state directory: its CNs say TEST (the ceremony refuses them
# otherwise) and its root is not the production root.
staging_ceremony() {
  staging_status_url=http://127.0.0.1:$((port_base + 8))
  SC=$state/ceremony/staging
  [ -f "$SC/intermediate.pem" ] && return 0
  cat >"$state/ceremony/staging.json" <<JSON
{"ceremony": "staging", "operator": "appliance-dev",
 "token": {"module": "$module", "label": "acme-ca", "user_pin": "file:$secrets/user.pin"},
 "output_dir": "$SC",
 "root": {"key_label": "$staging_root_name", "key_type": "ec-p384",
          "subject": {"C": "FR", "O": "Demo Appliance", "CN": "Demo Appliance TEST Root CA"}, "validity_days": 3650},
 "intermediate": {"key_label": "$staging_issuer", "key_type": "rsa3072",
                  "subject": {"C": "FR", "O": "Demo Appliance", "CN": "Demo Appliance TEST ACME CA"},
                  "validity_days": 1826,
                  "crl_url": "$staging_status_url/crl/$staging_root_name.crl",
                  "ca_issuers_url": "$staging_status_url/ca/$staging_root_name.der"},
 "ocsp_signer": {"key_label": "stg-ocsp", "subject": {"O": "Demo Appliance", "CN": "Demo Appliance TEST ACME CA OCSP"},
                 "validity_days": 365},
 "root_crl": {"crl_number_file": "$state/ceremony/staging-root-crl.counter", "next_update_days": 365, "revoked": []}}
JSON
  "$CEREMONY" run "$state/ceremony/staging.json" >>"$state/logs/ceremony.log" 2>&1 ||
    die "staging ceremony: $(tail -1 "$state/logs/ceremony.log")"
}

# The engine's "staging" instance (engine.json), printed as `, "staging": {...}`; ACCESS as the gateway's.
staging_engine_instance() {
  cat "$SC/intermediate.pem" "$SC/root.pem" >"$state/ca-chain-staging.pem"
  cat <<JSON
, "staging": {
   "store": "$state/ca-store-staging", "status_store": "$state/status-store-staging", "issuer_name": "$staging_issuer",
   "profiles_dir": "$root/profiles/data/staging",
   "intermediate_key_label": "$staging_issuer", "intermediate_cert": "$SC/intermediate.pem", "chain": "$state/ca-chain-staging.pem",
   "ocsp_key_label": "stg-ocsp", "ocsp_cert": "$SC/ocsp-signer.pem",
   "ocsp_url": "$staging_status_url/ocsp", "ca_issuers_url": "$staging_status_url/ca/$staging_issuer.der",
   "crl_url": "$staging_status_url/crl/$staging_issuer.crl", "crl_shards": $crl_shards, "staging_access": "$1"}
JSON
}

# The staging status server: OCSP, the staging CRLs and CA certificates from the staging status
# store (the engine creates it), the staging root's CRL imported through the publish guard.
staging_status_up() {
  "$PUBLISH" import-crl --store "$state/status-store-staging" --issuer-name "$staging_root_name" --issuer "$SC/root.pem" \
    --crl "$SC/root-crl.crl" >>"$state/logs/ceremony.log" 2>&1 || die "staging root CRL import: $(tail -1 "$state/logs/ceremony.log")"
  cat >"$state/status-staging.json" <<JSON
{"listen_address": "127.0.0.1", "port": $((port_base + 8)), "store": "$state/status-store-staging",
 "issuers": ["$staging_issuer", "$staging_root_name"], "crl_shards": {"$staging_issuer": $crl_shards}, "threads": 2}
JSON
  start status-staging "$STATUS" --config "$state/status-staging.json"
  wait_for status-staging "$state/run/status-staging.pid" curl -sf -o /dev/null "$staging_status_url/crl/$staging_issuer.crl"
}

# The staging ACME gateway: production's gateway.json with its own port, store, audit file,
# profiles and environment; ACCESS is per-account (the RA's `--staging yes`) or all.
staging_gateway_up() {
  local access=$1
  staging_acme_base=https://127.0.0.1:$((port_base + 7))
  /usr/bin/python3 - "$state/gateway.json" "$state/gateway-staging.json" "$((port_base + 7))" "$((port_base + 9))" \
    "$staging_acme_base" "$state" "$root/profiles/data/staging" "$access" <<'PY'
import json, sys
src, dst, port, metrics, base, state, profiles, access = sys.argv[1:]
g = json.load(open(src))
g["listen"]["port"] = int(port)
g["metrics"]["port"] = int(metrics)
g.update({"base_url": base, "store": state + "/gateway-store-staging", "audit_log": state + "/audit/gateway-staging.jsonl",
          "profiles_dir": profiles, "environment": "staging", "staging_access": access,
          "terms_of_service": base + "/terms", "website": base + "/"})
json.dump(g, open(dst, "w"), indent=1)
PY
  start gateway-staging "$GATEWAY" --config "$state/gateway-staging.json"
  wait_for gateway-staging "$state/run/gateway-staging.pid" curl -sf --cacert "$C/root.pem" -o /dev/null "$staging_acme_base/directory"
}

# appliance.env lines of the staging service.
staging_env() {
  cat <<ENV
STAGING_ACCESS=$1
STAGING_DIRECTORY_URL=$staging_acme_base/directory
STAGING_ROOT=$SC/root.pem
STAGING_INTERMEDIATE_PEM=$SC/intermediate.pem
STAGING_OCSP_URL=$staging_status_url/ocsp
STAGING_STATUS_URL=$staging_status_url
STAGING_GATEWAY_PID=$(cat "$state/run/gateway-staging.pid")
STAGING_STATUS_PID=$(cat "$state/run/status-staging.pid")
ENV
}
