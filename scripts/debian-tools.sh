#!/usr/bin/env bash
# `make run` runs Debian's nginx as the gateway; the deployment tests also run promtool;
# bench.pipeline runs wrk (with its LuaJIT library, found through LD_LIBRARY_PATH).
# Their packages are unpacked into DEST (the virtual environment), not installed: nothing
# changes system-wide.
# Usage: scripts/debian-tools.sh DEST [PACKAGE...]   (default: nginx prometheus)
set -euo pipefail
mkdir -p "$1"
dest=$(cd "$1" && pwd)
shift
packages=("${@:-nginx}")
if [ $# -eq 0 ]; then packages=(nginx prometheus); fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download "${packages[@]}" >/dev/null 2>&1; then
  # A fresh machine may not have read the package lists yet.
  apt-get update -qq >/dev/null
  apt-get download "${packages[@]}" >/dev/null
fi
for deb in ./*.deb; do dpkg-deb -x "$deb" "$dest"; done
for package in "${packages[@]}"; do
  case "$package" in
    nginx) "$dest/usr/sbin/nginx" -v ;;
    prometheus) "$dest/usr/bin/promtool" --version | head -1 ;;
    wrk)
      libs=$(dirname "$(ls "$dest"/usr/lib/*/libluajit-5.1.so.2)")
      LD_LIBRARY_PATH="$libs" "$dest/usr/bin/wrk" --version | head -1 || true ;;
  esac
done
