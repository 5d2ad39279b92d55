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

  -- The shapes a server may echo a secret in: raw; form-encoded as in the
  -- POST body (upper- or lower-case hex, '+' for a space); JSON-escaped (\/
  -- as cjson writes it, or every other byte as \u00XX); half raw, half encoded.
  local function shapes(secret)
    local function pct(text, fmt, plus)
      return (text:gsub("[^%w%-%._~]", function(c)
        if plus and c == " " then return "+" end
        return fmt:format(c:byte())
      end))
    end
    local function json_u(fmt) return (secret:gsub("[^%w]", function(c) return fmt:format(c:byte()) end)) end
    local half = math.floor(#secret / 2)
    return { secret, pct(secret, "%%%02X"), pct(secret, "%%%02x"), pct(secret, "%%%02X", true),
             (secret:gsub("\\", "\\\\"):gsub('"', '\\"'):gsub("/", "\\/")),
             json_u("\\u%04x"), json_u("\\u%04X"),
             secret:sub(1, half) .. pct(secret:sub(half + 1), "%%%02X", true) }
  end

  local function all_shapes(list)
    local out = {}
    for _, secret in ipairs(list) do
      for _, shape in ipairs(shapes(secret)) do out[#out + 1] = shape end
    end
    return out
  end

  local function assert_none(strings, list)
    local secret, where = util.find_secret(strings, list)
    assert.is_nil(secret, ("%q exposed in %q"):format(tostring(secret), tostring(where)))
  end

  it("stay out of every field of a token-endpoint error that echoes them in every shape", function()
    for _, case in ipairs{
      { { username = fx.adele_upn, password = fx.adele_password }, { fx.client_secret, fx.adele_password } },
      { { refresh_token = fx.seed_refresh_token }, { fx.client_secret, fx.seed_refresh_token } },
    } do
      emu:reset()
      local echo = all_shapes(case[2])
      local text = table.concat(echo, " | ")
      emu:fault{ target = "token", status = 400,
        headers = { ["x-ms-request-id"] = echo[2], ["X-Echo"] = echo[5] .. " " .. echo[8] .. " " .. echo[14] },
        json = { error = "invalid_grant " .. echo[4], error_description = "AADSTS50126: " .. text,
                 error_codes = { 50126, echo[3] }, trace_id = echo[6], correlation_id = echo[7],
                 suberror = echo[1], timestamp = echo[10], error_uri = "https://e.example/?q=" .. echo[12] } }
      local g = emu:client(case[1])
      local err = util.expect_failure(g.users.get, { id = fx.adele_id })
      assert.equal("auth", err.kind)
      assert.truthy(err.message:find("<redacted>", 1, true), err.message)
      assert.truthy(err.headers["x-echo"]:find("<redacted>", 1, true), err.headers["x-echo"])
      assert_none(exposed(g, err), echo)
      g:close()
    end
  end)

  it("stay out of a Graph error message that echoes them in every shape", function()
    local g = emu:client{ max_retries = 0 }
    util.expect_success(g.users.get, { id = fx.adele_id })     -- a token to echo
    local echo = all_shapes{ fx.client_secret, emu:access_tokens()[1] }
    emu:fault{ target = "graph", path = "^/v1\\.0/", status = 400,
      json = { error = { code = "BadRequest", message = "echo: " .. table.concat(echo, " | ") } } }
    local err = util.expect_failure(g.users.get, { id = fx.adele_id })
    assert.equal("graph", err.kind)
    assert.truthy(err.message:find("<redacted>", 1, true))
    assert_none({ err.message, tostring(err) }, echo)
    g:close()
  end)

  it("session:redact finds a secret in any mix of its shapes and leaves other text alone", function()
    local core = require "graph.core"
    local function session(secret)
      return core.session{ grant = "password", token_url = "https://login.example/t/oauth2/v2.0/token",
        client_id = "c", client_secret = secret, username = "u", password = fx.adele_password }
    end
    local s = session(fx.client_secret)
    for _, shape in ipairs(all_shapes{ fx.client_secret, fx.adele_password }) do
      assert.equal("before <redacted> after", s:redact("before " .. shape .. " after"), shape)
    end
    assert.equal("<redacted><redacted>", s:redact(fx.client_secret .. fx.client_secret))
    for _, other in ipairs{ "emu+Secret/&=%~K9v.Q_", "a %25 b \\u0041 c %zz \\u12", "", "\0x\0" } do
      assert.equal(other, s:redact(other))
    end
    s:close()
    local unicode = "caf\195\169-\240\159\148\145-s3cret"       -- an accent and a U+1F511 key
    require("support.secrets").add_tokens{ unicode }
    s = session(unicode)
    assert.equal("<redacted>", s:redact("caf\\u00e9-\\ud83d\\udd11-s3cret"))
    assert.equal("<redacted>", s:redact("caf%C3%A9-%F0%9F%94%91-s3cret"))
    assert.equal("caf\\u00e9-\\ud83d-s3cret", s:redact("caf\\u00e9-\\ud83d-s3cret"))  -- a lone surrogate
    s:close()
  end)

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
