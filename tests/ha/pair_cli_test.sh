#!/usr/bin/env bash
# pair_cli_test.sh SOURCE_DIR: `acme-ca-setup pair` without PostgreSQL: the haproxy configuration it
# renders (haproxy -c accepts it; both nodes behind each frontend, the health checks), and bad
# settings or usage refused with one clear line, nothing written. Needs root (the tool refuses
# otherwise): skipped (77) without.
set -uo pipefail
src=$1
[ "$(id -u)" = 0 ] || { echo "pair_cli_test: SKIPPED: needs root"; exit 77; }
command -v haproxy >/dev/null || { echo "FAIL: haproxy not installed (scripts/install-deps.sh)"; exit 1; }
. "$src/tests/appliance/lib.sh"  # pass, fail, check
T=$(mktemp -d /tmp/acme-ca-pair-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
touch "$T/stamp"
P=$T/p
install -d "$P/usr/sbin" "$P/etc/acme-ca" "$P/usr/share/acme-ca/haproxy"
install -m 0755 "$src"/appliance/setup/acme-ca-{setup,pair} "$P/usr/sbin/"
install -m 0644 "$src/appliance/haproxy/acme-ca.cfg" "$P/usr/share/acme-ca/haproxy/"
conf() {  # conf LINES...: setup.conf with the example's settings and these
  cp "$src/appliance/setup/setup.conf" "$P/etc/acme-ca/setup.conf"
  printf '%s\n' "$@" >>"$P/etc/acme-ca/setup.conf"
}
pair() { "$P/usr/sbin/acme-ca-setup" pair "$@" --prefix "$P" --no-systemd; }

conf PAIR_NODES=10.0.0.11,10.0.0.12 PAIR_MONITOR=10.0.0.10 PAIR_LB_ADDRESS=10.0.0.20 GATEWAY_PORT=443 STATUS_PORT=8080
if pair haproxy --out "$T/haproxy.cfg" 2>"$T/err"; then
  check "pair haproxy: haproxy -c accepts the configuration" haproxy -c -q -f "$T/haproxy.cfg"
  check "pair haproxy: ACME on 10.0.0.20:443 in TCP to both gateways, checked with GET /directory over TLS" bash -c '
    grep -q "bind 10.0.0.20:443" "$1" && grep -q "server ca-1 10.0.0.11:443" "$1" && grep -q "server ca-2 10.0.0.12:443" "$1" &&
    grep -q "option httpchk GET /directory" "$1" && grep -q "check-ssl" "$1" && grep -q "on-marked-down shutdown-sessions" "$1"' _ "$T/haproxy.cfg"
  check "pair haproxy: the status port to both status servers, checked on /health" bash -c '
    grep -q "bind 10.0.0.20:8080" "$1" && grep -q "server ca-1 10.0.0.11:8080" "$1" && grep -q "option httpchk GET /health" "$1"' _ "$T/haproxy.cfg"
else
  fail "pair haproxy: $(cat "$T/err")"
fi

refused() {  # refused WHAT EXPECTED-MESSAGE COMMAND...: fails with that one line, writes nothing
  local what=$1 msg=$2; shift 2
  local before after
  touch "$T/stamp"
  before=$(find "$P" -newer "$T/stamp" -type f | sort | md5sum)
  if "$@" >"$T/out" 2>"$T/err"; then fail "$what: accepted"; return; fi
  after=$(find "$P" -newer "$T/stamp" -type f | sort | md5sum)
  if grep -qF -- "$msg" "$T/err" && [ "$before" = "$after" ]; then pass "$what"
  else fail "$what: $(head -3 "$T/err")"; fi
}
conf PAIR_NODES=10.0.0.11 PAIR_MONITOR=10.0.0.10
refused "one node in PAIR_NODES: refused" "PAIR_NODES must name the two nodes" pair haproxy --out "$T/h2.cfg"
conf PAIR_NODES=10.0.0.11,10.0.0.12
refused "no PAIR_MONITOR: refused" "PAIR_MONITOR must be set" pair haproxy --out "$T/h2.cfg"
conf PAIR_NODES=10.0.0.11,10.0.0.12 PAIR_MONITOR=10.0.0.10 PAIR_TYPO=1
refused "an unknown PAIR_ setting: refused" "unknown setting PAIR_TYPO" pair haproxy --out "$T/h2.cfg"
conf PAIR_NODES=10.0.0.11,10.0.0.12 PAIR_MONITOR=10.0.0.10 PAIR_PG_AUTH=md5
refused "PAIR_PG_AUTH md5: refused" "PAIR_PG_AUTH must be scram-sha-256 or trust" pair haproxy --out "$T/h2.cfg"
# (addresses of no host: reserved for documentation, and checked absent here)
ip -o addr show | grep -q ' 203\.0\.113\.' && { echo "pair_cli_test: SKIPPED: this host has a 203.0.113.x address"; exit 77; }
conf PAIR_NODES=203.0.113.1,203.0.113.2 PAIR_MONITOR=203.0.113.3
refused "pair postgres on a host that is neither node: refused" "none of PAIR_NODES" pair postgres
refused "acme-ca-setup on a host that is neither node: refused" "none of PAIR_NODES" \
  "$P/usr/sbin/acme-ca-setup" start --prefix "$P" --no-systemd
refused "pair without a command: usage" "acme-ca-setup pair monitor" "$P/usr/sbin/acme-ca-setup" pair
[ ! -e "$T/h2.cfg" ] && pass "nothing written by a refused command" || fail "a refused command wrote $T/h2.cfg"
if ((fails)); then echo "$fails check(s) failed"; exit 1; fi
echo "all pair CLI checks passed"
