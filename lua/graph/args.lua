--- Action arguments: the connector's input shapes, path segments and
-- query strings. Identifiers never reach any path but their own.
local check = require "graph.check"
local core = require "graph.core"

local M = {}

local byte, find, gsub = string.byte, string.find, string.gsub
local escape = core.escape

-- The connector nests inputs: { ["path parameters"] = {...}, parameters =
-- { ["$select"] = ... }, ["json body"] = {...} }. These map them to ours.
local path_names = { id = "id", ["user id"] = "id", ["email address"] = "id" }
local param_names = {
  ["$select"] = "select", ["$filter"] = "filter", ["$search"] = "search",
  ["$orderby"] = "orderby", ["$count"] = "count", ["$top"] = "top",
}

local CONNECTOR = { ["path parameters"] = true, parameters = true, ["json body"] = true }

local function merge(fname, out, key, value)
  if out[key] ~= nil and out[key] ~= value then
    check.raise(("%s: field '%s' is given twice with different values"):format(fname, key))
  end
  out[key] = value
end

-- Connector "$count" is a string ("true", or any word): only "false" is false.
local function truthy(v)
  if type(v) == "string" then return v ~= "false" and v ~= "" end
  return v
end

-- The connector's nested shape, flattened and checked against `schema`.
local function flatten(fname, args, schema)
  local flat = {}
  for k, v in pairs(args) do
    if k == "path parameters" or k == "parameters" then
      check.field(fname, k, v, "table")
      local names = (k == "parameters") and param_names or path_names
      for pk, pv in pairs(v) do
        local name = names[pk]
        if not name or schema[name] == nil then
          check.raise(("%s: unknown option '%s' in '%s'"):format(fname, tostring(pk), k))
        end
        merge(fname, flat, name, name == "count" and truthy(pv) or pv)
      end
    elseif k == "json body" then
      merge(fname, flat, "body", v)
    else
      merge(fname, flat, k, v)
    end
  end
  if flat.top ~= nil and type(flat.top) == "string" then flat.top = tonumber(flat.top) or flat.top end
  check.table(fname, flat, schema)               -- checks id's type and content
  if flat.id == nil then check.raise(("%s: field 'id' is required"):format(fname)) end
  return flat
end

--- Accept both our flat shape and the connector's nested one; returns a flat
-- table checked against `schema`. Our own flat table is checked in place, in
-- one pass, and returned as it is.
function M.normalize(fname, args, schema)
  if type(args) == "string" then args = { id = args } end   -- users.get("id") from a REPL
  if type(args) ~= "table" then
    check.raise(("%s: expected a table argument, got %s"):format(fname, type(args)))
  end
  for k, v in pairs(args) do
    local kind = schema[k]
    if kind ~= nil then
      check.value(fname, k, v, kind)
    elseif CONNECTOR[k] then
      return flatten(fname, args, schema)
    else
      check.unknown(fname, k)
    end
  end
  if args.id == nil then check.raise(("%s: field 'id' is required"):format(fname)) end
  return args
end

-- Path segments: encode all but unreserved characters; a segment of dots only
-- would be resolved as "." or ".." by some stacks, so encode those too.
local function segment(s)
  if byte(s, 1) == 46 and find(s, "^%.+$") then return (gsub(s, "%.", "%%2E")) end
  return escape(s)
end
M.segment = segment

--- "/users/{id}" for an id or a userPrincipalName, after `root` when given
-- (one string built, not two). A UPN that starts with "$" must use the key
-- syntax users('...') (Graph docs, user-get), with OData's doubled
-- apostrophes.
function M.user_path(id, root)
  if byte(id, 1) == 36 then                                  -- "$"
    return (root or "") .. "/users('" .. escape((gsub(id, "'", "''"))) .. "')"
  end
  return (root or "") .. "/users/" .. segment(id)
end

-- Query values keep the characters OData expressions are written with; the
-- ones that would end a parameter or the query (& = # + % space) are encoded.
local QUERY_KEEP = ",'():$@/*"

--- Encode { { "$select", "a,b" }, ... } as a query string, in order.
function M.query(pairs_list)
  local parts = {}
  for _, p in ipairs(pairs_list) do
    if p[2] ~= nil then
      parts[#parts + 1] = p[1] .. "=" .. core.escape(tostring(p[2]), QUERY_KEEP)
    end
  end
  return table.concat(parts, "&")
end

return M
