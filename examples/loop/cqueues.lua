#!/usr/bin/env lua5.4
--- examples/loop/cqueues.lua USER...: the Teams presence of several people
-- at once, then one person's profile, from threads of a cqueues controller
-- that keeps a 10 ms ticker of its own running throughout
-- (docs/hosts/cqueues.md). The tenant comes from the environment:
-- AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, and GRAPH_URL /
-- AZURE_AUTHORITY_HOST for another cloud or the emulator.
local cqueues = require "cqueues"
local graph = require "graph"
local team = dofile((arg[0]:match("^(.*)/") or ".") .. "/team.lua")   -- the Graph side

local people = team.wanted(arg)
local cq = cqueues.new()
local g = graph.client{ loop = graph.loop.cqueues(cq) }

-- The program's own work, which must not stall while Graph answers.
local ticks, done = 0, false
cq:wrap(function()
  while not done do
    cqueues.sleep(0.01)
    ticks = ticks + 1
  end
end)

-- A controller thread per person: each call suspends its thread, and the
-- controller runs it again with the call's result when the answer is in.
team.board(g, people, function(f) cq:wrap(f) end, function()
  g:close()
  done = true
  print(("the controller's 10 ms ticker ran %d times while Graph answered"):format(ticks))
end)

assert(cq:loop())
