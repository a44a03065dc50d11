#!/usr/bin/env bash
# The browser tests drive Debian's Chromium with Playwright for Python (requirements-dev.txt;
# `playwright install` is never run: nothing is downloaded outside the package registries)
# and check every page with axe-core from the npm registry.
# Usage: scripts/browser-tools.sh DEST   (axe-core goes to DEST/node_modules/axe-core)
set -euo pipefail
AXE_VERSION=4.10.3
if [ ! -x /usr/bin/chromium ]; then
  echo "browser-tools: installing Debian's chromium"
  if ! apt-get install -y -q chromium >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    apt-get install -y -q chromium >/dev/null
  fi
fi
mkdir -p "$1"
dest=$(cd "$1" && pwd)
npm install --silent --no-audit --no-fund --prefix "$dest" "axe-core@$AXE_VERSION" >/dev/null
/usr/bin/chromium --version 2>/dev/null | head -1
echo "axe-core $(node -p "require('$dest/node_modules/axe-core/package.json').version")"
