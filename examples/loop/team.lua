--- examples/loop/team.lua: the Graph side of the examples of docs/hosts/,
-- the same in every host. It calls the client as blocking code does; run
-- from a coroutine on a client given a loop, each call suspends the
-- coroutine until its answer is in, and the host's loop runs meanwhile.
local graph = require "graph"

local M = {}

--- The userPrincipalNames to look up: the command line's, else
-- $GRAPH_DEMO_USERS (space-separated: how Neovim's :luafile gets them).
function M.wanted(args)
  local list = {}
  for _, upn in ipairs(args or {}) do list[#list + 1] = upn end
  if #list == 0 then
    for upn in (os.getenv("GRAPH_DEMO_USERS") or ""):gmatch("%S+") do list[#list + 1] = upn end
  end
  if #list == 0 then error("give the users to look up (UPNs) as arguments or in GRAPH_DEMO_USERS", 0) end
  return list
end

--- The board's title, for `n` people.
function M.title(n)
  return ("presence of %d people, looked up at once:"):format(n)
end

--- One row of the board: the Teams presence of `upn`, or why there is none.
function M.presence_row(g, upn)
  local user, err = g.users.get{ id = upn, select = "id,displayName" }
  local presence
  if user then presence, err = g.presence.get{ id = user.id } end
  if not presence then return ("  %-28s %s"):format(upn, tostring(err)) end
  return ("  %-28s %-14s %s"):format(user.displayName, presence.availability, presence.activity)
end

local function text(v)
  return (v == nil or v == graph.null) and "-" or tostring(v)
end

--- The profile of `upn`, as lines.
function M.profile(g, upn)
  local lines = { "profile of " .. upn .. ":" }
  local user, err = g.users.get{ id = upn,
    select = "id,displayName,userPrincipalName,jobTitle,department,officeLocation" }
  if not user then
    lines[2] = "  " .. tostring(err)
    return lines
  end
  lines[2] = ("  %s <%s>"):format(user.displayName, user.userPrincipalName)
  lines[3] = ("  %s, %s, %s"):format(text(user.jobTitle), text(user.department), text(user.officeLocation))
  local groups
  groups, err = g.users.memberof{ id = user.id, all = true, select = "id" }
  lines[4] = groups and ("  member of %d groups and roles"):format(#groups.value) or ("  " .. tostring(err))
  return lines
end

--- The whole example: each person looked up in a coroutine of their own,
-- started by `spawn(f)` (the host's way to run f as one); the last one in
-- prints the board, then reads the first person's profile, then calls done().
function M.board(g, people, spawn, done)
  local rows, left = {}, #people
  for k, upn in ipairs(people) do
    spawn(function()
      rows[k] = M.presence_row(g, upn)
      left = left - 1
      if left > 0 then return end
      print(M.title(#people))
      print(table.concat(rows, "\n"))
      print(table.concat(M.profile(g, people[1]), "\n"))
      done()
    end)
  end
end

return M
