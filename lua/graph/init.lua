--- lua-msgraph: Microsoft Graph users and Teams presence from Lua.
-- @module graph
local batch = require "graph.batch"
local client = require "graph.client"
local core = require "graph.core"
local presence = require "graph.presence"
local users = require "graph.users"

local graph = {
  _NAME = "lua-msgraph",
  _VERSION = core._VERSION,
  core = core,
}

-- The actions, by namespace: each takes (client, args).
local actions = {
  users = { get = users.get, memberof = users.memberof, update = users.update,
            get_many = users.get_many },
  presence = { get = presence.get, get_many = presence.get_many },
}

-- g.users.get{...} is called with a dot: bind each action to its client.
local function bind(c, get_client)
  local function batch_fn(a) return batch.run(get_client and get_client() or c, a) end
  if c then c.batch = batch_fn else graph.batch = batch_fn end
  for ns, fns in pairs(actions) do
    local t = {}
    for name, fn in pairs(fns) do
      t[name] = function(a) return fn(get_client and get_client() or c, a) end
    end
    if c then c[ns] = t else graph[ns] = t end
  end
end

--- graph.client{ tenant_id =, client_id =, client_secret =, ... } -> client
-- Raises on a programming error (unknown option, wrong type, missing field).
function graph.client(opts)
  local c = client.new(opts == nil and {} or opts)
  bind(c)
  return c
end

local default_opts, default_client

--- graph.configure{...}: the options of the default client used by the
-- module-level functions (graph.users.get{...}). Without it, the
-- environment (AZURE_*, GRAPH_URL) configures that client.
function graph.configure(opts)
  local c = graph.client(opts)       -- validate now, not at first use
  if default_client then default_client:close() end
  default_opts, default_client = opts, c
  return c
end

local function default()
  if not default_client then default_client = graph.client(default_opts or {}) end
  return default_client
end

bind(nil, default)

return graph
