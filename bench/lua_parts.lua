-- One piece of users.get's Lua path, K times, no network: for callgrind,
-- which counts it at K = 0 and K = 20000 (see cg_parts.sh); the difference
-- over K is one call's instructions.
--   lua5.4 bench/lua_parts.lua PART K
-- PART: empty | normalize | user_path | client_url | json_decode | document
local dir = arg[0]:gsub("[^/]*$", "")
package.path = dir .. "../lua/?.lua;" .. dir .. "../lua/?/init.lua;" .. package.path
local graph = require "graph"
local args = require "graph.args"
local json = require "graph.json"
local part, k = arg[1], tonumber(arg[2])

-- the benchmark's user document and headers (bench/nginx.conf.in)
local BODY = '{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users/$entity",' ..
  '"businessPhones":["+1 425 555 0109"],"displayName":"Adele Vance","givenName":"Adele",' ..
  '"jobTitle":"Retail Manager","mail":"AdeleV@contoso.onmicrosoft.com","mobilePhone":null,' ..
  '"officeLocation":"18/2111","preferredLanguage":"en-US","surname":"Vance",' ..
  '"userPrincipalName":"AdeleV@contoso.onmicrosoft.com","id":"87d349ed-44d7-43e1-9a83-5f2406dee5bd"}'
local HEADERS = { ["content-type"] = "application/json;odata.metadata=minimal;" ..
  "odata.streaming=true;IEEE754Compatible=false;charset=utf-8" }
local GET = { id = "id", select = "string|table" }
local ID = "adele.vance@contoso.onmicrosoft.com"

local g = graph.client{
  tenant_id = "contoso.onmicrosoft.com", client_id = "6731de76-14a6-49ae-97bc-6eba6914391e",
  client_secret = "bench-secret", url = "https://127.0.0.1:9", login_url = "https://127.0.0.1:9",
}

local c = require("graph.client").of(g) -- the client behind the public object

local run = {
  normalize = function() return args.normalize("graph.users.get", { id = ID }, GET) end,
  user_path = function() return args.user_path(ID, c.v1_root) end,      -- users.get today
  client_url = function() return c:url(args.user_path(ID)) end,         -- as get_many does
  json_decode = function() return json.decode(BODY) end,
  document = function() return c:document("GET", 200, "OK", HEADERS, BODY) end,
  empty = function() return {} end,
}
local f = assert(run[part], "unknown part")
for _ = 1, k do f() end
