-- graph.users: the users.* actions of docs/graph.ldoc.
local args = require "graph.args"
local check = require "graph.check"
local bulk = require "graph.bulk"
local json = require "graph.json"
local pretty = require "graph.pretty"
local request = require "graph.request"

local M = {}

local GET = { id = "id", select = "string|table" }

-- users.get
function M.get(client, a)
  local fn = "graph.users.get"
  a = args.normalize(fn, a, GET)
  local url = args.user_path(a.id, client.v1_root)
  if a.select then
    local query = args.query{ { "$select", check.list(fn, "select", a.select) } }
    if query ~= "" then url = url .. "?" .. query end
  end
  return client:fetch("GET", url)
end

local GET_MANY = { ids = "table", select = "string|table", concurrency = "concurrency",
                   on_progress = "function" }

-- users.get_many
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

-- Bulk results as users: each the document or the error, and a summary.
function M.unwrap(out)
  local results, ok = {}, 0
  for i, r in ipairs(out) do
    results[i] = r.doc or r.err
    if r.doc then ok = ok + 1 end
  end
  return pretty.document(results), { ok = ok, failed = #out - ok }
end

local MEMBEROF = {
  id = "id", filter = "string", search = "string", orderby = "string",
  count = "boolean", top = "posint", select = "string|table", all = "boolean",
  max_pages = "posint",
}

-- $search wants each term in double quotes, joined by AND or OR:
-- "displayName:a" OR "mail:b". A term already quoted (or holding a quote:
-- Graph's own syntax) stays as it is; parentheses stay outside the quotes.
local function quote_term(term)
  local open, inner, close = term:match("^(%s*%(*)(.-)(%)*%s*)$")
  if inner == "" or inner:find('"', 1, true) then return term end
  local _, opened = inner:gsub("%(", "")
  local _, closed = inner:gsub("%)", "")
  while opened > closed and close:sub(1, 1) == ")" do   -- "a(b)": the ")" is the term's
    inner, close, closed = inner .. ")", close:sub(2), closed + 1
  end
  return open .. '"' .. inner .. '"' .. close
end

-- The next " AND " or " OR " outside double quotes, from `init`: its start
-- and end, or nil.
local function next_operator(s, init)
  local quoted, i = false, init
  while i <= #s do
    local c = s:sub(i, i)
    if c == '"' then
      quoted = not quoted
    elseif c == "\\" and quoted then
      i = i + 1                                  -- an escaped character
    elseif not quoted then
      local first, last, word = s:find("^%s+(%u+)%s+", i)
      if first and (word == "AND" or word == "OR") then return first, last end
    end
    i = i + 1
  end
end

-- A $search value with each of its terms quoted, as Graph requires.
function M.search_query(search)
  if search == nil then return nil end
  local parts, init = {}, 1
  while true do
    local first, last = next_operator(search, init)
    parts[#parts + 1] = quote_term(search:sub(init, (first or #search + 1) - 1))
    if not first then break end
    parts[#parts + 1] = search:sub(first, last)
    init = last + 1
  end
  return table.concat(parts)
end
local search_query = M.search_query

-- filter, search, orderby and count are advanced queries on directory
-- objects: Graph wants ConsistencyLevel: eventual and $count=true.
local function directory_query(fn, a)
  local advanced = a.filter or a.search or a.orderby or a.count
  local headers = advanced and { ConsistencyLevel = "eventual" } or nil
  local query = args.query{
    { "$select", check.list(fn, "select", a.select) },
    { "$filter", a.filter },
    { "$search", search_query(a.search) },
    { "$orderby", a.orderby },
    { "$top", a.top and ("%d"):format(a.top) },
    { "$count", advanced and "true" or nil },
  }
  return query, headers
end

-- One page, or with `all` every page merged (nil, err if any fails).
local function collection(client, fn, path, a)
  local query, headers = directory_query(fn, a)
  if a.all then return client:collect(client:url(path, query), headers, a.max_pages) end
  return request.send(client, "GET", path, query, headers)
end

-- users.memberof
function M.memberof(client, a)
  local fn = "graph.users.memberof"
  a = args.normalize(fn, a, MEMBEROF)
  return collection(client, fn, args.user_path(a.id) .. "/memberOf", a)
end

local LIST = {
  filter = "string", search = "string", orderby = "string", count = "boolean",
  top = "posint", select = "string|table", all = "boolean", max_pages = "posint",
}

-- users.list
function M.list(client, a)
  local fn = "graph.users.list"
  check.table(fn, a == nil and {} or a, LIST)
  return collection(client, fn, "/users", a or {})
end

local ID = { id = "id" }

-- users.revoke_sessions
function M.revoke_sessions(client, a)
  a = args.normalize("graph.users.revoke_sessions", a, ID)
  local doc, response = request.send(client, "POST", args.user_path(a.id) .. "/revokeSignInSessions")
  if not doc then return nil, response end
  return true, response
end

local LICENSE = { id = "id", add = "table", remove = "table" }

-- A JSON array of the list's elements (the caller's table is left unmarked).
local function copy(list)
  local t = {}
  for i, v in ipairs(list or {}) do t[i] = v end
  return t
end

-- users.assign_license
function M.assign_license(client, a)
  local fn = "graph.users.assign_license"
  a = args.normalize(fn, a, LICENSE)
  local add = {}
  for i, l in ipairs(a.add or {}) do
    local name = ("%s: add[%d]"):format(fn, i)
    check.table(name, l, { sku_id = "id", disabled_plans = "table" })
    check.field(name, "sku_id", l.sku_id, "id", true)
    for j, plan in ipairs(l.disabled_plans or {}) do
      check.field(name, "disabled_plans[" .. j .. "]", plan, "id", true)
    end
    add[i] = { disabledPlans = json.array(copy(l.disabled_plans)), skuId = l.sku_id }
  end
  for i, sku in ipairs(a.remove or {}) do check.field(fn, "remove[" .. i .. "]", sku, "id", true) end
  if #add == 0 and #(a.remove or {}) == 0 then
    check.raise(fn .. ": give 'add', 'remove' or both")
  end
  -- Graph wants both arrays, empty or not.
  local body = assert(json.encode({ addLicenses = json.array(add),
                                    removeLicenses = json.array(copy(a.remove)) }))
  return request.send(client, "POST", args.user_path(a.id) .. "/assignLicense", nil, nil, body)
end

local UPDATE = { id = "id", body = "table" }

-- users.update
function M.update(client, a)
  local fn = "graph.users.update"
  a = args.normalize(fn, a, UPDATE)
  check.field(fn, "body", a.body, "table", true)
  local body, msg = json.encode(a.body)
  if not body then
    check.raise(("%s: field 'body' cannot be encoded as JSON: %s"):format(fn, msg))
  end
  local ok, response = request.send(client, "PATCH", args.user_path(a.id), nil, nil, body)
  if not ok then return nil, response end
  return true, response
end

return M
