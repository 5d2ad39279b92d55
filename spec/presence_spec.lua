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
end)
