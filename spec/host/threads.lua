-- Run by threads_host in each thread (its own lua_State): a client of its
-- own against the emulator named in the environment, many requests.
local thread = ...
local graph = require "graph"

local g = graph.client{
  tenant_id = os.getenv("AZURE_TENANT_ID"), client_id = os.getenv("AZURE_CLIENT_ID"),
  client_secret = os.getenv("AZURE_CLIENT_SECRET"),
  url = os.getenv("GRAPH_URL"), login_url = os.getenv("GRAPH_URL"),
}
local ids = { "adele.vance@contoso.onmicrosoft.com", "87d349ed-44d7-43e1-9a83-5f2406dee5bd" }
for i = 1, tonumber(os.getenv("THREAD_REQUESTS") or "25") do
  local user, err = g.users.get{ id = ids[i % 2 + 1], select = "id,displayName" }
  assert(user, ("thread %d request %d: %s"):format(thread, i, tostring(err)))
  assert(user.id == "87d349ed-44d7-43e1-9a83-5f2406dee5bd", "wrong user")
  local p = assert(g.presence.get{ id = user.id })
  assert(type(p.availability) == "string")
end
g:close()
