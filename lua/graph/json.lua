--- graph.json: the one JSON codec of the library, in the C core (yajl).
-- Decoded arrays carry one shared marker metatable, `json.ARRAY`, so an
-- empty array stays `[]` and an empty object `{}` through a round trip;
-- `pairs`, `ipairs`, `next` and `#` see plain tables. Integers that fit are
-- Lua integers on Lua 5.3 and 5.4. JSON null is `json.null`.
-- @module graph.json
local core = require "graph.core"

local ARRAY = core.json_array

--- Mark `t` (or a new empty table) as a JSON array and return it:
-- `{ businessPhones = json.array() }` encodes as `{"businessPhones":[]}`.
-- Raises when `t` is not a table.
local function array(t)
  if t == nil then return setmetatable({}, ARRAY) end
  if type(t) ~= "table" then
    error(("graph.array: expected a table or nothing, got %s"):format(type(t)), 2)
  end
  return setmetatable(t, ARRAY)
end

local function is_array(t)
  return type(t) == "table" and getmetatable(t) == ARRAY
end

return {
  decode = core.json_decode,    -- value | nil, message; never raises on bad input
  encode = core.json_encode,    -- text | nil, message naming the problem and its key path
  array = array,
  is_array = is_array,
  ARRAY = ARRAY,
  null = core.json_null,        -- the light userdata NULL (as lua-cjson's null)
}
