#!/usr/bin/env bash
# Install the Debian packages named in a list file ("package: program ..." lines) that are
# not installed yet. System services the packages would start (postfix, mariadb, dovecot,
# postgresql) are not started: tests and the bench run private instances.
set -euo pipefail
list="$1"
need=()
while IFS= read -r line; do
  line="${line%%#*}"
  pkg="${line%%:*}"; pkg="${pkg//[[:space:]]/}"
  [ -n "$pkg" ] || continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done < "$list"
[ "${#need[@]}" -gt 0 ] || exit 0
echo "installing Debian packages: ${need[*]}"
if [ "$(id -u)" != 0 ]; then echo "error: installing needs root (apt-get install ${need[*]})" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
created_policy=no
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=yes
fi
trap '[ "$created_policy" = yes ] && rm -f /usr/sbin/policy-rc.d' EXIT
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; }
