-- Suite-wide secrets check. Everything the library shows a user during the
-- run (error tables and their tostring, tostring of clients, the output of
-- child scripts) is observed here; at the end of the run it is scanned for
-- every secret the suite used and every token the emulators issued. One hit
-- fails the suite (spec/support/helper.lua).
local util = require "support.util"
local fixtures = require "support.fixtures"

local M = { observed = {}, secrets = {} }

local function add_secret(s)
  if type(s) == "string" and #s >= 6 then M.secrets[s] = true end
end

for _, k in ipairs{ "client_secret", "limited_client_secret", "adele_password",
                    "megan_password", "seed_refresh_token" } do
  add_secret(fixtures[k])
end
add_secret("cert-pass-123")                      -- app-encrypted.pem's pass phrase

--- Remember what a user could see: any value (tables are walked).
function M.observe(v)
  for _, s in ipairs(util.strings_in(v)) do M.observed[#M.observed + 1] = s end
  if type(v) ~= "string" then M.observed[#M.observed + 1] = tostring(v) end
end

--- Tokens an emulator issued (access and refresh): secrets too.
function M.add_tokens(list)
  for _, t in ipairs(list or {}) do add_secret(t) end
end

--- Private-key text from the certificates the run generated.
function M.add_key_file(path)
  local text = util.read_file(path)
  if not text then return end
  for line in text:gmatch("[^\n]+") do
    if not line:find("-----", 1, true) and #line >= 40 then add_secret(line) end
  end
end

--- The hits: { { secret =, seen = } }.
function M.scan()
  local hits = {}
  for _, seen in ipairs(M.observed) do
    for secret in pairs(M.secrets) do
      if seen:find(secret, 1, true) then hits[#hits + 1] = { secret = secret, seen = seen } end
    end
  end
  return hits
end

return M
