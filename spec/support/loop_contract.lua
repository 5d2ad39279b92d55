-- The loop protocol (lua/graph/loop.lua) as cases every adapter passes in
-- its real host, on real descriptors. A spec gives a host:
--   loop                 the adapter
--   run(seconds, done)   runs the host's loop until done() or `seconds`
--                        passed; returns whether done() became true
--   spawn(f)             runs f in a coroutine that loop.suspend may suspend
--   pair()               two connected non-blocking stream sockets: fd, fd
--   write(fd, s), read(fd) -> s, close(fd)
--   live()               how many of the host's handles or threads are alive
--   figure(name, value, unit)  optional: where a host proof prints figures
--   closes               true when coroutines are the host's own to close
--                        or drop (not a cqueues controller's threads)
-- and runs each of `M.cases_for(host)` with busted's `it`.
local assert = require "luassert"

local M = {}

local ok_core, core = pcall(require, "graph.core")
-- a second monotonic clock, not the adapter's own (CLOCK_MONOTONIC in C)
local function clock(host) return ok_core and core.now() or host.loop.now() end

local cases = {}
-- a case; `needs` names a host field it runs only with
local function case(name, f, needs) cases[#cases + 1] = { name = name, run = f, needs = needs } end

-- Watches fd for events until its first callback, which stops the watch
-- from inside itself; returns the ready it got (nil: none within 2 s) and
-- how many callbacks came in all (the loop runs a little longer for more).
local function first_ready(host, fd, events)
  local got, calls, w = nil, 0, nil
  w = host.loop.watch(fd, events, function(ready)
    calls = calls + 1
    got = got or ready
    w:stop()
  end)
  host.run(2, function() return got ~= nil end)
  host.run(0.02, function() return false end)
  return got, calls
end

case("has the five functions and a name", function(host)
  local L = host.loop
  assert.are.equal(L, require("graph.loop").check(L, "spec"))
  assert.are.equal("string", type(L.name))
  local a = L.now()
  assert.are.equal("number", type(a))
  assert.is_true(L.now() >= a)
end)

case("fires a timer once, after its time and not before", function(host)
  local L = host.loop
  local t0, c0 = L.now(), clock(host)
  local fired = {}
  L.timer(0.05, function() fired[#fired + 1] = { L.now() - t0, clock(host) - c0 } end)
  assert.are.equal(0, #fired)                 -- never from inside timer()
  assert.is_true(host.run(2, function() return #fired > 0 end), "the timer did not fire within 2 s")
  host.run(0.06, function() return false end)
  assert.are.equal(1, #fired)
  assert.is_true(fired[1][1] >= 0.05, "fired after " .. fired[1][1] .. " s by loop.now")
  assert.is_true(fired[1][2] >= 0.05, "fired after " .. fired[1][2] .. " s by the monotonic clock")
end)

case("fires timers in the order of their times; 0 at the loop's next turn", function(host)
  local L = host.loop
  local order = {}
  L.timer(0.03, function() order[#order + 1] = "late" end)
  L.timer(0.01, function() order[#order + 1] = "early" end)
  L.timer(0, function() order[#order + 1] = "now" end)
  L.timer(-1, function() order[#order + 1] = "negative" end)
  assert.are.same({}, order)
  assert.is_true(host.run(2, function() return #order == 4 end))
  table.sort(order, function(x, y)                 -- "now" and "negative" share a turn
    local rank = { now = 1, negative = 1, early = 2, late = 3 }
    return rank[x] < rank[y] or (rank[x] == rank[y] and x < y)
  end)
  assert.are.same({ "negative", "now", "early", "late" }, order)
end)

case("never fires a stopped timer; stopping twice or after it fired does nothing", function(host)
  local L = host.loop
  local fired = {}
  local t = L.timer(0.01, function() fired[#fired + 1] = "stopped" end)
  t:stop()
  t:stop()
  local z = L.timer(0, function() fired[#fired + 1] = "zero, stopped" end)
  z:stop()
  local u = L.timer(0.005, function() fired[#fired + 1] = "kept" end)
  local done
  L.timer(0.05, function() done = true end)
  assert.is_true(host.run(2, function() return done end))
  assert.are.same({ "kept" }, fired)
  u:stop()
  u:stop()
end)

case("watches a socket: \"r\" when the other end writes, until stopped", function(host)
  local L = host.loop
  local a, b = host.pair()
  local seen, data = {}, {}
  local w
  w = L.watch(a, "r", function(ready)
    seen[#seen + 1] = ready
    data[#data + 1] = host.read(a)
  end)
  host.run(0.03, function() return false end)
  assert.are.same({}, seen)                 -- nothing to read yet
  L.timer(0.01, function() host.write(b, "ping") end)
  assert.is_true(host.run(2, function() return #seen > 0 end), "no \"r\" within 2 s")
  assert.are.same({ "r" }, seen)
  assert.are.same({ "ping" }, data)
  w:stop()
  w:stop()
  host.write(b, "more")
  host.run(0.05, function() return false end)
  assert.are.same({ "r" }, seen)           -- stopped: no more callbacks
  host.close(a)
  host.close(b)
end)

case("watches a socket: \"w\" while it is writable, \"rw\" when also readable", function(host)
  local a, b = host.pair()
  local ready, calls = first_ready(host, a, "w")
  assert.are.equal("w", ready)
  assert.are.equal(1, calls)                  -- stopped from inside its callback
  host.write(b, "x")
  ready, calls = first_ready(host, a, "rw")
  assert.is_true(ready == "rw" or ready == "?", "ready was " .. tostring(ready))
  assert.are.equal(1, calls)
  host.close(a)
  host.close(b)
end)

case("lets a descriptor be watched again after its watch stopped, even once closed", function(host)
  local L = host.loop
  local a, b = host.pair()
  local w = L.watch(a, "r", function() end)
  assert.has_error(function() L.watch(a, "r", function() end) end)
  host.run(0.01, function() return false end)
  host.close(a)                         -- libcurl closes a socket before the library
  w:stop()                              -- hears of it: the watch stops afterwards
  host.close(b)
  local c, d = host.pair()              -- likely the same numbers again
  host.write(d, "y")
  assert.are.equal("r", (first_ready(host, c, "r")))
  host.close(c)
  host.close(d)
end)

case("passes values both ways through suspend and resume", function(host)
  local L = host.loop
  local log = {}
  local co
  host.spawn(function()
    co = coroutine.running()
    log[#log + 1] = "suspend"
    log[#log + 1] = select("#", L.suspend())
    local a, b, c = L.suspend()
    log[#log + 1] = { a, b, c }
    log[#log + 1] = "done"
  end)
  assert.is_true(host.run(2, function() return co ~= nil end))
  assert.are.same({ "suspend" }, log)
  L.timer(0.01, function() L.resume(co, 1, nil, nil) end)
  assert.is_true(host.run(2, function() return #log == 2 end))
  assert.are.same({ "suspend", 3 }, log)
  L.timer(0, function() L.resume(co, "x", nil, "z") end)
  assert.is_true(host.run(2, function() return #log == 4 end))
  assert.are.same({ "suspend", 3, { "x", nil, "z" }, "done" }, log)
end)

case("resumes many coroutines, each with its own values", function(host)
  local L = host.loop
  local got, cos = {}, {}
  for i = 1, 20 do
    host.spawn(function()
      cos[i] = coroutine.running()
      got[i] = L.suspend()
    end)
  end
  assert.is_true(host.run(2, function() return #cos == 20 end))
  for i = 20, 1, -1 do
    L.timer(0.001 * i, function() L.resume(cos[i], "value " .. i) end)
  end
  assert.is_true(host.run(2, function() return #got == 20 end))
  for i = 1, 20 do assert.are.equal("value " .. i, got[i]) end
end)

case("lets go of an abandoned coroutine: closed by its host, or dropped by everyone", function(host)
  local L = host.loop
  local refs = setmetatable({}, { __mode = "k" })
  local closed, dropped
  for _ = 1, 2 do
    host.spawn(function()
      local co = coroutine.running()
      refs[co] = true
      if closed == nil then closed = co else dropped = co end
      L.suspend()
      error("resumed after it was abandoned")
    end)
  end
  assert.is_true(host.run(1, function() return dropped ~= nil end))
  if coroutine.close then                            -- Lua 5.4: the host cancels it
    assert.is_true(coroutine.close(closed))
    assert.is_false(L.resume(closed, "late answer"))
    assert.has_error(function() L.resume(closed) end)   -- and once only
  end
  closed, dropped = nil, nil                         -- the adapter keeps no reference
  collectgarbage()
  collectgarbage()
  assert.is_nil(next(refs), "the adapter kept an abandoned coroutine alive")
end, "closes")

case("refuses to suspend the main thread, blaming the caller", function(host)
  local L = host.loop
  local ok, msg = pcall(function() L.suspend() end)
  assert.is_false(ok)
  assert.matches("loop_contract%.lua:%d+: graph%.loop%.%w+: call from a coroutine", msg)
end)

case("refuses to resume a coroutine that is not suspended in it", function(host)
  local L = host.loop
  local plain = coroutine.create(function() coroutine.yield() end)
  coroutine.resume(plain)
  local ok, msg = pcall(function() L.resume(plain, 1) end)
  assert.is_false(ok)
  assert.matches("loop_contract%.lua:%d+: graph%.loop%.%w+: resume: ", msg)
  assert.has_error(function() L.resume("nothing") end)
end)

case("raises on misuse, naming the function and the argument", function(host)
  local L = host.loop
  local function msg(f) local ok, m = pcall(f); assert.is_false(ok); return m end
  assert.matches("timer: seconds must be a finite number", msg(function() L.timer("1", print) end))
  assert.matches("timer: seconds must be a finite number", msg(function() L.timer(0 / 0, print) end))
  assert.matches("timer: fn must be a function", msg(function() L.timer(1) end))
  assert.matches("watch: fd must be a descriptor", msg(function() L.watch(-1, "r", print) end))
  assert.matches("watch: fd must be a descriptor", msg(function() L.watch(1.5, "r", print) end))
  assert.matches("watch: events must be", msg(function() L.watch(0, "x", print) end))
  assert.matches("watch: fn must be a function", msg(function() L.watch(0, "r") end))
  assert.matches("^[^:]*loop_contract%.lua:%d+: graph%.loop", msg(function() L.timer(1) end))
end)

case("leaves nothing alive once its timers fired or stopped and its watches stopped", function(host)
  local L = host.loop
  host.run(0.02, function() return false end)     -- what earlier cases closed is gone
  local before = host.live()
  local a, b = host.pair()
  local handles = {}
  for i = 1, 10 do
    handles[#handles + 1] = L.timer(i / 1000, function() end)
    handles[#handles + 1] = L.timer(10, function() end)
  end
  -- quiet watches: a writable socket's "w" would fire without end and
  -- starve Neovim's vim.wait (the proof then hangs)
  handles[#handles + 1] = L.watch(a, "r", function() end)
  handles[#handles + 1] = L.watch(b, "r", function() end)
  assert.is_true(host.live() > before)
  host.run(0.03, function() return false end)
  for _, h in ipairs(handles) do h:stop() end
  host.run(0.02, function() return false end)
  assert.are.equal(before, host.live())
  host.close(a)
  host.close(b)
end)

-- Steps a graph.core run (s:submit'ed) from the loop's callbacks only: a
-- watch per descriptor it wants, a timer for its timeout, re-synced after
-- every step (libcurl closes sockets inside a step: their watches stop
-- afterwards). on_end(results by index) once the run is over.
local function drive(L, s, done, left, on_end)
  local results, watches, timer = {}, {}, nil
  local sync
  local function step(ready)
    done, left = s:step(ready)
    for _, r in ipairs(done) do results[r.id] = r end
    sync()
  end
  function sync()
    local fds, seconds = s:wants()
    if left == 0 then fds, seconds = {}, nil end
    for fd, w in pairs(watches) do
      if fds[fd] ~= w.events then
        w:stop()
        watches[fd] = nil
      end
    end
    for fd, events in pairs(fds) do
      if not watches[fd] then
        watches[fd] = L.watch(fd, events, function(ready) step{ [fd] = ready } end)
        watches[fd].events = events
      end
    end
    if timer then timer:stop() end
    timer = seconds and L.timer(seconds, function()
      timer = nil
      step{}
    end)
    if left == 0 then on_end(results) end
  end
  for _, r in ipairs(done) do results[r.id] = r end
  sync()
end

case("carries graph.core's transfers to the emulator, the loop's own timer ticking between", function(host)
  local L = host.loop
  local emu = require("support.emulator").shared()
  emu:config{ latency = 0.1 }
  local s = emu:session()
  local list = {}
  for i = 1, 12 do list[i] = { id = i, method = "GET", url = emu.url .. "/v1.0/users/" .. i } end
  local ticks, ticker, last, worst = 0, nil, nil, 0
  local function tick()
    local t = L.now()
    if last then worst = math.max(worst, t - last) end
    ticks, last = ticks + 1, t
    ticker = L.timer(0.01, tick)
  end
  tick()
  local results, t0, took
  local done, left = s:submit(list, false)          -- no token: each answer is a 401
  drive(L, s, done, left, function(r)
    results, took = r, L.now() - t0
  end)
  t0 = L.now()
  local ran, finished = pcall(host.run, 10, function() return results ~= nil end)
  ticker:stop()
  emu:config{ latency = 0 }
  s:close()
  assert(ran, finished)
  assert.is_true(finished, "the run did not end within 10 s")
  local seen = {}
  for i = 1, 12 do
    assert.are.equal(401, results[i].status, "request " .. i)
    assert.is_nil(seen[results[i].client_request_id])
    seen[results[i].client_request_id] = true
  end
  assert.is_true(took >= 0.1, "12 at once, 0.1 s each, took only " .. took .. " s")
  assert.is_true(ticks >= took / 0.01 / 3, ticks .. " ticks of 10 ms in " .. took .. " s")
  if host.figure then
    host.figure("12 GETs wall", took * 1000, "ms")
    host.figure("10 ms timer worst gap during them", worst * 1000, "ms")
  end
end)

--- A LuaSocket TCP socket connecting to a closed port on 127.0.0.1 (in
-- progress, then refused: a descriptor in error), or nil, why not.
function M.refused_socket()
  local ok, socket = pcall(require, "socket")
  if not ok then return nil, "LuaSocket is not installed: no plain TCP socket to refuse" end
  local c = socket.tcp()
  c:settimeout(0)
  c:connect("127.0.0.1", require("support.emulator").closed_port())
  return c
end

--- The cases `host` can run.
function M.cases_for(host)
  local list = {}
  for _, c in ipairs(cases) do
    if not c.needs or host[c.needs] then list[#list + 1] = c end
  end
  return list
end

--- A host on luv's `uv` for `loop`: sockets from uv.socketpair, the loop run
-- with uv.run("once") under a guard timer, live() counted by uv.walk.
function M.luv_host(uv, loop)
  local host = { loop = loop, closes = true }
  function host.live()
    local n = 0
    uv.walk(function() n = n + 1 end)
    return n
  end
  function host.run(seconds, done)
    local guard = uv.new_timer()
    local expired = false
    guard:start(math.ceil(seconds * 1000), 0, function() expired = true end)
    while not done() and not expired do uv.run("once") end
    guard:close()
    uv.run("nowait")                         -- the guard's close completes
    return done() and true or false
  end
  function host.spawn(f) coroutine.wrap(f)() end
  function host.pair()
    local fds = assert(uv.socketpair("stream", 0, { nonblock = true }, { nonblock = true }))
    return fds[1], fds[2]
  end
  function host.write(fd, s) assert(uv.fs_write(fd, s)) end
  function host.read(fd) return assert(uv.fs_read(fd, 4096)) end
  function host.close(fd) uv.fs_close(fd) end
  return host
end

return M
