-- No secret (client secret, password, refresh or access token) ever appears
-- in an error, a tostring of any object, or output.
describe("secrets", function()
  local graph = require "graph"
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"

  local emu
  setup(function() emu = emulator.shared() end)
  before_each(function() emu:reset() end)

  local BAD_SECRET = "Wr0ng+Secret/&=%~zz9"
  local BAD_PASSWORD = "Not Adele P@ss&=2"

  -- Everything an application could print or log about a failure.
  local function exposed(client, err)
    local strings = util.strings_in(err)
    strings[#strings + 1] = tostring(err)
    if client then
      strings[#strings + 1] = tostring(client)
      for _, ns in ipairs{ "users", "presence" } do
        if client[ns] ~= nil then strings[#strings + 1] = tostring(client[ns]) end
      end
    end
    return strings
  end

  -- The secrets of this run: the fixed ones plus every access and refresh
  -- token the emulator has seen.
  local function secrets()
    local list = { fx.client_secret, fx.limited_client_secret, fx.adele_password,
      fx.seed_refresh_token, BAD_SECRET, BAD_PASSWORD }
    for _, tok in ipairs(emu:access_tokens()) do list[#list + 1] = tok end
    for _, r in ipairs(emu:token_requests()) do
      local form = util.decode_form(r.body)
      for _, k in ipairs{ "client_secret", "password", "refresh_token" } do
        if form[k] and form[k] ~= "" then list[#list + 1] = form[k] end
      end
    end
    return list
  end

  local function assert_clean(strings)
    local secret, where = util.find_secret(strings, secrets())
    assert.is_nil(secret, ("secret %q exposed in %q"):format(tostring(secret), tostring(where)))
  end

  local closed_port
  setup(function() closed_port = emulator.closed_port() end)

  local scenarios = {
    { "a bad client secret", { client_secret = BAD_SECRET } },
    { "a bad password", { username = fx.adele_upn, password = BAD_PASSWORD } },
    { "a user that needs MFA", { username = fx.megan_upn, password = fx.adele_password } },
    { "a reused refresh token", { refresh_token = fx.seed_refresh_token }, function()
        emu:client{ refresh_token = fx.seed_refresh_token }.users.get{ id = fx.adele_id }
      end },
    { "a closed port", { url = "http://127.0.0.1:{port}", login_url = "http://127.0.0.1:{port}", max_retries = 0 } },
    { "an unresolvable host", { url = "https://graph.nonexistent.invalid", login_url = "https://login.nonexistent.invalid",
        max_retries = 0 } },
    { "a timeout", { timeout = 0.5, max_retries = 0 }, function()
        emu:fault{ target = "graph", path = "^/v1\\.0/", delay = 2, count = 10 }
      end },
    { "a missing user", {}, nil, fx.missing_id },
    { "an app without permission", { client_id = fx.limited_client_id, client_secret = fx.limited_client_secret }, nil, nil, "presence" },
    { "throttling", { max_retries = 1 }, function()
        emu:fault{ target = "graph", path = "^/v1\\.0/", status = 429, headers = { ["Retry-After"] = "0.05" }, count = 10,
          json = { error = { code = "TooManyRequests", message = "Please retry again later." } } }
      end },
    { "a malformed body", {}, function()
        emu:fault{ target = "graph", path = "^/v1\\.0/", action = "malformed_json", count = 10 }
      end },
    { "a 401 from Graph", {}, function()
        emu:fault{ target = "graph", path = "^/v1\\.0/", status = 401, count = 10,
          json = { error = { code = "InvalidAuthenticationToken", message = "Access token validation failure." } } }
      end },
  }

  for _, case in ipairs(scenarios) do
    local name, opts, prepare, id, action = case[1], case[2], case[3], case[4], case[5]
    it(("stay out of errors and tostring for %s"):format(name), function()
      local o = {}
      for k, v in pairs(opts) do
        o[k] = type(v) == "string" and v:gsub("{port}", tostring(closed_port)) or v
      end
      if prepare then prepare() end
      local g = emu:client(o)
      assert_clean{ tostring(g) }
      local call = action == "presence" and g.presence.get or g.users.get
      local err = util.expect_failure(call, { id = id or fx.adele_id })
      assert_clean(exposed(g, err))
    end)
  end

  it("stay out of tostring of a working client", function()
    local g = emu:client{ refresh_token = fx.seed_refresh_token }
    util.expect_success(g.users.get, { id = fx.adele_id })
    emu:expire_tokens()                -- a second grant logs the rotated refresh token
    util.expect_success(g.users.get, { id = fx.adele_id })
    assert.equal(2, #emu:access_tokens())
    assert.equal(2, #emu:token_requests())
    assert_clean(exposed(g, nil))
  end)

  it("stay out of option errors", function()
    local ok, msg = pcall(graph.client, emu:client_options{ client_secret = 42, password = fx.adele_password })
    assert.is_false(ok)
    assert_clean{ tostring(msg) }
    ok, msg = pcall(graph.client, emu:client_options{ username = fx.adele_upn, password = fx.adele_password, typo = 1 })
    assert.is_false(ok)
    assert_clean{ tostring(msg) }
  end)

  it("stay out of everything a failing script prints", function()
    local out = util.run_lua([[
      local graph = require "graph"
      local g = graph.client{ tenant_id = ]] .. ("%q"):format(fx.tenant_id) .. [[,
        client_id = ]] .. ("%q"):format(fx.client_id) .. [[, client_secret = ]] .. ("%q"):format(BAD_SECRET) .. [[,
        username = ]] .. ("%q"):format(fx.adele_upn) .. [[, password = ]] .. ("%q"):format(fx.adele_password) .. [[,
        url = ]] .. ("%q"):format(emu.url) .. [[, login_url = ]] .. ("%q"):format(emu.url) .. [[ }
      local user, err = g.users.get{ id = "x" }
      print(tostring(err), tostring(g))
      for k, v in pairs(err or {}) do print(k, tostring(v)) end
      collectgarbage()
    ]], {})
    assert.truthy(out:find("invalid_client", 1, true), out)
    assert_clean{ out }
  end)
end)
