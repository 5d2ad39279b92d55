-- Beyond the four actions: g.request, g.pages, g.items, users.list, the
-- connector's other capabilities (sessions, licenses, security alerts),
-- and debug logging.
describe("any endpoint", function()
  local util = require "support.util"
  local emulator = require "support.emulator"
  local fx = require "support.fixtures"
  local json = require "graph.json"

  local E3_SKU = "6fd2c87f-b296-42f0-b197-1e91e994b900"        -- ENTERPRISEPACK
  local SWAY_PLAN = "a23b959c-7ce8-4e57-9140-b90eb88a9e97"
  local HIGH_NEW_ALERT = "da638614425261848130_1849275630"

  local emu
  setup(function() emu = emulator.shared() end)
  before_each(function() emu:reset() end)

  local function last_request()
    local list = emu:requests()
    return list[#list]
  end

  describe("g.request", function()
    it("reaches a v1.0 endpoint with a query table, returning result and response", function()
      local g = emu:client()
      local user, response = util.expect_success(g.request, { path = "/users/" .. fx.adele_id,
        query = { ["$select"] = "id,displayName" } })
      assert.equal("Adele Vance", user.displayName)
      assert.equal(200, response.status_code)
      assert.equal("/v1.0/users/" .. fx.adele_id .. "?$select=id,displayName", last_request().path)
    end)

    it("reaches beta by path or by version, and sends headers and bodies", function()
      local g = emu:client()
      util.expect_success(g.request, { path = "/beta/users/" .. fx.adele_id })
      assert.matches("^/beta/users/", last_request().path)
      util.expect_success(g.request, { path = "/users/" .. fx.adele_id, version = "beta" })
      assert.matches("^/beta/users/", last_request().path)
      local ok = util.expect_success(g.request, { method = "patch", path = "/users/" .. fx.adele_id,
        body = { officeLocation = "Lab 7" } })
      assert.is_true(ok)
      assert.equal("Lab 7", emu:user_state(fx.adele_id).officeLocation)
      util.expect_success(g.request, { method = "PATCH", path = "/users/" .. fx.adele_id,
        body = '{"officeLocation":"Lab 8"}', headers = { ["Content-Type"] = "application/json" } })
      assert.equal("Lab 8", emu:user_state(fx.adele_id).officeLocation)
    end)

    it("sends a string body holding newlines as it is", function()
      local g = emu:client()
      local body = '{\n  "officeLocation": "Lab\\n9"\n}\n'
      local ok = util.expect_success(g.request, { method = "PATCH", path = "/users/" .. fx.adele_id,
        body = body })
      assert.is_true(ok)
      assert.equal(body, last_request().body)
      assert.equal("Lab\n9", emu:user_state(fx.adele_id).officeLocation)
      -- headers, paths and query values still refuse CR and LF
      assert.has_error(function() g.request{ path = "/users", headers = { X = "a\nb" }, body = "a\nb" } end)
      assert.has_error(function() g.request{ path = "/users", query = { ["$filter"] = "a\nb" } } end)
    end)

    it("takes a body with a trailing newline from msgraph request --body -", function()
      local lua = jit and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
      local q = util.shell_quote
      local cmd = ("printf '%%s\\n' %s | env -i PATH=%s AZURE_TENANT_ID=%s AZURE_CLIENT_ID=%s " ..
        "AZURE_CLIENT_SECRET=%s GRAPH_URL=%s AZURE_AUTHORITY_HOST=%s %s %s request PATCH %s --body -")
        :format(q('{"officeLocation":"Lab 10"}'), q(os.getenv("PATH") or "/usr/bin:/bin"),
          q(emu.tenant_id), q(emu.client_id), q(emu.client_secret), q(emu.url), q(emu.url),
          lua, q(util.root .. "/bin/msgraph"), q("/users/" .. fx.adele_id))
      local out, ok = util.run(cmd)
      require("support.secrets").observe(out)
      assert.is_true(ok, out)
      assert.equal('{"officeLocation":"Lab 10"}\n', last_request().body)
      assert.equal("Lab 10", emu:user_state(fx.adele_id).officeLocation)
    end)

    it("returns a non-JSON answer as its text", function()
      local g = emu:client()
      local count, response = util.expect_success(g.request, { path = "/users/$count",
        headers = { ConsistencyLevel = "eventual" } })
      assert.equal("string", type(count))
      assert.equal(30, tonumber(count))
      assert.matches("text/plain", response.headers["content-type"])
    end)

    it("returns nil, err like every action", function()
      local err = util.expect_failure(emu:client().request, { path = "/users/" .. fx.missing_id })
      assert.equal("graph", err.kind)
      assert.equal("Request_ResourceNotFound", err.code)
    end)

    it("raises on a malformed call", function()
      local g = emu:client()
      assert.has_error(function() g.request{ path = "users" } end)
      assert.has_error(function() g.request{ path = "/users?$top=1" } end)
      assert.has_error(function() g.request{ path = "/users", version = "v2" } end)
      assert.has_error(function() g.request{ path = "/users", query = { ["$top"] = {} } } end)
      assert.has_error(function() g.request{ path = "/users", headers = { X = "a\r\nb" } } end)
      assert.has_error(function() g.request{ path = "/users", methd = "GET" } end,
        "graph.request: unknown option 'methd'")
    end)
  end)

  describe("g.pages and g.items", function()
    it("follow @odata.nextLink lazily, one request per page", function()
      local g = emu:client()
      local pages, users = 0, 0
      for page, err in g.pages{ path = "/users", query = { ["$top"] = 10 } } do
        assert.truthy(page, tostring(err))
        pages = pages + 1
        users = users + #page.value
        assert.equal(pages, emu:stats().graph_requests)    -- not fetched ahead
      end
      assert.equal(3, pages)
      assert.equal(30, users)
    end)

    it("yield every item across pages", function()
      local g = emu:client()
      local n, seen = 0, {}
      for item in g.items{ path = "/users/" .. fx.lynne_id .. "/memberOf", query = { ["$select"] = "id" } } do
        n = n + 1
        assert.is_nil(seen[item.id], "duplicate " .. tostring(item.id))
        seen[item.id] = true
      end
      assert.is_true(n > 200)
      assert.equal(3, emu:stats().graph_requests)
    end)

    it("end with (false, err) when a page fails", function()
      local g = emu:client{ max_retries = 0 }
      emu:fault{ target = "graph", path = "skiptoken", status = 500, count = 1 }
      local got, failure = 0, nil
      for page, err in g.pages{ path = "/users", query = { ["$top"] = 10 } } do
        if not page then failure = err break end
        got = got + 1
      end
      assert.equal(1, got)
      assert.equal(500, failure.status_code)
    end)
  end)

  describe("users.list", function()
    it("filters, counts and follows every page", function()
      local g = emu:client()
      local list = util.expect_success(g.users.list, { filter = "accountEnabled eq false",
        select = "id,userPrincipalName", count = true })
      assert.equal(1, #list.value)
      assert.equal(1, list["@odata.count"])
      assert.equal("eventual", last_request().headers.consistencylevel)
      local all = util.expect_success(g.users.list, { top = 7, all = true, select = "id" })
      assert.equal(30, #all.value)
      assert.is_nil(all["@odata.nextLink"])
    end)
  end)

  describe("the connector's other capabilities", function()
    it("revoke_sessions invalidates the user's sessions", function()
      local g = emu:client()
      local before = emu:user_state(fx.adele_id).signInSessionsValidFromDateTime
      local ok, response = util.expect_success(g.users.revoke_sessions, { id = fx.adele_upn })
      assert.is_true(ok)
      assert.equal(200, response.status_code)
      assert.are_not.equal(before, emu:user_state(fx.adele_id).signInSessionsValidFromDateTime)
      local r = last_request()
      assert.equal("POST", r.method)
      assert.equal("/v1.0/users/adele.vance%40contoso.onmicrosoft.com/revokeSignInSessions", r.path)
    end)

    it("assign_license adds with disabled plans and removes, sending both arrays", function()
      local g = emu:client()
      local user = util.expect_success(g.users.assign_license, { id = fx.svc_upn,
        add = { { sku_id = E3_SKU, disabled_plans = { SWAY_PLAN } } } })
      assert.is_string(user.id)
      local body = json.decode(last_request().body)
      assert.same({ { skuId = E3_SKU, disabledPlans = { SWAY_PLAN } } }, body.addLicenses)
      assert.same({}, body.removeLicenses)
      assert.matches('"removeLicenses":%[%]', last_request().body)
      local state = emu:user_state(fx.svc_upn)
      assert.equal(E3_SKU, state.assignedLicenses[1].skuId)
      util.expect_success(g.users.assign_license, { id = fx.svc_upn, remove = { E3_SKU } })
      assert.matches('"addLicenses":%[%]', last_request().body)
      assert.equal(0, #emu:user_state(fx.svc_upn).assignedLicenses)
    end)

    it("assign_license reports Graph's refusal and rejects malformed input", function()
      local g = emu:client()
      local err = util.expect_failure(g.users.assign_license, { id = fx.guest_upn,
        add = { { sku_id = E3_SKU } } })
      assert.equal(400, err.status_code)
      assert.matches("usage location", err.message)
      assert.has_error(function() g.users.assign_license{ id = fx.svc_upn } end)
      assert.has_error(function() g.users.assign_license{ id = fx.svc_upn, add = { { sku = E3_SKU } } } end)
    end)

    it("security.alerts lists, gets and updates alerts", function()
      local g = emu:client()
      local list = util.expect_success(g.security.alerts.list, { filter = "severity eq 'high' and status eq 'new'" })
      assert.equal(1, #list.value)
      assert.equal(HIGH_NEW_ALERT, list.value[1].id)
      local all = util.expect_success(g.security.alerts.list, { top = 4, all = true })
      assert.equal(15, #all.value)
      local alert = util.expect_success(g.security.alerts.get, { id = HIGH_NEW_ALERT })
      assert.equal("new", alert.status)
      local updated = util.expect_success(g.security.alerts.update, { id = HIGH_NEW_ALERT,
        body = { status = "inProgress", assignedTo = "secops@contoso.com" } })
      assert.equal("inProgress", updated.status)
      local err = util.expect_failure(g.security.alerts.get, { id = "no-such-alert" })
      assert.equal(404, err.status_code)
    end)
  end)

  describe("debug logging", function()
    it("logs method, URL, status, duration, attempt and request-id, never a token", function()
      local lines = {}
      local g = emu:client{ retry_delay = 0.01, log = function(l) lines[#lines + 1] = l end }
      emu:fault{ target = "graph", status = 503, count = 1 }
      util.expect_success(g.users.get, { id = fx.adele_id })
      assert.equal(3, #lines)
      assert.matches("^graph: token acquired", lines[1])
      assert.truthy(lines[2]:find("GET " .. emu.url .. "/v1.0/users/" .. fx.adele_id, 1, true), lines[2])
      assert.matches("503 Service Unavailable in [%d.]+ ms %(attempt 1, request%-id [%x-]+%)", lines[2])
      assert.matches("200 OK in [%d.]+ ms %(attempt 2", lines[3])
      assert.matches("Authorization: Bearer <redacted>", lines[3])
      for _, token in ipairs(emu:access_tokens()) do
        for _, l in ipairs(lines) do assert.is_nil(l:find(token, 1, true)) end
      end
    end)

    it("logs a failed token request, and its retry", function()
      local lines = {}
      local g = emu:client{ log = function(l) lines[#lines + 1] = l end }
      emu:fault{ target = "token", status = 503, count = 1, headers = { ["Retry-After"] = "0.05" },
                 json = { error = "temporarily_unavailable", error_description = "AADSTS0: later" } }
      util.expect_success(g.users.get, { id = fx.adele_id })
      assert.matches("^graph: token request failed: auth: 503 temporarily_unavailable", lines[1])
      assert.matches("^graph: token acquired %(token request 2%)", lines[2])
      assert.matches("200 OK", lines[3])
    end)

    it("GRAPH_DEBUG=1 logs to stderr", function()
      local out, ok = util.run_lua(([[
        local graph = require "graph"
        local g = graph.client{ tenant_id = %q, client_id = %q, client_secret = %q,
                                url = %q, login_url = %q }
        assert(g.users.get{ id = %q })
      ]]):format(fx.tenant_id, fx.client_id, fx.client_secret, emu.url, emu.url, fx.adele_id),
        { GRAPH_DEBUG = "1" })
      assert.is_true(ok, out)
      assert.matches("graph: GET .* %-> 200 OK", out)
      assert.is_nil(out:find(fx.client_secret, 1, true))
    end)
  end)
end)
