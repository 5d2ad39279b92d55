-- runs-on: lua5.4 lua5.3 lua5.2 lua5.1 luajit
-- Host proof: graph.loop.timer on a host that offers timers and nothing
-- else: a plain loop written here, sleeping (graph.core's sleep) until its
-- next timer is due. The adapter polls the descriptors on its own tick; the
-- shared body (support/loop_proof.lua) runs on it, the host's repeating
-- timer as its 10 ms timer.
local proof = require "support.hostproof"
local loop_proof = require "support.loop_proof"
local core = require "graph.core"

-- The host: one-shot and repeating timers, fired in due order by run_until.
local timers = {}

local function add(seconds, fn, every)
  local t = { due = core.now() + math.max(seconds, 0), fn = fn, every = every }
  timers[#timers + 1] = t
  return { stop = function() t.stopped = true end }
end

-- Fires what is due (the timers set meanwhile wait for the next turn);
-- sleeps until the next one, or `deadline`, when nothing was due.
local function turn(deadline)
  local now, due, keep, next_at = core.now(), {}, {}, deadline
  for _, t in ipairs(timers) do
    if not t.stopped then
      if t.due <= now then
        due[#due + 1] = t
      else
        keep[#keep + 1] = t
        next_at = math.min(next_at, t.due)
      end
    end
  end
  timers = keep
  table.sort(due, function(a, b) return a.due < b.due end)
  for _, t in ipairs(due) do
    if not t.stopped then
      if t.every then
        t.due = math.max(t.due + t.every, now)
        timers[#timers + 1] = t
      end
      t.fn()
    end
  end
  if #due == 0 and next_at > now then core.sleep(next_at - now) end
end

proof.main("timer", function()
  local L = require("graph").loop.timer{
    after = function(seconds, fn) return add(seconds, fn) end,
    now = core.now,
  }
  local host = { name = "timer (" .. (rawget(_G, "jit") and "LuaJIT" or _VERSION) .. ")", loop = L }

  function host.run_until(seconds, done)
    local deadline = core.now() + seconds
    while not done() and core.now() < deadline do turn(deadline) end
    return done()
  end

  function host.timer(seconds, fn) return add(seconds, fn, seconds) end

  local failed = loop_proof.run(host)
  proof.check(failed == 0, "%d check(s) failed", failed)
end)
