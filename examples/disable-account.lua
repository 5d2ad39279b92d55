#!/usr/bin/env lua5.4
--- disable-account.lua UPN: the SecOps containment step. Sets
-- accountEnabled = false, then reads the account back to prove it.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local graph = require "graph"
local show = require "show"

local upn = arg[1]
if not upn then
  io.stderr:write("usage: disable-account.lua UPN\n")
  os.exit(2)
end

local before = show.check(graph.users.get{ id = upn, select = "id,displayName,accountEnabled" })
print(("%s: accountEnabled = %s"):format(before.displayName, tostring(before.accountEnabled)))

local _, response = show.check(graph.users.update{ id = before.id, body = { accountEnabled = false } })
print(("PATCH accepted: HTTP %d, request-id %s"):format(response.status_code,
  tostring(response.headers["request-id"])))

local after = show.check(graph.users.get{ id = before.id, select = "accountEnabled" })
if after.accountEnabled ~= false then
  io.stderr:write("error: account still enabled after the update\n")
  os.exit(1)
end
print(("%s: accountEnabled = false (verified)"):format(before.displayName))
