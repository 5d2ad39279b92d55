-- The retry pipeline (issue 4, "Behaviour"): Retry-After in both forms,
-- honoured exactly and never past retry_budget; backoff with full jitter;
-- Retry-Attempt; on_retry; configurable statuses; network errors retried
-- only when safe; max_response_bytes; hostile input; the low-speed limit.
-- errors_spec.lua covers the basic throttling cases; this extends them with
-- what the server saw (the emulator's request log and its arrival times).
describe("retries", function()
  local core = require "graph.core"
  local graph = require "graph"
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"

  local emu
  setup(function() emu = emulator.shared() end)
  before_each(function() emu:reset() end)

  local USER_TARGET = "/v1.0/users/" .. fx.adele_id
  local USER_PATH = "^/v1\\.0/users/" .. fx.adele_id .. "$"

  -- The logged requests for Adele's user resource, optionally of one method.
  local function user_requests(method) return emu:requests_to(USER_TARGET, method) end

  -- A client that records every on_retry call in `seen`.
  local function recording_client(extra)
    local seen = {}
    local opts = { on_retry = function(info) seen[#seen + 1] = info end }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return emu:client(opts), seen
  end

  local function throttle(status, retry_after, count, extra)
    local f = { target = "graph", path = USER_PATH, status = status, count = count or 1,
      headers = retry_after and { ["Retry-After"] = retry_after } or nil }
    for k, v in pairs(extra or {}) do f[k] = v end
    return f
  end

  local function get_user(g) return g.users.get{ id = fx.adele_id } end

  describe("Retry-After", function()
    it("is honoured exactly in delta-seconds, integer and fractional: the server sees the gaps it asked for", function()
      emu:fault{ throttle(429, "1", 1), throttle(503, "0.3", 1) }
      local g, seen = recording_client()
      local t0 = core.now()
      local user = util.expect_success(get_user, g)
      local elapsed = core.now() - t0
      assert.equal(fx.adele_id, user.id)
      local reqs = user_requests("GET")
      assert.equal(3, #reqs)
      local gap1, gap2 = reqs[2].time - reqs[1].time, reqs[3].time - reqs[2].time
      assert.is_true(gap1 >= 1.0, ("retried after %.4f s, asked 1"):format(gap1))
      assert.is_true(gap2 >= 0.3, ("retried after %.4f s, asked 0.3"):format(gap2))
      assert.is_true(elapsed >= 1.3, ("took %.4f s"):format(elapsed))
      assert.is_true(elapsed < 3, ("took %.4f s"):format(elapsed))
      assert.equal(2, #seen)
      assert.equal(1, seen[1].delay)
      assert.near(0.3, seen[2].delay, 1e-9)
    end)

    it("is honoured in HTTP-date form: the retry arrives no earlier than the date", function()
      local at = os.time() + 2
      emu:fault(throttle(503, os.date("!%a, %d %b %Y %H:%M:%S GMT", at), 1))
      local g, seen = recording_client()
      local user = util.expect_success(get_user, g)
      assert.equal(fx.adele_id, user.id)
      local reqs = user_requests("GET")
      assert.equal(2, #reqs)
      assert.is_true(reqs[2].time >= at,
        ("retry arrived at %.4f, %.4f s before the date asked"):format(reqs[2].time, at - reqs[2].time))
      assert.is_true(reqs[2].time < at + 1.5, ("retry arrived %.4f s after the date"):format(reqs[2].time - at))
      assert.equal(1, #seen)
      assert.is_true(seen[1].delay > 0 and seen[1].delay <= 2.01, "delay " .. tostring(seen[1].delay))
    end)

    it("in HTTP-date form in the past means retry at once", function()
      emu:fault(throttle(503, os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() - 60), 1))
      local g, seen = recording_client()
      local t0 = core.now()
      util.expect_success(get_user, g)
      assert.is_true(core.now() - t0 < 1)
      assert.equal(1, #seen)
      assert.equal(0, seen[1].delay)
      assert.equal(2, #user_requests("GET"))
    end)

    it("beyond what is left of retry_budget returns at once with the server's retry_after", function()
      emu:fault(throttle(429, "5", 10))
      local g, seen = recording_client{ retry_budget = 2 }
      local t0 = core.now()
      local err = util.expect_failure(get_user, g)
      local elapsed = core.now() - t0
      assert.is_true(elapsed < 1, ("waited %.3f s for a 5 s Retry-After over a 2 s budget"):format(elapsed))
      assert.equal("graph", err.kind)
      assert.equal(429, err.status_code)
      assert.equal(5, err.retry_after)
      assert.equal(1, err.attempts)
      assert.equal(0, #seen)
      assert.equal(1, #user_requests())
    end)

    it("beyond the part of the budget already spent returns at once after the retries that fit", function()
      -- 0.3 + 0.3 fit in 0.7 s; a third 0.3 would not.
      emu:fault(throttle(503, "0.3", 50))
      local g, seen = recording_client{ retry_budget = 0.7, max_retries = 10 }
      local t0 = core.now()
      local err = util.expect_failure(get_user, g)
      local elapsed = core.now() - t0
      assert.equal(3, err.attempts)
      assert.near(0.3, err.retry_after, 1e-9)
      assert.equal(2, #seen)
      assert.equal(3, #user_requests())
      assert.is_true(elapsed >= 0.6, ("took %.3f s"):format(elapsed))
      assert.is_true(elapsed < 0.7 + 0.5, ("took %.3f s past a 0.7 s budget"):format(elapsed))
    end)

    it("in a 429 storm: max_retries 10 with a tiny Retry-After makes 11 attempts in bounded time", function()
      emu:fault(throttle(429, "0.01", 50))
      local g, seen = recording_client{ max_retries = 10 }
      local t0 = core.now()
      local err = util.expect_failure(get_user, g)
      local elapsed = core.now() - t0
      assert.equal("graph", err.kind)
      assert.equal(429, err.status_code)
      assert.equal("TooManyRequests", err.code)
      assert.equal(11, err.attempts)
      assert.equal(11, #user_requests())
      assert.equal(10, #seen)
      for i, info in ipairs(seen) do
        assert.equal(i, info.attempt)
        assert.equal(0.01, info.delay)
      end
      assert.is_true(elapsed < 3, ("took %.3f s"):format(elapsed))
    end)
  end)

  describe("without Retry-After", function()
    it("backs off exponentially from retry_delay with full jitter", function()
      emu:fault(throttle(503, nil, 10))
      local g, seen = recording_client{ retry_delay = 0.05, max_retries = 5 }
      local err = util.expect_failure(get_user, g)
      assert.equal(503, err.status_code)
      assert.equal(6, err.attempts)
      assert.equal(5, #seen)
      for n, info in ipairs(seen) do
        local ceiling = 0.05 * 2 ^ (n - 1)
        assert.equal(n, info.attempt)
        assert.is_number(info.delay)
        assert.is_true(info.delay >= 0 and info.delay <= ceiling,
          ("retry %d waited %.4f s, outside [0, %.4f]"):format(n, info.delay, ceiling))
      end
      -- and the server never saw a retry earlier than the delay announced
      local reqs = user_requests()
      assert.equal(6, #reqs)
      for n = 2, #reqs do
        local gap = reqs[n].time - reqs[n - 1].time
        assert.is_true(gap >= seen[n - 1].delay - 0.002,
          ("retry %d came %.4f s after the previous request, announced %.4f"):format(n - 1, gap, seen[n - 1].delay))
      end
    end)

    it("jitters: the delays of many retries are not all the same", function()
      emu:fault(throttle(504, nil, 50))
      local g, seen = recording_client{ retry_delay = 0.001, max_retries = 10 }
      util.expect_failure(get_user, g)
      assert.equal(10, #seen)
      local distinct = {}
      for _, info in ipairs(seen) do distinct[info.delay] = true end
      local n = 0
      for _ in pairs(distinct) do n = n + 1 end
      assert.is_true(n > 1, "all 10 delays were equal")
    end)
  end)

  describe("Retry-Attempt", function()
    it("is absent on the first request and counts each retry", function()
      emu:fault(throttle(503, "0", 3))
      local g = emu:client{ max_retries = 3 }
      util.expect_success(get_user, g)
      local reqs = user_requests()
      assert.equal(4, #reqs)
      assert.is_nil(reqs[1].headers["retry-attempt"])
      for n = 2, 4 do assert.equal(tostring(n - 1), reqs[n].headers["retry-attempt"]) end
      -- the next call starts afresh
      util.expect_success(get_user, g)
      reqs = user_requests()
      assert.equal(5, #reqs)
      assert.is_nil(reqs[5].headers["retry-attempt"])
    end)

    it("goes with the first attempt's client-request-id on every retry; the next call has its own", function()
      emu:fault(throttle(503, "0", 2))
      local g = emu:client{ max_retries = 3 }
      local _, response = util.expect_success(get_user, g)
      local reqs = user_requests()
      assert.equal(3, #reqs)
      local crid = reqs[1].headers["client-request-id"]
      assert.truthy(util.is_guid(crid), crid)
      for n = 2, 3 do assert.equal(crid, reqs[n].headers["client-request-id"]) end
      assert.equal(crid, response.headers["client-request-id"])
      util.expect_success(get_user, g)
      reqs = user_requests()
      assert.are_not.equal(crid, reqs[4].headers["client-request-id"])
    end)

    it("keeps the client-request-id when a dropped connection is retried", function()
      -- two drops: libcurl itself re-sends once on a reused connection, so at
      -- least one of the retries is ours
      emu:fault{ target = "graph", path = USER_PATH, action = "drop", count = 2 }
      local g = emu:client{ max_retries = 3 }
      util.expect_success(get_user, g)
      local reqs = user_requests()
      assert.equal(3, #reqs)
      for n = 2, 3 do assert.equal(reqs[1].headers["client-request-id"], reqs[n].headers["client-request-id"]) end
      assert.truthy(reqs[3].headers["retry-attempt"])
    end)

    it("keeps the client-request-id, without Retry-Attempt, when a refused token is replaced", function()
      emu:fault(throttle(401, nil, 1))
      local g = emu:client()
      util.expect_success(get_user, g)
      local reqs = user_requests()
      assert.equal(2, #reqs)
      assert.equal(reqs[1].headers["client-request-id"], reqs[2].headers["client-request-id"])
      assert.is_nil(reqs[2].headers["retry-attempt"])
      assert.equal(2, require("graph.client").of(g).session:stats().token_requests)
    end)

    it("is sent on a retried PATCH too, and the update applies", function()
      emu:fault(throttle(429, "0", 1, { method = "PATCH" }))
      local g = emu:client()
      assert.is_true(util.expect_success(g.users.update, { id = fx.adele_id, body = { jobTitle = "Retry-Attempt" } }))
      local reqs = user_requests("PATCH")
      assert.equal(2, #reqs)
      assert.is_nil(reqs[1].headers["retry-attempt"])
      assert.equal("1", reqs[2].headers["retry-attempt"])
      assert.equal("Retry-Attempt", emu:user_state(fx.adele_id).jobTitle)
    end)
  end)

  describe("err.attempts and on_retry", function()
    it("err.attempts is 1 when nothing is retried", function()
      local err = util.expect_failure(emu:client().users.get, { id = fx.missing_id })
      assert.equal(404, err.status_code)
      assert.equal(1, err.attempts)
    end)

    it("on_retry sees attempt, status, code, delay, method and url", function()
      emu:fault(throttle(429, "0.05", 2, { json = { error = { code = "TooManyRequests", message = "slow down" } } }))
      local g, seen = recording_client()
      util.expect_success(get_user, g)
      assert.equal(2, #seen)
      for i, info in ipairs(seen) do
        assert.equal(i, info.attempt)
        assert.equal(429, info.status)
        assert.equal(429, info.status_code)
        assert.equal("TooManyRequests", info.code)
        assert.equal(0.05, info.delay)
        assert.equal("GET", info.method)
        assert.equal(emu.url .. USER_TARGET, info.url)
      end
    end)
  end)

  describe("retry_statuses", function()
    it("= {500} retries a 500", function()
      emu:fault(throttle(500, "0", 1))
      local g, seen = recording_client{ retry_statuses = { 500 } }
      local user = util.expect_success(get_user, g)
      assert.equal(fx.adele_id, user.id)
      assert.equal(1, #seen)
      assert.equal(500, seen[1].status)
      assert.equal(2, #user_requests())
    end)

    it("= {500} does not retry a 503 or a 429", function()
      emu:fault{ throttle(503, "0", 1), throttle(429, "0", 1) }
      local g, seen = recording_client{ retry_statuses = { 500 } }
      local err = util.expect_failure(get_user, g)
      assert.equal(503, err.status_code)
      assert.equal(1, err.attempts)
      err = util.expect_failure(get_user, g)
      assert.equal(429, err.status_code)
      assert.equal(1, err.attempts)
      assert.equal(0, #seen)
      assert.equal(2, #user_requests())
    end)

    it("= {} retries nothing", function()
      emu:fault(throttle(429, "0", 1))
      local g, seen = recording_client{ retry_statuses = {} }
      local err = util.expect_failure(get_user, g)
      assert.equal(429, err.status_code)
      assert.equal(1, err.attempts)
      assert.equal(0, #seen)
    end)
  end)

  describe("max_retries", function()
    for _, bad in ipairs{ 11, 100, -1, 1.5 } do
      it(("= %s raises at graph.client"):format(tostring(bad)), function()
        local ok, msg = pcall(graph.client, emu:client_options{ max_retries = bad })
        assert.is_false(ok)
        assert.truthy(tostring(msg):find("graph.client", 1, true), msg)
        assert.truthy(tostring(msg):find("max_retries", 1, true), msg)
      end)
    end

    it("= 10 is accepted", function()
      assert.is_table(emu:client{ max_retries = 10 })
    end)
  end)

  describe("network errors", function()
    -- The token request opens the connection the first Graph request reuses;
    -- url = localhost (login_url 127.0.0.1) gives Graph requests a connection of their own.
    local function fresh_url() return "http://localhost:" .. emu.port end

    it("a GET is retried after a dropped connection and succeeds", function()
      emu:fault{ target = "graph", path = USER_PATH, action = "drop", count = 1 }
      local g = emu:client{ retry_delay = 0.01 }
      local user = util.expect_success(get_user, g)
      assert.equal(fx.adele_id, user.id)
      assert.equal(2, #user_requests("GET"))
    end)

    it("a GET is retried by the client (on_retry sees it) after a drop on a fresh connection", function()
      emu:fault{ target = "graph", path = USER_PATH, action = "drop", count = 1 }
      local g, seen = recording_client{ url = fresh_url(), retry_delay = 0.01 }
      local user = util.expect_success(get_user, g)
      assert.equal(fx.adele_id, user.id)
      local reqs = user_requests("GET")
      assert.equal(2, #reqs)
      assert.equal(1, #seen)
      assert.is_nil(seen[1].status)
      assert.equal("recv", seen[1].code)
      assert.equal("GET", seen[1].method)
      assert.equal("1", reqs[2].headers["retry-attempt"])
    end)

    it("a GET is retried after a timeout before any response byte", function()
      emu:fault{ target = "graph", path = USER_PATH, delay = 1.5, count = 1 }
      local g, seen = recording_client{ retry_delay = 0.01, timeout = 0.5 }
      local user = util.expect_success(get_user, g)
      assert.equal(fx.adele_id, user.id)
      assert.equal(1, #seen)
      assert.equal("timeout", seen[1].code)
      assert.equal(2, #user_requests("GET"))
    end)

    it("a PATCH on a kept-alive connection is not re-sent after the server drops it having read the request", function()
      local g, seen = recording_client{ retry_delay = 0.01 }
      util.expect_success(get_user, g)          -- the PATCH goes out on a kept-alive connection
      emu:fault{ target = "graph", path = USER_PATH, method = "PATCH", action = "drop", count = 10 }
      local err = util.expect_failure(g.users.update, { id = fx.adele_id, body = { jobTitle = "Dropped" } })
      assert.equal("transport", err.kind)
      assert.equal(true, err.request_sent)
      assert.equal(1, err.attempts)
      assert.equal(0, #seen)
      assert.equal(1, #user_requests("PATCH"), "the PATCH was sent more than once")
      assert.are_not.equal("Dropped", emu:user_state(fx.adele_id).jobTitle)
    end)

    it("a PATCH on a fresh connection is not retried after a dropped connection", function()
      emu:fault{ target = "graph", path = USER_PATH, method = "PATCH", action = "drop", count = 10 }
      local g, seen = recording_client{ url = fresh_url(), retry_delay = 0.01 }
      local err = util.expect_failure(g.users.update, { id = fx.adele_id, body = { jobTitle = "Dropped" } })
      assert.equal("transport", err.kind)
      assert.equal(true, err.request_sent)
      assert.equal(1, err.attempts)
      assert.equal(0, #seen)
      assert.equal(1, #user_requests("PATCH"), "the PATCH was sent more than once")
    end)

    it("a PATCH is not retried after a timeout once the request was sent", function()
      emu:fault{ target = "graph", path = USER_PATH, method = "PATCH", delay = 1, count = 1 }
      local g, seen = recording_client{ retry_delay = 0.01, timeout = 0.3 }
      local err = util.expect_failure(g.users.update, { id = fx.adele_id, body = { jobTitle = "Late" } })
      assert.equal("transport", err.kind)
      assert.equal("timeout", err.code)
      assert.equal(0, #seen)
      assert.equal(1, #user_requests("PATCH"))
      -- the server applies it once, late; wait for that so no later test sees it land
      local deadline = core.now() + 3
      while emu:user_state(fx.adele_id).jobTitle ~= "Late" and core.now() < deadline do core.sleep(0.05) end
      assert.equal("Late", emu:user_state(fx.adele_id).jobTitle)
      assert.equal(1, #user_requests("PATCH"))
    end)

    it("a PATCH to a refused connection is retried: the request never left", function()
      local closed = emulator.closed_port()
      local g, seen = recording_client{ url = "http://127.0.0.1:" .. closed, login_url = emu.url,
        max_retries = 2, retry_delay = 0.01 }
      local err = util.expect_failure(g.users.update, { id = fx.adele_id, body = { jobTitle = "Refused" } })
      assert.equal("transport", err.kind)
      assert.equal("couldnt_connect", err.code)
      assert.equal(false, err.request_sent)
      assert.equal(3, err.attempts)
      assert.equal(2, #seen)
      for i, info in ipairs(seen) do
        assert.equal(i, info.attempt)
        assert.equal("PATCH", info.method)
        assert.equal("couldnt_connect", info.code)
      end
      assert.equal(1, #emu:token_requests())    -- the token came from the emulator, once
      assert.equal(0, #emu:graph_requests())
    end)
  end)

  describe("max_response_bytes", function()
    it("cuts off a larger body with too_large, and the next call on the client succeeds", function()
      emu:fault{ target = "graph", path = USER_PATH, action = "oversized", size = 300000, count = 1 }
      local g, seen = recording_client{ max_response_bytes = 100000 }
      local err = util.expect_failure(get_user, g)
      assert.equal("transport", err.kind)
      assert.equal("too_large", err.code)
      assert.equal(1, err.attempts)
      assert.equal(0, #seen)
      local user = util.expect_success(get_user, g)
      assert.equal(fx.adele_id, user.id)
    end)

    it("lets a body under the limit through", function()
      emu:fault{ target = "graph", path = USER_PATH, action = "oversized", size = 90000, count = 1 }
      local g = emu:client{ max_response_bytes = 100000 }
      local doc = util.expect_success(get_user, g)
      assert.equal(90000 - #'{"value":""}', #doc.value)
    end)
  end)

  describe("hostile input raises before any request", function()
    local BAD = { ["CR"] = "a\rb", ["LF"] = "a\nb", ["CRLF"] = "x\r\nHost: evil", ["NUL"] = "a\0b" }

    local function expect_raise(fname, field, f, ...)
      local ok, msg = pcall(f, ...)
      assert.is_false(ok, "did not raise")
      msg = tostring(msg)
      assert.truthy(msg:find(fname, 1, true), "message does not name " .. fname .. ": " .. msg)
      assert.truthy(msg:find(field, 1, true), "message does not name " .. field .. ": " .. msg)
      return msg
    end

    local function assert_no_requests()
      assert.equal(0, #emu:requests())
    end

    for what, bad in pairs(BAD) do
      it(("refuses %s in an id, for every action"):format(what), function()
        local g = emu:client()
        expect_raise("graph.users.get", "id", g.users.get, { id = bad })
        expect_raise("graph.users.get", "id", g.users.get, { ["path parameters"] = { id = bad } })
        expect_raise("graph.presence.get", "id", g.presence.get, { id = bad })
        expect_raise("graph.users.memberof", "id", g.users.memberof, { id = bad })
        expect_raise("graph.users.memberof", "id", g.users.memberof,
          { ["path parameters"] = { ["email address"] = bad } })
        expect_raise("graph.users.update", "id", g.users.update, { id = bad, body = { jobTitle = "x" } })
        expect_raise("graph.users.update", "id", g.users.update,
          { ["json body"] = { jobTitle = "x" }, ["path parameters"] = { ["user id"] = bad } })
        assert_no_requests()
      end)

      it(("refuses %s in select, filter, search and orderby"):format(what), function()
        local g = emu:client()
        expect_raise("graph.users.get", "select", g.users.get, { id = fx.adele_id, select = bad })
        expect_raise("graph.users.get", "select", g.users.get, { id = fx.adele_id, select = { "id", bad } })
        expect_raise("graph.users.get", "select", g.users.get,
          { ["path parameters"] = { id = fx.adele_id }, parameters = { ["$select"] = bad } })
        expect_raise("graph.users.memberof", "select", g.users.memberof, { id = fx.adele_id, select = bad })
        expect_raise("graph.users.memberof", "filter", g.users.memberof, { id = fx.adele_id, filter = bad })
        expect_raise("graph.users.memberof", "search", g.users.memberof, { id = fx.adele_id, search = bad })
        expect_raise("graph.users.memberof", "orderby", g.users.memberof, { id = fx.adele_id, orderby = bad })
        expect_raise("graph.users.memberof", "filter", g.users.memberof,
          { ["path parameters"] = { id = fx.adele_id }, parameters = { ["$filter"] = bad } })
        assert_no_requests()
      end)

      it(("refuses %s in client string options, naming the field and not echoing the value"):format(what), function()
        local fields = { "user_agent", "tenant_id", "client_id", "client_secret", "url", "login_url",
          "scope", "ca_file", "http_proxy", "token_url" }
        for _, field in ipairs(fields) do
          local msg = expect_raise("graph.client", field, graph.client, emu:client_options{ [field] = bad })
          assert.is_nil(msg:find(bad, 1, true), msg)
        end
        expect_raise("graph.client", "scope", graph.client,
          emu:client_options{ scope = { "https://graph.microsoft.com/.default", bad } })
        expect_raise("graph.client", "password", graph.client,
          emu:client_options{ username = fx.adele_upn, password = bad })
        expect_raise("graph.client", "username", graph.client,
          emu:client_options{ username = bad, password = fx.adele_password })
        expect_raise("graph.client", "refresh_token", graph.client,
          emu:client_options{ refresh_token = bad, tenant_id = emulator.NONE })
        assert_no_requests()
      end)
    end

    it("keeps a JSON body's own newlines: they are escaped, not refused", function()
      local g = emu:client()
      assert.is_true(util.expect_success(g.users.update, { id = fx.adele_id, body = { jobTitle = "line1\nline2" } }))
      assert.equal("line1\nline2", emu:user_state(fx.adele_id).jobTitle)
    end)
  end)

  describe("a stalled body", function()
    it("is cut off by stall_timeout well before the total timeout, and is not retried", function()
      emu:fault{ target = "graph", path = USER_PATH, action = "stall_body", stall = 5, count = 1 }
      local g, seen = recording_client{ stall_timeout = 1, timeout = 20 }
      local t0 = core.now()
      local err = util.expect_failure(get_user, g)
      local elapsed = core.now() - t0
      assert.equal("transport", err.kind)
      assert.equal(1, err.attempts)        -- the response had started: not retried
      assert.equal(0, #seen)
      assert.equal(1, #user_requests())
      local user = util.expect_success(get_user, g)
      assert.equal(fx.adele_id, user.id)
      assert.is_true(elapsed < 3.5, ("cut off after %.3f s (%s), stall_timeout 1 s, the server stalled 5 s")
        :format(elapsed, tostring(err.code)))
      assert.equal("timeout", err.code)
    end)

    it("stall_timeout below 1 raises at graph.client", function()
      local ok, msg = pcall(graph.client, emu:client_options{ stall_timeout = 0.5 })
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("stall_timeout", 1, true), msg)
    end)
  end)

  -- The token endpoint (issue 10): its 429 and 503 are retried after their
  -- Retry-After within the call's budget; a redemption that never left is
  -- retried; one that may have reached the server is never re-sent.
  describe("the token endpoint", function()
    local function token_fault(status, retry_after, count)
      return { target = "token", status = status, count = count or 1,
        headers = retry_after and { ["Retry-After"] = retry_after } or nil,
        json = { error = status == 429 and "too_many_requests" or "temporarily_unavailable",
                 error_description = "AADSTS90000: try again later" } }
    end

    for _, status in ipairs{ 429, 503 } do
      it(("retries a %d after its Retry-After, and the call succeeds"):format(status), function()
        emu:fault(token_fault(status, "0.2", 2))
        local g, seen = recording_client{ max_retries = 3 }
        local t0 = core.now()
        local user = util.expect_success(get_user, g)
        assert.equal(fx.adele_id, user.id)
        assert.is_true(core.now() - t0 >= 0.38)
        assert.equal(3, #emu:token_requests())
        assert.equal(1, #user_requests())
        assert.equal(2, #seen)
        assert.equal(status, seen[1].status_code)
        assert.equal(0.2, seen[1].delay)
      end)
    end

    it("gives up after max_retries with the status and retry_after", function()
      emu:fault(token_fault(429, "0.1", 10))
      local err = util.expect_failure(get_user, emu:client{ max_retries = 2 })
      assert.equal(429, err.status_code)
      assert.equal(0.1, err.retry_after)
      assert.equal(3, err.attempts)
      assert.equal(3, #emu:token_requests())
      assert.equal(0, #user_requests())
    end)

    it("returns at once when Retry-After is beyond the retry budget", function()
      emu:fault(token_fault(503, "30", 10))
      local t0 = core.now()
      local err = util.expect_failure(get_user, emu:client{ retry_budget = 5 })
      assert.is_true(core.now() - t0 < 2)
      assert.equal(503, err.status_code)
      assert.equal(30, err.retry_after)
      assert.equal(1, #emu:token_requests())
    end)

    it("does not count its retries in the request's Retry-Attempt", function()
      emu:fault(token_fault(503, "0.05", 1))
      emu:fault(throttle(429, "0.05", 1))
      util.expect_success(get_user, emu:client{ max_retries = 3 })
      local reqs = user_requests()
      assert.equal(2, #reqs)
      assert.is_nil(reqs[1].headers["retry-attempt"])
      assert.equal("1", reqs[2].headers["retry-attempt"])
    end)

    it("shares one retry budget with the Graph request", function()
      emu:fault(token_fault(429, "0.05", 1))
      emu:fault(throttle(429, "0.05", 10))
      local err = util.expect_failure(get_user, emu:client{ max_retries = 1 })
      assert.equal(429, err.status_code)
      assert.equal(2, #emu:token_requests())
      assert.equal(1, #user_requests())          -- the one retry went to the token
    end)

    it("does not retry a 500 or a refusal", function()
      emu:fault{ target = "token", status = 500, count = 10, json = { error = "server_error" } }
      util.expect_failure(get_user, emu:client{ max_retries = 3 })
      assert.equal(1, #emu:token_requests())
      emu:reset()
      util.expect_failure(get_user, emu:client{ max_retries = 3, client_secret = "wrong" })
      assert.equal(1, #emu:token_requests())
    end)

    it("never re-sends a redemption that may have reached the server", function()
      emu:fault{ target = "token", action = "drop", count = 10 }
      local g, seen = recording_client{ max_retries = 3, retry_delay = 0.01 }
      local err = util.expect_failure(get_user, g)
      assert.equal("transport", err.kind)
      assert.equal(1, #emu:token_requests())
      assert.equal(0, #seen)
    end)

    it("retries a redemption that never left (connection refused)", function()
      local closed = emulator.closed_port()
      local g, seen = recording_client{ login_url = "http://127.0.0.1:" .. closed,
        max_retries = 2, retry_delay = 0.01 }
      local err = util.expect_failure(get_user, g)
      assert.equal("transport", err.kind)
      assert.equal("couldnt_connect", err.code)
      assert.equal(3, err.attempts)
      assert.equal(2, #seen)
      assert.equal("couldnt_connect", seen[1].code)
      assert.equal(0, #emu:requests())
    end)
  end)

  -- Rotated refresh tokens (issue 10): on_refresh_token hears of a rotation
  -- before the call that caused it returns, whatever that call comes to.
  describe("a rotated refresh token", function()
    local outcomes = {
      { "a 404", { status = 404 } },
      { "a 503", { status = 503, count = 10 } },
      { "a dropped connection", { action = "drop", count = 10 } },
    }
    for _, case in ipairs(outcomes) do
      it(("reaches on_refresh_token when the call then ends in %s"):format(case[1]), function()
        local seen = {}
        local g = emu:client{ refresh_token = fx.seed_refresh_token, max_retries = 0,
          on_refresh_token = function(rt) seen[#seen + 1] = rt end }
        local f = { target = "graph", path = USER_PATH }
        for k, v in pairs(case[2]) do f[k] = v end
        emu:fault(f)
        util.expect_failure(get_user, g)
        assert.equal(1, #seen)
        assert.are_not.equal(fx.seed_refresh_token, seen[1])
        assert.equal(g:refresh_token(), seen[1])
      end)
    end

    it("reaches on_refresh_token from a bulk call whose requests all fail", function()
      local seen = {}
      local g = emu:client{ refresh_token = fx.seed_refresh_token, max_retries = 0,
        on_refresh_token = function(rt) seen[#seen + 1] = rt end }
      local res, summary = g.users.get_many{ ids = { fx.missing_id, fx.missing_id } }
      assert.same({ ok = 0, failed = 2 }, summary)
      assert.equal(404, res[1].status_code)
      assert.equal(1, #seen)
      assert.equal(g:refresh_token(), seen[1])
    end)
  end)
end)
