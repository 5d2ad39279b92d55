-- graph.loop.timer on a host that offers only a one-shot timer: here luv's
-- timers and nothing else of luv (its descriptors are polled by the
-- adapter's own tick through graph.core's poll), with real sockets.
local have_luv, uv = pcall(require, "luv")

describe("graph.loop.timer", function()
  local loop = require "graph.loop"

  it("raises when the host's timer is missing or its options are wrong", function()
    local util = require "support.util"
    local function after() end
    assert.matches("graph%.loop%.timer: give { after = ", util.raised(loop.timer))
    assert.matches("graph%.loop%.timer: give { after = ", util.raised(loop.timer, { after = 1 }))
    assert.matches("now must be a function", util.raised(loop.timer, { after = after, now = 0 }))
    assert.matches("tick must be a number of seconds > 0", util.raised(loop.timer, { after = after, tick = 0 }))
    assert.matches("loop_timer_spec%.lua:%d+: ", util.raised(function() loop.timer{} end))
  end)

  if not have_luv then
    pending("lua-luv is not installed for " .. _VERSION .. ": no host timer to drive it (make deps)")
    return
  end
  local contract = require "support.loop_contract"

  local after_calls = 0
  -- the host's timer: a uv timer, closed once it fired or stopped
  local function after(seconds, fn)
    after_calls = after_calls + 1
    local h = uv.new_timer()
    h:start(math.floor(seconds * 1000 + 0.5), 0, function()
      h:close()
      fn()
    end)
    return { stop = function() if not h:is_closing() then h:close() end end }
  end
  local function now() return uv.hrtime() / 1e9 end
  local L = loop.timer{ after = after, now = now }

  local host = contract.luv_host(uv, L)

  for _, c in ipairs(contract.cases_for(host)) do
    it(c.name, function() c.run(host) end)
  end
  -- luv 1.44 crashes in lua_close when a handle's close has not completed
  teardown(function() uv.run("nowait") end)

  it("sets the host's timer again when it fires early by loop.now", function()
    -- a host timer that rounds to whole 10 ms and so fires up to 5 ms early
    local function coarse(seconds, fn)
      return after(math.floor(seconds * 100 + 0.5) / 100, fn)
    end
    local C = loop.timer{ after = coarse, now = now }
    local t0, at = now(), nil
    C.timer(0.014, function() at = now() - t0 end)
    assert.is_true(host.run(2, function() return at ~= nil end))
    assert.is_true(at >= 0.014, "fired after " .. at .. " s")
  end)

  it("polls its descriptors every `tick` and stops ticking when none is watched", function()
    local T = loop.timer{ after = after, now = now, tick = 0.02 }
    local a, b = host.pair()
    local before = host.live()
    local n0 = after_calls
    local seen = 0
    local w = T.watch(a, "r", function() seen = seen + 1 end)
    host.run(0.1, function() return false end)
    local ticks = after_calls - n0
    assert.is_true(ticks >= 3 and ticks <= 7, ticks .. " ticks in 0.1 s at tick = 0.02")
    assert.are.equal(0, seen)
    w:stop()
    uv.run("nowait")
    assert.are.equal(before, host.live())     -- the pending tick was stopped, not left to run
    local n1 = after_calls
    host.run(0.06, function() return false end)
    assert.are.equal(n1, after_calls)          -- nothing watched: no tick
    host.close(a)
    host.close(b)
  end)

  it("reports \"e\" at every tick for a refused connection, until stopped", function()
    local c, why = contract.refused_socket()
    if not c then return pending(why) end
    local seen = {}
    local w = L.watch(c:getfd(), "w", function(ready) seen[#seen + 1] = ready end)
    assert.is_true(host.run(1, function() return #seen >= 3 end))
    w:stop()
    c:close()
    for _, ready in ipairs(seen) do assert.are.equal("e", ready) end
  end)

  it("reports \"e\" for a descriptor that is not open", function()
    local a, b = host.pair()
    host.close(a)
    host.close(b)
    local seen
    local w = L.watch(a, "r", function(ready) seen = ready end)
    assert.is_true(host.run(1, function() return seen ~= nil end))
    assert.are.equal("e", seen)
    w:stop()
  end)
end)
