-- Path safety: an identifier is one percent-encoded path segment and can
-- never reach another endpoint.
describe("identifiers in paths", function()
  local core = require "graph.core"
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"

  local emu, g
  setup(function() emu = emulator.shared() end)
  before_each(function()
    emu:reset()
    g = emu:client{ max_retries = 0 }
  end)

  -- The paths (without query) of all Graph requests since the reset.
  local function graph_paths()
    local list = {}
    for _, r in ipairs(emu:requests()) do
      if not r.path:find("/oauth2/", 1, true) then
        list[#list + 1] = { method = r.method, path = (util.split_target(r.path)), raw = r.path }
      end
    end
    return list
  end

  -- Asserts that exactly one Graph request was made, to
  -- /v1.0/users/{one segment}{suffix}, and that the segment decodes to id.
  local function assert_reached_only(id, suffix, expected_segment)
    local paths = graph_paths()
    assert.equal(1, #paths, "expected one request, got " .. #paths)
    local path = paths[1].path
    local segment = path:match("^/v1%.0/users/([^/?#]+)" .. (suffix or ""):gsub("%p", "%%%0") .. "$")
    assert.is_string(segment, "request reached " .. path)
    assert.equal(id, util.percent_decode(segment))
    if expected_segment then assert.equal(expected_segment, segment) end
    return segment
  end

  local hostile = {
    { "../groups", "..%2Fgroups" },
    { "a/b", "a%2Fb" },
    { "x?y#z", "x%3Fy%23z" },
    { "..", nil },
    { ".", nil },
    { "a b&c=d", nil },
    { "%2e%2e", nil },
  }

  for _, case in ipairs(hostile) do
    local id, expected = case[1], case[2]
    it(("sends users.get id %q only to /v1.0/users/{encoded id}"):format(id), function()
      local err = util.expect_failure(g.users.get, { id = id })
      assert.equal("graph", err.kind)
      assert.equal(404, err.status_code)
      local segment = assert_reached_only(id, nil, expected)
      assert.is_nil(segment:find("[/?#]"))
      -- a raw "." or ".." segment is resolved away by URL normalisation
      assert.is_nil(segment:match("^%.+$"), "dot segment " .. segment)
    end)
  end

  it("encodes the id of presence.get", function()
    -- not an object id: presence.get looks it up as a userPrincipalName first
    util.expect_failure(g.presence.get, { id = "../groups" })
    assert_reached_only("../groups", nil, "..%2Fgroups")
  end)

  it("encodes the id of users.memberof", function()
    util.expect_failure(g.users.memberof, { id = "x?y#z" })
    assert_reached_only("x?y#z", "/memberOf", "x%3Fy%23z")
  end)

  it("encodes the id of users.update", function()
    util.expect_failure(g.users.update, { id = "a/b", body = { jobTitle = "x" } })
    assert_reached_only("a/b", nil, "a%2Fb")
    assert.equal("PATCH", graph_paths()[1].method)
  end)

  it("finds the #EXT# guest, sending # as %23", function()
    local user = util.expect_success(g.users.get, { id = fx.guest_upn })
    assert.equal(fx.guest_upn:lower(), user.userPrincipalName:lower())
    local segment = assert_reached_only(fx.guest_upn)
    assert.truthy(segment:find("%23EXT%23", 1, true), segment)
  end)

  it("finds the guest's memberships and presence", function()
    local groups = util.expect_success(g.users.memberof, { id = fx.guest_upn })
    assert.is_table(groups.value)
    assert.is_true(#groups.value > 0)
    local user = util.expect_success(g.users.get, { id = fx.guest_upn })
    local presence = util.expect_success(g.presence.get, { id = user.id })
    assert.equal(user.id, presence.id)
  end)

  it("finds a user whose UPN has an apostrophe", function()
    local user = util.expect_success(g.users.get, { id = fx.patrick_upn })
    assert.equal(fx.patrick_upn:lower(), user.userPrincipalName:lower())
    assert_reached_only(fx.patrick_upn)
  end)

  it("finds a user whose UPN starts with $", function()
    local user = util.expect_success(g.users.get, { id = fx.svc_upn })
    assert.equal(fx.svc_upn:lower(), user.userPrincipalName:lower())
    local paths = graph_paths()
    assert.equal(1, #paths)
    -- either /users/{encoded} or Graph's documented /users('{upn}') form
    local p = paths[1].path
    local ok = p:match("^/v1%.0/users/[^/]+$") or p:match("^/v1%.0/users%('.+'%)$")
    assert.truthy(ok, p)
    assert.truthy(util.percent_decode(p):find(fx.svc_upn, 1, true), p)
  end)

  it("percent-encodes query values so they cannot add parameters", function()
    util.expect_failure(g.users.get, { id = fx.adele_id, select = "displayName&$expand=manager" })
    local _, query = util.split_target(graph_paths()[1].raw)
    assert.equal("displayName&$expand=manager", query["$select"])
    assert.is_nil(query["$expand"])
  end)

  it("does not double-encode an id", function()
    util.expect_failure(g.users.get, { id = "100%" })
    assert_reached_only("100%", nil, "100" .. core.escape("%"))
  end)
end)
