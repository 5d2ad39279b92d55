#!/bin/sh
# bench/cg_parts.sh [PART...]: callgrind instructions of one call of each
# piece of users.get's Lua path (bench/lua_parts.lua), without the network:
# the count at K=20000 minus the count at K=0, over K. Needs `make` first.
here=$(cd "$(dirname "$0")" && pwd)
K=${K:-20000}
[ $# -gt 0 ] || set -- empty normalize user_path client_url json_decode document
cd "$here/.." || exit 1
export LUA_CPATH="./?.so;;"
out=$(mktemp "${TMPDIR:-/tmp}/lua-msgraph-parts.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
count() {
  valgrind --tool=callgrind --callgrind-out-file="$out" lua5.4 bench/lua_parts.lua "$1" "$2" \
    > /dev/null 2>&1 || { echo "cg_parts: $1 failed" >&2; exit 1; }
  awk '/^totals:/ {print $2; exit}' "$out"
}
for p in "$@"; do
  a=$(count "$p" 0); b=$(count "$p" "$K")
  printf '%s\t%s\n' "$p" $(( (b - a) / K ))
done
