-- luacheck: globals ngx
-- GET /users/{id}: the user from Microsoft Graph as JSON, or its error, for
-- nginx's content_by_lua (examples/nginx/nginx.conf). The call runs in the
-- thread pool "graph": this request waits, the worker serves others.
local graph_nginx = require "graph.nginx"
local json = require "graph.json"

local M = {}

function M.get(id)
  local user, err = graph_nginx.call("graph", "users.get", { id = id }, { timeout = 10 })
  ngx.header.content_type = "application/json"
  if not user then
    ngx.status = err.status_code == 404 and 404 or 502
    ngx.say(json.encode{ error = {
      kind = err.kind, code = err.code, status_code = err.status_code, message = err.message,
      request_id = err.request_id, text = tostring(err),
    } })
    return
  end
  ngx.say(json.encode(user))
end

return M
