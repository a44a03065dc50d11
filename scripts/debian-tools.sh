#!/usr/bin/env bash
# The deployment tests run Debian's nginx and promtool. Their packages are unpacked into
# DEST (the virtual environment), not installed: `make test` changes nothing system-wide.
# Usage: scripts/debian-tools.sh DEST
set -euo pipefail
mkdir -p "$1"
dest=$(cd "$1" && pwd)
packages=(nginx prometheus)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download "${packages[@]}" >/dev/null 2>&1; then
  # A fresh machine may not have read the package lists yet.
  apt-get update -qq >/dev/null
  apt-get download "${packages[@]}" >/dev/null
fi
for deb in ./*.deb; do dpkg-deb -x "$deb" "$dest"; done
"$dest/usr/sbin/nginx" -v
"$dest/usr/bin/promtool" --version | head -1
