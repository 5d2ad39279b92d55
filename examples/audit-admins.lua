#!/usr/bin/env lua5.4
--- audit-admins.lua [USER...]: which users hold directory (admin) roles.
-- With no arguments, every user of the tenant (users.list, all pages) is
-- checked; their memberships are read with users.memberof, filtered to
-- directory roles with an OData cast done client-side on @odata.type.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local graph = require "graph"
local show = require "show"

local users = {}
if #arg > 0 then
  for i, upn in ipairs(arg) do users[i] = { id = upn, userPrincipalName = upn } end
else
  local list = show.check(graph.users.list{ select = "id,userPrincipalName,displayName", all = true })
  users = list.value
end

local holders, total_roles = 0, 0
for _, u in ipairs(users) do
  local member, err = graph.users.memberof{ id = u.id, all = true, select = "id,displayName,roleTemplateId" }
  if not member then
    io.stderr:write(("%s: %s\n"):format(u.userPrincipalName, tostring(err)))
  else
    local roles = {}
    for _, m in ipairs(member.value) do
      if m["@odata.type"] == "#microsoft.graph.directoryRole" then roles[#roles + 1] = m.displayName end
    end
    if #roles > 0 then
      table.sort(roles)
      holders, total_roles = holders + 1, total_roles + #roles
      print(("%-50s %d: %s"):format(u.userPrincipalName, #roles, table.concat(roles, ", ")))
    end
  end
end
print(("\n%d of %d users hold %d directory role assignments"):format(holders, #users, total_roles))
