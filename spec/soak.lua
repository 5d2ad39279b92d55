-- make soak: 20,000 requests through one client, with throttling, server
-- errors and dropped connections injected along the way. Resident memory
-- after the first 1,000 requests must grow by less than 1 MiB.
-- Run from the repository root: lua5.4 spec/soak.lua [N]
package.path = "./spec/?.lua;./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = "./?.so;" .. package.cpath

local emulator = require "support.emulator"
local fx = require "support.fixtures"

local N = tonumber(arg[1]) or 20000
local WARMUP = 1000
local LIMIT_KIB = 1024

local function rss_kib()
  local f = assert(io.open("/proc/self/statm"))
  local pages = tonumber(f:read("*a"):match("^%d+%s+(%d+)"))
  f:close()
  return pages * 4
end

local emu = emulator.start()
-- no debug log: the suite's log observer keeps every line it sees (for the
-- secrets scan), which would read as growth here
local g = emu:client{ retry_delay = 0.01, max_retries = 3, log = emulator.NONE }
local ids = { fx.adele_id, "adele.vance@contoso.onmicrosoft.com", "no-such-user@contoso.onmicrosoft.com" }
local faults = {
  { status = 429, headers = { ["Retry-After"] = "0" } },
  { status = 503 },
  { action = "drop" },
  { action = "malformed_json" },
  { status = 401, json = { error = { code = "InvalidAuthenticationToken", message = "expired" } } },
}

local counts = { ok = 0, graph = 0, decode = 0, transport = 0, auth = 0 }
local t0, base = os.clock(), nil
for i = 1, N do
  if i % 97 == 0 then
    local f = faults[math.floor(i / 97) % #faults + 1]
    f.target, f.path, f.count = "graph", "^/v1\\.0/users/", 1
    emu:fault(f)
  end
  local call = (i % 3 == 0) and g.presence.get or g.users.get
  local r, err = call{ id = ids[i % #ids + 1] == ids[3] and ids[3] or fx.adele_id }
  if r then counts.ok = counts.ok + 1 else counts[err.kind] = counts[err.kind] + 1 end
  if i == WARMUP then collectgarbage(); collectgarbage(); base = rss_kib() end
end
collectgarbage(); collectgarbage()
local final = rss_kib()
local stats = emu:stats()
emu:stop()

print(("soak: %d requests in %.1f s CPU; ok %d, graph errors %d, decode %d, transport %d, auth %d")
  :format(N, os.clock() - t0, counts.ok, counts.graph, counts.decode, counts.transport, counts.auth))
print(("soak: emulator saw %d Graph requests, %d token requests, %d connections")
  :format(stats.graph_requests, stats.token_requests, stats.connections))
print(("soak: resident memory %d KiB after %d requests, %d KiB after %d: growth %d KiB (limit %d)")
  :format(base, WARMUP, final, N, final - base, LIMIT_KIB))
if final - base >= LIMIT_KIB then
  print("soak: FAILED: memory grew")
  os.exit(1)
end
print("soak: passed")
