#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, runs every test with Node's runner.
# Used by `npm test` and by .ci/run. Safe to run again: installs are skipped when present.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests drive as real clients and peers: exactly the one list in
# test/debian-packages.txt (test/support/packages.ts refuses any program not listed there).
# Service starts are denied while installing (policy-rc.d): tests start private instances.
bash scripts/install-debian-packages.sh test/debian-packages.txt

# npm packages, exactly as locked (skipped when node_modules already matches the lockfile).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

npm run --silent build

mapfile -t files < <(find src test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
echo "test: ${#files[@]} test files"
exec node --import tsx --test --test-concurrency=2 --test-timeout=300000 "$@" "${files[@]}"
