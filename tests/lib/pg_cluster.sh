#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests (issue 20): initdb in a directory owned by `postgres`
# (PostgreSQL refuses to run as root), a server listening only on a unix socket in that directory
# (no TCP unless PG_CLUSTER_PORT is set: then 127.0.0.1:PORT too), trust authentication for local
# connections, and a libpq service file naming one service per database. Stopped by the
# postmaster's PID. The first start on a machine initdb's a template data directory
# (${TMPDIR:-/tmp}/pg-cluster-template-<version>, or PG_CLUSTER_TEMPLATE) that later starts copy.
# Used by kv/postgres/testing/pg_cluster.h and by shell tests.
#
#   pg_cluster.sh start DIR          initdb DIR/data (if new), start the server; prints
#                                    PGSERVICEFILE=DIR/pg_service.conf
#   pg_cluster.sh createdb DIR NAME  CREATE DATABASE NAME; adds service [NAME] (dbname=NAME) to the
#                                    service file, so "pg:NAME/<namespace>" reaches it
#   pg_cluster.sh stop DIR           SIGINT (fast shutdown) to the postmaster's PID; waits <= 30 s
#   pg_cluster.sh quit DIR           SIGQUIT (immediate shutdown, no checkpoint: for throwaway
#                                    data); waits
#   pg_cluster.sh kill DIR           SIGKILL to the postmaster's PID (a crash); waits
#   pg_cluster.sh pid DIR            the postmaster's PID (nothing if not running)
#
# DIR must be an absolute path that the user postgres can reach (e.g. from mktemp -d; the script
# chowns DIR to postgres and opens its parents' search bit only if it must). Socket: DIR/sock, port
# PG_CLUSTER_PORT or 5432 (the socket file name only, unless TCP is asked for).
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
cmd=${1:?usage: pg_cluster.sh start|createdb|stop|quit|kill|pid DIR [NAME]}
dir=${2:?usage: pg_cluster.sh $cmd DIR}
[[ $dir == /* ]] || { echo "pg_cluster.sh: DIR must be absolute: $dir" >&2; exit 2; }
port=${PG_CLUSTER_PORT:-5432}

as_postgres() { runuser -u postgres -- "$@"; }

postmaster_pid() {
  [[ -f $dir/data/postmaster.pid ]] || return 0
  local pid
  pid=$(head -n1 "$dir/data/postmaster.pid")
  if kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

wait_gone() {
  local pid=$1
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "pg_cluster.sh: postmaster $pid still running after 30 s" >&2
  return 1
}

case $cmd in
  start)
    mkdir -p "$dir"
    chown postgres: "$dir"
    chmod 0700 "$dir"
    if [[ ! -f $dir/data/PG_VERSION ]]; then
      # initdb once per machine into a template (about 3 s), then copy it (under 1 s): a test
      # process per test case (gtest_discover_tests) would otherwise initdb every time.
      version=$("$PGBIN/postgres" --version | tr -c 'a-zA-Z0-9.\n' _)
      template=${PG_CLUSTER_TEMPLATE:-${TMPDIR:-/tmp}/pg-cluster-template-$version}
      if [[ ! -f $template/PG_VERSION ]]; then
        building=$(mktemp -d "$template.XXXXXX")
        chown postgres: "$building"
        as_postgres "$PGBIN/initdb" -D "$building/data" -A trust -U postgres --no-sync -E UTF8 \
          --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
          { echo "pg_cluster.sh: initdb failed:" >&2; tail -n 20 "$dir/initdb.log" >&2; exit 1; }
        # Atomic: a concurrent start that lost the race keeps the winner's template.
        mv -T "$building/data" "$template" 2>/dev/null || true
        rm -rf "$building"
      fi
      cp -a "$template" "$dir/data"
      as_postgres mkdir -p "$dir/sock"
    fi
    listen=""
    [[ -n ${PG_CLUSTER_PORT:-} ]] && listen=127.0.0.1
    as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-k $dir/sock -p $port -c listen_addresses='$listen' -c fsync=off -c max_connections=200" \
      start >/dev/null 2>&1 ||
      { echo "pg_cluster.sh: server did not start:" >&2; tail -n 20 "$dir/server.log" >&2; exit 1; }
    [[ -f $dir/pg_service.conf ]] || : >"$dir/pg_service.conf"
    echo "PGSERVICEFILE=$dir/pg_service.conf"
    ;;
  createdb)
    name=${3:?usage: pg_cluster.sh createdb DIR NAME}
    [[ $name =~ ^[a-z0-9_]{1,48}$ ]] || { echo "pg_cluster.sh: bad database name: $name" >&2; exit 2; }
    as_postgres "$PGBIN/psql" -h "$dir/sock" -p "$port" -U postgres -d postgres -qAt \
      -v ON_ERROR_STOP=1 -c "CREATE DATABASE $name" >/dev/null
    printf '[%s]\nhost=%s\nport=%s\ndbname=%s\nuser=postgres\n\n' "$name" "$dir/sock" "$port" \
      "$name" >>"$dir/pg_service.conf"
    ;;
  stop | quit | kill)
    pid=$(postmaster_pid)
    [[ -n $pid ]] || exit 0
    case $cmd in
      stop) kill -INT "$pid" ;;
      quit) kill -QUIT "$pid" ;;
      kill) kill -KILL "$pid" ;;
    esac
    wait_gone "$pid"
    ;;
  pid)
    postmaster_pid
    ;;
  *)
    echo "pg_cluster.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
