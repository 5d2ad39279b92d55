-- users.get and users.update.
describe("users", function()
  local json = require "graph.json"
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"

  local emu, g
  setup(function() emu = emulator.shared() end)
  before_each(function()
    emu:reset()
    g = emu:client()
  end)

  -- The single Graph request logged since the reset.
  local function only_graph_request()
    local reqs = emu:graph_requests()
    assert.equal(1, #reqs)
    return reqs[1]
  end

  local function assert_ok_response(response, status, reason)
    assert.is_table(response)
    assert.equal(status, response.status_code)
    assert.equal(reason, response.reason)
    assert.is_table(response.headers)
    assert.is_string(response.headers["request-id"])
    for k in pairs(response.headers) do assert.equal(k:lower(), k) end
  end

  describe("get", function()
    it("returns the user and the response for an id", function()
      local user, response = util.expect_success(g.users.get, { id = fx.adele_id })
      assert.equal(fx.adele_id, user.id)
      assert.equal(fx.adele_upn, user.userPrincipalName:lower())
      assert.is_string(user.displayName)
      assert_ok_response(response, 200, "OK")
      local r = only_graph_request()
      assert.equal("GET", r.method)
      assert.equal("/v1.0/users/" .. fx.adele_id, r.path)
      assert.truthy(r.headers.authorization:match("^Bearer .+"))
    end)

    it("returns the user for a userPrincipalName", function()
      local user = util.expect_success(g.users.get, { id = fx.adele_upn })
      assert.equal(fx.adele_id, user.id)
    end)

    it("sends select given as a string as $select", function()
      local user = util.expect_success(g.users.get, { id = fx.adele_id, select = "displayName,givenName" })
      local _, query = util.split_target(only_graph_request().path)
      assert.equal("displayName,givenName", query["$select"])
      assert.is_string(user.displayName)
      assert.is_nil(user.mobilePhone)
      assert.is_nil(user.officeLocation)
    end)

    it("sends select given as an array as $select", function()
      util.expect_success(g.users.get, { id = fx.adele_id, select = { "displayName", "givenName", "postalCode" } })
      local _, query = util.split_target(only_graph_request().path)
      assert.equal("displayName,givenName,postalCode", query["$select"])
    end)

    it("sends no query string without select", function()
      util.expect_success(g.users.get, { id = fx.adele_id })
      assert.is_nil(only_graph_request().path:find("?", 1, true))
    end)

    it("returns a graph error for an unknown user", function()
      local err = util.expect_failure(g.users.get, { id = fx.missing_id })
      assert.equal("graph", err.kind)
      assert.equal(404, err.status_code)
      assert.equal("Not Found", err.reason)
      assert.equal("Request_ResourceNotFound", err.code)
      assert.truthy(err.message:find(fx.missing_id, 1, true), err.message)
      assert.is_string(err.request_id)
      assert.is_true(#err.request_id > 0)
      assert.is_true(util.is_guid(err.client_request_id), tostring(err.client_request_id))
      assert.equal(only_graph_request().headers["client-request-id"], err.client_request_id)
      assert.is_table(err.headers)
      assert.equal(err.request_id, err.headers["request-id"])
    end)

    it("returns a graph error for an unknown $select property", function()
      local err = util.expect_failure(g.users.get, { id = fx.adele_id, select = "displayName,noSuchProperty" })
      assert.equal("graph", err.kind)
      assert.equal(400, err.status_code)
      assert.truthy(err.message:find("noSuchProperty", 1, true), err.message)
    end)

    it("raises when id is missing, naming the function and the field", function()
      local ok, msg = pcall(g.users.get, {})
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("users.get", 1, true), tostring(msg))
      assert.truthy(tostring(msg):find("id", 1, true), tostring(msg))
      assert.equal(0, #emu:requests())
    end)

    it("raises on arguments of the wrong type", function()
      assert.has_error(function() g.users.get(42) end)
      assert.has_error(function() g.users.get{ id = {} } end)
      local ok, msg = pcall(g.users.get, { id = fx.adele_id, select = 5 })
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("select", 1, true), tostring(msg))
    end)

    it("raises on an unknown argument, naming it", function()
      local ok, msg = pcall(g.users.get, { id = fx.adele_id, selct = "displayName" })
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("selct", 1, true), tostring(msg))
    end)

    it("accepts the connector's input shape", function()
      local user = util.expect_success(g.users.get, {
        ["path parameters"] = { id = fx.adele_id },
        parameters = { ["$select"] = "displayName,givenName,postalCode" },
      })
      assert.is_string(user.displayName)
      local path, query = util.split_target(only_graph_request().path)
      assert.equal("/v1.0/users/" .. fx.adele_id, path)
      assert.equal("displayName,givenName,postalCode", query["$select"])
    end)
  end)

  describe("update", function()
    it("returns true and persists the change", function()
      local ok, response = util.expect_success(g.users.update, { id = fx.adele_id, body = { jobTitle = "Chief Spec Officer" } })
      assert.is_true(ok)
      assert.equal(204, response.status_code)
      assert.equal("No Content", response.reason)
      local r = only_graph_request()
      assert.equal("PATCH", r.method)
      assert.equal("/v1.0/users/" .. fx.adele_id, r.path)
      assert.truthy((r.headers["content-type"] or ""):find("application/json", 1, true))
      assert.same({ jobTitle = "Chief Spec Officer" }, json.decode(r.body))
      local user = util.expect_success(g.users.get, { id = fx.adele_id, select = "jobTitle" })
      assert.equal("Chief Spec Officer", user.jobTitle)
      assert.equal("Chief Spec Officer", emu:user_state(fx.adele_id).jobTitle)
    end)

    it("sends false and nested values faithfully", function()
      assert.is_true(util.expect_success(g.users.update, { id = fx.adele_upn, body = {
        accountEnabled = false, businessPhones = { "+1 425 555 0100" },
      } }))
      local state = emu:user_state(fx.adele_id)
      assert.is_false(state.accountEnabled)
      assert.same({ "+1 425 555 0100" }, state.businessPhones)
      local user = util.expect_success(g.users.get, { id = fx.adele_id, select = { "accountEnabled" } })
      assert.is_false(user.accountEnabled)
    end)

    it("returns Graph's 400 for an unknown property", function()
      local err = util.expect_failure(g.users.update, { id = fx.adele_id, body = { favouriteColour = "teal" } })
      assert.equal("graph", err.kind)
      assert.equal(400, err.status_code)
      assert.equal("Request_BadRequest", err.code)
      assert.equal("Invalid property 'favouriteColour'.", err.message)
    end)

    it("returns Graph's 400 for a read-only property", function()
      local err = util.expect_failure(g.users.update, { id = fx.adele_id,
        body = { createdDateTime = "2020-01-01T00:00:00Z" } })
      assert.equal("graph", err.kind)
      assert.equal(400, err.status_code)
      assert.equal("Request_BadRequest", err.code)
      assert.equal("Property 'createdDateTime' is read-only and cannot be set.", err.message)
    end)

    it("does not persist a refused update", function()
      local before = emu:user_state(fx.adele_id).jobTitle
      util.expect_failure(g.users.update, { id = fx.adele_id, body = { jobTitle = "Nope", favouriteColour = "teal" } })
      assert.equal(before, emu:user_state(fx.adele_id).jobTitle)
    end)

    it("returns a graph error for an unknown user", function()
      local err = util.expect_failure(g.users.update, { id = fx.missing_id, body = { jobTitle = "x" } })
      assert.equal("graph", err.kind)
      assert.equal(404, err.status_code)
      assert.equal("Request_ResourceNotFound", err.code)
    end)

    it("returns 403 for an app without write permission", function()
      local limited = emu:client{ client_id = fx.limited_client_id, client_secret = fx.limited_client_secret }
      local err = util.expect_failure(limited.users.update, { id = fx.adele_id, body = { jobTitle = "x" } })
      assert.equal("graph", err.kind)
      assert.equal(403, err.status_code)
      assert.equal("Authorization_RequestDenied", err.code)
    end)

    it("raises without a body, naming the function and the field", function()
      local ok, msg = pcall(g.users.update, { id = fx.adele_id })
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("users.update", 1, true), tostring(msg))
      assert.truthy(tostring(msg):find("body", 1, true), tostring(msg))
      ok, msg = pcall(g.users.update, { body = { jobTitle = "x" } })
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("id", 1, true), tostring(msg))
      assert.equal(0, #emu:requests())
    end)

    it("accepts the connector's input shape", function()
      assert.is_true(util.expect_success(g.users.update, {
        ["json body"] = { department = "Spec Testing", city = "London" },
        ["path parameters"] = { ["user id"] = fx.adele_id },
      }))
      local state = emu:user_state(fx.adele_id)
      assert.equal("Spec Testing", state.department)
      assert.equal("London", state.city)
      assert.equal("/v1.0/users/" .. fx.adele_id, only_graph_request().path)
    end)
  end)

  -- A redirect is never success and never followed (the token would go
  -- with it): nil, err of kind graph with the status and the Location.
  describe("a redirect", function()
    local ELSEWHERE = "https://attacker.example/v1.0/users/x"

    local function redirect(path, status, method, body)
      emu:fault{ target = "graph", path = path, method = method, status = status, count = 1,
                 headers = { Location = ELSEWHERE }, json = body }
    end

    local function assert_redirect_error(err, status)
      assert.equal("graph", err.kind)
      assert.equal(status, err.status_code)
      assert.equal("http_" .. status, err.code)
      assert.equal(ELSEWHERE, err.location)
      assert.truthy(err.message:find("not followed", 1, true), err.message)
      assert.equal(1, #emu:graph_requests())          -- not followed, not retried
    end

    for _, status in ipairs{ 307, 308 } do
      it(("%d to a PATCH makes users.update fail, and nothing changes"):format(status), function()
        local before = emu:user_state(fx.adele_id).jobTitle
        redirect("^/v1\\.0/users/" .. fx.adele_id .. "$", status, "PATCH")
        local err = util.expect_failure(g.users.update, { id = fx.adele_id,
          body = { jobTitle = "Redirected" } })
        assert_redirect_error(err, status)
        assert.equal(before, emu:user_state(fx.adele_id).jobTitle)
      end)
    end

    it("308 on revoke_sessions is a failure, not true", function()
      redirect("revokeSignInSessions", 308, "POST")
      local err = util.expect_failure(g.users.revoke_sessions, { id = fx.adele_id })
      assert_redirect_error(err, 308)
    end)

    it("302 with a JSON body is not the user", function()
      redirect("^/v1\\.0/users/" .. fx.adele_id .. "$", 302, "GET",
               { id = fx.adele_id, displayName = "Not Adele" })
      local err = util.expect_failure(g.users.get, { id = fx.adele_id })
      assert_redirect_error(err, 302)
    end)

    it("301 without a Location is still an error", function()
      emu:fault{ target = "graph", status = 301, count = 1, body = "" }
      local err = util.expect_failure(g.users.get, { id = fx.adele_id })
      assert.equal("graph", err.kind)
      assert.equal(301, err.status_code)
      assert.is_nil(err.location)
    end)
  end)

  describe("a huge id", function()
    it("is refused up front with an argument error naming the field", function()
      local big = ("a"):rep(1024 * 1024)
      local calls = {
        { g.users.get, "graph.users.get" }, { g.presence.get, "graph.presence.get" },
        { g.users.memberof, "graph.users.memberof" }, { g.security.alerts.get, "graph.security.alerts.get" },
        { g.users.revoke_sessions, "graph.users.revoke_sessions" },
      }
      for _, c in ipairs(calls) do
        assert.has_error(function() c[1]{ id = big } end, c[2] .. ": field 'id' is longer than 1024 bytes")
      end
      assert.has_error(function() g.users.update{ id = big, body = { jobTitle = "x" } } end,
        "graph.users.update: field 'id' is longer than 1024 bytes")
      assert.has_error(function() g.users.get{ ["path parameters"] = { ["user id"] = big } } end,
        "graph.users.get: field 'id' is longer than 1024 bytes")
      local ok, msg = pcall(g.users.get, { id = big })
      assert.is_false(ok)
      assert.matches("graph.users.get: field 'id' is longer than 1024 bytes", msg, 1, true)
      assert.has_error(function() g.users.get_many{ ids = { "x", big } } end,
        "graph.users.get_many: field 'ids[2]' is longer than 1024 bytes")
      assert.equal(0, #emu:requests())
      -- 1024 bytes is still an id (a 404, not a raise)
      local err = util.expect_failure(g.users.get, { id = ("b"):rep(1024) })
      assert.equal(404, err.status_code)
    end)
  end)
end)
