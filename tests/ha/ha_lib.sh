# The network of tests/ha/failover_e2e.sh (sourced after tests/netns_lib.sh; the caller owns PIDS
# and NAMESPACES and sets HA_TAG, HA_NET and HA_PG_PORT): the pg_auto_failover monitor, two nodes,
# the load balancer and the client, each in its own namespace, on one bridge (HA_NET.0.0/24).
#
# Each host has its own PostgreSQL port (the namespaces share the file system, so the sockets and
# lock files in /var/run/postgresql of two clusters on one port would collide): monitor
# HA_PG_PORT, node a +1, node b +2.

# ha_topology: namespaces HA_TAG{hub,mon,a,b,lb,cl}; hub holds the bridge, the others
# HA_NET.0.10 .. HA_NET.0.14 on it.
ha_topology() {
  local n
  netns_add "${HA_TAG}hub"
  ip -n "${HA_TAG}hub" link add br0 type bridge
  ip -n "${HA_TAG}hub" link set br0 up
  for n in mon a b lb cl; do
    netns_add "$HA_TAG$n"
    ip link add "p$n" netns "${HA_TAG}hub" type veth peer name eth0 netns "$HA_TAG$n"
    ip -n "${HA_TAG}hub" link set "p$n" master br0
    ip -n "${HA_TAG}hub" link set "p$n" up
    ip -n "$HA_TAG$n" addr add "$(ha_addr "$n")/24" dev eth0
    ip -n "$HA_TAG$n" link set eth0 up
  done
}

ha_addr() {  # ha_addr HOST: mon a b lb cl
  case $1 in mon) echo "$HA_NET.0.10" ;; a) echo "$HA_NET.0.11" ;; b) echo "$HA_NET.0.12" ;;
    lb) echo "$HA_NET.0.13" ;; cl) echo "$HA_NET.0.14" ;; esac
}
ha_pgport() { case $1 in mon) echo "$HA_PG_PORT" ;; a) echo $((HA_PG_PORT + 1)) ;; b) echo $((HA_PG_PORT + 2)) ;; esac; }
