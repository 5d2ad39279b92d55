#!/usr/bin/env lua5.4
--- presence-board.lua [--once] [--every SECONDS] USER...: a live table of a
-- team's Teams presence, refreshed with one bulk call (presence.get_many)
-- per round. Without users, the first 20 users of the tenant.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local graph = require "graph"
local core = require "graph.core"
local show = require "show"

local once, every, wanted = false, 10, {}
local i = 1
while arg[i] do
  if arg[i] == "--once" then once = true
  elseif arg[i] == "--every" then i = i + 1; every = tonumber(arg[i]) or every
  else wanted[#wanted + 1] = arg[i] end
  i = i + 1
end

-- Presence is looked up by object id: resolve UPNs once, up front.
local people = {}
if #wanted == 0 then
  local list = show.check(graph.users.list{ top = 20, select = "id,displayName" })
  people = list.value
else
  local found = graph.users.get_many{ ids = wanted, select = "id,displayName" }
  for k, u in ipairs(found) do
    if u.id then people[#people + 1] = u
    else io.stderr:write(wanted[k], ": ", tostring(u), "\n") end
  end
end
local ids = {}
for k, p in ipairs(people) do ids[k] = p.id end

local marks = { Available = "+", Busy = "x", DoNotDisturb = "!", Away = "~", BeRightBack = "~",
                Offline = ".", PresenceUnknown = "?" }
repeat
  local states = graph.presence.get_many{ ids = ids }
  if not once then io.write("\27[2J\27[H") end      -- clear the screen between rounds
  print(("%-32s %-14s %s   (%s)"):format("who", "availability", "activity", os.date("%H:%M:%S")))
  for k, p in ipairs(people) do
    local s = states[k]
    local avail, act = s.availability or "?", s.activity or tostring(s)
    print(("%s %-30s %-14s %s"):format(marks[avail] or " ", p.displayName, avail, act))
  end
  if not once then core.sleep(every) end
until once
