-- bench/report.lua RESULTS.tsv OUT.md MACHINE VERSIONS PARAMS
-- Turns bench/run.sh's raw results into one table (stdout and OUT.md), with the
-- targets of issue 5 and PASS/MISS computed from the same run's numbers.
local results_file, out_file, machine, versions, params = arg[1], arg[2], arg[3], arg[4], arg[5]
local load_start, load_end = arg[6] or "?", arg[7] or "?"

local recs = {}
for line in io.lines(results_file) do
  local f = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = field end
  recs[#recs + 1] = f
end

local out = {}
local function put(s) out[#out + 1] = s or "" end
local function fmt(x, p) return x and ("%." .. (p or 0) .. "f"):format(x) or "-" end
local function thousands(x)
  if not x then return "-" end
  local s = ("%.0f"):format(x)
  return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

-- -- sequential rows ---------------------------------------------------------
local WARMUP = { floor = 100, ["floor-bare"] = 100, ["lua-msgraph"] = 100, luasocket = 20,
                 ["js-sdk"] = 100, ["curl-cli"] = 0 }
local runs = {}        -- runs[scheme][name] = { {n, wall, cpu, rss, server_us, elapsed, note}... }
local wrk = {}
local mem, bulk, bulk_pending = nil, {}, nil
local instr = {}       -- instr[name] = instructions per request (callgrind), or false
for _, f in ipairs(recs) do
  if f[1] == "instr" then
    instr[f[2]] = tonumber(f[3]) or false
  elseif f[1] == "wrk" then
    wrk[#wrk + 1] = { scheme = f[2], conns = tonumber(f[3]), rps = tonumber(f[4]) }
  elseif f[1] == "row" then
    local scheme, name = f[3], f[2]
    runs[scheme] = runs[scheme] or {}
    runs[scheme][name] = runs[scheme][name] or {}
    table.insert(runs[scheme][name], {
      status = (f[4] == "fail" or f[4] == "na") and f[4] or "ok",
      n = tonumber(f[4]), wall = tonumber(f[5]), cpu = tonumber(f[6]), rss = tonumber(f[7]),
      server_us = tonumber(f[8]), elapsed = tonumber(f[9]), note = f[10] or "",
    })
  elseif f[1] == "mem" then
    mem = { n = tonumber(f[3]), rss = tonumber(f[4]), failed = f[4] == "fail", samples = {} }
    for i, kib in (f[5] or ""):gmatch("(%d+):(%d+)") do
      mem.samples[#mem.samples + 1] = { i = tonumber(i), kib = tonumber(kib) }
    end
  elseif f[1] == "bulk" then
    if f[2] == "pending" then bulk_pending = f[3]
    else
      local r = { kind = f[2], args = f[3], line = f[4] or "", rss = tonumber(f[5]) }
      for k, v in r.line:gmatch("(%a+)=([%d.]+)") do r[k] = tonumber(v) end
      r.pending = r.line:match("^PENDING") ~= nil
      r.failed = r.line:match("^fail") ~= nil or (not r.pending and not r.wall)
      bulk[#bulk + 1] = r
    end
  end
end

-- medians over the runs: CPU per request and requests/s each on their own
local function median(xs)
  table.sort(xs)
  local n = #xs
  if n % 2 == 1 then return xs[(n + 1) // 2] end
  return (xs[n // 2] + xs[n // 2 + 1]) / 2
end

local function pick(scheme, name)
  local list = runs[scheme] and runs[scheme][name]
  if not list then return nil end
  local good = {}
  for _, r in ipairs(list) do if r.status == "ok" then good[#good + 1] = r end end
  if #good == 0 then return list[1] end
  local us, rps, busy = {}, {}, {}
  for i, r in ipairs(good) do
    us[i] = r.cpu / r.n * 1e6
    rps[i] = r.n / r.wall
    busy[i] = (r.server_us and r.elapsed and r.elapsed > 0) and r.server_us / 1e6 / r.elapsed * 100 or 0
  end
  local lo, hi = math.huge, 0
  for _, x in ipairs(us) do lo, hi = math.min(lo, x), math.max(hi, x) end
  local r = { status = "ok", n = good[1].n, note = good[1].note, runs = #good }
  r.us, r.rps, r.busy = median(us), median(rps), median(busy)
  if #good > 1 then r.spread = { lo, hi } end
  if #good < #list then r.failed_runs = #list - #good end
  return r
end

local PROTO = {
  http = {
    floor = "HTTP/1.1, keep-alive", ["floor-bare"] = "HTTP/1.1, keep-alive",
    ["lua-msgraph"] = "HTTP/1.1, keep-alive",
    luasocket = "HTTP/1.1, new connection per request",
    ["curl-cli"] = "HTTP/1.1, new process + connection per request",
    ["js-sdk"] = "-",
  },
  https = {
    floor = "HTTP/2 over TLS, keep-alive", ["floor-bare"] = "HTTP/2 over TLS, keep-alive",
    ["lua-msgraph"] = "HTTP/2 over TLS, keep-alive",
    luasocket = "HTTP/1.1 over TLS, new connection + handshake per request",
    ["curl-cli"] = "HTTP/2 over TLS, new process + handshake per request",
    ["js-sdk"] = "HTTP/1.1 over TLS (Node fetch/undici), keep-alive",
  },
}
local LABEL = {
  floor = "floor (C, one reused libcurl handle, no decoding; the request lua-msgraph sends)",
  ["floor-bare"] = "floor, bare request (3 headers, one fixed client-request-id)",
  ["lua-msgraph"] = "lua-msgraph `g.users.get`",
  luasocket = "LuaSocket/LuaSec + lua-cjson",
  ["curl-cli"] = "curl command line + lua-cjson",
  ["js-sdk"] = "Microsoft Graph JS SDK 3.x (Node)",
}
local ORDER = { "floor", "floor-bare", "lua-msgraph", "luasocket", "curl-cli", "js-sdk" }

-- The floor and lua-msgraph ran back to back (bench/run.sh): the CPU ratio
-- of each pair, and their median, lowest and highest.
local function paired(scheme)
  local f, m = runs[scheme] and runs[scheme].floor, runs[scheme] and runs[scheme]["lua-msgraph"]
  if not f or not m then return nil end
  local ratios = {}
  for i = 1, math.min(#f, #m) do
    local a, b = f[i], m[i]
    if a.status == "ok" and b.status == "ok" then
      ratios[#ratios + 1] = (b.cpu / b.n) / (a.cpu / a.n)
    end
  end
  if #ratios == 0 then return nil end
  local sorted = { table.unpack(ratios) }
  local med = median(sorted)
  return { median = med, lo = sorted[1], hi = sorted[#sorted], n = #ratios }
end

local picked = { http = {}, https = {} }
for _, scheme in ipairs{ "http", "https" } do
  for _, name in ipairs(ORDER) do picked[scheme][name] = pick(scheme, name) end
end

put("# lua-msgraph benchmark")
put()
put(("Run %s on %s."):format(os.date("!%Y-%m-%d %H:%M UTC"), machine))
put(versions .. ".")
put(("Load average (1, 5, 15 min) at the start: %s; at the end: %s (anything else running "
  .. "shares the two cores: compare rows of the same run, not runs)."):format(load_start, load_end))
put(("Parameters: %s. Server (nginx, one worker) pinned to core 1, client pinned to core 0 "
  .. "(`taskset`)."):format(params))
put()
put("## Server capacity (wrk, 1 thread on the client core, 3 s)")
put()
put("| scheme | connections | requests/s |")
put("| --- | ---: | ---: |")
for _, w in ipairs(wrk) do
  put(("| %s | %d | %s |"):format(w.scheme == "https" and "https (HTTP/1.1 over TLS)" or "http",
    w.conns, thousands(w.rps)))
end
put()
put(("## Sequential `GET /v1.0/users/{id}`, decoded to a table"):format())
put()
put("| client | scheme | protocol | requests/s | client CPU µs/request | CPU vs floor | server core busy | notes |")
put("| --- | --- | --- | ---: | ---: | ---: | ---: | --- |")
for _, scheme in ipairs{ "http", "https" } do
  local floor = picked[scheme].floor
  for _, name in ipairs(ORDER) do
    local r = picked[scheme][name]
    if r then
      local notes = {}
      if r.note ~= "" then notes[#notes + 1] = r.note end
      if r.status == "ok" then
        if name == "curl-cli" then
          notes[#notes + 1] = ("N=%d, extrapolates to N=%s; CPU of shell + curl + lua, /usr/bin/time"):format(
            r.n, params:match("N=(%d+)") or "?")
        else
          notes[#notes + 1] = ("N=%d after %d warm-up"):format(r.n, WARMUP[name] or 0)
        end
        if r.spread then
          notes[#notes + 1] = ("median of %d runs (CPU %.1f–%.1f µs)"):format(r.runs, r.spread[1], r.spread[2])
        end
        local ratio = (floor and floor.us) and ("%.2fx"):format(r.us / floor.us) or "-"
        local pair = name == "lua-msgraph" and paired(scheme)
        if pair then
          ratio = ("%.2fx"):format(pair.median)
          notes[#notes + 1] = ("CPU vs floor: median of %d back-to-back pairs (%.2f–%.2f)"):format(
            pair.n, pair.lo, pair.hi)
        end
        if r.failed_runs then notes[#notes + 1] = ("%d run(s) FAILED"):format(r.failed_runs) end
        put(("| %s | %s | %s | %s | %s | %s | %s | %s |"):format(LABEL[name], scheme,
          PROTO[scheme][name], thousands(r.rps), fmt(r.us, 1), ratio,
          r.busy and ("%.0f%%"):format(r.busy) or "-", table.concat(notes, "; ")))
      else
        put(("| %s | %s | %s | %s | %s | %s | %s | %s |"):format(LABEL[name], scheme,
          PROTO[scheme][name], r.status == "na" and "n/a" or "FAILED", "", "", "",
          table.concat(notes, "; ")))
      end
    end
  end
end
put()
put("Client CPU is user + system time of the client process over the measured requests "
  .. "(getrusage / `os.clock` / `process.cpuUsage`, the warm-up and the process start excluded; "
  .. "the curl row: the whole loop, every process, from `/usr/bin/time`). "
  .. "\"Server core busy\" is the nginx worker's CPU time over the client process's lifetime: "
  .. "below 100% the server is not the bottleneck.")
put()

-- -- instructions -----------------------------------------------------------------
if next(instr) then
  put("## Instructions per request (callgrind, https)")
  put()
  put("Each client under `valgrind --tool=callgrind` twice, 100 and 600 requests after 20 of "
    .. "warm-up; the difference over 500 is one request's cost, start-up cancelled out. Unlike "
    .. "CPU time on a shared VM, this count is the same from run to run.")
  put()
  put("| client | instructions/request | vs floor |")
  put("| --- | ---: | ---: |")
  for _, name in ipairs{ "floor", "floor-bare", "lua-msgraph" } do
    local v = instr[name]
    if v ~= nil then
      put(("| %s | %s | %s |"):format(LABEL[name], v and thousands(v) or "FAILED",
        (v and instr.floor) and ("%.2fx"):format(v / instr.floor) or "-"))
    end
  end
  put()
end

-- -- bulk -----------------------------------------------------------------------
local function find_bulk(kind, args)
  for _, r in ipairs(bulk) do if r.kind == kind and r.args == args then return r end end
end
put("## Bulk (emulator, 50 ms latency per request)")
put()
local presence_many = find_bulk("presence_many", "10000")
local presence_get = find_bulk("presence_get", "200")
local um = {}
for _, c in ipairs{ 1, 8, 32 } do um[c] = find_bulk("users_many", "1000 " .. c) end
local batch = find_bulk("batch", "1000")
if bulk_pending then
  put(bulk_pending)
elseif #bulk == 0 then
  put("skipped (BENCH_BULK=0)")
else
  put("| job | HTTP requests | wall s | client CPU s | results ok / errors | peak RSS MiB | notes |")
  put("| --- | ---: | ---: | ---: | --- | ---: | --- |")
  local function brow(label, r, note)
    if not r then return end
    if r.pending then
      put(("| %s | | | | | | %s |"):format(label, r.line:lower()))
    elseif r.failed then
      put(("| %s | | | | | | FAILED: %s |"):format(label, r.line))
    else
      put(("| %s | %d | %.2f | %.2f | %d / %d | %s | %s |"):format(label, r.http, r.wall, r.cpu,
        r.ok, r.errors, r.rss and fmt(r.rss / 1024, 1) or "-", note or ""))
    end
  end
  brow("presence of 10,000 users, `presence.get_many`", presence_many,
       "ids cycle through the emulator's 30 seeded users")
  if presence_get and presence_get.wall then
    brow("presence, one `presence.get` per user (200)", presence_get,
      ("extrapolated to 10,000: %.0f s"):format(presence_get.wall / presence_get.n * 10000))
  else
    brow("presence, one `presence.get` per user (200)", presence_get)
  end
  for _, c in ipairs{ 1, 8, 32 } do
    brow(("1,000 users, `users.get_many` concurrency %d"):format(c), um[c])
  end
  brow("1,000 users, `batch` ($batch of 20)", batch)
end
put()

-- -- memory -----------------------------------------------------------------------
put("## Memory")
put()
local flat_growth
if mem and not mem.failed then
  local s = mem.samples
  local parts = {}
  for _, x in ipairs(s) do parts[#parts + 1] = ("%s: %.1f"):format(thousands(x.i), x.kib / 1024) end
  if #s >= 2 then flat_growth = s[#s].kib - s[1].kib end
  put(("- %s sequential `users.get` over http: peak RSS %.1f MiB (`/usr/bin/time -f %%M`); "
    .. "VmRSS MiB after n requests: %s; growth from the first sample to the last: %s KiB.")
    :format(thousands(mem.n), mem.rss / 1024, table.concat(parts, ", "),
      flat_growth and tostring(flat_growth) or "?"))
elseif mem then
  put("- the memory run FAILED")
end
if presence_many and presence_many.rss and not presence_many.failed and not presence_many.pending then
  put(("- `presence.get_many` over 10,000 users: peak RSS %.1f MiB."):format(presence_many.rss / 1024))
end
put()

-- -- targets ----------------------------------------------------------------------
put("## Targets (issue 5)")
put()
put("| target | measured | result |")
put("| --- | --- | --- |")
local function target(text, measured, pass)
  local result = pass == nil and "n/a" or (pass and "PASS" or "MISS")
  put(("| %s | %s | %s |"):format(text, measured, result))
end
local m, f, js, ls = picked.https["lua-msgraph"], picked.https.floor, picked.https["js-sdk"],
                     picked.https.luasocket
local ok = function(r) return r and r.status == "ok" and r.us end
local pair = paired("https")
if ok(m) and ok(f) and pair then
  local extra = {}
  if instr["lua-msgraph"] and instr.floor then
    extra[#extra + 1] = ("instructions: %s vs %s = %.2fx"):format(thousands(instr["lua-msgraph"]),
      thousands(instr.floor), instr["lua-msgraph"] / instr.floor)
  end
  local bare = picked.https["floor-bare"]
  if ok(bare) then
    extra[#extra + 1] = ("vs the bare floor: %.2fx"):format(m.us / bare.us)
  end
  target("HTTPS keep-alive `users.get`: client CPU/request ≤ 1.3x the floor's",
    ("median of %d paired runs %.2fx (%.2f–%.2f); medians %.1f vs %.1f µs%s"):format(pair.n,
      pair.median, pair.lo, pair.hi, m.us, f.us,
      #extra > 0 and ("; " .. table.concat(extra, "; ")) or ""), pair.median <= 1.3)
else target("HTTPS keep-alive `users.get`: client CPU/request ≤ 1.3x the floor's", "row failed", false) end
-- lua-msgraph's request rate against another client's, with the floor's for scale.
local function rate_target(what, other, factor)
  local text = ("HTTPS: ≥ %dx the request rate of %s"):format(factor, what)
  if not (ok(m) and ok(other)) then return target(text, "row failed", false) end
  target(text,
    ("%s vs %s req/s = %.1fx (CPU/request: %.1fx less; the floor itself: %.1fx the rate)"):format(
      thousands(m.rps), thousands(other.rps), m.rps / other.rps, other.us / m.us,
      ok(f) and f.rps / other.rps or 0),
    m.rps / other.rps >= factor)
end
rate_target("the JS Graph SDK", js, 15)
rate_target("LuaSocket/LuaSec", ls, 20)

local function usable(r) return r and not r.pending and not r.failed and r.wall end
if bulk_pending then
  target("presence of 10,000 users in ≤ 16 HTTP requests", bulk_pending, nil)
  target("presence of 10,000 users ≥ 100x faster than one request per user", bulk_pending, nil)
  target("1,000 users, `get_many` concurrency 32 ≥ 20x faster than concurrency 1", bulk_pending, nil)
elseif #bulk > 0 then
  if usable(presence_many) then
    target("presence of 10,000 users in ≤ 16 HTTP requests",
      ("%d requests, %d errors"):format(presence_many.http, presence_many.errors),
      presence_many.http <= 16 and presence_many.errors == 0)
  else target("presence of 10,000 users in ≤ 16 HTTP requests", "not measured", nil) end
  if usable(presence_many) and usable(presence_get) then
    local per_user = presence_get.wall / presence_get.n * 10000
    target("presence of 10,000 users ≥ 100x faster than one request per user",
      ("%.2f s vs %.0f s (extrapolated from %d) = %.0fx"):format(presence_many.wall, per_user,
        presence_get.n, per_user / presence_many.wall), per_user / presence_many.wall >= 100)
  else target("presence of 10,000 users ≥ 100x faster than one request per user", "not measured", nil) end
  if usable(um[1]) and usable(um[32]) then
    target("1,000 users, `get_many` concurrency 32 ≥ 20x faster than concurrency 1",
      ("%.2f s vs %.2f s = %.1fx"):format(um[32].wall, um[1].wall, um[1].wall / um[32].wall),
      um[1].wall / um[32].wall >= 20)
  else target("1,000 users, `get_many` concurrency 32 ≥ 20x faster than concurrency 1", "not measured", nil) end
end
if mem and not mem.failed then
  local mib = mem.rss / 1024
  target(("peak RSS of the %s-request run < 20 MiB, flat after warm-up"):format(thousands(mem.n)),
    ("%.1f MiB peak; +%s KiB from %s to %s requests"):format(mib, tostring(flat_growth or "?"),
      mem.samples[1] and thousands(mem.samples[1].i) or "?",
      mem.samples[#mem.samples] and thousands(mem.samples[#mem.samples].i) or "?"),
    mib < 20 and flat_growth ~= nil and flat_growth <= 1024)
end
put()
put("Request rates of sequential rows include the round trip to the server on the other core "
  .. "(the time the client waits, idle, for each answer); CPU per request does not. "
  .. "A flat run means the resident memory grows by at most 1 MiB from the first sample "
  .. "(after 10% of the requests) to the last.")

local text = table.concat(out, "\n") .. "\n"
io.write(text)
-- Measurements written by hand (issue notes, ablations) follow this line in
-- results.md: kept as they are, not regenerated.
local KEPT = "<!-- Written by hand below this line: `make bench` keeps it as it is. -->"
local old = io.open(out_file)
if old then
  local previous = old:read("a")
  old:close()
  local at = previous:find(KEPT, 1, true)
  if at then text = text .. "\n" .. previous:sub(at) end
end
local fh = assert(io.open(out_file, "w"))
fh:write(text)
fh:close()
