# Sourced by scripts and tests: stops processes by the PIDs their PID files recorded.
# stop_pidfiles [-w TENTHS] FILE...: for each file that exists (in the order given), TERM the PID,
# wait up to TENTHS tenths of a second (default 50) for it to exit, then KILL; removes the file.
stop_pidfiles() {
  local wait=50 f pid
  if [ "${1:-}" = -w ]; then wait=$2; shift 2; fi
  for f in "$@"; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq "$wait"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}
