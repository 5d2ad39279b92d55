--- Argument checking for the public API: programming errors raise a Lua
-- error that names the function and the field, blamed on the caller's line.
local M = {}

local error, type, pairs, tostring = error, type, pairs, tostring
local find = string.find
local getinfo = debug.getinfo

-- Every file of this library lives in one directory: errors are reported at
-- the first stack level outside it.
local libdir = getinfo(1, "S").source:match("^@(.*[/\\])[^/\\]+$") or "\0"

local function raise(msg)
  local level = 2
  while true do
    local info = getinfo(level, "S")
    if not info then break end
    local src = info.source
    if info.what ~= "C" and src:sub(1, #libdir + 1) ~= "@" .. libdir then break end
    level = level + 1
  end
  error(msg, level)
end
M.raise = raise

local function typename(v)
  local t = type(v)
  if t == "number" and math.type and math.type(v) == "integer" then return "integer" end
  return t
end

--- Kinds understood by `field`: a Lua type name, or one of these.
local kinds = {
  string = function(v) return type(v) == "string" end,
  number = function(v) return type(v) == "number" end,
  boolean = function(v) return type(v) == "boolean" end,
  table = function(v) return type(v) == "table" end,
  ["function"] = function(v) return type(v) == "function" end,
  id = function(v) return type(v) == "string" and v ~= "" end,
  url = function(v) return type(v) == "string" and v ~= "" end,
  body = function(v) return type(v) == "string" or type(v) == "table" end,
  posint = function(v) return type(v) == "number" and v >= 1 and v % 1 == 0 end,
  ["string|table"] = function(v) return type(v) == "string" or type(v) == "table" end,
  ["string|boolean"] = function(v) return type(v) == "string" or type(v) == "boolean" end,
  ["table|false"] = function(v) return type(v) == "table" or v == false end,
  concurrency = function(v) return type(v) == "number" and v % 1 == 0 and v >= 1 and v <= 256 end,
}

local descriptions = {
  id = "a non-empty string",
  url = "a non-empty string",
  body = "a string or a table",
  posint = "a positive integer",
  ["string|table"] = "a string or an array of strings",
  ["string|boolean"] = "a boolean",
  ["table|false"] = "a table or false",
  concurrency = "an integer from 1 to 256",
}

--- Identifiers (user ids and UPNs, alert ids, SKUs) are at most this many
-- bytes: Graph's are far shorter (a GUID is 36, a UPN at most 113), and a
-- larger one could only make a URL no server takes.
M.MAX_ID = 1024
local MAX_ID = M.MAX_ID

--- Raise unless the present `value` has `kind`. The plain Lua type names are
-- tested directly: this runs for every field of every call. A string with
-- CR, LF or NUL would split a header or a log line: refused too, except in
-- a request body (kind "body"), where JSON or text may hold newlines.
function M.value(fname, name, value, kind)
  local t, ok = type(value), true
  if kind ~= t then
    if kind == "id" then ok = t == "string" and value ~= "" else ok = kinds[kind](value) end
  end
  if not ok then
    raise(("%s: field '%s' must be %s, got %s"):format(
      fname, name, descriptions[kind] or ("a " .. kind), typename(value)))
  end
  if t ~= "string" or kind == "body" then return end
  if find(value, "\r", 1, true) or find(value, "\n", 1, true) or find(value, "\0", 1, true) then
    raise(("%s: field '%s' contains CR, LF or NUL"):format(fname, name))
  end
  if kind == "id" and #value > MAX_ID then
    raise(("%s: field '%s' is longer than %d bytes"):format(fname, name, MAX_ID))
  end
end
local check_value = M.value

--- Raise unless `value` has `kind`; nil passes unless `required`.
function M.field(fname, name, value, kind, required)
  if value == nil then
    if required then raise(("%s: field '%s' is required"):format(fname, name)) end
    return value
  end
  check_value(fname, name, value, kind)
  return value
end

--- Raise on an option `schema` does not list (a typo is a bug).
function M.unknown(fname, key)
  raise(("%s: unknown option '%s'"):format(fname, tostring(key)))
end

--- Check every field of `t` against `schema` ({ name = kind }): one pass
-- over the fields given, an unknown one raising.
function M.table(fname, t, schema)
  if type(t) ~= "table" then
    raise(("%s: expected a table argument, got %s"):format(fname, typename(t)))
  end
  for k, v in pairs(t) do
    local kind = schema[k]
    if kind == nil then M.unknown(fname, k) end
    check_value(fname, k, v, kind)
  end
  return t
end

--- An array of non-empty identifiers (bulk calls).
function M.ids(fname, ids)
  M.field(fname, "ids", ids, "table", true)
  local n = #ids
  for k in pairs(ids) do
    if type(k) ~= "number" or k % 1 ~= 0 or k < 1 or k > n then
      raise(("%s: field 'ids' must be an array"):format(fname))
    end
  end
  for i = 1, n do M.field(fname, "ids[" .. i .. "]", ids[i], "id", true) end
  return ids
end

--- A string, or an array of strings, as one comma-separated string.
function M.list(fname, name, v)
  if type(v) ~= "table" then return v end
  for i = 1, #v do
    if type(v[i]) ~= "string" or v[i] == "" or v[i]:find("[%z\r\n,]") then
      raise(("%s: field '%s' item %d must be a non-empty string"):format(fname, name, i))
    end
  end
  for k in pairs(v) do
    if type(k) ~= "number" or k % 1 ~= 0 or k < 1 or k > #v then
      raise(("%s: field '%s' must be an array of strings"):format(fname, name))
    end
  end
  return table.concat(v, ",")
end

return M
