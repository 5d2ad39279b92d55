-- The REPL's bootstrap (`make repl`, or `lua5.4 -i examples/repl.lua` from the
-- repository after `make`): `graph` loaded and a client `g` ready.
--   * a real tenant when AZURE_TENANT_ID and AZURE_CLIENT_ID are set: with
--     AZURE_CLIENT_SECRET (or AZURE_PASSWORD, AZURE_CLIENT_CERTIFICATE_PATH)
--     as the environment says, else by device code (sign in in a browser);
--   * otherwise the bundled Graph emulator, started here and stopped when
--     the REPL exits (and by --watch-pid should this process die first).
-- Results print as indented JSON, errors as their one line.
-- luacheck: ignore 131 (the globals are for the person at the prompt)
graph = require "graph"
pretty = require "graph.pretty"
json = require "graph.json"

local root = (debug.getinfo(1, "S").source:match("^@(.*)/examples/[^/]+$")) or "."

local function env(name)
  local v = os.getenv(name)
  return v ~= nil and v ~= "" and v or nil
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Start emulator/server.py on a free port; returns what its ready file says.
local function start_emulator()
  local p = assert(io.popen("mktemp -d /tmp/msgraph-repl.XXXXXX"))
  local dir = p:read("*l")
  p:close()
  local ready, log = dir .. "/ready.json", dir .. "/emulator.log"
  local me = tonumber(read_file("/proc/self/stat"):match("^(%d+)"))   -- this Lua process
  local server = quote(root .. "/emulator/server.py")
  p = assert(io.popen(("python3 %s --port 0 --ready-file %s --watch-pid %d --quiet " ..
    ">%s 2>&1 </dev/null & echo $!"):format(server, quote(ready), me, quote(log))))
  local spawned = tonumber(p:read("*a"):match("%d+"))
  p:close()
  local deadline = graph.core.now() + 10
  local info
  repeat
    local text = read_file(ready)
    info = text and text ~= "" and json.decode(text) or nil
    if not info and graph.core.now() > deadline then
      os.execute("kill " .. spawned .. " 2>/dev/null")
      error("the emulator did not start; its log:\n" .. (read_file(log) or ""), 0)
    end
    if not info then graph.core.sleep(0.05) end
  until info
  info.pid = math.floor(tonumber(info.pid) or spawned)
  -- Finalised when the Lua state closes, i.e. when the REPL ends. Kept in
  -- package.loaded so that reassigning `emulator` cannot stop it early.
  local function stop()
    os.execute(("kill %d %d 2>/dev/null; rm -rf %s"):format(info.pid, spawned, quote(dir)))
  end
  local stopper
  if newproxy then                       -- Lua 5.1 and LuaJIT finalise only userdata
    stopper = newproxy(true)
    getmetatable(stopper).__gc = stop
  else
    stopper = setmetatable({}, { __gc = stop })
  end
  package.loaded["repl.emulator.stopper"] = stopper
  return info
end

local where
if env "AZURE_TENANT_ID" and env "AZURE_CLIENT_ID" then
  local secret = env "AZURE_CLIENT_SECRET" or env "AZURE_PASSWORD" or env "AZURE_CLIENT_CERTIFICATE_PATH"
  local ok, c = pcall(graph.client, not secret and
    { auth = "device_code", tenant_id = env "AZURE_TENANT_ID", client_id = env "AZURE_CLIENT_ID" } or nil)
  if ok then g = c else print("graph.client failed: " .. tostring(c)) end
  where = ("tenant %s (%s)"):format(env "AZURE_TENANT_ID", secret and "from AZURE_*" or "device code")
else
  emulator = start_emulator()
  g = graph.client{ tenant_id = emulator.tenant_id, client_id = emulator.client_id,
                    client_secret = emulator.client_secret, url = emulator.url,
                    login_url = emulator.login_url or emulator.url }
  where = "the bundled emulator at " .. emulator.url .. " (`emulator` holds its details)"
end

print(([[
lua-msgraph %s REPL: `g` is a client on %s
  g.users.get{ id = "adele.vance@contoso.onmicrosoft.com", select = "id,displayName" }
  g.presence.get{ id = "87d349ed-44d7-43e1-9a83-5f2406dee5bd" }
  g.users.memberof{ id = "adele.vance@contoso.onmicrosoft.com", filter = "startswith(displayName,'G')" }
  g.users.update{ id = "lynne.robbins@contoso.onmicrosoft.com", body = { jobTitle = "CFO" } }
  g.request{ path = "/users", query = { ["$top"] = 3, ["$select"] = "displayName" } }
  for u, err in g.items{ path = "/users" } do print(u and u.displayName or err) end
Results print as JSON (pretty.json(v) for any value), errors as one line. Ctrl-D quits.]])
  :format(graph._VERSION or "", where))
