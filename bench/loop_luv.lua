-- The luv loop row (issue 12): N users.get from CONC coroutines sharing one
-- client on graph.loop.luv(), or the same work as one blocking users.get_many.
--   lua5.4 bench/loop_luv.lua loop GRAPH_URL LOGIN_URL N CONC [CA_FILE] [WARMUP] [TIMER]
--   lua5.4 bench/loop_luv.lua many GRAPH_URL LOGIN_URL N CONC [CA_FILE] [WARMUP]
-- WARMUP requests (default CONC: one round, the token and the connection)
-- run the same way first and are not counted. TIMER=1 (loop only) runs a
-- repeating 10 ms luv timer meanwhile and reports its worst gap (wall
-- clock); the instruction counts run without it, as it is the host's work.
-- Prints: RESULT n= wall= cpu= gap_ms= token_requests= blocking_waits=
--   cpu: os.clock over the N requests; gap_ms: worst interval between two
--   timer callbacks over the N requests (- without TIMER); blocking_waits:
--   the core's waits on its own (0 when the loop drives everything).
package.path = arg[0]:gsub("[^/]*$", "") .. "clients/?.lua;" .. package.path
local graph = require "graph"
local core = require "graph.core"
local ids = require "ids"

local mode, graph_url, login_url = arg[1], arg[2], arg[3]
local n, conc = assert(tonumber(arg[4]), "N"), assert(tonumber(arg[5]), "CONC")
local ca = (arg[6] and arg[6] ~= "") and arg[6] or nil
local warm = tonumber(arg[7] or conc)
local with_timer = arg[8] == "1" and mode == "loop"
assert(mode == "loop" or mode == "many", "mode: loop or many")

local function fail(...)
  io.stderr:write("loop_luv ", mode, ": ", ...)
  io.stderr:write("\n")
  os.exit(1)
end

local uv = mode == "loop" and require "luv"
local g = graph.client{
  tenant_id = "contoso.onmicrosoft.com", client_id = "6731de76-14a6-49ae-97bc-6eba6914391e",
  client_secret = "bench-secret", url = graph_url, login_url = login_url, ca_file = ca,
  loop = uv and graph.loop.luv(uv) or nil,
}
local session = require("graph.client").of(g).session

-- request i's id, cycling through the list
local function id_of(i) return ids[i % #ids + 1] end

local function check(user, err, i)
  if not user then fail("request ", i, " failed: ", tostring(err)) end
  if user.displayName ~= "Adele Vance" then fail("request ", i, ": unexpected body") end
end

-- users.get_many over requests first .. first + count - 1
local function many(first, count)
  local list = {}
  for k = 1, count do list[k] = id_of(first + k - 1) end
  local out, err = g.users.get_many{ ids = list, concurrency = conc }
  if not out then fail("get_many: ", tostring(err)) end
  for k = 1, count do             -- each entry the user or its error
    local r = out[k]
    check(r and r.kind == nil and r or nil, r, first + k - 1)
  end
end

-- CONC coroutines on the loop, each taking the next request until `count`
-- are done; returns when all are (uv.run drives them)
local function spread(first, count)
  local next_i, finished = first, 0
  local last = first + count - 1
  for _ = 1, math.min(conc, count) do
    coroutine.wrap(function()
      while next_i <= last do
        local i = next_i
        next_i = i + 1
        local user, err = g.users.get{ id = id_of(i) }
        check(user, err, i)
      end
      finished = finished + 1
    end)()
  end
  uv.run()
  if next_i <= last or finished < math.min(conc, count) then fail("the loop stopped early") end
end

local run = mode == "loop" and spread or many
if warm > 0 then run(1, warm) end

local timer, worst, last_tick
if with_timer then
  timer, worst = uv.new_timer(), 0
  timer:start(10, 10, function()
    local t = core.now()
    if last_tick and t - last_tick > worst then worst = t - last_tick end
    last_tick = t
  end)
  timer:unref()              -- uv.run returns when the requests are done, not for the timer
end
local s0 = session:stats()
local t0, c0 = core.now(), os.clock()
last_tick = t0
run(warm + 1, n)
local c1, t1 = os.clock(), core.now()
if timer then
  if t1 - last_tick > worst then worst = t1 - last_tick end   -- the gap still open at the end
  timer:close()
end
local s1 = session:stats()
print(("RESULT n=%d wall=%.6f cpu=%.6f gap_ms=%s token_requests=%d blocking_waits=%d"):format(
  n, t1 - t0, c1 - c0, worst and ("%.1f"):format(worst * 1000) or "-",
  s1.token_requests, s1.blocking_waits - s0.blocking_waits))
g:close()
if uv then uv.run() end        -- let the closed handles go
