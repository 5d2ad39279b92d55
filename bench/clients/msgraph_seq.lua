-- lua-msgraph row: N sequential g.users.get{ id = ... }, each decoded to a table.
--   lua5.4 bench/clients/msgraph_seq.lua GRAPH_URL LOGIN_URL N [CA_FILE] [WARMUP] [RSS_EVERY]
-- Prints: RESULT n= wall= cpu=   (cpu: os.clock, user+sys of this process, over the N requests)
-- With RSS_EVERY > 0 also prints "RSS i=<requests> kib=<VmRSS>" every RSS_EVERY requests.
package.path = arg[0]:gsub("[^/]*$", "") .. "?.lua;" .. package.path
local graph = require "graph"
local core = require "graph.core"
local ids = require "ids"

local graph_url, login_url = arg[1], arg[2]
local n = tonumber(arg[3])
local ca = (arg[4] and arg[4] ~= "") and arg[4] or nil
local warm = tonumber(arg[5] or 100)
local rss_every = tonumber(arg[6] or 0)

local function rss_kib()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

local g = graph.client{
  tenant_id = "contoso.onmicrosoft.com", client_id = "6731de76-14a6-49ae-97bc-6eba6914391e",
  client_secret = "bench-secret", url = graph_url, login_url = login_url, ca_file = ca,
}
local nids = #ids

local function one(i)
  local user, err = g.users.get{ id = ids[i % nids + 1] }
  if not user then
    io.stderr:write("msgraph_seq: request ", i, " failed: ", tostring(err), "\n")
    os.exit(1)
  end
  return user
end

for i = 1, warm do one(i) end
local t0, c0 = core.now(), os.clock()
local last
for i = 1, n do
  last = one(i)
  if rss_every > 0 and i % rss_every == 0 then
    print(("RSS i=%d kib=%d"):format(i, rss_kib()))
  end
end
local c1, t1 = os.clock(), core.now()
assert(last.displayName == "Adele Vance", "unexpected body")
print(("RESULT n=%d wall=%.6f cpu=%.6f"):format(n, t1 - t0, c1 - c0))
g:close()
