-- Used by the curl command-line row: decode stdin as JSON, check it is a user.
local cjson = require "cjson"
local user = cjson.decode(io.read("a"))
if user.displayName ~= "Adele Vance" then os.exit(1) end
