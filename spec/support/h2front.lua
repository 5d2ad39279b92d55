-- An HTTP/2 front for the emulator: Debian's nghttpx (nghttp2-proxy) on
-- loopback, TLS with the test CA's localhost certificate and ALPN h2 (and
-- http/1.1), passing every request to an emulator over HTTP/1.1. Graph
-- speaks HTTP/2; the emulator does not.
--
--   local h2front = require "support.h2front"
--   local front = h2front.start(emu.port)     -- { port, url, ca, dir, ... }
--   local g = emu:client{ url = front.url, login_url = front.url, ca_file = front.ca }
--   front:requests()   -- the access log: { alpn=, port=, method=, path=, status= }, oldest first
--   front:stop()
--
-- Its configuration, pid file and logs live in build/h2front/<name>/, removed
-- by stop(). A watchdog stops nghttpx if the Lua process that started it dies.
-- NGHTTPX in the environment names another nghttpx than /usr/sbin/nghttpx.
local util = require "support.util"
local emulator = require "support.emulator"

local M = {}

M.NGHTTPX = os.getenv("NGHTTPX") or "/usr/sbin/nghttpx"
local START_TIMEOUT = 10
local ATTEMPTS = 3            -- a free port found by the kernel may be taken before nghttpx binds it
-- one line a request: what a spec reads back through front:requests()
local LOG_FORMAT = "$alpn $remote_port $method $status $path"

function M.available()
  local f = io.open(M.NGHTTPX, "rb")
  if f then f:close() end
  return f ~= nil
end

local Front = {}
Front.__index = Front
Front.__tostring = function(f) return "h2front(" .. f.url .. ")" end

local function config(dir, port, backend_port, certs)
  return table.concat({
    "frontend=127.0.0.1," .. port,
    "backend=127.0.0.1," .. backend_port .. ";;proto=http/1.1",
    "private-key-file=" .. certs.server[2],
    "certificate-file=" .. certs.server[1],
    "pid-file=" .. dir .. "/nghttpx.pid",
    "accesslog-file=" .. dir .. "/access.log",
    "accesslog-format=" .. LOG_FORMAT,
    "errorlog-file=" .. dir .. "/error.log",
    "workers=1",
    "no-via=yes",
    "no-ocsp=yes",
    "frontend-read-timeout=30s",
    "backend-read-timeout=30s",
  }, "\n") .. "\n"
end

-- nghttpx in the background under a small sh that reaps it: the sh lives
-- exactly as long as nghttpx; TERM to the sh stops nghttpx; a watcher stops
-- it when `owner` (this Lua process) is gone. Prints the sh's pid.
local WATCH = [[
"$1" --conf="$2" >>"$3" 2>&1 </dev/null &
n=$!
( while kill -0 "$4" 2>/dev/null; do sleep 1; done; kill $n 2>/dev/null ) >/dev/null 2>&1 </dev/null &
w=$!
trap 'kill $n 2>/dev/null' TERM
wait $n
wait $n
kill $w 2>/dev/null
]]

-- os.execute's success is true on 5.2+ and 0 on 5.1 and LuaJIT.
local function sh_ok(cmd)
  local r = os.execute(cmd)
  return r == true or r == 0
end
local function alive(pid) return pid ~= nil and sh_ok("kill -0 " .. pid .. " 2>/dev/null") end

local function make_dir()
  local base = util.root .. "/build/h2front"
  local out, ok = util.run(("mkdir -p %s && mktemp -d %s/XXXXXX"):format(
    util.shell_quote(base), util.shell_quote(base)))
  assert(ok, "h2front: cannot make its directory under build/: " .. out)
  return (out:gsub("%s+$", ""))
end

