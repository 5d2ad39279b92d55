#!/bin/bash
# lua-msgraph benchmark: `make bench` (which runs `make bench-deps` and `make` first).
#
#   BENCH_N=5000        sequential requests per row
#   BENCH_CURL_N=200    requests for the curl command-line row (one process per request)
#   BENCH_REPEAT=3      runs of every row but curl's (medians are kept)
#   BENCH_PAIRS=15      floor + lua-msgraph runs, back to back (the 1.3x target is
#                       the median of their paired CPU ratios)
#   BENCH_CALLGRIND=1   0 skips counting instructions per request with callgrind
#   BENCH_MEM_N=100000  requests of the memory run
#   BENCH_BULK=1        0 skips the bulk rows (emulator with 50 ms latency)
#   BENCH_ONLY=         "instructions": only the callgrind counts (nginx, valgrind, a
#                       few minutes); prints their table, leaves results.md alone;
#                       "loop": only the luv loop row (below), the same way
#   BENCH_CG_DIR=       keep the callgrind output files there (for callgrind_annotate)
#   BENCH_INSTR=        the clients to count, of: floor floor-bare lua-msgraph (all)
#   BENCH_CG_N=500      requests told apart by the two callgrind runs (100 and 100+this)
#   BENCH_LOOP=1        0 skips the luv loop row (issue 12): BENCH_LOOP_N users.get at
#   BENCH_LOOP_N=1000   concurrency BENCH_LOOP_CONC from coroutines on graph.loop.luv
#   BENCH_LOOP_CONC=64  against one users.get_many, instructions (callgrind) and the
#                       worst gap of a 10 ms luv timer (bench/loop_luv.lua)
#
# Starts nginx (its own prefix and config in a temporary directory, foreground,
# pinned to core 1) and, for the bulk rows, the project's emulator; clients run
# pinned to core 0. Prints one table and writes it to bench/results.md.
# Exits non-zero only when a tool or a client fails; a missed target is reported.
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root" || exit 1

N=${BENCH_N:-5000}
CURL_N=${BENCH_CURL_N:-200}
REPEAT=${BENCH_REPEAT:-3}
PAIRS=${BENCH_PAIRS:-15}
CALLGRIND=${BENCH_CALLGRIND:-1}
MEM_N=${BENCH_MEM_N:-100000}
BULK=${BENCH_BULK:-1}
ONLY=${BENCH_ONLY:-}
CG_DIR=${BENCH_CG_DIR:-}
INSTR=${BENCH_INSTR:-floor floor-bare lua-msgraph}
CG_N=${BENCH_CG_N:-500}
LOOP=${BENCH_LOOP:-1}
LOOP_N=${BENCH_LOOP_N:-1000}
LOOP_CONC=${BENCH_LOOP_CONC:-64}
case $ONLY in ""|instructions|loop) ;; *) echo "bench: BENCH_ONLY is \"\", \"instructions\" or \"loop\"" >&2; exit 2 ;; esac
[ "$ONLY" = instructions ] && { CALLGRIND=1; LOOP=0; }
[ "$ONLY" = loop ] && { LOOP=1; INSTR=""; }
LUA=${LUA:-lua5.4}
SERVER_CORE=1
CLIENT_CORE=0
export LUA_PATH="$root/lua/?.lua;$root/lua/?/init.lua;;"
export LUA_CPATH="$root/?.so;;"

work=$(mktemp -d "${TMPDIR:-/tmp}/lua-msgraph-bench.XXXXXX") || exit 1
results=$work/results.tsv
failures=0
pids=""

cleanup() {
  local p
  for p in $pids; do kill "$p" 2>/dev/null; done
  for p in $pids; do wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }
