--- g.request, g.pages and g.items: any Graph endpoint with the client's
-- auth, retries, errors and return convention. The actions are thin uses
-- of `send`.
local args = require "graph.args"
local check = require "graph.check"
local json = require "graph.json"

local M = {}

local FN = "graph.request"
local SPEC = {
  method = "string", path = "string", query = "table", headers = "table",
  body = "body", version = "string",
}
local PAGES = { path = "string", query = "table", headers = "table", version = "string",
                max_pages = "posint" }
local VERSIONS = { ["v1.0"] = true, beta = true }

--- One call: `path` below the version root ("/users/x"), `query` an encoded
-- query string. Returns the document (true when there is none), response.
function M.send(client, method, path, query, headers, body, version)
  return client:fetch(method, client:url(path, query, version), headers, body)
end

-- "/beta/users" and "/v1.0/users" name their version; "/users" takes `version`.
local function split_version(path, version)
  local v, rest = path:match("^/([^/]+)(/.*)$")
  if v and VERSIONS[v] then return v, rest end
  return version or "v1.0", path
end

-- Query tables: { ["$top"] = 10 } (sorted by name) or { { "$top", 10 }, ... }.
local function query_string(q)
  if q == nil then return nil end
  local list = {}
  if #q > 0 then
    for i, p in ipairs(q) do
      if type(p) ~= "table" or type(p[1]) ~= "string" then
        check.raise(("%s: field 'query' item %d must be { name, value }"):format(FN, i))
      end
      list[i] = { p[1], p[2] }
    end
  else
    for k, v in pairs(q) do
      if type(k) ~= "string" then check.raise(FN .. ": field 'query' keys must be strings") end
      list[#list + 1] = { k, v }
    end
    table.sort(list, function(a, b) return a[1] < b[1] end)
  end
  for _, p in ipairs(list) do
    local t = type(p[2])
    if t ~= "string" and t ~= "number" and t ~= "boolean" then
      check.raise(("%s: query parameter '%s' must be a string, number or boolean"):format(FN, p[1]))
    end
    check.field(FN, "query." .. p[1], tostring(p[2]), "string")
    if p[1]:find("[^%w$_.~-]") then
      check.raise(("%s: query parameter name '%s' is not valid"):format(FN, p[1]))
    end
  end
  return args.query(list)
end

--- Validate a g.request / g.pages table; returns method, path, query, headers, body, version.
local function prepare(fname, spec, default_method, schema)
  check.table(fname, spec, schema or SPEC)
  local method = (spec.method or default_method):upper()
  if not method:match("^%u+$") then check.raise(fname .. ": field 'method' is not an HTTP method") end
  local path = check.field(fname, "path", spec.path, "url", true)
  if path:sub(1, 1) ~= "/" or path:find("[%s?#%c]") then
    check.raise(("%s: field 'path' must start with '/' and hold no space, '?' or '#' " ..
      "(put parameters in 'query')"):format(fname))
  end
  if spec.version and not VERSIONS[spec.version] then
    check.raise(fname .. ": field 'version' must be 'v1.0' or 'beta'")
  end
  for k, v in pairs(spec.headers or {}) do
    check.field(fname, "headers." .. tostring(k), v, "string", true)
  end
  local body = spec.body
  if type(body) == "table" then
    local encoded, msg = json.encode(body)
    if not encoded then check.raise(("%s: field 'body' cannot be encoded as JSON: %s"):format(fname, msg)) end
    body = encoded
  end
  local version, rest = split_version(path, spec.version)
  return method, rest, query_string(spec.query), spec.headers, body, version
end

-- g.request
function M.request(client, spec)
  local method, path, query, headers, body, version = prepare(FN, spec, "GET")
  return client:fetch(method, client:url(path, query, version), headers, body, true)
end

-- What g.pages and g.items return: an iterator for a generic for, which is
-- also an object with :next(), the same step as a method call. PUC Lua 5.1
-- cannot yield from inside a for iterator, so there a client with a loop
-- walks with `local page, r = pages:next()` (LuaJIT and 5.2+ yield from both).
local Steps = { __call = function(self) return self.step() end }
Steps.__index = { next = function(self) return self.step() end }

local function steps(step)
  return setmetatable({ step = step }, Steps)
end

-- The page iterator of a checked g.pages / g.items table.
local function walk(fname, client, spec)
  local _, path, query, headers, _, version = prepare(fname, spec, "GET", PAGES)
  return client:walk(client:url(path, query, version), headers, spec.max_pages)
end

-- g.pages: follows @odata.nextLink lazily, one request per step.
function M.pages(client, spec)
  return steps(walk("graph.pages", client, spec))
end

-- g.items: fetches pages as needed.
function M.items(client, spec)
  local next_page = walk("graph.items", client, spec)
  local page, i = nil, 0
  return steps(function()
    while true do
      if page and i < #page.value then
        i = i + 1
        return page.value[i]
      end
      local err
      page, err = next_page()
      i = 0
      if page == nil then return nil end
      if page == false then return false, err end
    end
  end)
end

return M
