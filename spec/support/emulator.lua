-- Start, stop and drive the Graph emulator (emulator/server.py) from specs.
--
--   local emulator = require "support.emulator"
--   local emu = emulator.shared()          -- one plain emulator for the whole run
--   local tls = emulator.start{ tls = "server" }   -- a private one (stop it in teardown)
--   emu:reset(); emu:fault{ path = "^/v1.0/users/", status = 503, count = 1 }
--   local g = emu:client{ max_retries = 0 }
--
-- The control plane is spoken over `graph.core` sessions without credentials.
local util = require "support.util"
local fixtures = require "support.fixtures"

local M = {}

-- A sentinel for emu:client{ key = emulator.NONE } to drop a default option.
M.NONE = setmetatable({}, { __tostring = function() return "emulator.NONE" end })

local START_TIMEOUT = 10

local function core() return require "graph.core" end
local function json() return require "graph.json" end

local Emu = {}
Emu.__index = Emu
Emu.__tostring = function(e) return "emulator(" .. tostring(e.url) .. ")" end

local certs_dir
-- Test CA and certificates, generated once per run by emulator/make-certs.sh.
function M.certs()
  if not certs_dir then
    local dir = util.tmpdir()
    local out, ok = util.run("bash " .. util.shell_quote(util.root .. "/emulator/make-certs.sh")
      .. " " .. util.shell_quote(dir))
    assert(ok, "emulator/make-certs.sh failed:\n" .. out)
    certs_dir = dir
  end
  return {
    dir = certs_dir,
    ca = certs_dir .. "/ca.pem",
    server = { certs_dir .. "/server.pem", certs_dir .. "/server.key" },
    wronghost = { certs_dir .. "/wronghost.pem", certs_dir .. "/wronghost.key" },
    expired = { certs_dir .. "/expired.pem", certs_dir .. "/expired.key" },
  }
end

-- The Emu object for an emulator that is up (info: its ready file), with what
-- this process started for it (e: dir, log, spawned pid, certs, tls).
local function wrap(info, e)
  local c = core()
  local emu = setmetatable({
    dir = e.dir, log = e.log, spawned = e.spawned, certs = e.certs, tls = e.tls,
    url = info.url, login_url = info.login_url or info.url, graph_url = info.graph_url or info.url,
    tenant_id = info.tenant_id or fixtures.tenant_id,
    client_id = info.client_id or fixtures.client_id,
    client_secret = info.client_secret or fixtures.client_secret,
    pid = e.spawned and (tonumber(info.pid) or e.spawned),
    info = info,
  }, Emu)
  emu.port = tonumber(emu.url:match(":(%d+)/?$"))
  emu.control = c.session{
    timeout = 20, connect_timeout = 5,
    ca_file = e.certs and e.certs.ca or nil,
    verify_ssl = not (e.tls and e.tls ~= "server"),
  }
  return emu
end

