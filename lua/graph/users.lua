--- graph.users: get, memberof, update.
local args = require "graph.args"
local check = require "graph.check"
local bulk = require "graph.bulk"
local json = require "graph.json"

local M = {}

local GET = { id = "id", select = "string|table" }

--- users.get{ id = ID_OR_UPN, select = "a,b" | {"a","b"} } -> user, response
function M.get(client, a)
  local fn = "graph.users.get"
  a = args.normalize(fn, a, GET)
  local query = args.query{ { "$select", check.list(fn, "select", a.select) } }
  return client:call("GET", args.user_path(a.id), query)
end

local GET_MANY = { ids = "table", select = "string|table", concurrency = "concurrency",
                   on_progress = "function" }

--- users.get_many{ ids = {...}, select =, concurrency = 8, on_progress = }
-- -> array in input order, each the user table or its error; plus a summary
-- { ok = n, failed = n }.
function M.get_many(client, a)
  local fn = "graph.users.get_many"
  check.table(fn, a, GET_MANY)
  local ids = check.ids(fn, a.ids)
  local query = args.query{ { "$select", check.list(fn, "select", a.select) } }
  local requests = {}
  for i, id in ipairs(ids) do
    requests[i] = { method = "GET", url = client:url(args.user_path(id), query) }
  end
  local out = bulk.run(client, requests, { concurrency = a.concurrency or 8,
    family = "directory", on_progress = a.on_progress })
  return M.unwrap(out)
end

--- Bulk results as users: each the document or the error, and a summary.
function M.unwrap(out)
  local results, ok = {}, 0
  for i, r in ipairs(out) do
    results[i] = r.doc or r.err
    if r.doc then ok = ok + 1 end
  end
  return results, { ok = ok, failed = #out - ok }
end

local MEMBEROF = {
  id = "id", filter = "string", search = "string", orderby = "string",
  count = "boolean", top = "posint", select = "string|table", all = "boolean",
}

-- $search needs its value in double quotes: "displayName:term".
local function quoted(search)
  if search == nil or search:find('"', 1, true) then return search end
  return '"' .. search .. '"'
end

--- users.memberof{ id, filter, search, orderby, count, top, select, all }
-- -> { value = {...}, ["@odata.count"] = n? }, response
function M.memberof(client, a)
  local fn = "graph.users.memberof"
  a = args.normalize(fn, a, MEMBEROF)
  -- filter, search, orderby and count are advanced queries on directory
  -- objects: Graph wants ConsistencyLevel: eventual and $count=true.
  local advanced = a.filter or a.search or a.orderby or a.count
  local headers = advanced and { ConsistencyLevel = "eventual" } or nil
  local query = args.query{
    { "$select", check.list(fn, "select", a.select) },
    { "$filter", a.filter },
    { "$search", quoted(a.search) },
    { "$orderby", a.orderby },
    { "$top", a.top and ("%d"):format(a.top) },
    { "$count", advanced and "true" or nil },
  }
  local result, response = client:call("GET", args.user_path(a.id) .. "/memberOf", query,
                                        headers)
  if result and a.all then return client:follow(result, response, headers) end
  return result, response
end

local UPDATE = { id = "id", body = "table" }

--- users.update{ id, body = { accountEnabled = false, ... } } -> true, response
function M.update(client, a)
  local fn = "graph.users.update"
  a = args.normalize(fn, a, UPDATE)
  check.field(fn, "body", a.body, "table", true)
  local body, msg = json.encode(a.body)
  if not body then
    check.raise(("%s: field 'body' cannot be encoded as JSON: %s"):format(fn, msg))
  end
  local ok, response = client:call("PATCH", args.user_path(a.id), nil, nil, body)
  if not ok then return nil, response end
  return true, response
end

return M
