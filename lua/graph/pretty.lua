-- graph.pretty: readable JSON for people (the REPL, the msgraph tool).
-- `pretty.json(v)` writes any Lua value as indented JSON with sorted keys;
-- `pretty.document(t)` makes a result table print that way while it stays a
-- plain table for pairs, ipairs and json.encode. Decoded arrays (and
-- `graph.array` tables) print that way too, and stay `[]` when empty.
-- Scalars and strings are encoded by graph.json; only tables are walked here.
local json = require "graph.json"

local M = {}

local encode, null, ARRAY = json.encode, json.null, json.ARRAY
local floor, huge = math.floor, math.huge
local concat, sort, rep = table.concat, table.sort, string.rep

-- A string as JSON; one that is not UTF-8 (JSON cannot hold it) is shown
-- with U+FFFD for every byte above 127.
local function string_json(s)
  return encode(s) or encode((s:gsub("[\128-\255]", "\239\191\189")))
end

-- Integers exactly, floats in their shortest exact form; NaN and the
-- infinities (not JSON) as null.
local function number_json(n)
  if n ~= n or n == huge or n == -huge then return "null" end
  return encode(n)
end

local function scalar_json(v)
  local t = type(v)
  if t == "string" then return string_json(v) end
  if t == "number" then return number_json(v) end
  if t == "boolean" then return tostring(v) end
  if v == nil or v == null then return "null" end
  return string_json(tostring(v))                -- a function or userdata: its name
end

local function key_string(k)
  if type(k) == "number" then return number_json(k) end
  return tostring(k)
end

-- The length of `t` when it is shown as an array, else nil: a marked array
-- (even empty), or only positive integer keys, not excessively sparse (more
-- than half holes past index 10; holes show as null). Other empty tables are
-- objects, as json.encode writes them.
local function array_length(t)
  if getmetatable(t) == ARRAY and next(t) == nil then return 0 end
  local max, n = 0, 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k ~= floor(k) or k == huge then return nil end
    if k > max then max = k end
    n = n + 1
  end
  if n == 0 or (max > 2 * n and max > 10) then return nil end
  return max
end

local function render(v, out, indent, depth, seen)
  if type(v) ~= "table" then
    out[#out + 1] = scalar_json(v)
    return
  end
  if seen[v] then
    out[#out + 1] = string_json("<cycle>")
    return
  end
  seen[v] = true
  local nl = indent and ("\n" .. rep(indent, depth + 1)) or ""
  local close = indent and ("\n" .. rep(indent, depth)) or ""
  local colon = indent and ": " or ":"
  local n = array_length(v)
  if n then
    if n == 0 then
      out[#out + 1] = "[]"
      seen[v] = nil
      return
    end
    out[#out + 1] = "["
    for i = 1, n do
      out[#out + 1] = (i > 1 and "," or "") .. nl
      render(v[i], out, indent, depth + 1, seen)
    end
    out[#out + 1] = close .. "]"
  else
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = { key_string(k), k } end
    sort(keys, function(a, b) return a[1] < b[1] end)
    if #keys == 0 then
      out[#out + 1] = "{}"
    else
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        out[#out + 1] = (i > 1 and "," or "") .. nl .. string_json(k[1]) .. colon
        render(v[k[2]], out, indent, depth + 1, seen)
      end
      out[#out + 1] = close .. "}"
    end
  end
  seen[v] = nil
end

--- Any Lua value as JSON: indented by two spaces, object keys sorted,
-- tables as arrays or objects as json.encode writes them (an array with
-- holes shows them as null), json.null as null. Never raises: values JSON cannot hold (functions, cycles) are
-- written as strings describing them. `opts.compact`: one line without spaces.
function M.json(v, opts)
  local out = {}
  render(v, out, not (opts and opts.compact) and "  " or nil, 0, {})
  return concat(out)
end

local DOCUMENT = {
  __name = "graph.document",
  __tostring = function(t) return M.json(t) end,
}

--- Give a decoded Graph result a `__tostring` that prints it as pretty JSON.
-- The table is otherwise untouched: no __index, __pairs or __len, so pairs,
-- ipairs, # and json.encode see a plain table. Tables that already have a
-- metatable, and non-tables, are returned as they are.
function M.document(t)
  if type(t) == "table" and getmetatable(t) == nil then setmetatable(t, DOCUMENT) end
  return t
end
--- The metatable `document` sets (the library marks fresh results with it).
M.DOCUMENT = DOCUMENT

-- Decoded arrays print as JSON too (in the REPL, tostring).
ARRAY.__tostring = DOCUMENT.__tostring

--- Whether `t` was marked by `pretty.document`.
function M.is_document(t)
  return type(t) == "table" and getmetatable(t) == DOCUMENT
end

return M
