# pg_auto_failover in network namespaces, for tests/ha/failover_e2e.sh (sourced after
# tests/netns_lib.sh; the caller owns PIDS, NAMESPACES and T, a directory the postgres account can
# reach). One monitor and two keepers, each in its own namespace on one bridge (HA_NET.0/24), as
# docs/OPERATOR_GUIDE.md "High availability (pair)" installs them with `acme-ca-setup pair`.
#
# Each node has its own PostgreSQL port (the namespaces share the file system, so the socket
# directories and lock files of two clusters on one port would collide): monitor HA_PG_PORT,
# node a +1, node b +2. pg_autoctl's own files (XDG config/data/runtime) live under T/pgaf/NODE.

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

# ha_topology TAG NET: namespaces TAGhub (a bridge), TAGmon, TAGa, TAGb, TAGlb, TAGcl with
# NET.0.10 .. NET.0.14 on the bridge.
ha_topology() {
  local tag=$1 net=$2 i=10 n
  netns_add "${tag}hub"
  ip -n "${tag}hub" link add br0 type bridge
  ip -n "${tag}hub" link set br0 up
  for n in mon a b lb cl; do
    netns_add "$tag$n"
    ip link add "p$n" netns "${tag}hub" type veth peer name eth0 netns "$tag$n"
    ip -n "${tag}hub" link set "p$n" master br0
    ip -n "${tag}hub" link set "p$n" up
    ip -n "$tag$n" addr add "$net.0.$i/24" dev eth0
    ip -n "$tag$n" link set eth0 up
    i=$((i + 1))
  done
}

# ha_addr NODE: the node's address (mon a b lb cl)
ha_addr() {
  case $1 in mon) echo "$HA_NET.0.10" ;; a) echo "$HA_NET.0.11" ;; b) echo "$HA_NET.0.12" ;;
    lb) echo "$HA_NET.0.13" ;; cl) echo "$HA_NET.0.14" ;; esac
}
ha_pgport() { case $1 in mon) echo "$HA_PG_PORT" ;; a) echo $((HA_PG_PORT + 1)) ;; b) echo $((HA_PG_PORT + 2)) ;; esac; }

# as_postgres NODE COMMAND...: in NODE's namespace as the postgres account, with pg_autoctl's
# files and the socket directory under T/pgaf/NODE.
as_postgres() {
  local node=$1 d=$T/pgaf/$1
  shift
  ip netns exec "$HA_TAG$node" setpriv --reuid postgres --regid postgres --init-groups -- \
    env -i PATH="$PGBIN:/usr/bin:/bin" HOME="$d" XDG_CONFIG_HOME="$d/config" XDG_DATA_HOME="$d/data" \
    XDG_RUNTIME_DIR="$d/run" PGHOST=/var/run/postgresql PGPORT="$(ha_pgport "$node")" PGDATA="$d/pgdata" "$@"
}

pgaf_dirs() {  # pgaf_dirs NODE
  local d=$T/pgaf/$1
  install -d -m 0700 -o postgres -g postgres "$d" "$d/config" "$d/data" "$d/run"
  # Debian's socket directory (postgresql-common makes it at boot; a container may lack it).
  if [ ! -d /var/run/postgresql ]; then
    install -d -m 2775 -o postgres -g postgres /var/run/postgresql
    PGAF_MADE_SOCKET_DIR=1
  fi
}

# pgaf_run NODE: `pg_autoctl run` for NODE in the background (its PID in PGAF_PID[NODE] and PIDS)
pgaf_run() {
  as_postgres "$1" pg_autoctl run >>"$T/pgaf-$1.log" 2>&1 &
  PGAF_PID[$1]=$!
  PIDS+=($!)
}

monitor_uri() { echo "postgres://autoctl_node@$(ha_addr mon):$(ha_pgport mon)/pg_auto_failover?sslmode=disable"; }

# pgaf_create_monitor: the monitor's cluster and the health-check settings of a fast failover
# (docs/OPERATOR_GUIDE.md "High availability (pair)": the values and why).
pgaf_create_monitor() {
  pgaf_dirs mon
  as_postgres mon pg_autoctl create monitor --pgctl "$PGBIN/pg_ctl" --pgport "$(ha_pgport mon)" \
    --hostname "$(ha_addr mon)" --auth trust --no-ssl >>"$T/pgaf-mon.log" 2>&1 || return 1
}

# pgaf_create_node NODE DBNAME: a keeper for NODE registered with the monitor (the first one
# becomes the primary, the second initialises itself with pg_basebackup from it).
pgaf_create_node() {
  pgaf_dirs "$1"
  as_postgres "$1" pg_autoctl create postgres --pgctl "$PGBIN/pg_ctl" --pgport "$(ha_pgport "$1")" \
    --hostname "$(ha_addr "$1")" --name "node_$1" --dbname "$2" --monitor "$(monitor_uri)" \
    --auth trust --no-ssl --pg-hba-lan >>"$T/pgaf-$1.log" 2>&1
}

# pgaf_state NODE: `pg_autoctl show state --json` run on NODE (the monitor's view)
pgaf_state() { as_postgres "$1" pg_autoctl show state --json 2>/dev/null; }