record() { local IFS=$'\t'; printf '%s\n' "$*" >> "$results"; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- tools -----------------------------------------------------------------
tools="nginx taskset curl cc $LUA python3 openssl"
if [ -n "$ONLY" ]; then tools="$tools valgrind callgrind_annotate"; else tools="$tools wrk node npm"; fi
for t in $tools; do
  command -v "$t" >/dev/null 2>&1 || die "'$t' is missing: run 'make bench-deps' (as root)"
done
if [ -z "$ONLY" ]; then
  [ -x /usr/bin/time ] || die "/usr/bin/time is missing: run 'make bench-deps' (as root)"
  "$LUA" -e 'require "socket.http"; require "ssl.https"; require "cjson"' 2>/dev/null ||
    die "lua-socket, lua-sec or lua-cjson is missing: run 'make bench-deps' (as root)"
fi
[ -f "$root/graph/core.so" ] || die "graph/core.so is not built: run 'make'"
[ "$(nproc)" -ge 2 ] || die "needs 2 cores (server on core $SERVER_CORE, client on core $CLIENT_CORE)"

# Microsoft's JavaScript SDK, from the committed lockfile
if [ -z "$ONLY" ] &&
   ! cmp -s "$here/js/package-lock.json" "$here/js/node_modules/.bench-lock" 2>/dev/null; then
  say "bench: npm ci in bench/js"
  (cd "$here/js" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed"
  cp "$here/js/package-lock.json" "$here/js/node_modules/.bench-lock"
fi

# --- the floor -------------------------------------------------------------
cc -std=c99 -O2 -Wall -Wextra -o "$work/floor" "$here/floor.c" \
  $(pkg-config --cflags --libs libcurl 2>/dev/null || echo -lcurl) || die "cannot build bench/floor.c"

# --- certificates and nginx ------------------------------------------------
sh emulator/make-certs.sh "$work/tls" >/dev/null 2>&1 || die "emulator/make-certs.sh failed"
CA=$work/tls/ca.pem

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP_PORT=$(free_port); HTTPS_PORT=$(free_port)
ngx=$work/nginx
mkdir -p "$ngx/tmp"
sed -e "s#@PREFIX@#$ngx#g" -e "s#@HTTP_PORT@#$HTTP_PORT#g" -e "s#@HTTPS_PORT@#$HTTPS_PORT#g" \
    -e "s#@CERT@#$work/tls/server.pem#g" -e "s#@KEY@#$work/tls/server.key#g" \
    "$here/nginx.conf.in" > "$ngx/nginx.conf"
taskset -c $SERVER_CORE nginx -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/error.log" &
pids="$pids $!"
HTTP=http://127.0.0.1:$HTTP_PORT
HTTPS=https://127.0.0.1:$HTTPS_PORT
for _ in $(seq 100); do
  curl -sf -o /dev/null "$HTTP/x/oauth2/v2.0/token" -d x=y && break
  sleep 0.05
done
TOKEN=$(curl -sf -d grant_type=client_credentials "$HTTP/contoso/oauth2/v2.0/token" |
        sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p') && [ -n "$TOKEN" ] ||
  die "nginx did not start: $(cat "$ngx/error.log" 2>/dev/null)"
[ "$(curl -s --cacert "$CA" -o /dev/null -w '%{http_version}' -H "Authorization: Bearer $TOKEN" \
      "$HTTPS/v1.0/users/x")" = 2 ] || die "nginx does not answer HTTP/2 over TLS"
worker=$(pgrep -P "$(cat "$ngx/nginx.pid")" | head -1)
[ -n "$worker" ] || die "no nginx worker"

# CPU nanoseconds the nginx worker has used so far
server_ns() { cut -d' ' -f1 "/proc/$worker/schedstat"; }

if [ -z "$ONLY" ]; then
# --- nginx capacity with wrk --------------------------------------------------
say "bench: nginx capacity (wrk, 3 s each)"
for scheme in http https; do
  base=$HTTP; [ $scheme = https ] && base=$HTTPS
  for c in 1 32; do
    out=$(taskset -c $CLIENT_CORE wrk -t1 -c$c -d3s -H "Authorization: Bearer $TOKEN" \
          "$base/v1.0/users/adele.vance@contoso.onmicrosoft.com" 2>&1) || die "wrk failed: $out"
    rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ {print $2}')
    errs=$(printf '%s\n' "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
    [ -z "$errs" ] || die "wrk saw errors: $errs"
    record wrk "$scheme" "$c" "$rps"
  done
done

# --- sequential rows ------------------------------------------------------------
# row NAME SCHEME NOTE CMD...: run CMD on the client core under /usr/bin/time; the
# client prints "RESULT n= wall= cpu=" (its own measurement, warm-up excluded).
# Recorded: name scheme n wall cpu maxrss_kib server_cpu_us process_elapsed note
row() {
  local name=$1 scheme=$2 note=$3; shift 3
  local s0 s1 line n wall cpu rss elapsed
  say "bench: $name over $scheme"
  s0=$(server_ns)
  if ! taskset -c $CLIENT_CORE /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" \
       > "$work/out" 2> "$work/err"; then
    say "bench: $name over $scheme FAILED:"; tail -5 "$work/err" >&2
    record row "$name" "$scheme" fail "" "" "" "" "" "$note"
    failures=$((failures + 1))
    return
  fi
  s1=$(server_ns)
  line=$(grep '^RESULT' "$work/out" | tail -1)
  if [ -n "$line" ]; then
    n=$(printf '%s' "$line" | sed -n 's/.*n=\([0-9]*\).*/\1/p')
    wall=$(printf '%s' "$line" | sed -n 's/.*wall=\([0-9.]*\).*/\1/p')
    cpu=$(printf '%s' "$line" | sed -n 's/.*cpu=\([0-9.]*\).*/\1/p')
  else                       # no RESULT line: the whole process as /usr/bin/time saw it
    n=$CURL_N
    read -r wall u s _ < "$work/time"
    cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.6f", u + s }')
  fi
  read -r elapsed _ _ rss < "$work/time"
  record row "$name" "$scheme" "$n" "$wall" "$cpu" "$rss" "$(( (s1 - s0) / 1000 ))" "$elapsed" "$note"
}

for scheme in http https; do
  base=$HTTP; ca=""
  [ $scheme = https ] && { base=$HTTPS; ca=$CA; }
  # The floor and lua-msgraph back to back, many times: their ratio is the
  # target, and CPU time on a shared machine drifts from one second to the next.
  for _ in $(seq "$PAIRS"); do
    row floor "$scheme" "" "$work/floor" "$base/v1.0/users/" "$N" "$TOKEN" "$ca"
    row lua-msgraph "$scheme" "" "$LUA" "$here/clients/msgraph_seq.lua" "$base" "$base" "$N" "$ca"
  done
  # the others interleaved, so that a burst of load elsewhere hits every row alike
  for _ in $(seq "$REPEAT"); do
    row floor-bare "$scheme" "" "$work/floor" "$base/v1.0/users/" "$N" "$TOKEN" "$ca" 100 bare
    row luasocket "$scheme" "" "$LUA" "$here/clients/luasocket_seq.lua" "$base" "$base" "$N" "$ca"
    if [ $scheme = https ]; then
      row js-sdk https "" env NODE_EXTRA_CA_CERTS="$CA" node "$here/js/seq.mjs" "$base" "$base" "$N"
    fi
  done
  row curl-cli "$scheme" "" sh "$here/clients/curl_cli.sh" "$base/v1.0/users/" "$CURL_N" "$TOKEN" "$ca"
  [ $scheme = https ] ||
    record row js-sdk http na "" "" "" "" "" "the SDK sends its token only over https"
done

fi   # the full run only

# --- instructions per request: callgrind, the same on any run ------------------
# Each client twice under valgrind, with 100 and 600 (BENCH_CG_N) measured requests after 20
# of warm-up: the difference over 500 is the cost of one request, start-up and
# warm-up cancelled out. CPU time on a shared VM varies by tens of percent from
# run to run; instruction counts do not.
if [ "$CALLGRIND" != 0 ] && command -v valgrind >/dev/null 2>&1; then
  say "bench: instructions per request (callgrind, https)"
  instr() {   # instr NAME CMD... (with @N@ for the request count; CG_SMALL=100, CG_STEP=CG_N)
    local name=$1 small=${CG_SMALL:-100} step=${CG_STEP:-$CG_N} n x a b args; shift
    for n in "$small" $((small + step)); do
      args=()
      for x in "$@"; do args+=("${x//@N@/$n}"); done
      valgrind --tool=callgrind --callgrind-out-file="$work/cg.$name.$n" "${args[@]}" \
        > /dev/null 2>&1 || { record instr "$name" fail; return; }
    done
    a=$(callgrind_annotate "$work/cg.$name.$small" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
    b=$(callgrind_annotate "$work/cg.$name.$n" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
    if [ -n "$a" ] && [ -n "$b" ]; then record instr "$name" $(( (b - a) / step )); else record instr "$name" fail; fi
    [ -z "$CG_DIR" ] || { mkdir -p "$CG_DIR" && cp "$work/cg.$name.$small" "$work/cg.$name.$n" "$CG_DIR/"; }
  }
  case " $INSTR " in *" floor "*)
    instr floor "$work/floor" "$HTTPS/v1.0/users/" @N@ "$TOKEN" "$CA" 20 ;; esac
  case " $INSTR " in *" floor-bare "*)
    instr floor-bare "$work/floor" "$HTTPS/v1.0/users/" @N@ "$TOKEN" "$CA" 20 bare ;; esac
  case " $INSTR " in *" lua-msgraph "*)
    instr lua-msgraph "$LUA" "$here/clients/msgraph_seq.lua" "$HTTPS" "$HTTPS" @N@ "$CA" 20 ;; esac
fi

# --- the luv loop (issue 12): users.get from coroutines vs one users.get_many ---
# LOOP_N requests over HTTPS, LOOP_CONC at once, from coroutines sharing one client on
# graph.loop.luv, and as one blocking users.get_many (bench/loop_luv.lua). Instructions
# as above, with 200 and 200 + LOOP_N measured requests after one round of warm-up;
# then each once without valgrind, the loop with a 10 ms luv timer whose worst gap
# (wall clock) is printed, not asserted.
if [ "$LOOP" != 0 ]; then
  "$LUA" -e 'require "luv"' 2>/dev/null || die "lua-luv is missing: run 'make deps' (as root)"
  say "bench: luv loop, $LOOP_N users.get at concurrency $LOOP_CONC vs users.get_many (https)"
  if [ "$CALLGRIND" != 0 ] && command -v valgrind >/dev/null 2>&1; then
    for mode in loop many; do
      CG_SMALL=200 CG_STEP=$LOOP_N instr "loop-$mode" \
        "$LUA" "$here/loop_luv.lua" $mode "$HTTPS" "$HTTPS" @N@ "$LOOP_CONC" "$CA"
    done
  fi
  for mode in loop many; do
    if taskset -c $CLIENT_CORE "$LUA" "$here/loop_luv.lua" $mode "$HTTPS" "$HTTPS" "$LOOP_N" \
         "$LOOP_CONC" "$CA" "$LOOP_CONC" 1 > "$work/out" 2> "$work/err"; then
      record loop "$mode" "$(grep '^RESULT' "$work/out" | tail -1)"
    else
      say "bench: luv loop $mode FAILED:"; tail -5 "$work/err" >&2
      record loop "$mode" fail
      failures=$((failures + 1))
    fi
  done
fi
if [ "$ONLY" = loop ]; then     # a short section on stdout, results.md untouched
  "$LUA" "$here/loop_report.lua" "$results" "$LOOP_N" "$LOOP_CONC" || exit 1
  grep -q "	fail" "$results" && exit 1
  exit 0
fi

if [ "$ONLY" = instructions ]; then
  # instructions only: a short table on stdout, results.md untouched
  awk -F'\t' '$1 == "instr" { v[$2] = $3; order[++k] = $2 }
    END {
      print "| client | instructions/request | vs floor |"
      print "| --- | ---: | ---: |"
      for (i = 1; i <= k; i++) {
        n = order[i]; r = "-"
        if (v[n] ~ /^[0-9]+$/ && v["floor"] ~ /^[0-9]+$/) r = sprintf("%.3fx", v[n] / v["floor"])
        printf "| %s | %s | %s |\n", n, v[n], r
      }
    }' "$results"
  grep -q "	fail" "$results" && exit 1
  exit 0
fi

# --- memory: a long users.get run ------------------------------------------
say "bench: memory, $MEM_N users.get over http"
if taskset -c $CLIENT_CORE /usr/bin/time -f '%e %U %S %M' -o "$work/time" \
     "$LUA" "$here/clients/msgraph_seq.lua" "$HTTP" "$HTTP" "$MEM_N" "" 100 $((MEM_N / 10)) \
     > "$work/out" 2> "$work/err"; then
  read -r _ _ _ rss < "$work/time"
  record mem users.get "$MEM_N" "$rss" "$(grep '^RSS' "$work/out" | sed 's/.*i=\([0-9]*\) kib=\([0-9]*\)/\1:\2/' | tr '\n' ' ')"
else
  say "bench: memory run FAILED:"; tail -5 "$work/err" >&2
  record mem users.get "$MEM_N" fail ""
  failures=$((failures + 1))
fi

kill "$(cat "$ngx/nginx.pid")" 2>/dev/null

# --- bulk rows, against the emulator with 50 ms latency ------------------------
if [ "$BULK" != 0 ]; then
  if ! "$LUA" "$here/clients/bulk.lua" probe > "$work/probe" 2>&1; then
    if grep -q '^pending' "$work/probe"; then
      record bulk pending "$(head -1 "$work/probe")"
      say "bench: bulk rows $(head -1 "$work/probe")"
    else
      say "bench: bulk probe FAILED:"; tail -5 "$work/probe" >&2
      record bulk pending "bulk rows not run: the probe failed ($(tail -1 "$work/probe"))"
      failures=$((failures + 1))
    fi
  else
    say "bench: bulk rows (emulator, 50 ms latency)"
    taskset -c $SERVER_CORE python3 emulator/server.py --port 0 --ready-file "$work/emu.json" \
      --latency 0.05 --quiet --watch-pid $$ > /dev/null &
    pids="$pids $!"
    for _ in $(seq 200); do [ -s "$work/emu.json" ] && break; sleep 0.05; done
    [ -s "$work/emu.json" ] || die "the emulator did not start"
    bulk() {   # bulk KIND ARGS...: one bulk.lua case, recorded as is
      local kind=$1; shift
      if taskset -c $CLIENT_CORE /usr/bin/time -f '%e %U %S %M' -o "$work/time" \
           "$LUA" "$here/clients/bulk.lua" "$kind" "$work/emu.json" "$@" > "$work/out" 2> "$work/err"; then
        read -r _ _ _ rss < "$work/time"
        record bulk "$kind" "$*" "$(grep '^RESULT' "$work/out" | tail -1)" "$rss"
      else
        say "bench: bulk $kind $* FAILED:"; tail -5 "$work/err" >&2
        record bulk "$kind" "$*" "fail $(tail -1 "$work/err")" ""
        failures=$((failures + 1))
      fi
    }
    bulk presence_many 10000
    bulk presence_get 200
    bulk users_many 1000 1
    bulk users_many 1000 8
    bulk users_many 1000 32
    bulk batch 1000
  fi
fi

# --- the table ---------------------------------------------------------------
machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), Linux $(uname -r)"
versions="nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), libcurl $(curl-config --version 2>/dev/null | sed 's/libcurl //'), $($LUA -v 2>&1 | awk '{print $1, $2}'), node $(node --version), @microsoft/microsoft-graph-client $(node -p 'require("./bench/js/node_modules/@microsoft/microsoft-graph-client/package.json").version' 2>/dev/null)"
"$LUA" "$here/report.lua" "$results" "$here/results.md" "$machine" "$versions" \
  "N=$N CURL_N=$CURL_N REPEAT=$REPEAT PAIRS=$PAIRS MEM_N=$MEM_N server_core=$SERVER_CORE client_core=$CLIENT_CORE" \
  "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)" ||
  die "report.lua failed"
[ "$LOOP" = 0 ] || "$LUA" "$here/loop_report.lua" "$results" "$LOOP_N" "$LOOP_CONC" "$here/results.md" ||
  die "loop_report.lua failed"

if [ "$failures" -gt 0 ]; then
  say "bench: $failures run(s) failed"
  exit 1
fi
exit 0