local function try_start(dir, backend_port, certs)
  local port = emulator.closed_port()
  local conf = dir .. "/nghttpx.conf"
  util.write_file(conf, config(dir, port, backend_port, certs))
  local q = util.shell_quote
  local p = assert(io.popen(("sh -c %s h2front %s %s %s %d >/dev/null 2>&1 </dev/null & echo $!")
    :format(q(WATCH), q(M.NGHTTPX), q(conf), q(dir .. "/nghttpx.out"), util.pid())))
  local watchdog = tonumber(p:read("*a"):match("(%d+)"))
  p:close()

  local core = require "graph.core"
  local probe = core.session{ timeout = 2, connect_timeout = 1, ca_file = certs.ca }
  local url = "https://127.0.0.1:" .. port
  local deadline = core.now() + START_TIMEOUT
  while true do
    local status = probe:request("GET", url .. "/_emulator/stats", {}, nil, false)
    if status == 200 then probe:close() return port, url, watchdog end
    -- nghttpx exited (e.g. its port was taken); its sh may linger unreaped a while
    if not alive(watchdog) or (util.read_file(dir .. "/nghttpx.out") or ""):find("FATAL", 1, true) then
      break
    end
    if core.now() > deadline then break end
    core.sleep(0.05)
  end
  probe:close()
  if watchdog then os.execute("kill " .. watchdog .. " 2>/dev/null") end
  return nil, (util.read_file(dir .. "/nghttpx.out") or "") .. (util.read_file(dir .. "/error.log") or "")
end

-- start(backend_port [, opts]): nghttpx on a free 127.0.0.1 port in front of
-- the HTTP/1.1 server on 127.0.0.1:backend_port. opts.certs: emulator.certs()
-- by default (the test CA every TLS spec trusts).
function M.start(backend_port, opts)
  assert(type(backend_port) == "number", "h2front.start: backend_port must be a number")
  opts = opts or {}
  if not M.available() then
    error("h2front: " .. M.NGHTTPX .. " is missing (Debian's nghttp2-proxy; make deps installs it)", 2)
  end
  local certs = opts.certs or emulator.certs()
  local dir = make_dir()
  local log = ""
  for _ = 1, ATTEMPTS do
    local port, url, watchdog = try_start(dir, backend_port, certs)
    if port then
      return setmetatable({ port = port, url = url, ca = certs.ca, dir = dir,
                            backend_port = backend_port, watchdog = watchdog }, Front)
    end
    log = url or ""
  end
  error(("h2front: nghttpx did not come up in front of port %d; its output:\n%s")
    :format(backend_port, log), 2)
end

-- The requests nghttpx served, oldest first (its access log).
function Front:requests()
  local list = {}
  for line in (util.read_file(self.dir .. "/access.log") or ""):gmatch("[^\n]+") do
    local alpn, port, method, status, path = line:match("^(%S+) (%d+) (%S+) (%d+) (.*)$")
    if alpn then
      list[#list + 1] = { alpn = alpn, port = tonumber(port), method = method,
                          status = tonumber(status), path = path }
    end
  end
  return list
end

-- The distinct client connections (remote ports) among the requests whose
-- path matches `pattern` (a Lua pattern; all when nil), and how many.
function Front:connections(pattern)
  local seen, n = {}, 0
  for _, r in ipairs(self:requests()) do
    if (not pattern or r.path:find(pattern)) and not seen[r.port] then
      seen[r.port] = true
      n = n + 1
    end
  end
  return n, seen
end

function Front:stop()
  if self.stopped then return end
  self.stopped = true
  local pid = tonumber((util.read_file(self.dir .. "/nghttpx.pid") or ""):match("%d+"))
  if self.watchdog then os.execute("kill " .. self.watchdog .. " 2>/dev/null") end
  local core = require "graph.core"
  local deadline = core.now() + 5
  while alive(pid) do
    if core.now() > deadline then os.execute("kill -9 " .. pid .. " 2>/dev/null") break end
    core.sleep(0.05)
  end
  if self.dir:find("/build/h2front/", 1, true) then os.execute("rm -rf " .. util.shell_quote(self.dir)) end
end

return M
