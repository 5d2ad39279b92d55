--- The few Lua 5.1/5.2/5.3/LuaJIT differences the library meets, in one
-- place (feature-detected, as lua-http does).
local M = {}

M.unpack = table.unpack or unpack   -- luacheck: ignore 113 143

--- v as an integer when it has an integral value, else nil (math.tointeger).
function M.tointeger(v)
  if type(v) ~= "number" or v % 1 ~= 0 or v ~= v then return nil end
  return math.tointeger and math.tointeger(v) or v
end

return M
