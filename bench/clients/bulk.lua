-- Bulk rows, against the project's emulator (started by bench/run.sh with --latency 0.05).
--   lua5.4 bench/clients/bulk.lua probe
--   lua5.4 bench/clients/bulk.lua presence_many READY_FILE N        g.presence.get_many, N ids
--   lua5.4 bench/clients/bulk.lua presence_get  READY_FILE N        N sequential g.presence.get
--   lua5.4 bench/clients/bulk.lua users_many    READY_FILE N CONC   g.users.get_many, concurrency CONC
--   lua5.4 bench/clients/bulk.lua batch         READY_FILE N        g.batch of N GET /users/{id}
-- Prints: RESULT n= wall= cpu= http= ok= errors=
--   http: Graph HTTP requests the emulator counted (its /_emulator/stats graph_requests),
--   ok/errors: result entries that are users/presences vs error entries.
-- The emulator has 30 seeded users: the N ids cycle through their ids.
-- A call the library does not have yet prints "PENDING <reason>" and exits 0.
local graph = require "graph"
local core = require "graph.core"
local json = require "graph.json"

local mode = arg[1]
local here = arg[0]:gsub("[^/]*$", "")

if mode == "probe" then
  local g = graph.client{ tenant_id = "t", client_id = "c", client_secret = "s",
                          url = "http://127.0.0.1:9", login_url = "http://127.0.0.1:9" }
  if type(g.presence) ~= "table" or type(g.presence.get_many) ~= "function" then
    print("pending: get_many not available")
    os.exit(1)
  end
  print("available")
  os.exit(0)
end

local function slurp(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return s
end

local ready = json.decode(slurp(arg[2]))
local n = assert(tonumber(arg[3]), "N")
local conc = tonumber(arg[4])

local gen = assert(io.popen("python3 " .. here .. "../../emulator/gen_tenant.py -"))  -- the seeded tenant
local tenant = json.decode(gen:read("a"))
gen:close()
local seeded = {}
for _, u in ipairs(tenant.users) do seeded[#seeded + 1] = u.id end
local ids = {}
for i = 1, n do ids[i] = seeded[(i - 1) % #seeded + 1] end

local g = graph.client{
  tenant_id = ready.tenant_id, client_id = ready.client_id, client_secret = ready.client_secret,
  url = ready.graph_url, login_url = ready.login_url,
}

local control = core.session{}
local function graph_requests()
  local status, _, _, body = control:request("GET", ready.url .. "/_emulator/stats", nil, nil, false)
  assert(status == 200, "emulator stats")
  return json.decode(body).graph_requests
end

-- an entry is an error if it carries an error's fields (kind) or is wrapped as { err = }
local function is_error(e)
  if type(e) ~= "table" then return true end
  if type(e.status) == "number" and e.status >= 400 then return true end   -- a batch response
  return e.kind ~= nil or e.err ~= nil or (e.error ~= nil and e.id == nil)
end

local function pending(what)
  print("PENDING " .. what .. " not available")
  os.exit(0)
end

-- the token first, so that every row measures Graph requests only
assert(g.users.get{ id = seeded[1] })

local run
if mode == "presence_many" then
  if not g.presence.get_many then pending("presence.get_many") end
  run = function() return g.presence.get_many{ ids = ids } end
elseif mode == "presence_get" then
  run = function()
    local out = {}
    for i = 1, n do
      local p, err = g.presence.get{ id = ids[i] }
      out[i] = p or err
    end
    return out
  end
elseif mode == "users_many" then
  if not g.users.get_many then pending("users.get_many") end
  run = function() return g.users.get_many{ ids = ids, concurrency = conc } end
elseif mode == "batch" then
  if type(g.batch) ~= "function" then pending("batch") end
  local requests = {}
  for i = 1, n do requests[i] = { method = "GET", url = "/users/" .. ids[i] } end
  run = function() return g.batch{ requests = requests } end
else
  error("unknown mode " .. tostring(mode))
end

local h0 = graph_requests()
local t0, c0 = core.now(), os.clock()
local out, err = run()
local c1, t1 = os.clock(), core.now()
local h1 = graph_requests()
if not out then
  io.stderr:write("bulk ", mode, ": ", tostring(err), "\n")
  os.exit(1)
end
local list = out.results or out.responses or out       -- tolerate a wrapped result
local ok, bad = 0, 0
for i = 1, n do
  if is_error(list[i]) then bad = bad + 1 else ok = ok + 1 end
end
print(("RESULT n=%d wall=%.6f cpu=%.6f http=%d ok=%d errors=%d"):format(
  n, t1 - t0, c1 - c0, h1 - h0, ok, bad))
