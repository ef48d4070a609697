#!/usr/bin/env bash
# with_appliance.sh BUILD_DIR SOURCE_DIR SCRIPT.py [ARGS...]
# Brings the dev appliance up (scripts/appliance-dev.sh: real ca-engine on SoftHSM, status server,
# ca-gateway, pebble-challtestsrv) in a fresh state directory, runs
# `python3 tests/faults/SCRIPT.py --state STATE ARGS...` against it (gateway_crash.py, store_full.py),
# prints the servers' log tails when it fails, and stops every process it started, by PID.
set -uo pipefail
build=$1 src=$2 script=$3
shift 3
here=$src/tests/faults

state=$(mktemp -d /tmp/faults-${script%.py}.XXXXXX)
. "$src/scripts/lib/ports.sh"
# A port base with nothing listening on its ports (each test its own slots: bases differ by 200).
pb=$(free_port_base 22000 50 200) || { echo "FAIL: no free port base"; exit 1; }
cleanup() {
  BUILD_DIR=$build "$src/scripts/appliance-dev.sh" down --state "$state" >/dev/null 2>&1
  [ -n "${KEEP_STATE:-}" ] || rm -rf "$state"
}
trap cleanup EXIT

if ! BUILD_DIR=$build "$src/scripts/appliance-dev.sh" up --state "$state" --port-base "$pb" --no-build >"$state.up.log" 2>&1; then
  cat "$state.up.log"; for f in "$state"/logs/*.log; do echo "== $f"; tail -20 "$f"; done
  rm -f "$state.up.log"; echo "FAIL: appliance did not come up"; exit 1
fi
rm -f "$state.up.log"

/usr/bin/python3 "$here/$script" --state "$state" "$@"
rc=$?
if ((rc != 0)); then
  echo "== gateway log (tail)"; tail -40 "$state/logs/gateway.log"
  echo "== engine log (tail)"; tail -20 "$state/logs/engine.log"
fi
exit $rc
