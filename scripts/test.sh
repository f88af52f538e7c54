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

# Some tests run Postern's own code as an unprivileged user (mail_owner, default_privs: the
# `nobody` account), as a real installation does; that user must be able to reach this
# checkout. A clone in a private temporary directory (mktemp -d: mode 0700) is made
# traversable (o+x, not listable); other directories are only named.
dir="$PWD"
while [ "$dir" != "/" ]; do
  if [ $(( 0$(stat -c %a "$dir") & 1 )) = 0 ]; then
    case "$dir" in
      /tmp/*|/var/tmp/*|"$PWD") chmod o+x "$dir" && echo "test: made $dir traversable (o+x) for tests that run as nobody" ;;
      *) echo "test: warning: $dir is not traversable by other users; tests that run as nobody will fail" ;;
    esac
  fi
  dir="$(dirname "$dir")"
done

mapfile -t files < <(find src test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
echo "test: ${#files[@]} test files"
exec node --import tsx --test --test-concurrency=2 --test-timeout=300000 "$@" "${files[@]}"
