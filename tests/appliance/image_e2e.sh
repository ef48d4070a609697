#!/usr/bin/env bash
# image_e2e.sh SOURCE_DIR BUILD_DIR
#
# The appliance image: scripts/build-deb.sh --no-build (cpack of the programs already built in
# BUILD_DIR), scripts/build-image.sh (mmdebstrap, Debian 12 + the package), then inside the root
# with chroot: the package installed by apt with its maintainer scripts (accounts, directories),
# units enabled and scored by systemd-analyze, acme-ca-setup --no-systemd, the first external
# account with acme-ca-ra, one certbot issuance from the host, OCSP; then the package's life:
# reinstall (upgrade path: services restarted, keys kept), purge (keys, stores and accounts kept),
# install again (setup finds everything), purge with ACME_CA_PURGE_STATE=1 (all gone). Then, when
# systemd-nspawn is installed, the tarball unpacked afresh and booted with systemd as PID 1:
# acme-ca-setup in systemd mode with the staging service (STAGING=per-account), the hardened units
# running (accounts, capabilities, seccomp, no_new_privs, read-only paths), the staging units that
# setup generates from the packaged ones scored and checked the same way, an issuance, an RA
# revocation seen in OCSP, a certbot issuance on the staging directory with its OCSP from the
# staging status server and the staging static export, an upgrade with dpkg -i restarting the
# services, the staging ones included.
# Exit 77 (ctest: skipped) only when the Debian mirror cannot be reached, saying so.
set -uo pipefail
src=$1 build=$2
. "$src/tests/appliance/lib.sh"
[ "$(id -u)" = 0 ] || { echo "FAIL: needs root (chroot, mmdebstrap)"; exit 1; }
for t in mmdebstrap certbot pebble-challtestsrv curl openssl python3 systemd-analyze; do
  command -v "$t" >/dev/null || { echo "FAIL: $t not installed"; exit 1; }
