-- "The usual Lua way": LuaSocket's socket.http / LuaSec's ssl.https + lua-cjson.
-- Neither keeps connections alive: every request is a new TCP (and TLS) connection,
-- which is what users of these modules get.
--   lua5.4 bench/clients/luasocket_seq.lua GRAPH_URL LOGIN_URL N [CA_FILE] [WARMUP]
-- Prints: RESULT n= wall= cpu=   (cpu: os.clock, user+sys of this process)
package.path = arg[0]:gsub("[^/]*$", "") .. "?.lua;" .. package.path
local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"
local ids = require "ids"

local graph_url, login_url = arg[1], arg[2]
local n = tonumber(arg[3])
local ca = (arg[4] and arg[4] ~= "") and arg[4] or nil
local warm = tonumber(arg[5] or 20)

local request = http.request
if graph_url:match("^https:") then
  local https = require "ssl.https"
  request = https.request
end

local function call(method, url, headers, body)
  local chunks = {}
  local req = {
    url = url, method = method, headers = headers, sink = ltn12.sink.table(chunks),
    source = body and ltn12.source.string(body) or nil,
  }
  if ca then req.cafile, req.verify, req.protocol = ca, "peer", "any" end
  local ok, status = request(req)
  if not ok or status ~= 200 then
    io.stderr:write("luasocket_seq: ", method, " ", url, " failed: ", tostring(status), "\n")
    os.exit(1)
  end
  return cjson.decode(table.concat(chunks))
end

-- client credentials grant, once
local form = "grant_type=client_credentials&client_id=6731de76-14a6-49ae-97bc-6eba6914391e" ..
  "&client_secret=bench-secret&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
local tok = call("POST", login_url .. "/contoso.onmicrosoft.com/oauth2/v2.0/token", {
  ["content-type"] = "application/x-www-form-urlencoded", ["content-length"] = tostring(#form),
}, form).access_token
local headers = { authorization = "Bearer " .. tok, accept = "application/json" }

local nids = #ids
local function one(i)
  return call("GET", graph_url .. "/v1.0/users/" .. ids[i % nids + 1], headers)
end

for i = 1, warm do one(i) end
local t0, c0 = socket.gettime(), os.clock()
local last
for i = 1, n do last = one(i) end
local c1, t1 = os.clock(), socket.gettime()
assert(last.displayName == "Adele Vance", "unexpected body")
print(("RESULT n=%d wall=%.6f cpu=%.6f"):format(n, t1 - t0, c1 - c0))
