#!/usr/bin/env lua5.4
--- quickstart.lua [USER]: the four actions against the tenant configured in
-- the environment (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
-- GRAPH_URL, AZURE_AUTHORITY_HOST). USER defaults to $GRAPH_DEMO_USER.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local graph = require "graph"
local show = require "show"

local who = arg[1] or os.getenv("GRAPH_DEMO_USER")
if not who then
  io.stderr:write("usage: quickstart.lua USER_ID_OR_UPN\n")
  os.exit(2)
end

print("== users.get " .. who)
local user = show.check(graph.users.get{ id = who, select = { "id", "displayName", "jobTitle", "mail" } })
print(show.pretty(user))

print("\n== presence.get " .. user.id)
local presence = show.check(graph.presence.get{ id = user.id })
print(("%s is %s (%s)"):format(user.displayName, presence.availability, presence.activity))

print("\n== users.memberof (first 5)")
local groups = show.check(graph.users.memberof{ id = who, top = 5, select = "id,displayName" })
for _, g in ipairs(groups.value) do
  print(("  %-45s %s"):format(g.displayName, g["@odata.type"]))
end

print("\n== users.update jobTitle")
local old = user.jobTitle
local ok, response = show.check(graph.users.update{ id = user.id,
                                                    body = { jobTitle = "Incident Commander" } })
print(("updated: %s (HTTP %d %s)"):format(tostring(ok), response.status_code, response.reason))
local after = show.check(graph.users.get{ id = user.id, select = "jobTitle" })
print("jobTitle is now: " .. tostring(after.jobTitle))
show.check(graph.users.update{ id = user.id, body = { jobTitle = old } })
print("restored: " .. tostring(old))
