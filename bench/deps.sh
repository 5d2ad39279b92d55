#!/bin/sh
# bench/deps.sh PACKAGE...: what `make bench` needs beyond `make deps`.
# Debian packages through apt-get (as root; otherwise prints the command), and
# Microsoft's JavaScript Graph SDK through `npm ci` from bench/js's lockfile.
# nginx is installed as a program only: its Debian service is neither started
# nor left enabled (the benchmark runs its own nginx with its own prefix).
set -eu
here=$(cd "$(dirname "$0")" && pwd)

command -v node >/dev/null 2>&1 || set -- "$@" nodejs
command -v npm >/dev/null 2>&1 || set -- "$@" npm

missing=""
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "bench-deps: all Debian packages present"
elif [ "$(id -u)" != 0 ]; then
  echo "bench-deps: run as root: apt-get update && apt-get install -y$missing"
  exit 1
else
  echo "bench-deps: installing$missing"
  policy=""
  case " $missing " in
    *" nginx"*)
      # invoke-rc.d asks /usr/sbin/policy-rc.d whether to start a service: 101 = no.
      if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
      fi ;;
  esac
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
  case " $missing " in
    *" nginx"*)
      if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now nginx >/dev/null 2>&1 || true
      elif command -v update-rc.d >/dev/null 2>&1; then
        update-rc.d nginx disable >/dev/null 2>&1 || true
      fi ;;
  esac
fi

if ! cmp -s "$here/js/package-lock.json" "$here/js/node_modules/.bench-lock" 2>/dev/null; then
  echo "bench-deps: npm ci in bench/js"
  (cd "$here/js" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$here/js/package-lock.json" "$here/js/node_modules/.bench-lock"
else
  echo "bench-deps: bench/js/node_modules matches package-lock.json"
fi
