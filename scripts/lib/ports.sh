# Port bases for a dev appliance (scripts/appliance-dev.sh listens on base+0..5 and base+53), for the
# scripts and tests that start one. Bases below 32768 stay out of the ephemeral range, where an
# outgoing connection's source port can take a listener's port (Pebble's http-01 responder was
# refused "address already in use" there).

# appliance_ports_free BASE: true when nothing listens on any of the appliance's ports.
appliance_ports_free() {
  local off
  for off in 0 1 2 3 4 5 53; do
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
