#!/usr/bin/env lua5.4
--- whois.lua UPN: who is this person, are they reachable, what do they hold?
-- A one-screen report for a responder: profile, Teams presence, and every
-- group, directory role and administrative unit they are a direct member of.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local graph = require "graph"
local show = require "show"

local upn = arg[1]
if not upn then
  io.stderr:write("usage: whois.lua UPN\n")
  os.exit(2)
end

local user = show.check(graph.users.get{ id = upn, select = {
  "id", "displayName", "userPrincipalName", "jobTitle", "department",
  "officeLocation", "mail", "accountEnabled" } })
local presence = graph.presence.get{ id = user.id }
local member = show.check(graph.users.memberof{ id = upn, all = true,
                                                select = "id,displayName" })

local kinds = { ["#microsoft.graph.group"] = "groups",
                ["#microsoft.graph.directoryRole"] = "roles",
                ["#microsoft.graph.administrativeUnit"] = "admin units" }
local by_kind = {}
for _, m in ipairs(member.value) do
  local k = kinds[m["@odata.type"]] or m["@odata.type"]
  by_kind[k] = by_kind[k] or {}
  table.insert(by_kind[k], m.displayName)
end

local null = require("graph").null
local function s(v) return (v == nil or v == null) and "-" or tostring(v) end
print(("%s <%s>"):format(user.displayName, user.userPrincipalName))
print(("  %-12s %s"):format("id", user.id))
print(("  %-12s %s, %s"):format("job", s(user.jobTitle), s(user.department)))
print(("  %-12s %s"):format("office", s(user.officeLocation)))
print(("  %-12s %s"):format("account", user.accountEnabled == false and "DISABLED" or "enabled"))
print(("  %-12s %s"):format("presence", presence
  and (presence.availability .. " / " .. presence.activity) or "unknown"))
for _, k in ipairs({ "roles", "admin units", "groups" }) do
  local names = by_kind[k] or {}
  table.sort(names)
  print(("  %-12s %d%s"):format(k, #names, #names > 0 and ": " or ""))
  for i = 1, math.min(#names, 8) do print("      " .. names[i]) end
  if #names > 8 then print(("      ... and %d more"):format(#names - 8)) end
end
