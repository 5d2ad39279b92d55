#!/usr/bin/env lua5.4
--- examples/loop/luv.lua USER...: the Teams presence of several people at
-- once, then one person's profile, from coroutines on a luv loop that keeps
-- its own 10 ms timer running throughout (docs/hosts/luv.md). The tenant
-- comes from the environment: AZURE_TENANT_ID, AZURE_CLIENT_ID,
-- AZURE_CLIENT_SECRET, and GRAPH_URL / AZURE_AUTHORITY_HOST for another cloud
-- or the emulator.
local uv = require "luv"
local graph = require "graph"
local team = dofile((arg[0]:match("^(.*)/") or ".") .. "/team.lua")   -- the board's rows

local people = team.wanted(arg)
local g = graph.client{ loop = graph.loop.luv(uv) }

-- The host's own work, which must not stall while Graph answers.
local ticks = 0
local ticker = uv.new_timer()
ticker:start(10, 10, function() ticks = ticks + 1 end)

-- Each person in a coroutine of their own: a call suspends it, and the
-- loop resumes it with the call's result when the answer is in.
local function profile(upn)
  local user, err = g.users.get{ id = upn,
    select = "id,displayName,userPrincipalName,jobTitle,department,officeLocation" }
  local groups
  if user then groups, err = g.users.memberof{ id = user.id, all = true, select = "id" } end
  print("profile of " .. upn .. ":")
  for _, line in ipairs(team.profile(user, groups, err)) do print(line) end
  ticker:close()           -- the loop ends once nothing is left to wait for
  g:close()
  print(("the loop's 10 ms timer ran %d times while Graph answered"):format(ticks))
end

local rows, left = {}, #people
for k, upn in ipairs(people) do
  coroutine.wrap(function()
    local user, err = g.users.get{ id = upn, select = "id,displayName" }
    local presence
    if user then presence, err = g.presence.get{ id = user.id } end
    rows[k] = team.row(upn, user, presence, err)
    left = left - 1
    if left == 0 then                -- the last one in prints the board
      print(("presence of %d people, looked up at once:"):format(#people))
      print(table.concat(rows, "\n"))
      profile(people[1])
    end
  end)()
end

uv.run()
