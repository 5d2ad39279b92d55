#!/usr/bin/env lua5.4
--- examples/loop/luv.lua USER...: the Teams presence of several people at
-- once, then one person's profile, from coroutines on a luv loop that keeps
-- its own 10 ms timer running throughout (docs/hosts/luv.md). The tenant
-- comes from the environment: AZURE_TENANT_ID, AZURE_CLIENT_ID,
-- AZURE_CLIENT_SECRET, and GRAPH_URL / AZURE_AUTHORITY_HOST for another cloud
-- or the emulator.
local uv = require "luv"
local graph = require "graph"
local team = dofile((arg[0]:match("^(.*)/") or ".") .. "/team.lua")   -- the Graph side

local people = team.wanted(arg)
local g = graph.client{ loop = graph.loop.luv(uv) }

-- The program's own work, which must not stall while Graph answers.
local ticks = 0
local ticker = uv.new_timer()
ticker:start(10, 10, function() ticks = ticks + 1 end)

-- A coroutine per person: each call suspends its coroutine, and the loop
-- resumes it with the call's result when the answer is in.
team.board(g, people, function(f) coroutine.wrap(f)() end, function()
  ticker:close()             -- uv.run() returns once nothing is left to wait for
  g:close()
  print(("the loop's 10 ms timer ran %d times while Graph answered"):format(ticks))
end)

uv.run()
