-- graph.security: the security.alerts.* actions of docs/graph.ldoc, the
-- connector's "get and update security alerts".
local args = require "graph.args"
local check = require "graph.check"
local json = require "graph.json"
local request = require "graph.request"

local M = {}

local PATH = "/security/alerts_v2"
local LIST = { filter = "string", top = "posint", select = "string|table", all = "boolean",
               max_pages = "posint" }

-- security.alerts.list
function M.list(client, a)
  local fn = "graph.security.alerts.list"
  a = a == nil and {} or a
  check.table(fn, a, LIST)
  local query = args.query{
    { "$select", check.list(fn, "select", a.select) },
    { "$filter", a.filter },
    { "$top", a.top and ("%d"):format(a.top) },
  }
  if a.all then return client:collect(client:url(PATH, query), nil, a.max_pages) end
  return request.send(client, "GET", PATH, query)
end

-- security.alerts.get
function M.get(client, a)
  a = args.normalize("graph.security.alerts.get", a, { id = "id" })
  return request.send(client, "GET", PATH .. "/" .. args.segment(a.id))
end

-- security.alerts.update
function M.update(client, a)
  local fn = "graph.security.alerts.update"
  a = args.normalize(fn, a, { id = "id", body = "table" })
  check.field(fn, "body", a.body, "table", true)
  local body, msg = json.encode(a.body)
  if not body then check.raise(("%s: field 'body' cannot be encoded as JSON: %s"):format(fn, msg)) end
  return request.send(client, "PATCH", PATH .. "/" .. args.segment(a.id), nil, nil, body)
end

return M
