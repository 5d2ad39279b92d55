#!/bin/sh
# bench/deps.sh PACKAGE...: what `make bench` needs beyond `make deps`.
# Debian packages through apt-get (as root; otherwise prints the command), and
# Microsoft's JavaScript Graph SDK through `npm ci` from bench/js's lockfile.
# nginx is installed as a program only (tools/deb-install.sh: its Debian
# service is neither started nor left enabled; the benchmark runs its own).
set -eu
here=$(cd "$(dirname "$0")" && pwd)

command -v node >/dev/null 2>&1 || set -- "$@" nodejs
command -v npm >/dev/null 2>&1 || set -- "$@" npm

sh "$here/../tools/deb-install.sh" --no-recommends bench-deps "$@"

if ! cmp -s "$here/js/package-lock.json" "$here/js/node_modules/.bench-lock" 2>/dev/null; then
  echo "bench-deps: npm ci in bench/js"
  (cd "$here/js" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$here/js/package-lock.json" "$here/js/node_modules/.bench-lock"
else
  echo "bench-deps: bench/js/node_modules matches package-lock.json"
fi
