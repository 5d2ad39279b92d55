--- The one JSON codec of the library: a private lua-cjson instance, so the
-- host's own cjson settings are neither used nor changed.
local cjson = require "cjson.safe"

local codec = cjson.new()
codec.encode_invalid_numbers(false)

--- A Lua sequence as a JSON array, "[]" when empty (cjson alone would
-- write an empty table as the object {}).
local function array(list)
  local parts = {}
  for i, v in ipairs(list) do parts[i] = assert(codec.encode(v)) end
  return "[" .. table.concat(parts, ",") .. "]"
end

return {
  decode = codec.decode,        -- nil, message on bad input; never raises
  encode = codec.encode,
  array = array,
  null = codec.null,
}
