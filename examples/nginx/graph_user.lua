-- luacheck: globals ngx
-- Microsoft Graph users as JSON, for nginx's content_by_lua
-- (examples/nginx/nginx.conf). The calls run in the thread pool "graph":
-- this request waits, the worker serves others.
local graph_nginx = require "graph.nginx"
local json = require "graph.json"

local M = {}

local OPTIONS = { timeout = 10 }      -- the credentials come from nginx's env

local function error_json(err)
  return { error = {
    kind = err.kind, code = err.code, status_code = err.status_code, message = err.message,
    request_id = err.request_id, text = tostring(err),
  } }
end

local function reply(status, value)
  ngx.status = status
  ngx.header.content_type = "application/json"
  ngx.say(json.encode(value))
end

-- GET /users/{id}: the user, or its error.
function M.get(id)
  local user, err = graph_nginx.call("graph", "users.get", { id = id }, OPTIONS)
  if not user then return reply(err.status_code == 404 and 404 or 502, error_json(err)) end
  reply(200, user)
end

-- GET /users?ids=a,b,c: each user or its error, in the order asked.
function M.get_many(ids)   -- "a,b,c", decoded
  local list = {}
  for id in (ids or ""):gmatch("[^,]+") do list[#list + 1] = id end
  local users, err = graph_nginx.call("graph", "users.get_many", { ids = list }, OPTIONS)
  if not users then return reply(502, error_json(err)) end
  for i, u in ipairs(users) do
    if not u.id then users[i] = error_json(u) end      -- an error, in its user's place
  end
  reply(200, users)
end

return M
