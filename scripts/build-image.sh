#!/usr/bin/env bash
# scripts/build-image.sh --deb FILE --out IMAGE.tar.gz [--dir DIR] [--mirror URL] [--include PKGS]
#
# A Debian 12 (bookworm) root filesystem for the appliance, made with mmdebstrap from Debian
# packages plus the acme-ca package (scripts/build-deb.sh): minbase + systemd + the package and its
# dependencies (softhsm2, lmdb-utils, openssl, ...), the units enabled (engine, status, gateway,
# dashboard, the reporter's timer; each waits for its config: ConditionPathExists, so they start
# once acme-ca-setup has run), packed as a tarball
# (numeric owners, xattrs). --dir keeps the unpacked tree there too (it must not exist), e.g. to
# chroot into it; --include adds packages (comma-separated). Needs root and a reachable mirror
# (default http://deb.debian.org/debian, its -security and -updates suites).
set -euo pipefail
die() { echo "build-image: $*" >&2; exit 1; }
usage() { sed -n '2,/^[^#]/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
deb="" out="" dir="" mirror=http://deb.debian.org/debian extra=""
while (($#)); do
  case "$1" in
    --deb) deb=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --dir) dir=${2:?}; shift 2 ;;
    --mirror) mirror=${2:?}; shift 2 ;;
    --include) extra=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done
[ -n "$deb" ] && [ -n "$out" ] || usage
[ "$(id -u)" = 0 ] || die "must run as root"
command -v mmdebstrap >/dev/null || die "mmdebstrap not found (apt-get install mmdebstrap)"
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
[ -f "$deb" ] || die "no package $deb (scripts/build-deb.sh makes it)"
[ ! -e "$out" ] || die "$out exists (refusing to overwrite)"
keep=1
if [ -z "$dir" ]; then
  keep=0
  dir=$(mktemp -d "${TMPDIR:-/tmp}/acme-ca-image.XXXXXX")
  rmdir "$dir"
fi
[ ! -e "$dir" ] || die "$dir exists"
# (The package's postinst made the audit files append-only: that is lifted before deleting.)
trap '((keep)) || { chattr -R -a "$dir/var/lib/acme-ca" 2>/dev/null; rm -rf "$dir"; }' EXIT

security=${mirror%/debian}/debian-security
mmdebstrap --variant=minbase --mode=root --format=directory \
  --include=systemd,systemd-sysv,dbus,ca-certificates,iproute2,procps,less \
  ${extra:+--include="$extra"} \
  --include="$deb" \
  --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
  --customize-hook='echo acme-ca >"$1/etc/hostname"; printf "127.0.0.1 localhost\n127.0.1.1 acme-ca\n" >"$1/etc/hosts"' \
  --customize-hook='chroot "$1" systemctl enable acme-ca-engine.service acme-ca-status.service acme-ca-gateway.service acme-ca-dashboard.service acme-ca-report.timer acme-ca-mac-rotation.timer' \
  --customize-hook='chroot "$1" dpkg-query -W -f "\${Package} \${Version}\n" acme-ca >&2' \
  bookworm "$dir" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main"

tar --create --gzip --numeric-owner --xattrs --acls --one-file-system --file "$out.partial" -C "$dir" .
mv "$out.partial" "$out"
echo "build-image: $out ($(du -h "$out" | cut -f1))$( ((keep)) && echo ", tree in $dir")" >&2
