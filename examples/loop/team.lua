--- examples/loop/team.lua: what the examples of docs/hosts/ share: who to
-- look up, and how the board's rows read. The Graph calls and the loop are
-- in each host's own file.
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

--- One line of the board: a user's presence, or why there is none.
function M.row(upn, user, presence, err)
  if not (user and presence) then return ("  %-28s %s"):format(upn, tostring(err)) end
  return ("  %-28s %-14s %s"):format(user.displayName, presence.availability, presence.activity)
end

--- The profile of one user, as lines.
function M.profile(user, groups, err)
  if not user then return { "  " .. tostring(err) } end
  local null = require("graph").null
  local function s(v) return (v == nil or v == null) and "-" or tostring(v) end
  return {
    ("  %s <%s>"):format(user.displayName, user.userPrincipalName),
    ("  %s, %s, %s"):format(s(user.jobTitle), s(user.department), s(user.officeLocation)),
    groups and ("  member of %d groups and roles"):format(#groups.value) or ("  " .. tostring(err)),
  }
end

return M
