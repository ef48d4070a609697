#!/usr/bin/env bash
# image_e2e.sh SOURCE_DIR BUILD_DIR
#
# The appliance image: scripts/build-deb.sh --no-build (cpack of the programs already built in
# BUILD_DIR), scripts/build-image.sh (mmdebstrap, Debian 12 + the package), then inside the root
# with chroot: the package installed by apt with its maintainer scripts (accounts, directories),
# units enabled and scored by systemd-analyze, acme-ca-setup --no-systemd, the first external
# account with acme-ca-ra, one certbot issuance from the host, OCSP; then the package's life:
# reinstall (upgrade path: services restarted, keys kept), purge (keys, stores and accounts kept),
# install again (setup finds everything), purge with ACME_CA_PURGE_STATE=1 (all gone).
# Exit 77 (ctest: skipped) only when the Debian mirror cannot be reached, saying so.
set -uo pipefail
src=$1 build=$2
[ "$(id -u)" = 0 ] || { echo "FAIL: needs root (chroot, mmdebstrap)"; exit 1; }
for t in mmdebstrap certbot pebble-challtestsrv curl openssl python3 systemd-analyze; do
  command -v "$t" >/dev/null || { echo "FAIL: $t not installed"; exit 1; }
done
mirror=${ACME_CA_IMAGE_MIRROR:-http://deb.debian.org/debian}
if ! err=$(curl -sS -f -o /dev/null --max-time 20 "$mirror/dists/bookworm/Release" 2>&1); then
  echo "SKIP: Debian mirror $mirror unreachable: $err"
  exit 77
fi

fails=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

T=$(mktemp -d /tmp/acme-ca-image-e2e.XXXXXX)
chmod 0755 "$T"
R=$T/root
challtestsrv_pid="" mounted=()
in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
stop_services() {
  local f pid
  for f in "$R"/run/acme-ca/gateway.pid "$R"/run/acme-ca/status.pid "$R"/run/acme-ca/engine.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
cleanup() {
  stop_services
  [ -z "$challtestsrv_pid" ] || { kill "$challtestsrv_pid" 2>/dev/null; wait "$challtestsrv_pid" 2>/dev/null; }
  local m
  for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null; done
  if [ -n "${KEEP_STATE:-}" ]; then echo "state kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- package and image
deb=$(BUILD_DIR=$build "$src/scripts/build-deb.sh" --build-dir "$build" --no-build 2>"$T/build-deb.log" | tail -1)
if [ -f "$deb" ]; then pass "scripts/build-deb.sh: $(basename "$deb")"; else cat "$T/build-deb.log"; echo "FAIL: no package"; exit 1; fi
if "$src/scripts/build-image.sh" --deb "$deb" --out "$T/image.tar.gz" --dir "$R" --mirror "$mirror" \
     --include curl >"$T/build-image.log" 2>&1; then
  pass "scripts/build-image.sh: $(du -h "$T/image.tar.gz" | cut -f1) root filesystem tarball"
else
  tail -30 "$T/build-image.log"
  echo "FAIL: build-image.sh (log above)"; exit 1
fi
check "image tarball holds the package's programs" \
  bash -c 'tar -tzf "$1" | grep -qx "./usr/lib/acme-ca/ca-engine"' _ "$T/image.tar.gz"
check "acme-ca installed by dpkg in the image" \
  bash -c '[ "$(chroot "$1" dpkg-query -W -f "\${Status}" acme-ca)" = "install ok installed" ]' _ "$R"
check "postinst made the service accounts" \
  bash -c 'for u in acme-ca-engine acme-ca-gateway acme-ca-status acme-ca-ra; do chroot "$1" getent passwd "$u" >/dev/null || exit 1; done
           chroot "$1" id -nG acme-ca-gateway | grep -qw acme-ca-engine-clients' _ "$R"
check "postinst made the state directories (engine 0700, policy store 2750)" \
  bash -c '[ "$(chroot "$1" stat -c "%a %U" /var/lib/acme-ca/engine)" = "700 acme-ca-engine" ] &&
           [ "$(chroot "$1" stat -c "%a %U %G" /var/lib/acme-ca/policy/store)" = "2750 acme-ca-ra acme-ca-policy" ]' _ "$R"
check "postinst copied setup.conf.example to setup.conf" test -f "$R/etc/acme-ca/setup.conf"
check "the three units are enabled" \
  bash -c 'for u in engine status gateway; do [ -L "$1/etc/systemd/system/multi-user.target.wants/acme-ca-$u.service" ] || exit 1; done' _ "$R"
check "systemd-analyze verify --root: the units are clean" \
  bash -c 'out=$(systemd-analyze verify --root="$1" acme-ca-engine.service acme-ca-gateway.service acme-ca-status.service 2>&1) && [ -z "$out" ] || { echo "    $out"; exit 1; }' _ "$R"
for u in engine gateway status; do
  score=$(systemd-analyze security --offline=true --root="$R" "acme-ca-$u.service" 2>/dev/null |
          sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
  check "acme-ca-$u.service in the image: exposure ${score:-?} <= 2.0" \
    python3 -c 'import sys; sys.exit(0 if sys.argv[1] and float(sys.argv[1]) <= 2.0 else 1)' "${score:-}"
done

# ---------------------------------------------------------------- setup inside the root
for m in proc dev; do
  mount --rbind "/$m" "$R/$m" && mounted=("$R/$m" "${mounted[@]}")
done
for _ in $(seq 20); do
  pb=$((20000 + (RANDOM % 200) * 100))
  busy=0
  for off in 0 1 2 3 5 53; do (exec 3<>/dev/tcp/127.0.0.1/$((pb + off))) 2>/dev/null && busy=1; done
  ((busy)) || break
done
GW_PORT=$pb STATUS_PORT=$((pb + 1)) HTTP01_PORT=$((pb + 2))
pebble-challtestsrv -management "127.0.0.1:$((pb + 5))" -dns01 "127.0.0.1:$((pb + 53))" -defaultIPv6 "" \
  -http01 "" -https01 "" -tlsalpn01 "" >"$T/challtestsrv.log" 2>&1 &
challtestsrv_pid=$!
sed -i -e "s|^ACME_HOSTNAME=.*|ACME_HOSTNAME=localhost|" \
       -e "s|^ACME_IP_ADDRESSES=.*|ACME_IP_ADDRESSES=127.0.0.1|" \
       -e "s|^STATUS_BASE_URL=.*|STATUS_BASE_URL=http://127.0.0.1:$STATUS_PORT|" \
       -e "s|^GATEWAY_LISTEN_ADDRESS=.*|GATEWAY_LISTEN_ADDRESS=127.0.0.1|" \
       -e "s|^GATEWAY_PORT=.*|GATEWAY_PORT=$GW_PORT|" \
       -e "s|^STATUS_LISTEN_ADDRESS=.*|STATUS_LISTEN_ADDRESS=127.0.0.1|" \
       -e "s|^STATUS_PORT=.*|STATUS_PORT=$STATUS_PORT|" \
       -e "s|^DNS_RESOLVER=.*|DNS_RESOLVER=127.0.0.1:$((pb + 53))|" \
       -e "s|^HTTP01_PORT=.*|HTTP01_PORT=$HTTP01_PORT|" \
       -e "s|^HTTPS_PORT=.*|HTTPS_PORT=$HTTP01_PORT|" \
       -e "s|^TLSALPN01_PORT=.*|TLSALPN01_PORT=$((pb + 3))|" "$R/etc/acme-ca/setup.conf"
if in_root acme-ca-setup --no-systemd >"$T/setup.log" 2>&1; then
  pass "acme-ca-setup --no-systemd inside the image"
else
  cat "$T/setup.log"; for f in "$R"/var/log/acme-ca/*.log; do [ -f "$f" ] && { echo "== $f"; tail -20 "$f"; }; done
  echo "FAIL: setup in the image"; exit 1
fi
check "PIN 0400 acme-ca-engine in the image" \
  bash -c '[ "$(chroot "$1" stat -c "%a %U" /var/lib/acme-ca/engine/user.pin)" = "400 acme-ca-engine" ]' _ "$R"

org=$(in_root acme-ca-ra --json org create --name "Image Organisation" --country FR --locality Paris \
        --registration-id 12345678900011 | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
in_root acme-ca-ra org validate "$org" >/dev/null
eab=$(in_root acme-ca-ra --json ext-account create --org "$org" --contact "Image Operator" --profiles SSL \
        --challenges http-01 --active)
read -r EAB_KID EAB_HMAC < <(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["kid"], j["mac_key"])' "$eab")
in_root acme-ca-ra domain add "$EAB_KID" image.test --include-subdomains --dcv http-01 >/dev/null
in_root acme-ca-ra domain validate "$EAB_KID" image.test >/dev/null

ROOT=$R/var/lib/acme-ca/ceremony/all/root.pem INT=$R/var/lib/acme-ca/ceremony/all/intermediate.pem
CB=(certbot --non-interactive --agree-tos --email ops@image.test --server "https://localhost:$GW_PORT/directory"
    --config-dir "$T/certbot/conf" --work-dir "$T/certbot/work" --logs-dir "$T/certbot/logs")
if REQUESTS_CA_BUNDLE=$ROOT "${CB[@]}" certonly --standalone --http-01-address 127.0.0.1 \
     --http-01-port "$HTTP01_PORT" --eab-kid "$EAB_KID" --eab-hmac-key="$EAB_HMAC" \
     --key-type rsa --rsa-key-size 3072 -d www.image.test --cert-name img >"$T/certbot.log" 2>&1; then
  pass "certbot issuance against the appliance running in the image"
else
  fail "certbot: $(grep -iE 'error|detail' "$T/certbot.log" | tail -3)"
fi
CERT=$T/certbot/conf/live/img/cert.pem
check "certificate chains to the image's root" openssl verify -CAfile "$ROOT" -untrusted "$INT" "$CERT"
ocsp() {
  openssl ocsp -issuer "$INT" -cert "$CERT" -url "http://127.0.0.1:$STATUS_PORT/ocsp" -CAfile "$ROOT" \
    -no_nonce 2>/dev/null | sed -n "s|^$CERT: *||p"
}
check "OCSP good from the image's status server" test "$(ocsp)" = good

# ---------------------------------------------------------------- the package's life
sum_keys() { (cd "$R/var/lib/acme-ca" && find engine/tokens engine/user.pin policy/mac-wrap.key ceremony/all -type f -print0 | sort -z | xargs -0 sha256sum); }
keys=$(sum_keys)
cp "$deb" "$R/tmp/acme-ca.deb"
in_root acme-ca-setup stop --no-systemd >/dev/null 2>&1
if in_root dpkg -i /tmp/acme-ca.deb >"$T/reinstall.log" 2>&1 && [ "$(sum_keys)" = "$keys" ]; then
  pass "dpkg -i over the installed package (upgrade path): keys and stores untouched"
else
  fail "reinstall: $(tail -3 "$T/reinstall.log")"
fi
if in_root dpkg --purge acme-ca >"$T/purge.log" 2>&1 && [ ! -e "$R/usr/lib/acme-ca/ca-engine" ] &&
   [ "$(sum_keys)" = "$keys" ] && in_root getent passwd acme-ca-engine >/dev/null &&
   grep -q 'keys and stores kept' "$T/purge.log"; then
  pass "dpkg --purge: programs gone; keys, stores and accounts kept"
else
  fail "purge: $(tail -3 "$T/purge.log")"
fi
if in_root dpkg -i /tmp/acme-ca.deb >"$T/install-again.log" 2>&1 &&
   in_root acme-ca-setup --no-systemd >"$T/setup-again.log" 2>&1 && ! grep -q 'ceremony ' "$T/setup-again.log"; then
  pass "install again + acme-ca-setup: services up, no new ceremony"
else
  fail "install again: $(tail -3 "$T/install-again.log" "$T/setup-again.log")"
fi
check "install again: same keys and ceremony outputs" \
  bash -c 'diff <(echo "$1") <(echo "$2") | sed "s/^/    /"; [ "$1" = "$2" ]' _ "$keys" "$(sum_keys)"
check "install again: OCSP of the earlier certificate still good" test "$(ocsp)" = good
in_root acme-ca-setup stop --no-systemd >/dev/null 2>&1
if in_root env ACME_CA_PURGE_STATE=1 dpkg --purge acme-ca >"$T/purge-state.log" 2>&1 &&
   [ ! -e "$R/var/lib/acme-ca" ] && ! in_root getent passwd acme-ca-engine >/dev/null &&
   ! in_root getent group acme-ca-policy >/dev/null; then
  pass "ACME_CA_PURGE_STATE=1 dpkg --purge: state, configuration and accounts deleted"
else
  fail "purge with state: $(tail -3 "$T/purge-state.log")"
fi

if ((fails == 0)); then echo "image_e2e: all checks passed"; else echo "image_e2e: $fails check(s) failed"; fi
[ "$fails" -eq 0 ]
