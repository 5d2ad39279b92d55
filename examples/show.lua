--- Tiny helpers the examples share: print a table as indented JSON-like
-- text, and read the target user from the command line or the environment.
local M = {}

local function keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
  return ks
end

local null = require("graph").null

local function render(v, indent, out)
  if v == null then
    out[#out + 1] = "null"
    return
  end
  if type(v) ~= "table" then
    out[#out + 1] = type(v) == "string" and ("%q"):format(v) or tostring(v)
    return
  end
  local pad = ("  "):rep(indent + 1)
  if #v > 0 then
    out[#out + 1] = "[\n"
    for i, item in ipairs(v) do
      out[#out + 1] = pad
      render(item, indent + 1, out)
      out[#out + 1] = (i < #v and ",\n" or "\n")
    end
    out[#out + 1] = ("  "):rep(indent) .. "]"
    return
  end
  out[#out + 1] = "{\n"
  local ks = keys(v)
  for i, k in ipairs(ks) do
    out[#out + 1] = pad .. tostring(k) .. ": "
    render(v[k], indent + 1, out)
    out[#out + 1] = (i < #ks and ",\n" or "\n")
  end
  out[#out + 1] = ("  "):rep(indent) .. "}"
end

function M.pretty(v)
  local out = {}
  render(v, 0, out)
  return table.concat(out)
end

--- Exit with the error's one line when a call failed.
function M.check(result, err)
  if result == nil then
    io.stderr:write("error: ", tostring(err), "\n")
    os.exit(1)
  end
  return result, err
end

return M
