#!/usr/bin/env lua5.4
--- examples/loop/cqueues.lua USER...: the Teams presence of several people
-- at once, then one person's profile, from threads of a cqueues controller
-- that keeps a 10 ms ticker of its own running throughout
-- (docs/hosts/cqueues.md). The tenant comes from the environment:
-- AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, and GRAPH_URL /
-- AZURE_AUTHORITY_HOST for another cloud or the emulator.
local cqueues = require "cqueues"
local condition = require "cqueues.condition"
local graph = require "graph"
local team = dofile((arg[0]:match("^(.*)/") or ".") .. "/team.lua")   -- the board's rows

local people = team.wanted(arg)
local cq = cqueues.new()
local g = graph.client{ loop = graph.loop.cqueues(cq) }

-- The host's own work, which must not stall while Graph answers.
local ticks, done = 0, false
cq:wrap(function()
  while not done do
    cqueues.sleep(0.01)
    ticks = ticks + 1
  end
end)

cq:wrap(function()
  -- Each person in a thread of their own: a call suspends the thread, and
  -- the controller runs it again with the call's result.
  local rows, left, all_in = {}, #people, condition.new()
  for k, upn in ipairs(people) do
    cq:wrap(function()
      local user, err = g.users.get{ id = upn, select = "id,displayName" }
      local presence
      if user then presence, err = g.presence.get{ id = user.id } end
      rows[k] = team.row(upn, user, presence, err)
      left = left - 1
      if left == 0 then all_in:signal() end
    end)
  end
  while left > 0 do all_in:wait() end
  print(("presence of %d people, looked up at once:"):format(#people))
  print(table.concat(rows, "\n"))

  local upn = people[1]
  local user, err = g.users.get{ id = upn,
    select = "id,displayName,userPrincipalName,jobTitle,department,officeLocation" }
  local groups
  if user then groups, err = g.users.memberof{ id = user.id, all = true, select = "id" } end
  print("profile of " .. upn .. ":")
  for _, line in ipairs(team.profile(user, groups, err)) do print(line) end
  g:close()
  done = true
  print(("the controller's 10 ms ticker ran %d times while Graph answered"):format(ticks))
end)

assert(cq:loop())
