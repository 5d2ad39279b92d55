-- Runtime failures, retries, token and connection reuse.
describe("errors and resilience", function()
  local core = require "graph.core"
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"

  local emu
  setup(function() emu = emulator.shared() end)
  before_each(function() emu:reset() end)

  local USER_PATH = "^/v1\\.0/users/" .. fx.adele_id .. "$"

  local function user_requests() return #emu:requests_to("/v1.0/users/" .. fx.adele_id) end

  local function throttle(status, retry_after, count)
    emu:fault{ target = "graph", path = USER_PATH, status = status, count = count,
      headers = retry_after and { ["Retry-After"] = retry_after } or nil,
      json = { error = { code = status == 429 and "TooManyRequests" or "serviceNotAvailable",
                         message = "Please retry again later." } } }
  end

  local function get_user(g) return g.users.get{ id = fx.adele_id } end

  local function assert_one_line(err)
    local text = tostring(err)
    assert.is_string(text)
    assert.is_true(#text > 0)
    assert.is_nil(text:find("[\r\n]"), text)
    assert.is_nil(text:find("^table: "), text)
  end

  describe("every runtime failure", function()
    local closed_port
    setup(function() closed_port = emulator.closed_port() end)

    local scenarios = {
      { "a missing user", function(g) return g.users.get{ id = fx.missing_id } end, "graph" },
      { "a refused secret", function() return emu:client{ client_secret = "bad" }.users.get{ id = fx.adele_id } end, "auth" },
      { "a closed port", function() return emu:client{ url = "http://127.0.0.1:" .. closed_port,
          login_url = "http://127.0.0.1:" .. closed_port, max_retries = 0 }.users.get{ id = fx.adele_id } end,
        "transport", "couldnt_connect" },
      { "a server error", function(g)
          emu:fault{ target = "graph", path = USER_PATH, status = 500, count = 1,
            json = { error = { code = "generalException", message = "boom" } } }
          return get_user(g) end, "graph" },
      { "malformed JSON", function(g)
          emu:fault{ target = "graph", path = USER_PATH, action = "malformed_json", count = 1 }
          return get_user(g) end, "decode" },
      { "truncated JSON", function(g)
          emu:fault{ target = "graph", path = USER_PATH, action = "truncated_json", count = 1 }
          return get_user(g) end, "decode" },
      { "an empty body with status 200", function()
          emu:fault{ target = "graph", path = USER_PATH, body = "", count = 1 }
          return get_user(emu:client{ timeout = 2, max_retries = 0 }) end, "decode" },
      { "an HTML page with status 200", function(g)
          emu:fault{ target = "graph", path = USER_PATH, action = "wrong_content_type", count = 1 }
          return get_user(g) end, "decode" },
      { "a dropped connection", function()
          emu:fault{ target = "graph", path = USER_PATH, action = "drop", count = 10 }
          return get_user(emu:client{ max_retries = 0 }) end, "transport" },
      { "a connection dropped in the headers", function()
          emu:fault{ target = "graph", path = USER_PATH, action = "drop_mid_headers", count = 10 }
          return get_user(emu:client{ max_retries = 0 }) end, { "transport", "decode" } },
      { "a timeout", function()
          emu:fault{ target = "graph", path = USER_PATH, delay = 3, count = 10 }
          return get_user(emu:client{ timeout = 0.5, max_retries = 0 }) end, "transport", "timeout" },
      { "a token endpoint outage", function()
          emu:fault{ target = "token", status = 500, count = 10, json = { error = "server_error" } }
          return get_user(emu:client{ max_retries = 0 }) end, "auth" },
    }

    for _, case in ipairs(scenarios) do
      local name, call, kind, code = case[1], case[2], case[3], case[4]
      local kinds = type(kind) == "table" and kind or { kind }
      it(("is nil, err of kind %s for %s"):format(table.concat(kinds, " or "), name), function()
        local g = emu:client()
        local err = util.expect_failure(call, g)
        assert.truthy(util.contains(kinds, err.kind), "kind " .. tostring(err.kind))
        if code then assert.equal(code, err.code) end
        assert.is_string(err.code)
        -- an OAuth error without error_description has no message to give
        if err.kind ~= "auth" then assert.is_string(err.message) end
        assert_one_line(err)
        if err.kind == "graph" or err.kind == "decode" then
          assert.is_number(err.status_code)
          assert.is_string(err.reason)
          assert.is_table(err.headers)
          assert.is_string(err.request_id)
        end
      end)
    end
  end)

  describe("error tables", function()
    it("carry every field for a Graph error", function()
      local err = util.expect_failure(emu:client().users.get, { id = fx.missing_id })
      assert.equal("graph", err.kind)
      assert.equal(404, err.status_code)
      assert.equal("Not Found", err.reason)
      assert.equal("Request_ResourceNotFound", err.code)
      assert.is_string(err.message)
      assert.is_string(err.request_id)
      assert.is_true(util.is_guid(err.client_request_id))
      assert.is_table(err.headers)
      local text = tostring(err)
      assert.truthy(text:find("Request_ResourceNotFound", 1, true), text)
      assert.truthy(text:find("404", 1, true), text)
    end)

    it("from the token endpoint are redacted in every field and header too", function()
      local secret = fx.client_secret
      emu:fault{ target = "token", status = 400, count = 1,
        headers = { ["X-Echo"] = "x " .. secret, ["x-ms-request-id"] = "r " .. secret },
        json = { error = "invalid_request", error_description = "AADSTS900144: got " .. secret,
                 trace_id = "t " .. secret, correlation_id = "c " .. secret } }
      local err = util.expect_failure(emu:client{ max_retries = 0 }.users.get, { id = fx.adele_id })
      assert.equal("auth", err.kind)
      assert.equal("invalid_request", err.code)
      for _, str in ipairs(util.strings_in(err)) do
        assert.is_nil(str:find(secret, 1, true), str)
      end
      assert.matches("^x ", err.headers["x-echo"])
    end)

    it("carry the OAuth error and the AADSTS code for an auth error", function()
      local err = util.expect_failure(emu:client{ client_secret = "bad" }.users.get, { id = fx.adele_id })
      assert.equal("auth", err.kind)
      assert.equal(401, err.status_code)
      assert.equal("invalid_client", err.code)
      assert.truthy(err.message:find("AADSTS7000215", 1, true), err.message)
      assert.truthy(tostring(err):find("invalid_client", 1, true))
    end)

    it("carry invalid_grant and AADSTS50126 for a bad password", function()
      local g = emu:client{ username = fx.adele_upn, password = "wrong password" }
      local err = util.expect_failure(g.users.get, { id = fx.adele_id })
      assert.equal("auth", err.kind)
      assert.equal(400, err.status_code)
      assert.equal("invalid_grant", err.code)
      assert.truthy(err.message:find("AADSTS50126", 1, true), err.message)
    end)

    it("carry AADSTS50076 for a user that needs MFA", function()
      local g = emu:client{ username = fx.megan_upn, password = fx.megan_password }
      local err = util.expect_failure(g.users.get, { id = fx.adele_id })
      assert.equal("auth", err.kind)
      assert.equal("invalid_grant", err.code)
      assert.truthy(err.message:find("AADSTS50076", 1, true), err.message)
    end)

    it("make an HTML 502 from a proxy an HTTP error: kind graph, code http_502", function()
      emu:fault{ target = "graph", path = USER_PATH, action = "html_502", count = 10 }
      local err = util.expect_failure(emu:client{ max_retries = 0 }.users.get, { id = fx.adele_id })
      assert.equal("graph", err.kind)
      assert.equal(502, err.status_code)
      assert.equal("http_502", err.code)
      assert.matches("text/html", err.message)
      assert_one_line(err)
    end)

    it("make a non-JSON 414 and an empty 500 HTTP errors too", function()
      emu:fault{ target = "graph", path = USER_PATH, status = 414, count = 1,
                 body = "URI Too Long", headers = { ["Content-Type"] = "text/plain" } }
      local err = util.expect_failure(emu:client{ max_retries = 0 }.users.get, { id = fx.adele_id })
      assert.equal("graph", err.kind)
      assert.equal(414, err.status_code)
      assert.equal("http_414", err.code)
      emu:fault{ target = "graph", path = USER_PATH, status = 500, count = 1, body = "" }
      err = util.expect_failure(emu:client{ max_retries = 0 }.users.get, { id = fx.adele_id })
      assert.equal("graph", err.kind)
      assert.equal("http_500", err.code)
    end)

    it("are redacted in every string field and header a server can fill", function()
      local secret = fx.client_secret
      emu:fault{ target = "graph", path = USER_PATH, status = 400, count = 1,
        -- (a client-request-id that is not ours is refused as mismatched_response)
        headers = { ["request-id"] = "rid-" .. secret, ["X-Echo"] = "x " .. secret },
        json = { error = { code = "Bad_" .. secret, message = "you sent " .. secret,
                           innerError = { date = secret } } } }
      local err = util.expect_failure(emu:client().users.get, { id = fx.adele_id })
      assert.equal(400, err.status_code)
      for _, s in ipairs(util.strings_in(err)) do
        assert.is_nil(s:find(secret, 1, true), s)
      end
      assert.matches("^Bad_", err.code)
      assert.matches("^x ", err.headers["x-echo"])
      -- a redirect's Location too
      emu:fault{ target = "graph", path = USER_PATH, status = 307, count = 1,
        headers = { Location = "https://elsewhere.example/?s=" .. secret } }
      err = util.expect_failure(emu:client().users.get, { id = fx.adele_id })
      assert.is_string(err.location)
      assert.is_nil(err.location:find(secret, 1, true), err.location)
      assert.is_nil(tostring(err):find(secret, 1, true))
    end)
  end)

  describe("throttling", function()
    it("retries 429 honouring a fractional Retry-After", function()
      throttle(429, "0.2", 2)
      local t0 = core.now()
      local user = util.expect_success(emu:client().users.get, { id = fx.adele_id })
      local elapsed = core.now() - t0
      assert.equal(fx.adele_id, user.id)
      assert.equal(3, user_requests())
      assert.is_true(elapsed >= 0.38, ("waited only %.3f s"):format(elapsed))
      assert.is_true(elapsed < 5)
    end)

    it("retries 503 honouring an integer Retry-After", function()
      throttle(503, "1", 1)
      local t0 = core.now()
      util.expect_success(emu:client().users.get, { id = fx.adele_id })
      local elapsed = core.now() - t0
      assert.equal(2, user_requests())
      assert.is_true(elapsed >= 0.95, ("waited only %.3f s"):format(elapsed))
      assert.is_true(elapsed < 6)
    end)

    it("retries 504 with backoff when there is no Retry-After", function()
      throttle(504, nil, 2)
      local t0 = core.now()
      util.expect_success(emu:client{ retry_delay = 0.05 }.users.get, { id = fx.adele_id })
      assert.equal(3, user_requests())
      assert.is_true(core.now() - t0 < 5)
    end)

    it("gives up after max_retries with retry_after set", function()
      throttle(429, "0.1", 10)
      local err = util.expect_failure(emu:client{ max_retries = 2 }.users.get, { id = fx.adele_id })
      assert.equal("graph", err.kind)
      assert.equal(429, err.status_code)
      assert.equal("TooManyRequests", err.code)
      assert.equal(0.1, err.retry_after)
      assert.equal(3, user_requests())
    end)

    it("sets retry_after on the final failure even without Retry-After", function()
      throttle(504, nil, 10)
      local err = util.expect_failure(emu:client{ max_retries = 1, retry_delay = 0.05 }.users.get, { id = fx.adele_id })
      assert.equal(504, err.status_code)
      assert.is_number(err.retry_after)
      assert.is_true(err.retry_after >= 0)
      assert.equal(2, user_requests())
    end)

    it("does not retry with max_retries = 0", function()
      throttle(503, "0.1", 10)
      local err = util.expect_failure(emu:client{ max_retries = 0 }.users.get, { id = fx.adele_id })
      assert.equal(503, err.status_code)
      assert.equal(0.1, err.retry_after)
      assert.equal(1, user_requests())
    end)

    it("retries three times by default", function()
      throttle(429, "0.05", 10)
      local opts = emu:client_options{ max_retries = emulator.NONE }
      local err = util.expect_failure(require("graph").client(opts).users.get, { id = fx.adele_id })
      assert.equal(429, err.status_code)
      assert.equal(4, user_requests())
    end)

    it("does not retry other server errors", function()
      emu:fault{ target = "graph", path = USER_PATH, status = 500, count = 10,
        json = { error = { code = "generalException", message = "boom" } } }
      util.expect_failure(emu:client().users.get, { id = fx.adele_id })
      assert.equal(1, user_requests())
    end)

    it("retries an update too", function()
      throttle(429, "0.05", 1)
      local ok = util.expect_success(emu:client().users.update, { id = fx.adele_id, body = { jobTitle = "Retried" } })
      assert.is_true(ok)
      local patches = 0
      for _, r in ipairs(emu:graph_requests()) do
        if r.method == "PATCH" then patches = patches + 1 end
      end
      assert.equal(2, patches)
      assert.equal("Retried", emu:user_state(fx.adele_id).jobTitle)
    end)
  end)

  describe("tokens", function()
    it("are acquired once for 10 calls", function()
      local g = emu:client()
      local before = emu:stats()
      for _ = 1, 10 do util.expect_success(g.users.get, { id = fx.adele_id }) end
      assert.equal(1, emu:stats().token_requests - before.token_requests)
    end)

    it("are re-acquired once after a 401 for an expired token", function()
      local g = emu:client()
      util.expect_success(g.users.get, { id = fx.adele_id })
      emu:expire_tokens()
      local user = util.expect_success(g.users.get, { id = fx.adele_id })
      assert.equal(fx.adele_id, user.id)
      assert.equal(2, #emu:token_requests())
      assert.equal(3, user_requests())
    end)

    it("are not re-acquired in a loop when Graph keeps answering 401", function()
      local g = emu:client()
      emu:fault{ target = "graph", path = USER_PATH, status = 401, count = 10,
        json = { error = { code = "InvalidAuthenticationToken", message = "Access token validation failure." } } }
      local err = util.expect_failure(g.users.get, { id = fx.adele_id })
      assert.equal("graph", err.kind)
      assert.equal(401, err.status_code)
      assert.equal("InvalidAuthenticationToken", err.code)
      assert.equal(2, #emu:token_requests())
      assert.equal(2, user_requests())
    end)

    it("are renewed within a quarter of their lifetime (at most 5 minutes) of expiry", function()
      -- renewed after 1.5 s; a 2 s life leaves a loaded machine time to use
      -- each new token before the emulator itself expires it
      emu:config{ token_expires_in = 2 }
      local g = emu:client()
      for _ = 1, 3 do
        util.expect_success(g.users.get, { id = fx.adele_id })
        require("graph.core").sleep(1.6)
      end
      assert.equal(3, #emu:token_requests())
    end)

    it("are kept when they expire in more than 5 minutes", function()
      emu:config{ token_expires_in = 400 }
      local g = emu:client()
      for _ = 1, 3 do util.expect_success(g.users.get, { id = fx.adele_id }) end
      assert.equal(1, #emu:token_requests())
    end)
  end)

  describe("connections", function()
    it("are reused: 20 requests use one connection", function()
      local g = emu:client()
      local before = emu:stats()
      for _ = 1, 20 do util.expect_success(g.users.get, { id = fx.adele_id }) end
      local after = emu:stats()
      assert.equal(20, after.graph_requests - before.graph_requests)
      assert.equal(1, after.token_requests - before.token_requests)
      assert.equal(1, after.connections - before.connections)
    end)

    it("are re-established after the server drops one", function()
      local g = emu:client()
      util.expect_success(g.users.get, { id = fx.adele_id })
      emu:fault{ target = "graph", path = USER_PATH, action = "drop", count = 1 }
      pcall(g.users.get, { id = fx.adele_id })
      local user = util.expect_success(g.users.get, { id = fx.adele_id })
      assert.equal(fx.adele_id, user.id)
    end)
  end)

  describe("a request", function()
    it("never hangs: a slow token endpoint ends in a timeout", function()
      emu:fault{ target = "token", delay = 3, count = 10 }
      local t0 = core.now()
      local err = util.expect_failure(emu:client{ timeout = 0.5, max_retries = 0 }.users.get, { id = fx.adele_id })
      assert.equal("transport", err.kind)
      assert.equal("timeout", err.code)
      assert.is_true(core.now() - t0 < 3)
    end)

    it("never hangs: latency beyond timeout ends in a timeout", function()
      emu:config{ latency = 2 }
      local err = util.expect_failure(emu:client{ timeout = 0.4, max_retries = 0 }.users.get, { id = fx.adele_id })
      assert.equal("timeout", err.code)
    end)

    it("never hangs: a stalled body ends in a timeout", function()
      emu:fault{ target = "graph", path = USER_PATH, action = "stall_body", stall = 5, count = 10 }
      local t0 = core.now()
      local err = util.expect_failure(emu:client{ timeout = 0.5, max_retries = 0 }.users.get, { id = fx.adele_id })
      assert.equal("transport", err.kind)
      assert.equal("timeout", err.code)
      assert.is_true(core.now() - t0 < 3)
    end)
  end)

  describe("made of the C core's facts", function()
    local errors = require "graph.errors"
    local ERROR_MT = getmetatable(errors.new{ kind = "graph" })

    local function redacting(s) return function(text) return s:redact(text) end end

    -- The token request of core session `s`, stepped in place: its record.
    local function token_record(s)
      assert.is_true(s:auth("token", 7))
      while true do
        for _, r in ipairs(s:step_blocking()) do
          if r.id == 7 then return r end
        end
      end
    end

    it("of a transport failure are a plain table; from_core makes the error users see", function()
      local s = core.session{ timeout = 5 }
      local status, facts = s:request("GET", "http://127.0.0.1:" .. emulator.closed_port() .. "/x",
                                      {}, nil, false)
      assert.is_nil(status)
      assert.is_nil(getmetatable(facts))                -- no error object is made in C
      assert.equal("transport", facts.kind)
      assert.equal("couldnt_connect", facts.code)
      assert.is_false(facts.request_sent)
      local err = errors.from_core(facts, redacting(s))
      assert.equal(ERROR_MT, getmetatable(err))
      assert.matches("^transport: couldnt_connect: ", tostring(err))
      assert_one_line(err)
      s:close()
    end)

    it("of a token refusal carry the identity platform's reply as it came, redacted", function()
      emu:fault{ target = "token", status = 429, count = 1,
        headers = { ["Retry-After"] = "2", ["x-ms-request-id"] = "req-1" },
        json = { error = "temporarily_unavailable", error_codes = { 50196 },
                 error_description = "AADSTS50196: slow down " .. fx.client_secret } }
      local s = emu:session{}
      local facts = token_record(s).err
      assert.is_nil(getmetatable(facts))
      assert.equal("auth", facts.kind)
      assert.is_nil(facts.code)                         -- the reply is mapped in Lua, not here
      assert.is_nil(facts.retry_after)                  -- Retry-After is read in Lua, once
      assert.equal("temporarily_unavailable", facts.oauth.error)
      assert.equal("AADSTS50196: slow down <redacted>", facts.oauth.error_description)
      assert.equal(429, facts.status_code)
      assert.equal("2", facts.headers["retry-after"])
      local err = errors.from_core(facts, redacting(s))
      assert.equal(ERROR_MT, getmetatable(err))
      assert.equal("temporarily_unavailable", err.code)
      assert.equal("AADSTS50196: slow down <redacted>", err.message)
      assert.same({ 50196 }, err.error_codes)
      assert.equal(2, err.retry_after)
      assert.equal("req-1", err.request_id)
      assert.is_nil(err.oauth)
      s:close()
    end)

    it("map every field of the identity platform's error in one place", function()
      local secret = "s3cret-" .. core.guid()
      local function redact(text) return (text:gsub(secret:gsub("%-", "%%-"), "<redacted>")) end
      local err = errors.from_core({ kind = "auth", status_code = 302, reason = "Found",
        request_sent = true, response_started = true, client_request_id = "crid",
        headers = { location = "https://evil.example/" .. secret, ["x-ms-request-id"] = "r",
                    ["retry-after"] = "Thu, 01 Jan 1970 00:00:00 GMT", ["x-" .. secret] = secret },
        oauth = { error = "invalid_grant", error_description = "AADSTS50076: " .. secret,
                  trace_id = "t", correlation_id = "c", suberror = "basic_action",
                  error_uri = "https://e.example/", timestamp = "2026-12-02 01:02:03Z",
                  error_codes = { 50076, "50079", { 1 }, 50079 }, access_token = "never-copied" } },
        redact)
      assert.same({ kind = "auth", code = "invalid_grant", message = "AADSTS50076: <redacted>",
        status_code = 302, reason = "Found", request_sent = true, response_started = true,
        client_request_id = "crid", request_id = "r", retry_after = 0, trace_id = "t",
        correlation_id = "c", suberror = "basic_action", error_uri = "https://e.example/",
        timestamp = "2026-12-02 01:02:03Z", error_codes = { 50076, 50079 },
        location = "https://evil.example/<redacted>",
        headers = { location = "https://evil.example/<redacted>", ["x-ms-request-id"] = "r",
                    ["retry-after"] = "Thu, 01 Jan 1970 00:00:00 GMT",
                    ["x-<redacted>"] = "<redacted>" } }, err)
      assert.equal(ERROR_MT, getmetatable(err))
      assert.equal(err, errors.from_core(err, redact))  -- an error already made stays as it is
      assert.equal("invalid_grant", err.code)
      assert.equal("auth: 302 invalid_grant: AADSTS50076: <redacted> (request-id r)", tostring(err))
    end)

    it("of a transport failure are logged as the error they make, in both waits", function()
      local port = emulator.closed_port()
      for _, many in ipairs{ false, true } do
        local lines = {}
        local g = emu:client{ url = "http://127.0.0.1:" .. port, max_retries = 0,
                              log = function(line) lines[#lines + 1] = line end }
        local call = many and g.users.get_many or g.users.get
        local out = call(many and { ids = { fx.adele_id } } or { id = fx.adele_id })
        if many then assert.equal("transport", out[1].kind) end
        local text = table.concat(lines, "\n")
        assert.truthy(text:find("-> transport: couldnt_connect: ", 1, true), text)
        assert.is_nil(text:find("table: 0x", 1, true), text)
        g:close()
      end
    end)

    it("read Retry-After one way, in graph.errors only", function()
      assert.is_nil(require("graph.policy").retry_after)
      assert.equal(1.5, errors.retry_after{ ["retry-after"] = "1.5" })
      assert.equal(3, errors.retry_after{ ["retry-after"] = 3 })
      assert.equal(0, errors.retry_after{ ["retry-after"] = "Thu, 01 Jan 1970 00:00:00 GMT" })
      assert.is_nil(errors.retry_after{ ["retry-after"] = "soon" })
      assert.is_nil(errors.retry_after{})
      assert.is_nil(errors.retry_after(nil))
    end)
  end)

  describe("the suite's secrets scan", function()
    local secrets = require "support.secrets"

    it("observes what client actions return, down to a batch item's error body", function()
      local marker = "marker " .. core.guid()
      emu:fault{ target = "batch_item", path = "lynne", status = 400, count = 1,
                 headers = { ["X-Marker"] = "h " .. marker },
                 json = { error = { code = "BadRequest", innerError = { detail = "b " .. marker } } } }
      emu:client().batch{ requests = { { method = "GET", url = "/users/" .. fx.lynne_upn } } }
      assert.is_true(secrets.seen["h " .. marker])
      assert.is_true(secrets.seen["b " .. marker])
      local n = 0
      for page in emu:client().pages{ path = "/users", query = { ["$top"] = 29 } } do
        n = n + 1
        assert.is_true(secrets.seen[page["@odata.context"]])
      end
      assert.equal(2, n)
    end)

    it("finds a secret anywhere in the strings of a nested value", function()
      local planted = "planted-" .. core.guid()
      local value = { { status = 400, headers = { ["x-a"] = "b" },
                        body = { error = { details = { { message = "x" .. planted .. "y" } } } } } }
      local hits = secrets.scan(util.strings_in(value), { [planted] = true, ["absent-secret"] = true })
      assert.equal(1, #hits)
      assert.equal(planted, hits[1].secret)
      assert.equal("x" .. planted .. "y", hits[1].seen)
    end)
  end)
end)
