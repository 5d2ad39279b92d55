#!/usr/bin/env lua5.4
--- examples/loop/timer.lua USER...: the Teams presence of several people at
-- once, then one person's profile, in a host that offers nothing but
-- one-shot timers: here a frame loop of its own, as a game or a terminal UI
-- has (docs/hosts/timer.md). The tenant comes from the environment:
-- AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, and GRAPH_URL /
-- AZURE_AUTHORITY_HOST for another cloud or the emulator.
local core = require "graph.core"
local graph = require "graph"
local team = dofile((arg[0]:match("^(.*)/") or ".") .. "/team.lua")   -- the Graph side

-- The host: one-shot timers, run between the frames of its loop.
local host = { due = {} }
function host.set_timeout(seconds, fn)
  local t = { at = core.now() + seconds, fn = fn }
  host.due[t] = true
  return { stop = function() host.due[t] = nil end }
end
function host.run(frame)                 -- until no timer is left
  while next(host.due) do
    local now, ready = core.now(), {}
    for t in pairs(host.due) do
      if t.at <= now then ready[#ready + 1] = t end
    end
    for _, t in ipairs(ready) do         -- a timer may set or stop others
      if host.due[t] then
        host.due[t] = nil
        t.fn()
      end
    end
    frame()
    core.sleep(0.005)                    -- a frame: 5 ms
  end
end

local people = team.wanted(arg)
local g = graph.client{ loop = graph.loop.timer{
  after = host.set_timeout,              -- (seconds, fn) -> a handle with :stop()
  tick = 0.01,                           -- how often the sockets in flight are polled
} }

-- A coroutine per person: each call suspends its coroutine, and a host
-- timer resumes it with the call's result when the answer is in.
team.board(g, people, function(f) coroutine.wrap(f)() end, function() g:close() end)

local frames = 0
host.run(function() frames = frames + 1 end)
print(("the host drew %d frames while Graph answered"):format(frames))
