-- The transport tells the truth and keeps secrets (issue 10): no proxy sees
-- a plain-http request, each answer belongs to its own request, token
-- redemptions go on a fresh connection, transport codes say what happened.
describe("transport", function()
  local core = require "graph.core"
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"

  local USER_PATH = "^/v1\\.0/users/" .. fx.adele_id .. "$"

  local function get_user(g, id) return g.users.get{ id = id or fx.adele_id } end

  ---------------------------------------------------------------------------
  -- A recording proxy on loopback: logs each request line it gets (and
  -- whether it carried Authorization), tunnels CONNECT, refuses the rest.
  local PROXY = [[
import os, socket, sys, threading, time
log_path, port_file, watch = sys.argv[1], sys.argv[2], int(sys.argv[3])
lock = threading.Lock()
def record(line):
    with lock, open(log_path, "ab") as f:
        f.write(line + b"\n")
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass
def handle(c):
    head = b""
    while b"\r\n\r\n" not in head:
        d = c.recv(65536)
        if not d:
            return c.close()
        head += d
    lines = head.split(b"\r\n")
    auth = any(l.lower().startswith(b"authorization:") for l in lines)
    record(lines[0] + (b" AUTH" if auth else b""))
    words = lines[0].split()
    if len(words) >= 2 and words[0] == b"CONNECT":
        host, port = words[1].rsplit(b":", 1)
        up = socket.create_connection((host.decode(), int(port)))
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=pipe, args=(up, c), daemon=True).start()
        pipe(c, up)
    else:
        c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    c.close()
def watcher():
    while True:
        try:
            os.kill(watch, 0)
        except OSError:
            os._exit(0)
        time.sleep(0.5)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.replace(port_file + ".tmp", port_file)
threading.Thread(target=watcher, daemon=True).start()
while True:
    conn, _ = srv.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
]]

  local proxy = {}
  setup(function()
    proxy.dir = util.tmpdir()
    util.write_file(proxy.dir .. "/proxy.py", PROXY)
    proxy.log = proxy.dir .. "/requests.log"
    local port_file = proxy.dir .. "/port"
    local p = assert(io.popen(("python3 %s %s %s %d >/dev/null 2>&1 </dev/null & echo $!"):format(
      util.shell_quote(proxy.dir .. "/proxy.py"), util.shell_quote(proxy.log),
      util.shell_quote(port_file), util.pid())))
    proxy.pid = tonumber(p:read("*a"):match("%d+"))
    p:close()
    local deadline = core.now() + 10
    while not util.read_file(port_file) do
      assert(core.now() < deadline, "the recording proxy did not start")
      core.sleep(0.05)
    end
    proxy.url = "http://127.0.0.1:" .. util.read_file(port_file)
  end)
  teardown(function() if proxy.pid then os.execute("kill " .. proxy.pid .. " 2>/dev/null") end end)

  local function proxy_lines()
    local lines = {}
    for l in (util.read_file(proxy.log) or ""):gmatch("[^\n]+") do lines[#lines + 1] = l end
    return lines
  end
  before_each(function() util.write_file(proxy.log, "") end)

  -- A child process with a client for emu; prints ID=... or ERR=...
  local function child_get(emu, env, extra)
    local script = ([[
      local graph = require "graph"
      local g = graph.client{ tenant_id = %q, client_id = %q, client_secret = %q,
        url = %q, login_url = %q, max_retries = 0, timeout = 10 %s }
      local user, err = g.users.get{ id = %q }
      print(user and ("ID=" .. user.id) or ("ERR=" .. tostring(err)))
    ]]):format(emu.tenant_id, emu.client_id, emu.client_secret, emu.url, emu.url,
      extra or "", fx.adele_id)
    return util.run_lua(script, env)
  end

  local PROXY_VARS = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy" }

  describe("a plain-http endpoint (loopback) never goes through a proxy", function()
    it("set with the http_proxy option", function()
      local emu = emulator.shared()
      emu:reset()
      local g = emu:client{ http_proxy = proxy.url, max_retries = 0 }
      local user = util.expect_success(get_user, g)
      assert.equal(fx.adele_id, user.id)
      assert.same({}, proxy_lines())
      assert.equal(1, #emu:token_requests()) -- the token post did not go through it either
    end)

    it("set in the environment", function()
      local emu = emulator.shared()
      emu:reset()
      local env = {}
      for _, k in ipairs(PROXY_VARS) do env[k] = proxy.url end
      local out = child_get(emu, env)
      assert.truthy(out:find("ID=" .. fx.adele_id, 1, true), out)
      assert.same({}, proxy_lines())
    end)
  end)

  describe("an https endpoint", function()
    local tls
    setup(function() tls = emulator.start{ tls = "server" } end)
    teardown(function() if tls then tls:stop() end end)

    it("still uses the http_proxy option, through a CONNECT tunnel", function()
      tls:reset()
      local g = tls:client{ http_proxy = proxy.url, max_retries = 0 }
      util.expect_success(get_user, g)
      util.expect_success(get_user, g)
      local lines = proxy_lines()
      assert.equal(1, #lines, table.concat(lines, "\n"))
      assert.equal("CONNECT 127.0.0.1:" .. tls.port .. " HTTP/1.1", lines[1]) -- no token in clear
    end)

    it("uses https_proxy from the environment, through a CONNECT tunnel", function()
      tls:reset()
      local out = child_get(tls, { https_proxy = proxy.url }, (", ca_file = %q"):format(tls.certs.ca))
      assert.truthy(out:find("ID=" .. fx.adele_id, 1, true), out)
      local lines = proxy_lines()
      assert.is_true(#lines >= 1)
      for _, l in ipairs(lines) do assert.truthy(l:find("^CONNECT 127%.0%.0%.1:"), l) end
    end)
  end)

  ---------------------------------------------------------------------------
  describe("each answer belongs to its own request", function()
    local emu
    before_each(function()
      emu = emulator.shared()
      emu:reset()
    end)

    local function ids_in_turn(g, n)
      local ids = {}
      for i = 1, n do
        local want = (i % 2 == 0) and fx.lynne_id or fx.adele_id
        local user = util.expect_success(get_user, g, want)
        assert.equal(want, user.id, "answer " .. i .. " is another request's")
        ids[#ids + 1] = user.id
      end
      return ids
    end

    -- stall: the extra answer comes 0.3 s after the real one, so the next
    -- request has left by then and is handed it
    local LATE_EXTRA = { path = USER_PATH, action = "extra_response", stall = 0.3, count = 1 }
    -- no stall, no client-request-id: it waits on the connection, unrecognisable
    local ANONYMOUS_EXTRA = { path = USER_PATH, action = "extra_response", count = 1,
      headers = { ["client-request-id"] = require("graph.json").null } }

    -- a GET, then one answered with the fault's extra response
    local function stray_answer(g, fault, e)
      util.expect_success(get_user, g)
      ;(e or emu):fault(fault)
      util.expect_success(get_user, g)
    end

    it("an extra response after a complete one is discarded, and no later answer shifts", function()
      local g = emu:client{ retry_delay = 0.01 }
      stray_answer(g, LATE_EXTRA)
      local user = util.expect_success(get_user, g, fx.lynne_id)
      assert.equal(fx.lynne_id, user.id)
      assert.equal(2, #emu:requests_to("/v1.0/users/" .. fx.lynne_id, "GET"), "mismatched, then retried")
      ids_in_turn(g, 6)
    end)

    it("an answer with another request's client-request-id is nil, err mismatched_response", function()
      local g = emu:client{ max_retries = 0 }
      stray_answer(g, LATE_EXTRA)
      local err = util.expect_failure(get_user, g, fx.lynne_id)
      assert.equal("transport", err.kind)
      assert.equal("mismatched_response", err.code)
      assert.is_true(err.request_sent)
      assert.is_false(err.response_started)
      -- its connection was closed: the next answer is the right one
      local user = util.expect_success(get_user, g, fx.lynne_id)
      assert.equal(fx.lynne_id, user.id)
    end)

    it("a write is never handed another request's answer: it goes on a connection of its own", function()
      local g = emu:client{ retry_delay = 0.01 }
      stray_answer(g, LATE_EXTRA)
      assert.is_true(util.expect_success(g.users.update, { id = fx.lynne_id, body = { jobTitle = "Once" } }))
      assert.equal(1, #emu:requests_to("/v1.0/users/" .. fx.lynne_id, "PATCH"))
      assert.equal("Once", emu:user_state(fx.lynne_id).jobTitle)
      ids_in_turn(g, 4)
    end)

    it("a kept connection with unread input is not reused, even without a client-request-id", function()
      local g = emu:client{ max_retries = 0 }
      stray_answer(g, ANONYMOUS_EXTRA)
      core.sleep(0.3) -- the unsolicited answer is waiting on the connection
      local user = util.expect_success(get_user, g, fx.lynne_id)
      assert.equal(fx.lynne_id, user.id)
      assert.equal(2, emu:stats().connections)
    end)

    it("a pool connection with unread input is not reused by the next request_many", function()
      local g = emu:client{ max_retries = 0 }
      util.expect_success(g.users.get_many, { ids = { fx.adele_id }, concurrency = 1 })
      emu:fault(ANONYMOUS_EXTRA)
      util.expect_success(g.users.get_many, { ids = { fx.adele_id }, concurrency = 1 })
      core.sleep(0.3)
      local res = util.expect_success(g.users.get_many, { ids = { fx.lynne_id, fx.adele_id }, concurrency = 1 })
      assert.equal(fx.lynne_id, res[1].id)
      assert.equal(fx.adele_id, res[2].id)
    end)

    it("over TLS too: a stray answer is discarded, the next ones are right", function()
      local tls = emulator.start{ tls = "server" }
      finally(function() tls:stop() end)
      local g = tls:client{ retry_delay = 0.01 }
      stray_answer(g, ANONYMOUS_EXTRA, tls)
      core.sleep(0.3)
      ids_in_turn(g, 2)
      stray_answer(g, LATE_EXTRA, tls)
      ids_in_turn(g, 4)
      assert.equal(3, tls:stats().connections)
    end)

    it("keep-alive stays: ten sequential GETs use one connection", function()
      local g = emu:client()
      ids_in_turn(g, 10)
      assert.equal(1, emu:stats().connections)
    end)
  end)

  ---------------------------------------------------------------------------
  describe("a token redemption", function()
    it("goes on a fresh connection: a dropped kept-alive one does not make two token requests", function()
      local emu = emulator.shared()
      emu:reset()
      local g = emu:client{ max_retries = 0 }
      util.expect_success(get_user, g) -- token and GET on one kept connection
      assert.equal(1, emu:stats().connections)
      require("graph.client").of(g).session:drop_token()
      emu:fault{ target = "token", action = "drop", count = 1 }
      local err = util.expect_failure(get_user, g)
      assert.equal("transport", err.kind)
      assert.equal(2, #emu:token_requests(), "libcurl re-sent the token request")
      assert.equal(2, emu:stats().connections)
    end)
  end)

  ---------------------------------------------------------------------------
  describe("codes say what happened", function()
    local emu
    before_each(function()
      emu = emulator.shared()
      emu:reset()
    end)

    it("a header line over libcurl's 100 KiB limit is too_large, not out of memory", function()
      local g = emu:client{ max_retries = 0 }
      emu:fault{ path = USER_PATH, action = "giant_header", size = 200000, count = 1 }
      local err = util.expect_failure(get_user, g)
      assert.equal("transport", err.kind)
      assert.equal("too_large", err.code)
      assert.is_nil(err.message:lower():find("memory", 1, true), err.message)
      util.expect_success(get_user, g)
    end)

    for _, line in ipairs{ "HTTP/1.7 200 OK", "HTTP/1.1 2x0 OK", "ICY 200 OK" } do
      it(("a malformed status line (%s) is bad_response, not bad_url, and not retried"):format(line), function()
        local g = emu:client{ retry_delay = 0.01 }
        emu:fault{ path = USER_PATH, action = "bad_status_line", body = line, count = 1 }
        local err = util.expect_failure(get_user, g)
        assert.equal("transport", err.kind)
        assert.equal("bad_response", err.code)
        assert.equal(1, err.attempts)
        util.expect_success(get_user, g)
      end)
    end

    it("an unsupported URL scheme is still bad_url", function()
      local s = core.session{ timeout = 5 }
      local status, err = s:request("GET", "ftp://127.0.0.1/x", {}, nil, false)
      assert.is_nil(status)
      assert.equal("bad_url", err.code)
      s:close()
    end)

    it("a 1 MiB URL is too_large and never sent, and so is a huge request head", function()
      local s = core.session{ timeout = 5 }
      local status, err = s:request("GET", emu.url .. "/v1.0/users/" .. ("a"):rep(1024 * 1024), {}, nil, false)
      assert.is_nil(status)
      assert.equal("transport", err.kind)
      assert.equal("too_large", err.code)
      assert.is_false(err.request_sent)
      -- so is a request head over 256 KiB (a caller's header)
      status, err = s:request("GET", emu.url .. "/v1.0/users/x", { ["X-Big"] = ("b"):rep(300 * 1024) }, nil, false)
      assert.is_nil(status)
      assert.equal("too_large", err.code)
      assert.is_false(err.request_sent)
      -- the same session works afterwards
      assert.equal(200, (s:request("GET", emu.url .. "/_emulator/stats", {}, nil, false)))
      s:close()
      assert.equal(0, emu:stats().requests)
    end)

    it("a 1 MiB id is refused up front or too_large, and never sent", function()
      local g = emu:client{ max_retries = 0 }
      local ok, res, err = pcall(get_user, g, ("a"):rep(1024 * 1024))
      if ok then
        assert.is_nil(res)
        assert.equal("too_large", err.code)
      else
        assert.truthy(tostring(res):find("id", 1, true), tostring(res))
      end
      assert.equal(0, #emu:graph_requests())
    end)
  end)
end)
