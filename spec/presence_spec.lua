-- presence.get
describe("presence", function()
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"

  local emu, g
  setup(function() emu = emulator.shared() end)
  before_each(function()
    emu:reset()
    g = emu:client()
  end)

  it("returns the presence of a user and the response", function()
    local presence, response = util.expect_success(g.presence.get, { id = fx.adele_id })
    assert.equal(fx.adele_id, presence.id)
    assert.is_string(presence.availability)
    assert.is_string(presence.activity)
    assert.equal(200, response.status_code)
    assert.equal("OK", response.reason)
    assert.is_string(response.headers["request-id"])
    local reqs = emu:graph_requests()
    assert.equal(1, #reqs)
    assert.equal("GET", reqs[1].method)
    assert.equal("/v1.0/users/" .. fx.adele_id .. "/presence", reqs[1].path)
  end)

  it("accepts the connector's input shape", function()
    local presence = util.expect_success(g.presence.get, { ["path parameters"] = { id = fx.adele_id } })
    assert.equal(fx.adele_id, presence.id)
  end)

  it("returns a graph error for an unknown user", function()
    local err = util.expect_failure(g.presence.get, { id = fx.missing_id })
    assert.equal("graph", err.kind)
    assert.equal(404, err.status_code)
    assert.is_string(err.code)
    assert.is_string(err.request_id)
  end)

  it("returns 403 Authorization_RequestDenied for an app without Presence.Read.All", function()
    local limited = emu:client{ client_id = fx.limited_client_id, client_secret = fx.limited_client_secret }
    local err = util.expect_failure(limited.presence.get, { id = fx.adele_id })
    assert.equal("graph", err.kind)
    assert.equal(403, err.status_code)
    assert.equal("Authorization_RequestDenied", err.code)
    assert.truthy(err.message:find("Insufficient privileges", 1, true), err.message)
  end)

  it("raises when id is missing, naming the function and the field", function()
    local ok, msg = pcall(g.presence.get, {})
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("presence.get", 1, true), tostring(msg))
    assert.truthy(tostring(msg):find("id", 1, true), tostring(msg))
  end)

  describe("userPrincipalNames (presence routes take object ids only)", function()
    local function paths()
      local list = {}
      for i, r in ipairs(emu:graph_requests()) do list[i] = r.method .. " " .. r.path end
      return list
    end

    it("the emulator refuses a UPN on /users/{upn}/presence and in getPresencesByUserId", function()
      local doc, err = g.request{ path = "/users/" .. fx.adele_upn .. "/presence" }
      assert.is_nil(doc)
      assert.equal(400, err.status_code)
      assert.equal("BadRequest", err.code)
      doc, err = g.request{ method = "POST", path = "/communications/getPresencesByUserId",
                            body = { ids = { fx.adele_id, fx.lynne_upn } } }
      assert.is_nil(doc)
      assert.equal(400, err.status_code)
    end)

    it("presence.get looks a UPN up once per client, then asks by object id", function()
      local presence = util.expect_success(g.presence.get, { id = fx.adele_upn })
      assert.equal(fx.adele_id, presence.id)
      presence = util.expect_success(g.presence.get, { id = fx.adele_upn:upper() })
      assert.equal(fx.adele_id, presence.id)
      assert.same({
        "GET /v1.0/users/" .. fx.adele_upn:gsub("@", "%%40") .. "?$select=id",
        "GET /v1.0/users/" .. fx.adele_id .. "/presence",
        "GET /v1.0/users/" .. fx.adele_id .. "/presence",
      }, paths())
    end)

    it("presence.get of a UPN that does not resolve is the lookup's 404", function()
      local err = util.expect_failure(g.presence.get, { id = "nobody@contoso.onmicrosoft.com" })
      assert.equal("graph", err.kind)
      assert.equal(404, err.status_code)
      assert.equal("Request_ResourceNotFound", err.code)
      assert.equal(1, #emu:graph_requests())
    end)

    it("presence.get_many resolves UPNs in one bulk step and keeps input order", function()
      local res, summary = g.presence.get_many{ ids = { fx.adele_upn, fx.missing_id, fx.lynne_upn,
        "nobody@contoso.onmicrosoft.com", fx.adele_id } }
      assert.equal(fx.adele_id, res[1].id)
      assert.equal("Request_ResourceNotFound", res[2].code)      -- no presence for that id
      assert.equal(fx.lynne_id, res[3].id)
      assert.equal(404, res[4].status_code)                      -- the lookup's own 404
      assert.equal("graph", res[4].kind)
      assert.equal(fx.adele_id, res[5].id)
      assert.same({ ok = 3, failed = 2 }, summary)
      local posts = emu:requests("getPresencesByUserId$")
      assert.equal(1, #posts)
      assert.same({ fx.adele_id, fx.missing_id, fx.lynne_id, fx.adele_id },
        require("graph.json").decode(posts[1].body).ids)
      assert.equal(3, #emu:requests("%?%$select=id$"))
      -- known now: a second call looks nothing up
      res = g.presence.get_many{ ids = { fx.lynne_upn, fx.adele_upn } }
      assert.equal(fx.lynne_id, res[1].id)
      assert.equal(fx.adele_id, res[2].id)
      assert.equal(3, #emu:requests("%?%$select=id$"))
    end)
  end)
end)
