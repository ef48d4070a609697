#!/usr/bin/env bash
# scripts/build-deb.sh [--build-dir DIR] [--no-build]
# Builds the five programs (only what changed) and packs the "acme-ca" Debian package with CPack
# (appliance/packaging/CMakeLists.txt) into DIR/packages/ (default DIR: $BUILD_DIR or build/).
# Prints the package's path on stdout, its control data and file list on stderr.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build} do_build=1
while (($#)); do
  case "$1" in
    --build-dir) build=${2:?}; shift 2 ;;
    --no-build) do_build=0; shift ;;
    *) echo "usage: scripts/build-deb.sh [--build-dir DIR] [--no-build]" >&2; exit 2 ;;
  esac
done
for t in cpack dpkg-deb dpkg-shlibdeps; do
  command -v "$t" >/dev/null || { echo "build-deb: $t not found (apt-get install cmake dpkg-dev)" >&2; exit 1; }
done
if ((do_build)); then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCA_WERROR=ON >/dev/null
  cmake --build "$build" -j"$(nproc)" --target ca-engine ca-gateway ca-status-server ca-status-publish ca-ra ca-ceremony ca-audit ca-dashboard ca-report ca-validation-agent >&2
fi
[ -f "$build/CPackConfig.cmake" ] || { echo "build-deb: no CPackConfig.cmake in $build (configure with every module)" >&2; exit 1; }
rm -rf "$build/packages"
(cd "$build" && cpack -G DEB --config CPackConfig.cmake >&2)
deb=$(find "$build/packages" -maxdepth 1 -name 'acme-ca_*.deb' -print -quit)
[ -n "$deb" ] || { echo "build-deb: cpack made no acme-ca_*.deb" >&2; exit 1; }
dpkg-deb --info "$deb" >&2
dpkg-deb --contents "$deb" >&2
echo "$deb"
