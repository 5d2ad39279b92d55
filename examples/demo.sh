#!/bin/sh
# make demo: start the bundled Graph emulator, run the examples against it
# over real sockets, stop it. Exits non-zero as soon as a step fails.
set -eu
cd "$(dirname "$0")/.."

LUA=${LUA:-lua5.4}
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
ready="$work/ready.json"

"$PYTHON" emulator/server.py --port 0 --ready-file "$ready" --watch-pid $$ --quiet \
  > "$work/emulator.out" 2> "$work/emulator.log" &
emu=$!
trap 'kill $emu 2>/dev/null || true; rm -rf "$work"' EXIT INT TERM

i=0
while [ ! -s "$ready" ]; do
  i=$((i + 1))
  if [ $i -gt 100 ] || ! kill -0 $emu 2>/dev/null; then
    echo "demo: the emulator did not start:" >&2
    cat "$work/emulator.log" >&2
    exit 1
  fi
  sleep 0.1
done

# Configure the library the way a user would: from the environment.
field() { "$PYTHON" -c "import json, sys; print(json.load(sys.stdin)['$1'])" < "$ready"; }
AZURE_TENANT_ID=$(field tenant_id)
AZURE_CLIENT_ID=$(field client_id)
AZURE_CLIENT_SECRET=$(field client_secret)
GRAPH_URL=$(field url)
AZURE_AUTHORITY_HOST=$(field url)
export AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET GRAPH_URL AZURE_AUTHORITY_HOST
export LUA_PATH="./lua/?.lua;./lua/?/init.lua;;" LUA_CPATH="./?.so;;"

step() {
  printf '\n\033[1m$ %s\033[0m\n' "$*"
  "$@"
}

echo "Graph emulator at $GRAPH_URL (tenant $AZURE_TENANT_ID)"
step "$LUA" examples/quickstart.lua adele.vance@contoso.onmicrosoft.com
step "$LUA" examples/whois.lua lynne.robbins@contoso.onmicrosoft.com
step "$LUA" examples/whois.lua "john.smith_fabrikam.com#EXT#@contoso.onmicrosoft.com"
step "$LUA" examples/disable-account.lua "patrick.o'brien@contoso.onmicrosoft.com"
step "$LUA" examples/presence-board.lua --once adele.vance@contoso.onmicrosoft.com \
  lynne.robbins@contoso.onmicrosoft.com megan.bowen@contoso.onmicrosoft.com
step "$LUA" examples/audit-admins.lua
# A C host embedding Lua and the module (examples/embed.c).
cc -o "$work/embed" examples/embed.c $(pkg-config --cflags --libs lua5.4)
step "$work/embed" adele.vance@contoso.onmicrosoft.com
printf '\ndemo: all steps passed\n'
