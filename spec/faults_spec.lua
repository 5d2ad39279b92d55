-- Fault tests against the emulator (issue 4): each fault gives nil, err with
-- the right kind and code, leaves the same client usable for the very next
-- call, and loses no data. errors_spec.lua checks the kinds of most of these
-- on fresh clients; this checks codes, recovery and data safety.
describe("faults", function()
  local core = require "graph.core"
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"

  local emu
  setup(function() emu = emulator.shared() end)
  before_each(function() emu:reset() end)

  local USER_TARGET = "/v1.0/users/" .. fx.adele_id
  local USER_PATH = "^/v1\\.0/users/" .. fx.adele_id .. "$"

  local function user_requests(method) return emu:requests_to(USER_TARGET, method) end

  local function get_user(g) return g.users.get{ id = fx.adele_id } end

  local function assert_usable(g)
    local user = util.expect_success(get_user, g)
    assert.equal(fx.adele_id, user.id)
  end

  local function assert_well_formed(err)
    assert.is_string(err.kind)
    assert.is_string(err.code)
    assert.is_string(err.message)
    local text = tostring(err)
    assert.is_nil(text:find("[\r\n]"), text)
    assert.is_nil(text:find("^table: "), text)
  end

  describe("on a GET", function()
    local cases = {
      { "a connection dropped mid-headers", { action = "drop_mid_headers" }, "transport", "recv" },
      { "a connection dropped mid-body", { action = "drop_mid_body" }, "transport", "recv" },
      { "a stalled body", { action = "stall_body", stall = 2 }, "transport", "timeout", nil, { timeout = 0.6 } },
      { "malformed JSON", { action = "malformed_json" }, "decode", "invalid_json", 200 },
      { "truncated JSON", { action = "truncated_json" }, "decode", "invalid_json", 200 },
      { "an HTML 502 page", { action = "html_502" }, "graph", "http_502", 502 },
      { "a wrong Content-Type", { action = "wrong_content_type" }, "decode", "content_type", 200 },
      { "corrupt gzip", { action = "corrupt_gzip" }, "transport", "bad_encoding" },
      { "an oversized body", { action = "oversized", size = 300000 }, "transport", "too_large", nil,
        { max_response_bytes = 100000 } },
    }

    for _, case in ipairs(cases) do
      local name, fault, kind, code, status, opts = (table.unpack or unpack)(case)
      it(("%s gives %s %s, and the same client's next call succeeds"):format(name, kind, code), function()
        local o = { retry_delay = 0.01 }
        for k, v in pairs(opts or {}) do o[k] = v end
        local g = emu:client(o)
        assert_usable(g)                         -- the fault hits a kept-alive connection
        local f = { target = "graph", path = USER_PATH, count = 1 }
        for k, v in pairs(fault) do f[k] = v end
        emu:fault(f)
        local err = util.expect_failure(get_user, g)
        assert.equal(kind, err.kind)
        assert.equal(code, err.code)
        if status then assert.equal(status, err.status_code) end
        assert_well_formed(err)
        -- a response had started: none of these may be retried
        assert.equal(2, #user_requests())
        assert_usable(g)
        assert.equal(3, #user_requests())
        assert.equal(1, err.attempts, "err.attempts")
      end)
    end

    it("an oversized body over the default 64 MiB limit is refused at once, not buffered", function()
      local g = emu:client()
      emu:fault{ target = "graph", path = USER_PATH, action = "oversized", count = 1 }  -- 128 MiB
      local t0 = core.now()
      local err = util.expect_failure(get_user, g)
      assert.equal("transport", err.kind)
      assert.equal("too_large", err.code)
      assert.is_true(core.now() - t0 < 3, ("took %.3f s"):format(core.now() - t0))
      assert_usable(g)
    end)

    it("a slow but steady header stream is progress, not a stall", function()
      local g = emu:client{ stall_timeout = 1, timeout = 10, max_retries = 0 }
      emu:fault{ target = "graph", path = USER_PATH, action = "slow_headers", stall = 2.5, count = 1 }
      local t0 = core.now()
      assert_usable(g)                         -- one header line every 0.3 s for 2.5 s
      assert.is_true(core.now() - t0 >= 2.4, ("took %.3f s"):format(core.now() - t0))
      assert.equal(1, #user_requests())
    end)

    it("an HTML 502 is retried when 502 is in retry_statuses", function()
      emu:fault{ target = "graph", path = USER_PATH, action = "html_502", count = 1 }
      local g = emu:client{ retry_statuses = { 502 }, retry_delay = 0.01 }
      assert_usable(g)
      assert.equal(2, #user_requests())
    end)
  end)

  describe("on a PATCH, no data is lost", function()
    -- Interrupt a PATCH, check what the server holds, retry it as a script
    -- would, and check that the update is there once.
    local function interrupted_update(fault, applied, opts)
      local g = emu:client(opts)
      assert_usable(g)
      local before = emu:user_state(fx.adele_id).jobTitle
      local f = { target = "graph", path = USER_PATH, method = "PATCH", count = 1 }
      for k, v in pairs(fault) do f[k] = v end
      emu:fault(f)
      local err = util.expect_failure(g.users.update, { id = fx.adele_id, body = { jobTitle = "Interrupted" } })
      assert.equal("transport", err.kind)
      assert_well_formed(err)
      assert.equal(1, err.attempts)
      assert.equal(1, #user_requests("PATCH"), "the interrupted PATCH was sent more than once")
      assert.equal(applied and "Interrupted" or before, emu:user_state(fx.adele_id).jobTitle)
      -- the script retries; the same client does it
      assert.is_true(util.expect_success(g.users.update, { id = fx.adele_id, body = { jobTitle = "Interrupted" } }))
      assert.equal(2, #user_requests("PATCH"))
      local state = emu:user_state(fx.adele_id)
      assert.equal("Interrupted", state.jobTitle)
      assert.equal(fx.adele_upn, state.userPrincipalName)
      assert_usable(g)
      return err
    end

    it("when the connection drops mid-headers (not applied)", function()
      local err = interrupted_update({ action = "drop_mid_headers" }, false)
      assert.equal("recv", err.code)
    end)

    it("when the connection drops mid-body (applied)", function()
      local err = interrupted_update({ action = "drop_mid_body" }, true)
      assert.equal("recv", err.code)
    end)

    it("when the body stalls (applied)", function()
      local err = interrupted_update({ action = "stall_body", stall = 1.5 }, true, { timeout = 0.6 })
      assert.equal("timeout", err.code)
    end)
  end)

  describe("a 429 storm", function()
    local function storm(retry_after)
      emu:fault{ target = "graph", path = USER_PATH, status = 429, count = 50,
        headers = retry_after and { ["Retry-After"] = retry_after } or nil }
    end

    local function total(seen)
      local sum = 0
      for _, info in ipairs(seen) do sum = sum + info.delay end
      return sum
    end

    it("respects retry_budget with Retry-After: ~2 retries of 0.4 s in a 1 s budget, then at once", function()
      storm("0.4")
      local seen = {}
      local g = emu:client{ max_retries = 10, retry_budget = 1, on_retry = function(i) seen[#seen + 1] = i end }
      local t0 = core.now()
      local err = util.expect_failure(get_user, g)
      local elapsed = core.now() - t0
      assert.equal("graph", err.kind)
      assert.equal(429, err.status_code)
      assert.equal("TooManyRequests", err.code)
      assert.equal(3, err.attempts)
      assert.equal(2, #seen)
      assert.is_true(total(seen) <= 1)
      assert.near(0.4, err.retry_after, 1e-9)
      assert.is_true(elapsed >= 0.8, ("took %.3f s"):format(elapsed))
      assert.is_true(elapsed < 1.3, ("took %.3f s for a 1 s budget"):format(elapsed))
      assert.equal(3, #user_requests())
      emu:clear_faults()
      assert_usable(g)
    end)

    it("respects retry_budget with backoff: the delays never add up past it", function()
      storm(nil)
      local seen = {}
      local g = emu:client{ max_retries = 10, retry_delay = 0.2, retry_budget = 0.5,
        on_retry = function(i) seen[#seen + 1] = i end }
      local t0 = core.now()
      local err = util.expect_failure(get_user, g)
      local elapsed = core.now() - t0
      assert.equal(429, err.status_code)
      assert.is_true(total(seen) <= 0.5, ("slept %.3f s in a 0.5 s budget"):format(total(seen)))
      assert.is_true(elapsed < 1.0, ("took %.3f s"):format(elapsed))
      assert.equal(#seen + 1, err.attempts)
      assert.is_number(err.retry_after)
      emu:clear_faults()
      assert_usable(g)
    end)
  end)

  describe("the token endpoint refusing connections", function()
    it("gives transport couldnt_connect, and Graph is never contacted", function()
      local login = "http://127.0.0.1:" .. emulator.closed_port()
      local g = emu:client{ login_url = login, max_retries = 0 }
      local err = util.expect_failure(get_user, g)
      assert.equal("transport", err.kind)
      assert.equal("couldnt_connect", err.code)
      assert_well_formed(err)
      assert.equal(0, emu:stats().requests)
      assert.equal(0, #emu:requests())
    end)

    it("is retried, as the request never left, and still never reaches Graph", function()
      local login = "http://127.0.0.1:" .. emulator.closed_port()
      local seen = {}
      local g = emu:client{ login_url = login, max_retries = 2, retry_delay = 0.01,
        on_retry = function(i) seen[#seen + 1] = i end }
      local err = util.expect_failure(get_user, g)
      assert.equal("couldnt_connect", err.code)
      assert.equal(3, err.attempts)
      assert.equal(2, #seen)
      assert.equal(0, emu:stats().requests)
    end)
  end)

  describe("DNS failure", function()
    it("for an .invalid login host gives couldnt_resolve", function()
      local g = emu:client{ url = "https://graph.invalid", login_url = "https://login.invalid", max_retries = 0 }
      local err = util.expect_failure(get_user, g)
      assert.equal("transport", err.kind)
      assert.equal("couldnt_resolve", err.code)
      assert_well_formed(err)
    end)

    it("for an .invalid Graph host gives couldnt_resolve after the token was obtained", function()
      local g = emu:client{ url = "https://graph.invalid", max_retries = 1, retry_delay = 0.01 }
      local err = util.expect_failure(get_user, g)
      assert.equal("transport", err.kind)
      assert.equal("couldnt_resolve", err.code)
      assert.equal(2, err.attempts)             -- never sent: retried
      assert.equal(1, #emu:token_requests())
      assert.equal(0, #emu:graph_requests())
    end)
  end)

  describe("TLS", function()
    local good, wronghost, expired
    setup(function()
      good = emulator.start{ tls = "server" }
      wronghost = emulator.start{ tls = "wronghost" }
      expired = emulator.start{ tls = "expired" }
    end)
    teardown(function()
      for _, e in ipairs{ good, wronghost, expired } do if e then e:stop() end end
    end)

    for _, which in ipairs{ "wronghost", "expired" } do
      local label = which == "wronghost" and "a wrong-host" or "an expired"
      it(("with %s certificate gives ssl_verify, sends nothing, and is not retried"):format(label), function()
        local bad = which == "wronghost" and wronghost or expired
        bad:reset()
        local g = bad:client{ ca_file = good.certs.ca, retry_delay = 0.01 }
        local err = util.expect_failure(get_user, g)
        assert.equal("transport", err.kind)
        assert.equal("ssl_verify", err.code)
        assert_well_formed(err)
        assert.equal(1, err.attempts)
        local stats = bad:stats()
        assert.equal(0, stats.requests)
        assert.equal(0, stats.tls_handshakes)
        -- a client for a good endpoint works meanwhile
        assert_usable(good:client())
      end)

      it(("on the Graph endpoint only (%s certificate) never hands it the token"):format(label), function()
        local bad = which == "wronghost" and wronghost or expired
        good:reset()
        bad:reset()
        local g = good:client{ url = bad.url, retry_delay = 0.01 }
        local err = util.expect_failure(get_user, g)
        assert.equal("transport", err.kind)
        assert.equal("ssl_verify", err.code)
        assert_well_formed(err)
        assert.equal(1, #good:token_requests())
        assert.equal(0, bad:stats().requests)
        -- a certificate that fails verification fails again: no retries
        assert.equal(1, err.attempts)
      end)
    end
  end)
end)
