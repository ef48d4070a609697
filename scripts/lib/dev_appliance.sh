# Dev appliances started by scripts and tests (scripts/appliance-dev.sh listens on base+0..9 and
# base+53): free port bases, and a test's own appliance. Bases below 32768 stay out of the ephemeral
# range, where an outgoing connection's source port can take a listener's port (Pebble's http-01
# responder was refused "address already in use" there).

# appliance_ports_free BASE: true when nothing listens on any of the appliance's ports.
appliance_ports_free() {
  local off
  for off in 0 1 2 3 4 5 6 7 8 9 53; do
    (exec 3<>"/dev/tcp/127.0.0.1/$(($1 + off))") 2>/dev/null && return 1
  done
  return 0
}

# random_port_base FIRST SLOTS STEP: FIRST + k*STEP for a random k < SLOTS.
random_port_base() { echo $(($1 + (RANDOM % $2) * $3)); }

# free_port_base FIRST SLOTS STEP: prints a random base (as above) whose ports are free (20 tries).
free_port_base() {
  local pb
  for _ in $(seq 20); do
    pb=$(random_port_base "$@")
    if appliance_ports_free "$pb"; then echo "$pb"; return 0; fi
  done
  return 1
}

# A test's own dev appliance: test_appliance_up SRC BUILD STATE FIRST SLOTS STEP brings one up on a
# free port base (exported as TEST_APPLIANCE_PORT_BASE), state in STATE, and arranges that it is
# stopped by PID and STATE removed (unless KEEP_STATE is set) when the calling shell exits. On failure
# it prints what appliance-dev.sh and the servers said and returns 1.
test_appliance_up() {
  local src=$1 build=$2 state=$3 pb
  shift 3
  pb=$(free_port_base "$@") || { echo "FAIL: no free port base"; return 1; }
  TEST_APPLIANCE_PORT_BASE=$pb
  # shellcheck disable=SC2064  # the values now, not at exit
  trap "BUILD_DIR='$build' '$src/scripts/appliance-dev.sh' down --state '$state' >/dev/null 2>&1; \
    [ -n \"\${KEEP_STATE:-}\" ] || rm -rf '$state'" EXIT
  if ! BUILD_DIR=$build "$src/scripts/appliance-dev.sh" up --state "$state" --port-base "$pb" --no-build \
       >"$state.up.log" 2>&1; then
    cat "$state.up.log"
    local f
    for f in "$state"/logs/*.log; do echo "== $f"; tail -20 "$f"; done
    rm -f "$state.up.log"
    echo "FAIL: appliance did not come up"
    return 1
  fi
  rm -f "$state.up.log"
}
