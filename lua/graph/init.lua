-- lua-msgraph: Microsoft Graph users and Teams presence from Lua. What each
-- public call takes and returns is in docs/graph.ldoc (`make docs`), the one
-- reference; comments here say how it is put together.
local batch = require "graph.batch"
local client = require "graph.client"
local core = require "graph.core"
local json = require "graph.json"
local presence = require "graph.presence"
local request = require "graph.request"
local security = require "graph.security"
local users = require "graph.users"

local graph = {
  _NAME = "lua-msgraph",
  _VERSION = core._VERSION,
  core = core,
}

-- The actions: each takes (client, args). Tables nest into namespaces.
local actions = {
  request = request.request,
  pages = request.pages,
  items = request.items,
  batch = batch.run,
  users = { get = users.get, list = users.list, memberof = users.memberof,
            update = users.update, get_many = users.get_many,
            revoke_sessions = users.revoke_sessions, assign_license = users.assign_license },
  presence = { get = presence.get, get_many = presence.get_many },
  security = { alerts = { list = security.list, get = security.get, update = security.update } },
}

-- g.users.get{...} is called with a dot: bind each action to its client, or
-- (for the module-level functions) to the default client, made on first use.
local function bind(into, tree, owner, get_client)
  for name, fn in pairs(tree) do
    if type(fn) == "table" then
      into[name] = into[name] or {}
      bind(into[name], fn, owner, get_client)
    elseif owner then
      into[name] = function(a)
        if owner.closed then error(client.CLOSED, 2) end
        return fn(owner, a)
      end
    else
      into[name] = function(a)
        local c = get_client()
        if c.closed then error(client.CLOSED, 2) end
        return fn(c, a)
      end
    end
  end
end

-- A client with every action bound to it.
function graph.client(opts)
  return client.public(client.new(opts == nil and {} or opts),
                       function(pub, c) bind(pub, actions, c) end)
end

graph.array = json.array

graph.loop = require "graph.loop"   -- adapters for a host's event loop: graph.loop.luv() ...

graph.null = json.null

local default_opts, default_client

-- The default client is replaced only once the new options are valid.
function graph.configure(opts)
  local c = graph.client(opts)       -- validate now, not at first use
  if default_client then default_client:close() end
  default_opts, default_client = opts, c
  return c
end

local function default()
  if not default_client then default_client = graph.client(default_opts or {}) end
  return client.of(default_client)
end

bind(graph, actions, nil, default)

return graph
