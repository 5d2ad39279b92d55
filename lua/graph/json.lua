--- The one JSON codec of the library: a private lua-cjson instance, so the
-- host's own cjson settings are neither used nor changed.
local cjson = require "cjson.safe"

local codec = cjson.new()
codec.encode_invalid_numbers(false)

return {
  decode = codec.decode,        -- nil, message on bad input; never raises
  encode = codec.encode,
  null = codec.null,
}
