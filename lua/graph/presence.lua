--- graph.presence: Teams presence of a user.
local args = require "graph.args"

local M = {}

local GET = { id = "id" }

--- presence.get{ id = USER_ID } -> presence, response
function M.get(client, a)
  a = args.normalize("graph.presence.get", a, GET)
  return client:call("GET", args.user_path(a.id) .. "/presence")
end

return M