-- opts.tls: nil | "server" | "wronghost" | "expired"; opts.args: extra CLI args.
function M.start(opts)
  opts = opts or {}
  local dir = util.tmpdir()
  local ready, log = dir .. "/ready.json", dir .. "/emulator.log"
  local args = {
    "python3", util.shell_quote(util.root .. "/emulator/server.py"),
    "--port", "0", "--ready-file", util.shell_quote(ready),
    "--watch-pid", tostring(util.pid()), "--quiet",
  }
  local certs
  if opts.tls then
    certs = M.certs()
    local pair = assert(certs[opts.tls], "unknown certificate " .. tostring(opts.tls))
    args[#args + 1] = "--tls-cert " .. util.shell_quote(pair[1])
    args[#args + 1] = "--tls-key " .. util.shell_quote(pair[2])
  end
  for _, a in ipairs(opts.args or {}) do args[#args + 1] = util.shell_quote(a) end
  local cmd = table.concat(args, " ") .. " >" .. util.shell_quote(log) .. " 2>&1 </dev/null & echo $!"
  local p = assert(io.popen("cd " .. util.shell_quote(util.root) .. " || exit 1; " .. cmd))
  local spawned = tonumber(p:read("*a"):match("(%d+)"))
  p:close()

  local c = core()
  local deadline = c.now() + START_TIMEOUT
  local info
  while true do
    local text = util.read_file(ready)
    if text and text ~= "" then
      local t = json().decode(text)
      if type(t) == "table" and t.url then info = t break end
    end
    local exited = spawned and not os.execute("kill -0 " .. spawned .. " 2>/dev/null")
    if exited or c.now() > deadline then
      if spawned then os.execute("kill " .. spawned .. " 2>/dev/null") end
      error(("the emulator %s (ready file %s); its log %s:\n%s")
        :format(exited and "exited before it was ready" or ("did not come up within " .. START_TIMEOUT .. " s"),
          ready, log, util.read_file(log) or "(empty)"), 2)
    end
    c.sleep(0.05)
  end

  return wrap(info, { dir = dir, log = log, spawned = spawned, certs = certs, tls = opts.tls })
end

-- The Emu object of an emulator that is already up, from its ready-file
-- info ({ url = ... }; M.attach{ url = os.getenv("GRAPH_HOSTS_EMULATOR_URL") }
-- in a host proof): stop() on it stops nothing it did not start.
function M.attach(info)
  return wrap(info, {})
end

-- Hand the tokens this emulator issued to the suite-wide secrets scan.
function Emu:collect_tokens()
  local ok, res = pcall(self.call, self, "GET", "/_emulator/issued")
  if ok and type(res) == "table" then require("support.secrets").add_tokens(res.tokens) end
end

function Emu:stop()
  if self.stopped then return end
  self.stopped = true
  self:collect_tokens()
  if self.front then self.front:stop() end
  if self.control then pcall(self.control.close, self.control) end
  for _, pid in ipairs{ self.pid, self.spawned } do
    if pid then os.execute(("kill %d 2>/dev/null"):format(pid)) end
  end
  util.rmtree(self.dir)
end

-- The shared plain emulator, started on first use and stopped at exit
-- (and by --watch-pid if this process dies first).
local shared
function M.shared_if_started() return shared end
function M.certs_dir() return certs_dir end

function M.shared()
  if not shared then
    shared = M.start()
    -- `make test-h2`: the clients of the shared emulator reach it through the HTTP/2 front
    if os.getenv("GRAPH_SPEC_H2") == "1" then shared.front = require("support.h2front").start(shared.port) end
    -- collected when the Lua state closes, i.e. when busted exits
    M._stopper = setmetatable({}, { __gc = function() shared:stop() end })
  end
  return shared
end

---------------------------------------------------------------------------
-- Control plane

function Emu:call(method, path, body)
  local headers = { ["accept"] = "application/json" }
  local payload
  if body ~= nil then
    headers["content-type"] = "application/json"
    payload = assert(json().encode(body))
  end
  local status, reason, _, resp = self.control:request(method, self.url .. path, headers, payload, false)
  if not status then
    error(("emulator control %s %s failed: %s"):format(method, path, tostring(reason)), 2)
  end
  if status >= 300 then
    error(("emulator control %s %s: %d %s %s"):format(method, path, status, tostring(reason), tostring(resp)), 2)
  end
  if resp and resp:match("^%s*[%[{]") then return (assert(json().decode(resp))) end
  return resp
end

-- The same control-plane call, sent `delay` seconds from now by a background
-- python3 (the emulator's own interpreter, so no other tool is needed): for
-- what happens while the library is busy, such as a user approving a device
-- code while it polls. Plain-http emulators only; no proxy is consulted.
local CALL_LATER = [[
import sys, time, urllib.request
delay, method, url, body = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
time.sleep(delay)
req = urllib.request.Request(url, data=body.encode() or None, method=method,
                             headers={"Content-Type": "application/json"})
urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=10).read()
]]
function Emu:call_later(delay, method, path, body)
  assert(not self.tls, "call_later speaks plain http only")
  local q = util.shell_quote
  os.execute(("python3 -c %s %s %s %s %s >/dev/null 2>&1 </dev/null &"):format(q(CALL_LATER),
    q(delay), q(method), q(self.url .. path), q(body ~= nil and json().encode(body) or "")))
end

function Emu:reset() return self:call("POST", "/_emulator/reset", {}) end
function Emu:stats() return self:call("GET", "/_emulator/stats") end
function Emu:clear_faults() return self:call("DELETE", "/_emulator/faults") end
function Emu:expire_tokens() return self:call("POST", "/_emulator/expire_tokens", {}) end
function Emu:config(t) return self:call("POST", "/_emulator/config", t) end
function Emu:user_state(id)
  return self:call("GET", "/_emulator/state/users/" .. core().escape(id))
end

-- One fault table or a list of them.
function Emu:fault(f)
  if f[1] then return self:call("POST", "/_emulator/faults", { faults = f }) end
  return self:call("POST", "/_emulator/faults", f)
end

-- The logged requests (control-plane ones excluded), oldest first.
-- filter: nil, "graph" (/v1.0), "token" (/oauth2/), or a Lua pattern on the path.
function Emu:requests(filter, limit)
  local t = self:call("GET", "/_emulator/requests?limit=" .. tostring(limit or 1000))
  local list = {}
  for _, r in ipairs(t.requests or {}) do
    local path = r.path or ""
    local keep = not path:find("/_emulator", 1, true)
    if keep and filter == "graph" then keep = path:find("/v1.0/", 1, true) ~= nil
    elseif keep and filter == "token" then keep = path:find("/oauth2/", 1, true) ~= nil
    elseif keep and filter then keep = path:find(filter) ~= nil end
    if keep then list[#list + 1] = r end
  end
  return list
end

function Emu:graph_requests() return self:requests("graph") end
function Emu:token_requests() return self:requests("token") end

-- Access tokens seen in Authorization headers of logged requests.
function Emu:access_tokens()
  local seen, list = {}, {}
  for _, r in ipairs(self:requests()) do
    local auth = r.headers and r.headers.authorization
    local tok = auth and auth:match("^[Bb]earer%s+(.+)$")
    if tok and not seen[tok] then seen[tok] = true list[#list + 1] = tok end
  end
  return list
end

-- The logged Graph requests whose request-target is exactly `target`,
-- optionally only those of one method.
function Emu:requests_to(target, method)
  local list = {}
  for _, r in ipairs(self:graph_requests()) do
    if r.path == target and (method == nil or r.method == method) then list[#list + 1] = r end
  end
  return list
end

---------------------------------------------------------------------------
-- Library clients pointed at this emulator

function Emu:client_options(extra)
  local o = {
    tenant_id = self.tenant_id, client_id = self.client_id, client_secret = self.client_secret,
    url = self.url, login_url = self.url, max_retries = 3, timeout = 10,
    -- every debug log line of the run goes to the suite-wide secrets scan
    log = function(line) require("support.secrets").observe(line) end,
  }
  if self.certs then o.ca_file = self.certs.ca end
  if self.front then o.url, o.login_url, o.ca_file = self.front.url, self.front.url, self.front.ca end
  for k, v in pairs(extra or {}) do
    if v == M.NONE then o[k] = nil else o[k] = v end
  end
  return o
end

function Emu:client(extra)
  local c = require("graph").client(self:client_options(extra))
  require("support.secrets").observe(tostring(c))
  return c
end

-- A graph.core session with client-credential settings for this emulator.
function Emu:session(extra)
  local o = {
    grant = "client_credentials",
    token_url = self.url .. "/" .. self.tenant_id .. "/oauth2/v2.0/token",
    client_id = self.client_id, client_secret = self.client_secret,
    scope = "https://graph.microsoft.com/.default",
    timeout = 10, connect_timeout = 5,
  }
  if self.certs then o.ca_file = self.certs.ca end
  for k, v in pairs(extra or {}) do
    if v == M.NONE then o[k] = nil else o[k] = v end
  end
  return core().session(o)
end

-- A port on 127.0.0.1 with nothing listening (a stopped emulator's port is
-- not reused quickly enough to be sure, so ask the kernel for a fresh one).
function M.closed_port()
  local out = util.run("python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1]); s.close()'")
  return tonumber(out:match("(%d+)")) or 1
end

return M
