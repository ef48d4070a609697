#!/usr/bin/env bash
# copy-token.sh — the second node of an engine pair gets the same SoftHSM key material as the first
# (issue 20): a copy of node 1's SoftHSM token directory into node 2's.
#
#   copy-token.sh --from NODE1_SOFTHSM2_CONF --to NODE2_SOFTHSM2_CONF
#
# Each node has its own softhsm2.conf (directories.tokendir = that node's token directory). The
# copy keeps the token files as they are: SoftHSM stores the objects encrypted under the token's
# PINs, so the same user PIN (file:/… of engine.json) opens both, and no PIN or key passes through
# this script, argv or the log. Run it as root (or the engine's account) while node 2's engine is
# stopped; node 1 may run (signing does not write the token files). Node 2's token directory
# must be empty: the copy never merges tokens or overwrites one.
#
# Two nodes on one appliance each get the copy through `acme-ca-setup pair join` (the joining
# node's backup carries the token); this script is the same step for a hand-made pair and for
# tests. A network HSM cluster replaces both copies (engine/README.md, "Engine pair").
#
# Prints the slots of both nodes (label and serial) on success; exit 0 ok, 1 failure, 2 bad usage.
set -euo pipefail
prog=${0##*/}
die() { echo "$prog: $*" >&2; exit 1; }
usage() { sed -n 's/^#   //p' "$0" | head -1 >&2; exit 2; }

from="" to=""
while (($#)); do
  case "$1" in
    --from) from=${2:-}; shift 2 || usage ;;
    --to) to=${2:-}; shift 2 || usage ;;
    *) usage ;;
  esac
done
[ -n "$from" ] && [ -n "$to" ] || usage
command -v softhsm2-util >/dev/null || die "softhsm2-util not found (apt-get install softhsm2)"

tokendir() {  # tokendir CONF: the conf's directories.tokendir
  [ -r "$1" ] || die "$1: no such softhsm2.conf"
  local d
  d=$(sed -n 's/^[[:space:]]*directories\.tokendir[[:space:]]*=[[:space:]]*\(.*[^[:space:]]\)[[:space:]]*$/\1/p' "$1" | tail -1)
  [ -n "$d" ] || die "$1: no directories.tokendir"
  printf '%s\n' "$d"
}
src=$(tokendir "$from")
dst=$(tokendir "$to")
[ "$(realpath -m "$src")" != "$(realpath -m "$dst")" ] || die "both confs name the token directory $src"
[ -d "$src" ] && [ -n "$(ls -A "$src")" ] || die "$src (node 1's token directory) holds no token"
if [ -e "$dst" ] && [ -n "$(ls -A "$dst")" ]; then
  die "$dst (node 2's token directory) is not empty: it already holds a token (remove it first if it is a stale copy)"
fi

# Into a temporary directory beside the destination, then renamed: a failed copy leaves no half token.
parent=$(dirname "$dst")
mkdir -p "$parent"
tmp=$(mktemp -d "$parent/.copy-token.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp -a "$src/." "$tmp/" || die "copying $src failed"
if [ -d "$dst" ]; then
  chmod --reference="$dst" "$tmp" && chown --reference="$dst" "$tmp" 2>/dev/null || true
  rmdir "$dst"
else
  chmod --reference="$src" "$tmp" && chown --reference="$src" "$tmp" 2>/dev/null || true
fi
mv "$tmp" "$dst"
trap - EXIT

# slots CONF: "label=L serial=S" of each initialised token, one line.
slots() {
  SOFTHSM2_CONF=$1 softhsm2-util --show-slots 2>/dev/null | awk '
    { sub(/[ \t]+$/, "") }
    /^[ \t]*Serial number:/ { serial = $3 }
    /^[ \t]*Label:/ { sub(/^[ \t]*Label:[ \t]*/, ""); if (serial != "") printf "%slabel=%s serial=%s", sep, $0, serial; sep = " "; serial = "" }'
}
a=$(slots "$from")
b=$(slots "$to")
[ -n "$a" ] && [ "$a" = "$b" ] || die "after the copy node 2 lists tokens '$b', node 1 '$a'"
echo "node 1 ($from): $a"
echo "node 2 ($to): $b"
