-- graph.json: the one JSON codec of the library, in the C core (yajl;
-- graph.core's json_decode and json_encode in docs/core.ldoc). Decoded arrays
-- carry one shared marker metatable, `json.ARRAY`, so an empty array stays
-- `[]` and an empty object `{}` through a round trip.
local core = require "graph.core"

local ARRAY = core.json_array

-- graph.array
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
  decode = core.json_decode,
  encode = core.json_encode,
  array = array,
  is_array = is_array,
  ARRAY = ARRAY,
  null = core.json_null,        -- the light userdata NULL (as lua-cjson's null)
}
