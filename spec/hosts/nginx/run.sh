#!/bin/sh
# Host proof: lua-msgraph in nginx (Debian's libnginx-mod-http-lua, LuaJIT)
# through graph.nginx and ngx.run_worker_thread. Run from the repository root
# (make test-hosts). Starts the emulator (200 ms latency) and an nginx of its
# own (its own prefix under a temporary directory, one worker, a free
# loopback port) from examples/nginx/nginx.conf and graph_user.lua as they
# are, runs spec/hosts/nginx/check.lua with the suite's Lua, and stops both,
# also on failure. Last line: "ok nginx", or a line starting "FAIL".
set -u
NAME=nginx
root=$(pwd)
LUA=${GRAPH_SPEC_LUA:-lua5.4}
export LUA_PATH="${LUA_PATH:-./lua/?.lua;./lua/?/init.lua;./spec/?.lua;;}"
export LUA_CPATH="${GRAPH_SPEC_CPATH:-${LUA_CPATH:-./?.so;;}}"
LATENCY=0.2

tmp=$(mktemp -d /tmp/msgraph-nginx.XXXXXX) || { echo "FAIL $NAME: mktemp"; exit 1; }
prefix=$tmp/prefix
emu_pid=""

stop_nginx() {
  [ -s "$prefix/nginx.pid" ] || return 0
  pid=$(cat "$prefix/nginx.pid")
  kill -QUIT "$pid" 2>/dev/null
  for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null
  return 1
}
cleanup() {
  stop_nginx
  [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null
  [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
fail() {
  echo "FAIL $NAME: $*"
  for log in "$prefix/error.log" "$tmp/emulator.log"; do
    [ -s "$log" ] && { echo "--- $log"; tail -n 20 "$log"; }
  done
  cleanup
  exit 1
}
trap 'fail "interrupted"' INT TERM HUP

command -v nginx >/dev/null || fail "no nginx (make deps installs nginx and libnginx-mod-http-lua)"
for m in ndk_http_module ngx_http_lua_module; do
  [ -f /usr/lib/nginx/modules/$m.so ] || fail "no /usr/lib/nginx/modules/$m.so (libnginx-mod-http-lua)"
done

# nginx's Lua is LuaJIT: the thread VMs load the core built for it.
make --no-print-directory -s all LUA=luajit >"$tmp/make.log" 2>&1 || fail "make all LUA=luajit: $(tail -n 5 "$tmp/make.log")"
[ -f "$root/build/luajit/graph/core.so" ] || fail "no build/luajit/graph/core.so"

# The emulator, with every answer 200 ms late (token requests too).
python3 "$root/emulator/server.py" --port 0 --ready-file "$tmp/ready.json" --watch-pid $$ \
  --latency "$LATENCY" --quiet >"$tmp/emulator.log" 2>&1 </dev/null &
emu_pid=$!
i=0
until [ -s "$tmp/ready.json" ]; do
  i=$((i + 1)); [ $i -gt 100 ] && fail "the emulator did not start"
  kill -0 "$emu_pid" 2>/dev/null || fail "the emulator exited"
  sleep 0.1
done
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$tmp/ready.json" "$1"; }
emu_url=$(field url)

# The example's prefix: its config with a free port, its handler, the library.
# Its workers run as the current user (-g "user ..."): the files are ours.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
mkdir -p "$prefix/tmp"
# Beside the example's locations, one of the proof's own: a call to a thread
# pool that does not exist, answered with its error's kind, code and message.
nopool='location = /nopool { content_by_lua_block { local _, e = require("graph.nginx").call("nopool", "users.get", { id = "x" }); ngx.say(e.kind, " ", e.code, " ", e.message) } }'
sed -e "s/listen 127\.0\.0\.1:8080;/listen 127.0.0.1:$port;/" -e 's/^error_log error\.log warn;/error_log error.log info;/' \
    -e "s|^        location = /ping {|        $nopool\n        location = /ping {|" \
  "$root/examples/nginx/nginx.conf" >"$prefix/nginx.conf"
grep -q "listen 127.0.0.1:$port;" "$prefix/nginx.conf" || fail "examples/nginx/nginx.conf: no 'listen 127.0.0.1:8080;' to replace"
grep -q "location = /nopool" "$prefix/nginx.conf" || fail "examples/nginx/nginx.conf: no 'location = /ping {' to add /nopool before"
ln -s "$root/examples/nginx/graph_user.lua" "$prefix/graph_user.lua"
ln -s "$root/lua" "$prefix/lua"
ln -s "$root/build/luajit" "$prefix/lib"

env AZURE_TENANT_ID="$(field tenant_id)" AZURE_CLIENT_ID="$(field client_id)" \
    AZURE_CLIENT_SECRET="$(field client_secret)" GRAPH_URL="$emu_url" AZURE_AUTHORITY_HOST="$emu_url" \
    nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" -g "user $(id -un);" >"$tmp/nginx.out" 2>&1 \
  || fail "nginx did not start: $(cat "$tmp/nginx.out")"
i=0
until curl -s --noproxy '*' -o /dev/null "http://127.0.0.1:$port/ping"; do
  i=$((i + 1)); [ $i -gt 50 ] && fail "nginx does not answer on 127.0.0.1:$port"
  sleep 0.1
done

GRAPH_ROOT="$root" NGINX_URL="http://127.0.0.1:$port" NGINX_PREFIX="$prefix" EMU_READY="$tmp/ready.json" \
  timeout 45 "$LUA" "$root/spec/hosts/nginx/check.lua" >"$tmp/check.out" 2>&1
rc=$?
grep '^figure: ' "$tmp/check.out"
[ $rc -eq 0 ] || fail "spec/hosts/nginx/check.lua (exit $rc): $(grep -v '^figure: ' "$tmp/check.out" | head -n 20)"

stop_nginx || fail "nginx did not stop within 5 s"
cleanup
trap - INT TERM HUP
echo "ok $NAME"
