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
. "$src/scripts/lib/dev_appliance.sh"
# Its own dev appliance, on a free port base (each test its own slots: bases differ by 200).
test_appliance_up "$src" "$build" "$state" 22000 50 200 || exit 1

/usr/bin/python3 "$here/$script" --state "$state" "$@"
rc=$?
if ((rc != 0)); then
  echo "== gateway log (tail)"; tail -40 "$state/logs/gateway.log"
  echo "== engine log (tail)"; tail -20 "$state/logs/engine.log"
fi
exit $rc
