#!/usr/bin/env bash
# Start Postern in the foreground with the embedded demo configuration (demo/config):
# installs npm packages and builds when needed. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
# The self-signed certificate is made with the openssl command line.
command -v openssl >/dev/null 2>&1 || bash scripts/install-debian-packages.sh <(echo "openssl: openssl")
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
exec node bin/postern.js -c demo/config start-fg "$@"
