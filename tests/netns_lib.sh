# Shared by the end-to-end tests that build their own network namespaces (loopback and veth only):
# tests/status/replica_e2e.sh, tests/validation_agents/agents_e2e.sh and appliance_agents_e2e.sh.
# Source it; the caller owns the arrays PIDS (processes to stop) and NAMESPACES (to delete) and
# calls netns_stop_all from its EXIT trap.

netns_require() {  # netns_require TEST TAG: exit 77 (skipped) without root or network namespaces
  if [[ $EUID -ne 0 ]] || ! ip netns add "${2}probe" 2>/dev/null; then
    echo "$1: SKIPPED: needs root and network namespaces" >&2
    exit 77
  fi
  ip netns del "${2}probe"
}

netns_add() {  # netns_add NS: a namespace with its loopback up, deleted by netns_stop_all
  ip netns add "$1"
  NAMESPACES+=("$1")
  ip -n "$1" link set lo up
}

netns_link() {  # netns_link HUB NS HUB_IF HUB_ADDR/LEN NS_ADDR/LEN: veth pair, eth0 on the NS side
  ip link add "$3" netns "$1" type veth peer name eth0 netns "$2"
  ip -n "$1" addr add "$4" dev "$3"
  ip -n "$2" addr add "$5" dev eth0
  ip -n "$1" link set "$3" up
  ip -n "$2" link set eth0 up
}

netns_zones() {  # netns_zones HUB ZONE_PREFIX NET: HUB with NET.0.1 and NET.0.2 on its loopback and
  # zones ZONE_PREFIX1..3 behind veths (NET.i.1 hub side, NET.i.2 zone side), routed to NET.0.0/24
  local i
  netns_add "$1"
  ip -n "$1" addr add "$3.0.1/32" dev lo
  ip -n "$1" addr add "$3.0.2/32" dev lo
  for i in 1 2 3; do
    netns_add "$2$i"
    netns_link "$1" "$2$i" "zone$i" "$3.$i.1/30" "$3.$i.2/30"
    ip -n "$2$i" route add "$3.0.0/24" via "$3.$i.1"
  done
}

netns_stop_all() {  # SIGTERM to every PID, SIGKILL after 3 s, then delete every namespace
  local pid ns
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}
