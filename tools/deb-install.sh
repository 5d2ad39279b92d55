#!/bin/sh
# tools/deb-install.sh [--no-recommends] LABEL REQUIREMENT...
#
# Installs from Debian the requirements that are missing: as root with
# apt-get, otherwise prints the one command to run and fails. Quick when all
# are present (no apt-get call). LABEL prefixes the messages (deps, bench-deps).
#
# A REQUIREMENT is a package name, present when dpkg says it is installed, or
# PACKAGE=PATH: present when PATH exists (a shell glob, e.g. /usr/lib/*/x.a),
# whichever package put it there. The second form is for drop-in alternatives
# that provide the same paths (luajit2 and Debian's luajit): either is
# accepted; PACKAGE is what gets installed when PATH is missing, or when the
# package that owns PATH would be removed by this install (libnginx-mod-http-lua
# pulls luajit2, which replaces Debian's luajit: one transaction, no swapping
# back and forth on the next run).
#
# Services: no package installed here starts or stays enabled as a system
# service (this project runs its own nginx and nghttpx, with their own
# prefixes, on loopback). invoke-rc.d asks /usr/sbin/policy-rc.d, which
# answers 101 (denied) during the install; the services the install added are
# disabled afterwards.
set -eu

recommends=""
if [ "${1:-}" = "--no-recommends" ]; then recommends="--no-install-recommends"; shift; fi
label=${1:?usage: deb-install.sh [--no-recommends] LABEL REQUIREMENT...}
shift

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
exists() { for f in $1; do [ -e "$f" ] && return 0; done; return 1; }   # $1 unquoted: a glob

missing="" files=""
for req in "$@"; do
  case $req in
    *=*) pkg=${req%%=*} path=${req#*=}
         if exists "$path"; then files="$files $req"; else missing="$missing $pkg"; fi ;;
    *)   installed "$req" || missing="$missing $req" ;;
  esac
done
if [ -z "$missing" ]; then
  echo "$label: all Debian packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "$label: run as root: apt-get update && apt-get install -y$missing"
  exit 1
fi

apt-get update -qq
# A present file whose package this install would remove: install its
# replacement in the same transaction.
if [ -n "$files" ]; then
  removed=$(apt-get -s install $missing 2>/dev/null | sed -n 's/^Remv \([^ :]*\).*/\1/p')
  for req in $files; do
    pkg=${req%%=*} path=${req#*=}
    for f in $path; do
      owner=$(dpkg-query -S "$f" 2>/dev/null | sed 's/:.*//;s/,.*//') || owner=""
      for r in $removed; do
        if [ "$r" = "$owner" ]; then missing="$missing $pkg"; fi
      done
      break
    done
  done
fi

# Deny every service start while apt runs: our policy-rc.d, unless one that
# already denies is in place (a container's); a permissive one is set aside
# and put back.
policy=/usr/sbin/policy-rc.d saved="" ours="" before=$(mktemp)
cleanup() {
  rm -f "$before"
  if [ -n "$ours" ]; then rm -f "$policy"; [ -z "$saved" ] || mv -f "$saved" "$policy"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if ! { [ -x "$policy" ] && { "$policy" nginx start >/dev/null 2>&1; [ $? = 101 ]; }; }; then
  if [ -e "$policy" ]; then saved=$policy.deb-install-saved; mv -f "$policy" "$saved"; fi
  ours=1
  printf '#!/bin/sh\n# tools/deb-install.sh: no service starts during this install\nexit 101\n' > "$policy"
  chmod 755 "$policy"
fi

services() {
  { ls /etc/init.d 2>/dev/null; ls /lib/systemd/system 2>/dev/null | sed -n 's/\.service$//p'; } | sort -u
}
services > "$before"

missing=$(printf ' %s' $(printf '%s\n' $missing | awk '!seen[$0]++'))   # each once, in order
echo "$label: installing$missing"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $recommends $missing

# The services this install added stay disabled (not started at boot):
# systemd's units and the init scripts, whichever init the machine runs.
for s in $(services | comm -13 "$before" -); do
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now "$s" >/dev/null 2>&1 || true
  fi
  if [ -e "/etc/init.d/$s" ] && command -v update-rc.d >/dev/null 2>&1; then
    update-rc.d "$s" disable >/dev/null 2>&1 || true
  fi
  if [ -e "/lib/systemd/system/$s.service" ] && command -v deb-systemd-helper >/dev/null 2>&1; then
    deb-systemd-helper disable "$s.service" >/dev/null 2>&1 || true
  fi
done