done
mirror=${ACME_CA_IMAGE_MIRROR:-http://deb.debian.org/debian}
if ! err=$(curl -sS -f -o /dev/null --max-time 20 "$mirror/dists/bookworm/Release" 2>&1); then
  echo "SKIP: Debian mirror $mirror unreachable: $err"
  exit 77
fi


T=$(mktemp -d /tmp/acme-ca-image-e2e.XXXXXX)
chmod 0755 "$T"
R=$T/root
challtestsrv_pid="" nspawn_pid="" mounted=()
in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
cleanup() {
  stop_prefix "$R"
  if [ -n "$nspawn_pid" ]; then  # SIGTERM: nspawn shuts the container's systemd down
    kill -TERM "$nspawn_pid" 2>/dev/null
    for _ in $(seq 60); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$nspawn_pid" 2>/dev/null
  fi
  [ -z "$challtestsrv_pid" ] || { kill "$challtestsrv_pid" 2>/dev/null; wait "$challtestsrv_pid" 2>/dev/null; }
  local m
  for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null; done
  if [ -n "${KEEP_STATE:-}" ]; then echo "state kept in $T"; else chattr -R -a "$T" 2>/dev/null; rm -rf "$T"; fi
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
check "the four units are enabled (engine, status, gateway, dashboard)" \
  bash -c 'for u in engine status gateway dashboard; do [ -L "$1/etc/systemd/system/multi-user.target.wants/acme-ca-$u.service" ] || exit 1; done' _ "$R"
check "systemd-analyze verify --root: the units are clean" \
  bash -c 'out=$(systemd-analyze verify --root="$1" acme-ca-engine.service acme-ca-gateway.service acme-ca-status.service acme-ca-status-export.service acme-ca-status-mirror.service acme-ca-dashboard.service acme-ca-report.service acme-ca-report.timer acme-ca-mac-rotation.service acme-ca-mac-rotation.timer 2>&1) && [ -z "$out" ] || { echo "    $out"; exit 1; }' _ "$R"
for u in engine gateway status status-export dashboard report; do
  score=$(systemd-analyze security --offline=true --root="$R" "acme-ca-$u.service" 2>/dev/null |
          sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
  check "acme-ca-$u.service in the image: exposure ${score:-?} <= 2.0" \
    python3 -c 'import sys; sys.exit(0 if sys.argv[1] and float(sys.argv[1]) <= 2.0 else 1)' "${score:-}"
done

# ---------------------------------------------------------------- setup inside the root
for m in proc dev; do
  mount --rbind "/$m" "$R/$m" && mounted=("$R/$m" "${mounted[@]}")
done
pb=$(free_port_base)
GW_PORT=$pb STATUS_PORT=$((pb + 1)) HTTP01_PORT=$((pb + 2))
pebble-challtestsrv -management "127.0.0.1:$((pb + 5))" -dns01 "127.0.0.1:$((pb + 53))" -defaultIPv6 "" \
  -http01 "" -https01 "" -tlsalpn01 "" >"$T/challtestsrv.log" 2>&1 &
challtestsrv_pid=$!
loopback_setup_conf "$R/etc/acme-ca/setup.conf" "$pb"
if in_root acme-ca-setup --no-systemd >"$T/setup.log" 2>&1; then
  pass "acme-ca-setup --no-systemd inside the image"
else
  cat "$T/setup.log"; for f in "$R"/var/log/acme-ca/*.log; do [ -f "$f" ] && { echo "== $f"; tail -20 "$f"; }; done
  echo "FAIL: setup in the image"; exit 1
fi
check "PIN 0400 acme-ca-engine in the image" \
  bash -c '[ "$(chroot "$1" stat -c "%a %U" /var/lib/acme-ca/engine/user.pin)" = "400 acme-ca-engine" ]' _ "$R"

first_external_account in_root acme-ca-ra -- "Image Organisation" "Image Operator" image.test http-01

ROOT=$R/var/lib/acme-ca/ceremony/all/root.pem INT=$R/var/lib/acme-ca/ceremony/all/intermediate.pem
if certbot_issue "$T/certbot" "$ROOT" "https://localhost:$GW_PORT/directory" www.image.test img; then
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
# Keys, PINs and ceremony outputs (token.object is SoftHSM's token metadata: it changes at login).
sum_keys() { (cd "$R/var/lib/acme-ca" && find engine/tokens engine/user.pin policy/mac-wrap.key ceremony/all -type f ! -name token.object -print0 | sort -z | xargs -0 sha256sum); }
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

# ---------------------------------------------------------------- booted with systemd (nspawn)
if ! command -v systemd-nspawn >/dev/null; then
  fail "systemd-nspawn not installed (apt-get install systemd-container): the units were not run"
else
  R2=$T/booted
  mkdir "$R2"
  tar -xzf "$T/image.tar.gz" --numeric-owner --xattrs --acls -C "$R2"
  loopback_setup_conf "$R2/etc/acme-ca/setup.conf" "$pb"
  # The staging service beside production (the operator guide's settings with this test's ports).
  STG_GW_PORT=$((pb + 7)) STG_STATUS_PORT=$((pb + 8))
  sed -i -e "s|^STAGING=.*|STAGING=per-account|" -e "s|^STAGING_GATEWAY_PORT=.*|STAGING_GATEWAY_PORT=$STG_GW_PORT|" \
         -e "s|^STAGING_STATUS_PORT=.*|STAGING_STATUS_PORT=$STG_STATUS_PORT|" \
         -e "s|^STAGING_GATEWAY_METRICS_PORT=.*|STAGING_GATEWAY_METRICS_PORT=$((pb + 9))|" \
         -e "s|^STAGING_STATUS_BASE_URL=.*|STAGING_STATUS_BASE_URL=http://127.0.0.1:$STG_STATUS_PORT|" "$R2/etc/acme-ca/setup.conf"
  # Host network (the appliance listens on 127.0.0.1 like above); no machined/D-Bus on the host.
  systemd-nspawn -D "$R2" --boot --register=no --keep-unit --console=pipe -M acme-ca-e2e \
    </dev/null >"$T/nspawn.log" 2>&1 &
  nspawn_pid=$!
  init_pid=""
  for _ in $(seq 120); do
    init_pid=$(ps -o pid= --ppid "$nspawn_pid" | tr -d ' ' | head -1)
    [ -n "$init_pid" ] && nsenter -t "$init_pid" -a systemctl is-system-running 2>/dev/null | grep -qE 'running|degraded' && break
    sleep 0.5
  done
  in_box() { nsenter -t "$init_pid" -a /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
  if [ -n "$init_pid" ] && in_box acme-ca-setup >"$T/setup-booted.log" 2>&1; then
    pass "booted image: acme-ca-setup in systemd mode (STAGING=per-account), the units active"
  else
    cat "$T/nspawn.log" "$T/setup-booted.log" 2>/dev/null | tail -20
    [ -z "$init_pid" ] || in_box journalctl -u 'acme-ca-*' --no-pager | tail -30
    fail "booted image: setup with systemd"
  fi
  # The staging units acme-ca-setup generated from the packaged ones: clean, scored like those.
  stg_units=(acme-ca-gateway-staging.service acme-ca-status-staging.service acme-ca-status-export-staging.service)
  check "booted: systemd-analyze verify: the generated staging units are clean" \
    bash -c 'r=$1; shift; out=$(systemd-analyze verify --root="$r" "$@" 2>&1) && [ -z "$out" ] || { echo "    $out"; exit 1; }' _ "$R2" "${stg_units[@]}"
  for u in "${stg_units[@]}"; do
    score=$(systemd-analyze security --offline=true --root="$R2" "$u" 2>/dev/null |
            sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
    check "booted: $u: exposure ${score:-?} <= 2.0" \
      python3 -c 'import sys; sys.exit(0 if sys.argv[1] and float(sys.argv[1]) <= 2.0 else 1)' "${score:-}"
  done
  check "booted: the staging units are enabled" \
    bash -c 'for u in "${@:2}"; do [ -L "$1/etc/systemd/system/multi-user.target.wants/$u" ] || { echo "    $u not enabled"; exit 1; }; done' _ "$R2" "${stg_units[@]}"
  check "booted: the staging units are active" in_box systemctl is-active --quiet "${stg_units[@]}"
  # unit_proc UNIT USER CAPBND: the unit's main process as seen by the kernel.
  unit_proc() {
    local pid st
    pid=$(in_box systemctl show -p MainPID --value "$1")
    [ -n "$pid" ] && [ "$pid" != 0 ] || { echo "    $1 not running"; return 1; }
    st=$(in_box cat "/proc/$pid/status")
    grep -q "^Uid:[[:space:]]*$(in_box id -u "$2")[[:space:]]" <<<"$st" || { echo "    $1 not running as $2"; return 1; }
    grep -q '^CapEff:[[:space:]]*0000000000000000$' <<<"$st" || { echo "    $1: effective capabilities"; return 1; }
    grep -q "^CapBnd:[[:space:]]*$3\$" <<<"$st" || { echo "    $1: bounding set $(grep CapBnd <<<"$st")"; return 1; }
    grep -q '^NoNewPrivs:[[:space:]]*1$' <<<"$st" || { echo "    $1: no_new_privs off"; return 1; }
    grep -q '^Seccomp:[[:space:]]*2$' <<<"$st" || { echo "    $1: no seccomp filter"; return 1; }
  }
  # CAP_NET_BIND_SERVICE is bit 10 (0x400): the gateway's bounding and ambient sets hold it alone.
  check "booted: engine as acme-ca-engine, empty bounding set, no_new_privs, seccomp" \
    unit_proc acme-ca-engine.service acme-ca-engine 0000000000000000
  check "booted: status server as acme-ca-status, empty bounding set, no_new_privs, seccomp" \
    unit_proc acme-ca-status.service acme-ca-status 0000000000000000
  gateway_proc() {  # gateway_proc UNIT
    local st
    st=$(in_box cat "/proc/$(in_box systemctl show -p MainPID --value "$1")/status" 2>/dev/null)
    grep -q "^Uid:[[:space:]]*$(in_box id -u acme-ca-gateway)[[:space:]]" <<<"$st" && grep -q "^CapBnd:[[:space:]]*0000000000000400$" <<<"$st" &&
      grep -q "^CapAmb:[[:space:]]*0000000000000400$" <<<"$st" && grep -q "^NoNewPrivs:[[:space:]]*1$" <<<"$st" &&
      grep -q "^Seccomp:[[:space:]]*2$" <<<"$st"
  }
  check "booted: gateway as acme-ca-gateway, bounding set = CAP_NET_BIND_SERVICE only, no_new_privs, seccomp" \
    gateway_proc acme-ca-gateway.service
  check "booted: staging gateway: the same (acme-ca-gateway, CAP_NET_BIND_SERVICE only, no_new_privs, seccomp)" \
    gateway_proc acme-ca-gateway-staging.service
  check "booted: staging status server as acme-ca-status, empty bounding set, no_new_privs, seccomp" \
    unit_proc acme-ca-status-staging.service acme-ca-status 0000000000000000
  check "booted: staging status exporter as acme-ca-status, empty bounding set, no_new_privs, seccomp" \
    unit_proc acme-ca-status-export-staging.service acme-ca-status 0000000000000000
  # In a unit's own mount namespace, as its account: WRITABLE paths are, READ_ONLY ones are not.
  unit_writes() {  # unit_writes UNIT USER "WRITABLE..." "READ_ONLY..."
    local pid d
    pid=$(in_box systemctl show -p MainPID --value "$1")
    for d in $3; do
      in_box nsenter -t "$pid" -m -S "$(in_box id -u "$2")" -G "$(in_box id -g "$2")" sh -c "touch $d/.probe && rm -f $d/.probe" ||
        { echo "    $1: $d not writable"; return 1; }
    done
    for d in $4; do
      if in_box nsenter -t "$pid" -m -S 0 -G 0 touch "$d/.probe" 2>/dev/null; then
        in_box rm -f "$d/.probe"; echo "    $1: $d writable (even as root)"; return 1
      fi
    done
  }
  check "booted: staging gateway writes its own store only, never production's" \
    unit_writes acme-ca-gateway-staging.service acme-ca-gateway /var/lib/acme-ca/gateway/store-staging \
      "/var/lib/acme-ca/gateway/store /var/lib/acme-ca/status /etc/acme-ca"
  check "booted: staging exporter writes its own export only" \
    unit_writes acme-ca-status-export-staging.service acme-ca-status /var/lib/acme-ca/status-export-staging \
      "/var/lib/acme-ca/status-export /var/lib/acme-ca/status /etc/acme-ca"
  # Inside the engine's own namespaces, as its account: its state is writable, /etc is not
  # (ProtectSystem=strict + ReadWritePaths), /home is empty (ProtectHome), only lo (PrivateNetwork).
  engine_ns() {
    in_box nsenter -t "$(in_box systemctl show -p MainPID --value acme-ca-engine.service)" -m -n \
      -S "$(in_box id -u acme-ca-engine)" -G "$(in_box id -g acme-ca-engine)" "$@"
  }
  engine_view() {
    local links
    engine_ns touch /var/lib/acme-ca/engine/.probe && engine_ns rm -f /var/lib/acme-ca/engine/.probe ||
      { echo "    engine state not writable"; return 1; }
    if engine_ns touch /etc/acme-ca/.probe 2>/dev/null; then echo "    /etc writable by the engine"; return 1; fi
    links=$(engine_ns ip -o link | awk -F': ' '{print $2}' | tr '\n' ' ')
    [ "$links" = "lo " ] || { echo "    engine sees links: $links"; return 1; }
  }
  check "booted: engine's view: its state writable, /etc read-only, no network but lo" engine_view
  first_external_account in_box acme-ca-ra -- "Booted Organisation" "Booted Operator" booted.test http-01
  ROOT=$R2/var/lib/acme-ca/ceremony/all/root.pem INT=$R2/var/lib/acme-ca/ceremony/all/intermediate.pem
  if certbot_issue "$T/certbot2" "$ROOT" "https://localhost:$GW_PORT/directory" www.booted.test booted; then
    pass "booted: certbot issuance through the systemd-run gateway and engine"
  else
    fail "booted: certbot: $(grep -iE 'error|detail' "$T/certbot2.log" | tail -3)"
  fi
  CERT=$T/certbot2/conf/live/booted/cert.pem
  check "booted: OCSP good" test "$(ocsp)" = good
  # Staging: the account admitted by the RA, certbot on the staging directory (the gateway's HTTPS
  # certificate is production's), OCSP from the staging status server and from the staging export.
  in_box acme-ca-ra ext-account update "$EAB_KID" --staging yes >/dev/null
  SROOT=$R2/var/lib/acme-ca/ceremony/staging/root.pem SINT=$R2/var/lib/acme-ca/ceremony/staging/intermediate.pem
  SCERT=$T/certbot-stg/conf/live/stg/cert.pem
  if certbot_issue "$T/certbot-stg" "$ROOT" "https://localhost:$STG_GW_PORT/directory" www.booted.test stg; then
    pass "booted: certbot issuance on the staging directory (systemd-run staging gateway)"
  else
    fail "booted: certbot on staging: $(grep -iE 'error|detail' "$T/certbot-stg.log" | tail -3)"
  fi
  check "booted: staging certificate: CN 'TEST www.booted.test', chains to the staging root, not to production's" \
    bash -c 'openssl x509 -in "$1" -noout -subject | grep -q "CN *= *TEST www.booted.test" &&
      openssl verify -CAfile "$2" -untrusted "$3" "$1" >/dev/null && ! openssl verify -CAfile "$4" -untrusted "$3" "$1" >/dev/null 2>&1' \
    _ "$SCERT" "$SROOT" "$SINT" "$ROOT"
  stg_ocsp() { ocsp_answer "$SINT" "$SCERT" "http://127.0.0.1:$STG_STATUS_PORT/ocsp" "$SROOT"; }
  check "booted: staging OCSP good from the staging status server" test "$(stg_ocsp)" = good
  check "booted: the production status server does not answer for the staging certificate" \
    test "$(ocsp_answer "$SINT" "$SCERT" "http://127.0.0.1:$STATUS_PORT/ocsp" "$SROOT")" != good
  X=$R2/var/lib/acme-ca/status-export-staging
  for _ in $(seq 40); do [ "$(exported_ocsp_status "$X" "$SINT" "$SCERT" "$SROOT")" = good ] && break; sleep 0.5; done
  check "booted: the staging export holds the staging OCSP response (good), CA certificates and CRL" \
    bash -c '[ "$1" = good ] && [ -f "$2/ca/stg-root.der" ] && [ -f "$2/ca/acme-stg.der" ] &&
      openssl crl -inform DER -in "$2/crl/acme-stg.crl" -noout -issuer | grep -q TEST' \
    _ "$(exported_ocsp_status "$X" "$SINT" "$SCERT" "$SROOT")" "$X"
  check "booted: the production export holds nothing of staging" \
    bash -c '[ -z "$1" ] && [ -d "$2/ocsp" ] && [ ! -e "$2/ca/stg-root.der" ]' \
    _ "$(exported_ocsp_status "$R2/var/lib/acme-ca/status-export" "$SINT" "$SCERT" "$SROOT")" "$R2/var/lib/acme-ca/status-export"
  acct=$(in_box acme-ca-ra acme-account list --account "$EAB_KID" | awk 'NR == 1 {print $1}')
  in_box acme-ca-ra acme-account revoke "$acct" --reason keyCompromise --yes >/dev/null 2>&1
  st=""
  for _ in $(seq 60); do st=$(ocsp); [ "$st" = revoked ] && break; sleep 0.5; done
  check "booted: acme-ca-ra acme-account revoke -> OCSP revoked (engine reads the policy store)" test "$st" = revoked
  # The hardened engine unit appends to its audit file and writes its metrics file
  # (ReadWritePaths); the RA appends the policy changes to its own; both chains verify.
  booted_audit() {
    local out A=$R2/var/lib/acme-ca/audit
    for _ in $(seq 20); do grep -q '"event":"mass_revocation_applied"' "$A/engine.jsonl" && break; sleep 0.5; done
    out=$(in_box ca-audit verify-audit /var/lib/acme-ca/audit/engine.jsonl /var/lib/acme-ca/audit/ra.jsonl \
            /var/lib/acme-ca/audit/gateway-staging.jsonl) &&
      grep -q "engine.jsonl: intact" <<<"$out" && grep -q "ra.jsonl: intact" <<<"$out" &&
      grep -q "gateway-staging.jsonl: intact" <<<"$out" || { echo "    $out"; return 1; }
    grep -q '"event":"issued"' "$A/engine.jsonl" && grep -q '"event":"mass_revocation_applied"' "$A/engine.jsonl" &&
      grep '"event":"issued"' "$A/engine.jsonl" | grep -q '"environment":"staging"' &&
      grep -q '"action":"acme-account.revoke"' "$A/ra.jsonl" || { echo "    entries missing"; return 1; }
  }
  check "booted: ca-audit verify-audit: engine, RA and staging gateway files intact; issuances (staging too), mass revocation, RA change" booted_audit
  # The engine rewrites its metrics file every 5 s: wait for a write after both events.
  engine_metrics_counted() {
    grep -q 'result="issued"} [1-9]' "$1" 2>/dev/null &&
      grep -q '^acme_ca_engine_revocations_total{reason="keyCompromise"} [1-9]' "$1" 2>/dev/null
  }
  for _ in $(seq 40); do engine_metrics_counted "$R2/var/lib/acme-ca/metrics/engine.prom" && break; sleep 0.5; done
  check "booted: the engine's metrics file counts the issuance and the revocation" \
    engine_metrics_counted "$R2/var/lib/acme-ca/metrics/engine.prom"
  cp "$deb" "$R2/root/acme-ca.deb"
  main_pids() { local u; for u in acme-ca-gateway.service "${stg_units[@]}"; do in_box systemctl show -p MainPID --value "$u"; done; }
  pids_before=$(main_pids)
  echo "# tampered copy, to be replaced" >>"$R2/etc/systemd/system/acme-ca-gateway-staging.service"
  if in_box dpkg -i /root/acme-ca.deb >"$T/upgrade-booted.log" 2>&1 &&
     in_box systemctl is-active --quiet acme-ca-engine.service acme-ca-status.service acme-ca-gateway.service "${stg_units[@]}"; then
    pass "booted: dpkg -i (upgrade): the services, staging ones included, active"
  else
    fail "booted: upgrade: $(tail -3 "$T/upgrade-booted.log")"
  fi
  check "booted: upgrade restarted the gateway and every staging unit (new main PIDs)" \
    bash -c 'paste <(echo "$1") <(echo "$2") | awk "\$1 == \$2 || \$2 == 0 {bad = 1} END {exit bad}"' _ "$pids_before" "$(main_pids)"
  check "booted: upgrade regenerated the staging units from the new packaged ones" \
    bash -c '! grep -q "tampered copy" "$1/etc/systemd/system/acme-ca-gateway-staging.service"' _ "$R2"
  stg_after=""
  for _ in $(seq 20); do stg_after=$(stg_ocsp); [ -n "$stg_after" ] && break; sleep 0.5; done
  check "booted: staging OCSP still answered after the upgrade ($stg_after)" bash -c '[[ $1 == good || $1 == revoked ]]' _ "$stg_after"
  check "booted: backup under systemd (encrypted, passphrase from a file)" in_box sh -c \
    'umask 077 && echo image-e2e-backup-passphrase >/root/backup.pass && acme-ca-backup --passphrase-file /root/backup.pass --out /root/backup.tar.gz.enc'
fi

if ((fails == 0)); then echo "image_e2e: all checks passed"; else echo "image_e2e: $fails check(s) failed"; fi
[ "$fails" -eq 0 ]
