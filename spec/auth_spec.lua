-- Issue 3: every way to sign in (client credentials, password, refresh token,
-- certificate, device code), identity-platform errors, the token lifecycle,
-- national clouds, and a scan of everything the failures exposed for secrets.
describe("auth", function()
  local graph = require "graph"
  local core = require "graph.core"
  local json = require "graph.json"
  local options = require "graph.options"
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"

  local PUBLIC_CLIENT = "9d3f5b7e-2c4a-4f6e-8b1d-3e5c7a9f2b4d"
  local CERT_PASSWORD = "cert-pass-123"
  local BAD_SECRET = "Wr0ng+Auth/&=%~Secret9"
  local BAD_PASSWORD = "Not Adele P@ss&=3"
  local JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
  local DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

  local emu, certs, app_pem, app_encrypted_pem, rogue_pem, token_url

  -- Everything failing calls exposed (errors, tostrings, raised messages), and
  -- every secret seen during the run: both are checked by the last test.
  local exposed, secrets = {}, {}
  local function remember(s)
    if type(s) == "string" and #s >= 4 then secrets[#secrets + 1] = s end
  end
  local function expose(...)
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      if v ~= nil then
        local list = util.strings_in(v)
        list[#list + 1] = tostring(v)
        for _, s in ipairs(list) do exposed[#exposed + 1] = s end
      end
    end
  end

  ---------------------------------------------------------------------------
  -- helpers

  local function b64url(s)
    local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    local out = {}
    for i = 1, #s, 3 do
      local a, b, c = s:byte(i, i + 2)
      local n = a * 65536 + (b or 0) * 256 + (c or 0)
      local chars = 2 + (b and 1 or 0) + (c and 1 or 0)
      for k = 1, chars do
        local idx = math.floor(n / 2 ^ (18 - 6 * (k - 1))) % 64   -- portable (n >> s) & 63
        out[#out + 1] = alphabet:sub(idx + 1, idx + 1)
      end
    end
    return table.concat(out)
  end

  local function b64url_decode(s)
    local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    local map = {}
    for i = 1, #alphabet do map[alphabet:sub(i, i)] = i - 1 end
    local out, bits, nbits = {}, 0, 0
    for ch in s:gmatch(".") do
      local v = assert(map[ch], "not base64url: " .. ch)
      bits, nbits = bits * 64 + v, nbits + 6          -- portable (bits << 6) | v
      if nbits >= 8 then
        nbits = nbits - 8
        out[#out + 1] = string.char(math.floor(bits / 2 ^ nbits) % 256)
        bits = bits % 2 ^ nbits                        -- keep only the unread bits
      end
    end
    return table.concat(out)
  end

  local function jwt_parts(jwt)
    local h, c, s = jwt:match("^([%w_-]+)%.([%w_-]+)%.([%w_-]+)$")
    assert(h, "not a compact JWS: " .. tostring(jwt):sub(1, 40))
    return json.decode(b64url_decode(h)), json.decode(b64url_decode(c)), s
  end

  local function sh(cmd)
    local out, ok = util.run(cmd)
    assert(ok, cmd .. " failed:\n" .. out)
    return out
  end

  -- base64url of the SHA-1 or SHA-256 digest of the certificate's DER.
  local function thumbprint(pem, alg)
    local out = sh(("openssl x509 -in %s -outform DER | openssl dgst -%s -binary | openssl base64 -A")
      :format(util.shell_quote(pem), alg))
    return (out:gsub("%s", ""):gsub("=", ""):gsub("+", "-"):gsub("/", "_"))
  end

  -- A compact JWS signed with the key in `key_pem` by the openssl CLI.
  local function sign_jwt(key_pem, header, claims)
    local input = b64url(json.encode(header)) .. "." .. b64url(json.encode(claims))
    local dir = util.tmpdir()
    util.write_file(dir .. "/input", input)
    local opts = header.alg == "PS256" and " -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32" or ""
    local sig = sh(("openssl dgst -sha256 -sign %s%s %s | openssl base64 -A"):format(
      util.shell_quote(key_pem), opts, util.shell_quote(dir .. "/input")))
    util.rmtree(dir)
    sig = sig:gsub("%s", ""):gsub("=", ""):gsub("+", "-"):gsub("/", "_")
    return input .. "." .. sig
  end

  local function claims_now(extra)
    local now = os.time()
    local c = { aud = token_url, iss = fx.client_id, sub = fx.client_id, jti = core.guid(),
                nbf = now, iat = now, exp = now + 600 }
    for k, v in pairs(extra or {}) do c[k] = v end
    return c
  end

  -- POST a form to the token endpoint without the library's grant logic.
  local function raw_token(form)
    local parts = {}
    for k, v in pairs(form) do parts[#parts + 1] = core.escape(k) .. "=" .. core.escape(v) end
    local s = core.session{ timeout = 10 }
    local status, _, _, body = s:request("POST", token_url,
      { ["Content-Type"] = "application/x-www-form-urlencoded" }, table.concat(parts, "&"), false)
    s:close()
    local doc = json.decode(body)
    if status ~= 200 then expose(doc) end
    return status, doc
  end

  local function register(pem)
    local text = assert(util.read_file(pem))
    local cert = assert(text:match("%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-.-%-%-%-%-%-END CERTIFICATE%-%-%-%-%-"))
    return emu:call("POST", "/_emulator/apps/" .. fx.client_id .. "/certificates", { pem = cert })
  end

  local function works(g)
    expose(tostring(g))
    local user = util.expect_success(g.users.get, { id = fx.adele_id })
    assert.equal(fx.adele_id, user.id)
    return user
  end

  local function fails(g)
    expose(tostring(g))
    local err = util.expect_failure(g.users.get, { id = fx.adele_id })
    expose(err)
    return err
  end

  local function form_of(req) return util.decode_form(req.body) end

  local function assert_auth_error(err, status, code, aadsts)
    assert.equal("auth", err.kind)
    assert.equal(code, err.code)
    assert.equal(status, err.status_code)
    assert.is_string(err.message)
    assert.truthy(err.message:find("AADSTS" .. aadsts .. ":", 1, true), err.message)
    assert.truthy(tostring(err):find("AADSTS" .. aadsts, 1, true), tostring(err))
    assert.is_true(util.is_guid(err.trace_id), tostring(err.trace_id))
    assert.is_true(util.is_guid(err.correlation_id), tostring(err.correlation_id))
    assert.equal(aadsts, err.error_codes[1])
  end

  local function raised(opts)
    local ok, msg = pcall(graph.client, opts)
    assert.is_false(ok, "graph.client accepted the options")
    expose(msg)
    return tostring(msg)
  end

  -- The private keys' base64 lines are secrets too.
  local function key_lines(pem)
    local text = util.read_file(pem) or ""
    local block = text:match("PRIVATE KEY%-%-%-%-%-(.-)%-%-%-%-%-END") or ""
    for line in block:gmatch("[^\r\n]+") do
      if #line >= 16 and not line:find(":", 1, true) then remember(line) end
    end
  end

  setup(function()
    emu = emulator.shared()
    certs = emulator.certs()
    app_pem = certs.dir .. "/app.pem"
    app_encrypted_pem = certs.dir .. "/app-encrypted.pem"
    rogue_pem = certs.dir .. "/rogue.pem"
    token_url = emu.url .. "/" .. fx.tenant_id .. "/oauth2/v2.0/token"
    for _, s in ipairs{ fx.client_secret, fx.limited_client_secret, fx.adele_password,
                        fx.megan_password, fx.seed_refresh_token, BAD_SECRET, BAD_PASSWORD,
                        CERT_PASSWORD } do
      remember(s)
    end
    for _, pem in ipairs{ app_pem, app_encrypted_pem, rogue_pem } do key_lines(pem) end
  end)

  before_each(function() emu:reset() end)

  -- Before the next reset: every token and credential the emulator saw.
  after_each(function()
    for _, tok in ipairs(emu:access_tokens()) do remember(tok) end
    for _, r in ipairs(emu:token_requests()) do
      local form = form_of(r)
      for _, k in ipairs{ "client_secret", "password", "refresh_token", "device_code",
                          "client_assertion" } do
        remember(form[k])
      end
    end
  end)

  ---------------------------------------------------------------------------
  describe("grants", function()
    it("client credentials by tenant_id", function()
      works(emu:client())
      local reqs = emu:token_requests()
      assert.equal(1, #reqs)
      local form = form_of(reqs[1])
      assert.equal("client_credentials", form.grant_type)
      assert.equal(fx.client_secret, form.client_secret)
      assert.equal("/" .. fx.tenant_id .. "/oauth2/v2.0/token", reqs[1].path)
    end)

    it("client credentials by token_url", function()
      local url = emu.url .. "/" .. fx.domain .. "/oauth2/v2.0/token"
      works(emu:client{ tenant_id = emulator.NONE, token_url = url })
      local reqs = emu:token_requests()
      assert.equal(1, #reqs)
      assert.equal("/" .. fx.domain .. "/oauth2/v2.0/token", reqs[1].path)
    end)

    it("refuses a token_url outside login_url with a raised error, sending nothing", function()
      local other_port = "http://127.0.0.1:" .. emulator.closed_port()
      for _, url in ipairs{
        other_port .. "/" .. fx.tenant_id .. "/oauth2/v2.0/token",           -- another authority
        emu.url .. "/" .. fx.tenant_id .. "/oauth2/token",                   -- v1 path
        emu.url .. "/" .. fx.tenant_id .. "/oauth2/v2.0/token/extra",
        "https://evil.example/" .. fx.tenant_id .. "/oauth2/v2.0/token",
      } do
        local msg = raised(emu:client_options{ tenant_id = emulator.NONE, token_url = url })
        assert.truthy(msg:find("token_url", 1, true), msg)
        assert.falsy(msg:find(fx.client_secret, 1, true))
      end
      assert.equal(0, #emu:token_requests())
    end)

    it("password (ROPC)", function()
      works(emu:client{ username = fx.adele_upn, password = fx.adele_password })
      local form = form_of(emu:token_requests()[1])
      assert.equal("password", form.grant_type)
      assert.equal(fx.adele_upn, form.username)
      assert.equal(fx.adele_password, form.password)
    end)

    it("password through the connector's aliases", function()
      works(emu:client{ client_id = emulator.NONE, client_secret = emulator.NONE,
        oauth_un = fx.adele_upn, oauth_pwd = fx.adele_password,
        oauth_cl_id = fx.client_id, oauth_cl_secret = fx.client_secret })
      assert.equal("password", form_of(emu:token_requests()[1]).grant_type)
    end)

    it("refresh token, keeping the rotated one", function()
      local g = emu:client{ refresh_token = fx.seed_refresh_token }
      works(g)
      local form = form_of(emu:token_requests()[1])
      assert.equal("refresh_token", form.grant_type)
      assert.equal(fx.seed_refresh_token, form.refresh_token)
      local rotated = g:refresh_token()
      remember(rotated)
      assert.is_string(rotated)
      assert.are_not.equal(fx.seed_refresh_token, rotated)
    end)

    describe("certificate", function()
      local function assertion_of(req)
        local form = form_of(req)
        assert.equal(JWT_BEARER, form.client_assertion_type)
        assert.is_nil(form.client_secret)
        assert.equal(fx.client_id, form.client_id)
        return jwt_parts(form.client_assertion)
      end

      local function check_claims(claims)
        assert.equal(token_url, claims.aud)
        assert.equal(fx.client_id, claims.iss)
        assert.equal(fx.client_id, claims.sub)
        assert.is_true(util.is_guid(claims.jti), tostring(claims.jti))
        assert.equal(claims.nbf, claims.iat)
        assert.equal(claims.nbf + 600, claims.exp)
        assert.is_true(math.abs(claims.nbf - os.time()) <= 60)
      end

      it("PS256 with x5t#S256 (the default)", function()
        register(app_pem)
        local g = emu:client{ client_secret = emulator.NONE, certificate_file = app_pem }
        works(g)
        local header, claims = assertion_of(emu:token_requests()[1])
        assert.same({ alg = "PS256", typ = "JWT", ["x5t#S256"] = thumbprint(app_pem, "sha256") }, header)
        check_claims(claims)
      end)

      it("RS256 with x5t when asked", function()
        register(app_pem)
        works(emu:client{ client_secret = emulator.NONE, certificate_file = app_pem,
                          certificate_alg = "RS256" })
        local header, claims = assertion_of(emu:token_requests()[1])
        assert.same({ alg = "RS256", typ = "JWT", x5t = thumbprint(app_pem, "sha1") }, header)
        check_claims(claims)
      end)

      it("a fresh jti for every token request", function()
        register(app_pem)
        local g = emu:client{ client_secret = emulator.NONE, certificate_file = app_pem }
        works(g)
        emu:expire_tokens()
        works(g)
        local reqs = emu:token_requests()
        assert.equal(2, #reqs)
        local _, first = assertion_of(reqs[1])
        local _, second = assertion_of(reqs[2])
        assert.are_not.equal(first.jti, second.jti)
      end)

      it("an encrypted key with certificate_password", function()
        register(app_pem)
        works(emu:client{ client_secret = emulator.NONE, certificate_file = app_encrypted_pem,
                          certificate_password = CERT_PASSWORD })
      end)

      it("an encrypted key with a wrong certificate_password is a raised error", function()
        local msg = raised(emu:client_options{ client_secret = emulator.NONE,
          certificate_file = app_encrypted_pem, certificate_password = "not-" .. CERT_PASSWORD })
        assert.truthy(msg:find("certificate", 1, true), msg)
        assert.falsy(msg:find(CERT_PASSWORD, 1, true), msg)
      end)

      it("an encrypted key without certificate_password is refused without a pass phrase prompt", function()
        -- no controlling terminal, stdin at EOF: OpenSSL's default callback
        -- would otherwise prompt (and block a script run from a terminal)
        local script = ([[
          local ok, err = pcall(require("graph").client, {
            tenant_id = %q, client_id = %q, certificate_file = %q,
            url = %q, login_url = %q })
          print(ok and "ACCEPTED" or ("RAISED " .. tostring(err)))
        ]]):format(fx.tenant_id, fx.client_id, app_encrypted_pem, emu.url, emu.url)
        local dir = util.tmpdir()
        util.write_file(dir .. "/s.lua", script)
        local out = util.run(("cd %s && %s timeout 10 setsid %s %s </dev/null"):format(
          util.shell_quote(util.root), util.lua_env(), util.lua, util.shell_quote(dir .. "/s.lua")))
        util.rmtree(dir)
        expose(out)
        assert.truthy(out:find("RAISED", 1, true), out)
        assert.falsy(out:lower():find("pass phrase", 1, true), "OpenSSL prompted for a pass phrase: " .. out)
      end)

      it("AZURE_CLIENT_CERTIFICATE_PATH and _PASSWORD from the environment", function()
        register(app_pem)
        local script = ([[
          local g = require("graph").client{ max_retries = 0 }
          local u, err = g.users.get{ id = %q }
          print(u and ("USER " .. u.id) or ("ERR " .. tostring(err)))
        ]]):format(fx.adele_id)
        local out, ok = util.run_lua(script, {
          AZURE_TENANT_ID = fx.tenant_id, AZURE_CLIENT_ID = fx.client_id,
          AZURE_CLIENT_CERTIFICATE_PATH = app_encrypted_pem,
          AZURE_CLIENT_CERTIFICATE_PASSWORD = CERT_PASSWORD,
          GRAPH_URL = emu.url, AZURE_AUTHORITY_HOST = emu.url,
        })
        expose(out)
        assert.is_true(ok, out)
        assert.truthy(out:find("USER " .. fx.adele_id, 1, true), out)
        local form = form_of(emu:token_requests()[1])
        assert.equal(JWT_BEARER, form.client_assertion_type)
      end)
    end)

    describe("device code", function()
      local function device_client(extra)
        -- the public client is registered multi-tenant: it may name "organizations"
        local o = { auth = "device_code", client_id = PUBLIC_CLIENT, client_secret = emulator.NONE,
                    tenant_id = "organizations", scope = "User.Read.All offline_access",
                    on_device_code = function() end }
        for k, v in pairs(extra or {}) do o[k] = v end
        return emu:client(o)
      end

      local function polls()
        local list = {}
        for _, r in ipairs(emu:token_requests()) do
          if r.path:find("/token$") then list[#list + 1] = r end
        end
        return list
      end

      it("shows the code, polls at the interval and succeeds after approval", function()
        emu:config{ device_interval = 0.2 }
        local infos = {}
        local g = device_client{ on_device_code = function(info)
          infos[#infos + 1] = info
          -- the end user approves from elsewhere while the library polls
          emu:call_later(0.5, "POST", "/_emulator/device/approve",
                         { user_code = info.user_code, username = fx.adele_upn })
        end }
        works(g)
        assert.equal(1, #infos)
        local info = infos[1]
        assert.is_string(info.user_code)
        assert.equal("https://microsoft.com/devicelogin", info.verification_uri)
        assert.truthy(info.message:find(info.user_code, 1, true))
        assert.equal(1, info.interval)        -- the server's 0.2 s, clamped to 1 s
        assert.equal(900, info.expires_in)
        assert.is_nil(info.device_code)
        expose(info)

        local reqs = emu:token_requests()
        assert.equal("/organizations/oauth2/v2.0/devicecode", reqs[1].path)
        local start = form_of(reqs[1])
        assert.equal(PUBLIC_CLIENT, start.client_id)
        assert.equal("User.Read.All offline_access", start.scope)
        local p = polls()
        assert.is_true(#p >= 1, "polls: " .. #p)
        for i, r in ipairs(p) do
          local form = form_of(r)
          assert.equal(DEVICE_GRANT, form.grant_type)
          assert.equal(PUBLIC_CLIENT, form.client_id)
          assert.is_string(form.device_code)
          assert.is_nil(form.client_secret)
          local previous = i == 1 and reqs[1] or p[i - 1]
          local gap = r.time - previous.time
          assert.is_true(gap >= 0.95, ("poll %d came %.3f s after the previous request"):format(i, gap))
        end
        assert.same({}, emu:call("GET", "/_emulator/device/pending").pending)
        -- offline_access: a refresh token to keep
        remember(g:refresh_token())
        assert.is_string(g:refresh_token())
        -- the token is cached: no second sign-in
        works(g)
        assert.equal(#reqs, #emu:token_requests())
      end)

      it("honours slow_down by adding 5 seconds to the interval", function()
        emu:config{ device_interval = 0.2, device_slow_down = 1, device_auto_approve_after = 0 }
        works(device_client())
        local p = polls()
        assert.equal(2, #p)
        local gap = p[2].time - p[1].time    -- the interval clamped to 1 s, + 5 s
        assert.is_true(gap >= 5.95 and gap < 9, ("gap after slow_down: %.3f s"):format(gap))
      end)

      it("keeps polling while authorization is pending (auto-approved on the third poll)", function()
        emu:config{ device_interval = 0.2, device_auto_approve_after = 2 }
        works(device_client{ client_id = fx.client_id, scope = emulator.NONE, tenant_id = fx.tenant_id })
        assert.equal(3, #polls())
      end)

      it("polls again after a throttled or failing poll: the same code, no second prompt", function()
        emu:config{ device_interval = 0.2, device_auto_approve_after = 1 }
        emu:fault{ target = "token", path = "/token$", status = 429, count = 1,
                   headers = { ["Retry-After"] = "2" } }
        local prompts, retries = 0, {}
        works(device_client{ on_device_code = function() prompts = prompts + 1 end,
                             on_retry = function(info) retries[#retries + 1] = info end })
        assert.equal(1, prompts)
        local p = polls()
        assert.equal(3, #p)                        -- throttled, pending, approved
        assert.equal(form_of(p[1]).device_code, form_of(p[3]).device_code)
        assert.is_true(p[2].time - p[1].time >= 1.95, "polled again before its Retry-After")
        assert.equal(1, #retries)
        assert.equal(429, retries[1].status_code)
        assert.equal("(device code poll)", retries[1].url)
      end)

      it("maps a declined code to an auth error", function()
        emu:config{ device_interval = 0.2, device_auto_decline_after = 1 }
        local err = fails(device_client())
        assert_auth_error(err, 400, "authorization_declined", 70000)
        assert.equal(2, #polls())
      end)

      it("stops before the code expires: no sleep past its expires_in", function()
        emu:config{ device_interval = 1, device_expires_in = 2.5 }
        local started = core.now()
        local err = fails(device_client())
        local took = core.now() - started
        assert.equal("auth", err.kind)
        assert.equal("expired_token", err.code)
        assert.truthy(err.message:find("expired", 1, true), err.message)
        assert.equal(2, #polls())                   -- at 1 s and 2 s; a third would be past 2.5 s
        assert.is_true(took < 2.6, ("the sign-in took %.2f s for a 2.5 s code"):format(took))
      end)

      it("stops before the client's timeout when that comes first", function()
        emu:config{ device_interval = 1 }           -- pending for ever, the code for 900 s
        local started = core.now()
        local err = fails(device_client{ timeout = 2.5 })
        local took = core.now() - started
        assert.equal("auth", err.kind)
        assert.equal("timeout", err.code)
        assert.truthy(err.message:find("timeout", 1, true), err.message)
        assert.equal(2, #polls())
        assert.is_true(took < 2.6, ("the sign-in took %.2f s with timeout = 2.5"):format(took))
      end)

      it("caps an absurd server interval and never sleeps it", function()
        emu:config{ device_interval = 100000 }
        local infos = {}
        local started = core.now()
        local err = fails(device_client{ on_device_code = function(info) infos[#infos + 1] = info end })
        assert.equal(60, infos[1].interval)        -- capped; a 60 s wait outlasts timeout = 10
        assert.equal("timeout", err.code)
        assert.equal(0, #polls())
        assert.is_true(core.now() - started < 2)
      end)

      it("shows the server's texts without terminal escapes or control characters", function()
        emu:fault{ target = "token", path = "/devicecode$", json = {
          device_code = "DAQABhostile-device-code", interval = 1, expires_in = 1.5,
          user_code = "AB\27[8mCD",
          verification_uri = "https://microsoft.com/devicelogin\27]8;;https://evil.example/\27\\",
          message = "To sign in,\27[2J\27]0;pwned\7 open \27[31mhttps://microsoft.com/devicelogin"
            .. "\27[0m\r\nand enter AB\194\15531m\226\128\174CD\t.\nDone\127\8" } }
        local infos = {}
        fails(device_client{ on_device_code = function(info) infos[#infos + 1] = info end })
        assert.same({ user_code = "ABCD", verification_uri = "https://microsoft.com/devicelogin",
          message = "To sign in, open https://microsoft.com/devicelogin\nand enter ABCD.\nDone",
          interval = 1, expires_in = 1.5 }, infos[1])
      end)

      it("redacts the device code from the prompt and from an error that echoes it", function()
        local code = "DAQABhostile-device-code"
        emu:fault{ target = "token", path = "/devicecode$", json = { device_code = code,
          user_code = "ABCD", verification_uri = "https://microsoft.com/devicelogin",
          message = "enter ABCD (" .. code .. ")", interval = 1, expires_in = 5 } }
        emu:fault{ target = "token", path = "/token$", status = 400,
          json = { error = "invalid_grant", error_description = "AADSTS70000: " .. code .. " is bad" } }
        local infos = {}
        local err = fails(device_client{ on_device_code = function(info) infos[#infos + 1] = info end })
        assert.equal("enter ABCD (<redacted>)", infos[1].message)
        assert.equal("invalid_grant", err.code)
        assert.equal("AADSTS70000: <redacted> is bad", err.message)
      end)

      it("is two steps in the core: start, then polls; a cancel or the end wipes the code", function()
        emu:config{ device_interval = 0.2, device_auto_approve_after = 1 }
        local o = emu:client_options{ auth = "device_code", client_id = fx.client_id,
                                      client_secret = emulator.NONE, scope = emulator.NONE,
                                      on_device_code = function() error("never called") end }
        local s = core.session(options.session(options.normalize(o)))
        assert.has_error(function() util.auth(s, "device_poll") end,
          "graph.core: no device code sign-in in progress (start it first)")
        local _, err = util.token(s)
        assert.equal("sign_in_required", err.code)
        local info = assert(util.auth(s, "device_start"))
        assert.is_nil(info.device_code)
        s:device_cancel()                          -- given up: nothing left to poll
        assert.has_error(function() util.auth(s, "device_poll") end)
        assert(util.auth(s, "device_start"))
        assert.equal("pending", util.auth(s, "device_poll"))
        assert.is_true(util.auth(s, "device_poll"))
        assert.is_true(util.token(s))                  -- cached: nothing sent
        assert.has_error(function() util.auth(s, "device_poll") end)   -- over
        assert.equal(2, #polls())                  -- the cancelled code was never polled
        assert.equal(2, #emu:requests("/devicecode$"))
        local app = core.session(options.session(options.normalize(emu:client_options{})))
        assert.has_error(function() util.auth(app, "device_start") end,
          "graph.core: this session's grant is not device_code")
        app:close()
        s:close()
      end)

      it("a close from on_device_code ends the sign-in with nil, err: no poll, no crash", function()
        emu:config{ device_interval = 0, device_auto_approve_after = 0 }
        local g
        g = device_client{ on_device_code = function() g:close() end }
        local err = fails(g)
        assert.equal("auth", err.kind)
        assert.equal("closed", err.code)
        assert.equal(1, #emu:requests("/devicecode$"))
        assert.equal(0, #polls())
        assert.equal(0, #emu:graph_requests())
        local ok, msg = pcall(g.users.get, { id = fx.adele_id })   -- and it stays closed
        assert.is_false(ok)
        assert.truthy(tostring(msg):find("attempt to use a closed client", 1, true), tostring(msg))
      end)

      it("an error raised by on_device_code is the call's raised error", function()
        emu:config{ device_interval = 0, device_auto_approve_after = 0 }
        local g = device_client{ on_device_code = function() error("no terminal", 0) end }
        local ok, msg = pcall(g.users.get, { id = fx.adele_id })
        assert.is_false(ok)
        assert.equal("no terminal", msg)
        assert.equal(0, #polls())
        works(device_client())                    -- a later sign-in starts afresh
      end)

      it("refuses a request from inside on_device_code: the one that triggered it keeps its headers", function()
        emu:config{ device_interval = 0, device_auto_approve_after = 0 }
        local g, nested
        g = device_client{ on_device_code = function()
          nested = { pcall(g.users.get, { id = fx.adele_id }) }
        end }
        works(g)
        assert.is_false(nested[1])
        expose(nested[2])
        assert.truthy(tostring(nested[2]):find("a request from inside on_device_code", 1, true),
          tostring(nested[2]))
        local reqs = emu:graph_requests()
        assert.equal(1, #reqs)
        local h = reqs[1].headers
        assert.equal("application/json", h.accept)
        assert.is_true(util.is_guid(h["client-request-id"]), tostring(h["client-request-id"]))
        assert.truthy((h["user-agent"] or ""):find("lua-msgraph", 1, true))
        assert.truthy((h.authorization or ""):find("^Bearer "))
        assert.equal(1, #emu:requests("/devicecode$"))  -- one sign-in, not a nested second one
      end)
    end)
  end)

  ---------------------------------------------------------------------------
  describe("identity-platform errors", function()
    it("a bad client secret: 401 invalid_client AADSTS7000215", function()
      local err = fails(emu:client{ client_secret = BAD_SECRET })
      assert_auth_error(err, 401, "invalid_client", 7000215)
    end)

    it("carries the correlation id of the request", function()
      local err = fails(emu:client{ client_secret = BAD_SECRET })
      local sent = emu:token_requests()[1].headers["client-request-id"]
      assert.equal(sent, err.correlation_id)
    end)

    it("an unknown app: unauthorized_client AADSTS700016", function()
      local err = fails(emu:client{ client_id = "11111111-2222-4333-8444-555555555555" })
      assert_auth_error(err, 400, "unauthorized_client", 700016)
    end)

    it("a bad password: invalid_grant AADSTS50126", function()
      local err = fails(emu:client{ username = fx.adele_upn, password = BAD_PASSWORD })
      assert_auth_error(err, 400, "invalid_grant", 50126)
    end)

    it("MFA required: invalid_grant AADSTS50076 with suberror", function()
      local err = fails(emu:client{ username = fx.megan_upn, password = fx.megan_password })
      assert_auth_error(err, 400, "invalid_grant", 50076)
      assert.equal("basic_action", err.suberror)
    end)

    it("a reused (rotated away) refresh token: invalid_grant AADSTS70008", function()
      works(emu:client{ refresh_token = fx.seed_refresh_token })
      local err = fails(emu:client{ refresh_token = fx.seed_refresh_token })
      assert_auth_error(err, 400, "invalid_grant", 70008)
    end)

    it("an expired refresh token: invalid_grant AADSTS700082", function()
      emu:call("POST", "/_emulator/refresh_tokens/expire", { refresh_token = fx.seed_refresh_token })
      local err = fails(emu:client{ refresh_token = fx.seed_refresh_token })
      assert_auth_error(err, 400, "invalid_grant", 700082)
      assert.equal("bad_token", err.suberror)
    end)

    it("an unknown tenant: AADSTS90002", function()
      local err = fails(emu:client{ tenant_id = "99999999-8888-4777-8666-555555555555" })
      assert_auth_error(err, 400, "invalid_request", 90002)
    end)
  end)

  ---------------------------------------------------------------------------
  describe("refresh token rotation", function()
    it("uses the rotated token on the second refresh and reports it", function()
      local seen = {}
      local g = emu:client{ refresh_token = fx.seed_refresh_token,
        on_refresh_token = function(rt) seen[#seen + 1] = rt end }
      works(g)
      assert.equal(1, #seen)
      local first = seen[1]
      remember(first)
      assert.are_not.equal(fx.seed_refresh_token, first)
      assert.equal(first, g:refresh_token())

      emu:expire_tokens()
      works(g)                                   -- 401, a second refresh, the retry
      local reqs = emu:token_requests()
      assert.equal(2, #reqs)
      assert.equal(fx.seed_refresh_token, form_of(reqs[1]).refresh_token)
      assert.equal(first, form_of(reqs[2]).refresh_token)
      assert.equal(2, #seen)
      remember(seen[2])
      assert.are_not.equal(first, seen[2])
      assert.equal(seen[2], g:refresh_token())

      -- the first rotated token is used up
      local err = fails(emu:client{ refresh_token = first })
      assert_auth_error(err, 400, "invalid_grant", 70008)
    end)

    it("does not call on_refresh_token when nothing rotated", function()
      local calls = 0
      works(emu:client{ on_refresh_token = function() calls = calls + 1 end })
      assert.equal(0, calls)
    end)
  end)

  ---------------------------------------------------------------------------
  describe("certificate assertions refused", function()
    it("an unregistered (rogue) certificate: 401 invalid_client AADSTS700027", function()
      register(app_pem)
      local err = fails(emu:client{ client_secret = emulator.NONE, certificate_file = rogue_pem })
      assert_auth_error(err, 401, "invalid_client", 700027)
    end)

    it("a forged assertion: the app's thumbprint, another key's signature", function()
      register(app_pem)
      local jwt = sign_jwt(rogue_pem, { alg = "PS256", typ = "JWT",
        ["x5t#S256"] = thumbprint(app_pem, "sha256") }, claims_now())
      local status, doc = raw_token{ grant_type = "client_credentials", client_id = fx.client_id,
        scope = "https://graph.microsoft.com/.default", client_assertion_type = JWT_BEARER,
        client_assertion = jwt }
      assert.equal(401, status)
      assert.equal("invalid_client", doc.error)
      assert.truthy(doc.error_description:find("AADSTS700027", 1, true))
    end)

    it("a self-signed assertion that is valid is accepted (the forgery check is the key)", function()
      register(app_pem)
      local jwt = sign_jwt(app_pem, { alg = "PS256", typ = "JWT",
        ["x5t#S256"] = thumbprint(app_pem, "sha256") }, claims_now())
      local status, doc = raw_token{ grant_type = "client_credentials", client_id = fx.client_id,
        scope = "https://graph.microsoft.com/.default", client_assertion_type = JWT_BEARER,
        client_assertion = jwt }
      assert.equal(200, status, json.encode(doc))
      remember(doc.access_token)
    end)

    it("an expired assertion: 401 invalid_client AADSTS700024", function()
      register(app_pem)
      local now = os.time()
      local jwt = sign_jwt(app_pem, { alg = "RS256", typ = "JWT", x5t = thumbprint(app_pem, "sha1") },
        claims_now{ nbf = now - 4000, iat = now - 4000, exp = now - 3400 })
      local status, doc = raw_token{ grant_type = "client_credentials", client_id = fx.client_id,
        scope = "https://graph.microsoft.com/.default", client_assertion_type = JWT_BEARER,
        client_assertion = jwt }
      assert.equal(401, status)
      assert.equal("invalid_client", doc.error)
      assert.truthy(doc.error_description:find("AADSTS700024", 1, true), doc.error_description)
    end)

    it("a replayed assertion (the library's own, sent again): AADSTS50013", function()
      register(app_pem)
      works(emu:client{ client_secret = emulator.NONE, certificate_file = app_pem })
      local form = form_of(emu:token_requests()[1])
      local status, doc = raw_token(form)
      assert.equal(401, status)
      assert.truthy(doc.error_description:find("AADSTS50013", 1, true), doc.error_description)
    end)
  end)

  ---------------------------------------------------------------------------
  describe("token lifecycle", function()
    it("reuses the cached token", function()
      local g = emu:client()
      works(g)
      works(g)
      works(g)
      assert.equal(1, #emu:token_requests())
    end)

    it("reuses a 120 s token: ten calls, one token request", function()
      emu:config{ token_expires_in = 120 }
      local g = emu:client()
      for _ = 1, 10 do works(g) end
      assert.equal(1, #emu:token_requests())
    end)

    it("renews a token a quarter of its lifetime (at most 5 minutes) before it expires", function()
      emu:config{ token_expires_in = 2 }           -- renewed after 1.5 s
      local g = emu:client()
      works(g)
      works(g)
      assert.equal(1, #emu:token_requests())
      core.sleep(1.6)
      works(g)
      assert.equal(2, #emu:token_requests())
      emu:reset()
      emu:config{ token_expires_in = 420 }          -- renewed 5 minutes before, not 105 s
      g = emu:client()
      works(g)
      works(g)
      assert.equal(1, #emu:token_requests())
    end)

    it("after a 401 for an expired token, re-acquires exactly once and succeeds", function()
      local g = emu:client()
      works(g)
      emu:expire_tokens()
      works(g)
      assert.equal(2, #emu:token_requests())
      assert.equal(3, #emu:graph_requests())
    end)

    it("returns a persistent 401 after exactly one re-acquisition", function()
      local g = emu:client()
      emu:fault{ target = "graph", path = "^/v1\\.0/", status = 401, count = 10,
        json = { error = { code = "InvalidAuthenticationToken", message = "Access token validation failure." } } }
      local err = fails(g)
      assert.equal("graph", err.kind)
      assert.equal(401, err.status_code)
      assert.equal("InvalidAuthenticationToken", err.code)
      assert.equal(2, #emu:token_requests())
      assert.equal(2, #emu:graph_requests())
    end)
  end)

  ---------------------------------------------------------------------------
  describe("a hostile token endpoint", function()
    local secrets_list = require "support.secrets"
    local SMUGGLE = "x\r\nX-Injected: yes\r\nContent-Length: 0\r\n\r\nGET /v1.0/smuggled HTTP/1.1\r\n"
      .. "Host: 127.0.0.1\r\nX-Pad: "
    local FAKE_TOKEN = "hostile-emulator-token-AAAA"
    local ROTATED = "hostile-rotated-refresh-token-0001"
    setup(function()
      secrets_list.add_tokens{ FAKE_TOKEN, ROTATED, "eyJ0" .. SMUGGLE, "DAQABhostile-device-code" }
    end)

    local function token_reply(t, count)
      emu:fault{ target = "token", path = "/token$", json = t, count = count or 5 }
    end

    local function no_smuggling()
      for _, r in ipairs(emu:requests()) do
        assert.is_nil(r.headers["x-injected"], r.path)
        assert.falsy(r.path:find("smuggled", 1, true), r.path)
      end
    end

    it("refuses an access_token with CR/LF and never pastes it into a request", function()
      token_reply{ token_type = "Bearer", expires_in = 3599, access_token = "eyJ0" .. SMUGGLE }
      local g = emu:client{ max_retries = 0 }
      local err = fails(g)
      no_smuggling()
      assert.equal(0, #emu:graph_requests())
      assert.equal("decode", err.kind)
      assert.equal("invalid_token", err.code)
      assert.equal(200, err.status_code)
      g:close()
    end)

    it("refuses every access_token that is not an RFC 6750 b64token", function()
      for _, bad in ipairs{ "", " ", "a b", "tok\0en", "tok\n", "t\195\182k", "a=b", "===", "a\tb",
                            "x" .. ("A"):rep(40000), 42, true, {} } do
        emu:reset()
        token_reply{ token_type = "Bearer", expires_in = 3599, access_token = bad }
        local s = emu:session{}
        local ok, err = util.token(s)
        assert.is_nil(ok, tostring(bad))
        expose(err)
        assert.equal("invalid_token", err.code, tostring(bad))
        s:close()
      end
      no_smuggling()
    end)

    it("takes token_type Bearer in any case, or none, and refuses another type", function()
      for tt, good in pairs{ Bearer = true, bearer = true, BEARER = true, [false] = true,
                              mac = false, pop = false, ["Bearer "] = false, [""] = false } do
        emu:reset()
        token_reply{ expires_in = 3599, access_token = FAKE_TOKEN, token_type = tt or nil }
        local s = emu:session{}
        local ok, err = util.token(s)
        expose(err)
        if good then
          assert.is_true(ok, tostring(tt))
        else
          assert.equal("invalid_token", err.code, tostring(tt))
          assert.truthy(err.message:find("token_type", 1, true))
        end
        s:close()
      end
    end)

    it("bounds expires_in: negative or zero is used once, nonsense is the default, huge is a day", function()
      local cases = { [-5] = 2, [0] = 2, [120] = 1, ["120"] = 1, ["NaN"] = 1, ["abc"] = 1,
                      ["1e999"] = 1, [1e300] = 1, [true] = 1 }
      for value, requests in pairs(cases) do
        emu:reset()
        token_reply({ token_type = "Bearer", access_token = FAKE_TOKEN, expires_in = value }, 2)
        local s = emu:session{}
        assert.is_true(util.token(s))
        s:request("GET", emu.url .. "/v1.0/users/" .. fx.adele_id, {}, nil, true)   -- uses it
        assert.is_true(util.token(s))
        assert.equal(requests, s:stats().token_requests, "expires_in = " .. tostring(value))
        s:close()
      end
    end)

    local function refresh_session()
      return emu:session{ grant = "refresh_token", refresh_token = fx.seed_refresh_token,
                          scope = "https://graph.microsoft.com/.default offline_access" }
    end

    it("keeps a refresh token only if it is printable and of a credible length", function()
      for _, bad in ipairs{ "bad token", "bad\r\ntoken", ("r"):rep(40000), "", 12345 } do
        emu:reset()
        token_reply{ token_type = "Bearer", expires_in = 3599, access_token = FAKE_TOKEN,
                     refresh_token = bad }
        local s = refresh_session()
        assert.is_true(util.token(s))
        assert.equal(fx.seed_refresh_token, s:refresh_token(), tostring(bad):sub(1, 20))
        s:close()
      end
    end)

    it("keeps a rotated refresh token even from a reply whose access_token it refuses", function()
      token_reply{ token_type = "Bearer", expires_in = 3599, access_token = "bad\r\n",
                   refresh_token = ROTATED }
      local s = refresh_session()
      local ok, err = util.token(s)
      assert.is_nil(ok)
      expose(err)
      assert.equal("invalid_token", err.code)
      assert.equal(ROTATED, s:refresh_token())       -- the old one is used up: never lost
      s:close()
    end)

    it("an answer that is not the identity platform's JSON: auth http_error with its status", function()
      for _, f in ipairs{ { action = "html_502" },
                          { status = 302, body = "", headers = { Location = "https://evil.example/token" } } } do
        emu:reset()
        f.target, f.path = "token", "/token$"
        emu:fault(f)
        local s = emu:session{}
        local ok, err = util.token(s)
        assert.is_nil(ok)
        expose(err)
        assert.equal("auth", err.kind)
        assert.equal("http_error", err.code)
        assert.equal(f.status or 502, err.status_code)
        assert.equal(1, #emu:token_requests())           -- a redirect is not followed
        if f.status then assert.equal("https://evil.example/token", err.location) end
        s:close()
      end
      token_reply{ token_type = "Bearer", expires_in = 3599 }         -- a 200 without a token
      local ok, err = util.token(emu:session{})
      assert.is_nil(ok)
      assert.equal("decode", err.kind)
      assert.equal("invalid_response", err.code)
    end)

    it("gives Lua what it needs to decide on a retry: status, headers, Retry-After, request_sent", function()
      emu:fault{ target = "token", status = 429, headers = { ["Retry-After"] = "7" } }
      local s = emu:session{}
      local ok, err = util.token(s)
      assert.is_nil(ok)
      expose(err)
      assert.equal(429, err.status_code)
      assert.equal("7", err.headers["retry-after"])
      assert.equal(7, err.retry_after)
      assert.is_true(err.request_sent)
      s:close()
      s = emu:session{ token_url = "http://127.0.0.1:" .. emulator.closed_port() .. "/t/oauth2/v2.0/token" }
      ok, err = util.token(s)
      assert.is_nil(ok)
      assert.equal("transport", err.kind)
      assert.is_false(err.request_sent)
      s:close()
    end)
  end)

  ---------------------------------------------------------------------------
  describe("options for signing in", function()
    local USERINFO_PASSWORD = "userinfo-Passw0rd-in-url"
    setup(function() require("support.secrets").add_tokens{ USERINFO_PASSWORD } end)

    it("never echoes a password in the user info of a URL", function()
      local host = "https://admin:" .. USERINFO_PASSWORD .. "@"
      for field, value in pairs{ url = host .. "graph.example", login_url = host .. "login.example",
                                 token_url = host .. "login.example/" .. fx.tenant_id .. "/oauth2/v2.0/token" } do
        local msg = raised(emu:client_options{ [field] = value })
        assert.truthy(msg:find(field, 1, true), msg)
        assert.falsy(msg:find(USERINFO_PASSWORD, 1, true), msg)
        assert.falsy(msg:find("admin", 1, true), msg)
      end
    end)

    it("needs tenant_id for the delegated grants: no silent common or organizations", function()
      for _, extra in ipairs{
        { username = fx.adele_upn, password = fx.adele_password },
        { refresh_token = fx.seed_refresh_token },
        { auth = "device_code", on_device_code = function() end },
      } do
        extra.tenant_id = emulator.NONE
        local msg = raised(emu:client_options(extra))
        assert.truthy(msg:find("needs field 'tenant_id'", 1, true), msg)
      end
      assert.equal(0, #emu:token_requests())
    end)

    it("sends an explicit organizations or common as given: a single-tenant app gets AADSTS50194", function()
      local err = fails(emu:client{ tenant_id = "organizations", username = fx.adele_upn,
                                    password = fx.adele_password })
      assert_auth_error(err, 400, "invalid_request", 50194)
      assert.truthy(err.message:find("is not configured as a multi-tenant application", 1, true))
      assert.equal("/organizations/oauth2/v2.0/token", emu:token_requests()[1].path)
      err = fails(emu:client{ tenant_id = "common", refresh_token = fx.seed_refresh_token })
      assert_auth_error(err, 400, "invalid_request", 50194)
    end)

    it("a public client signs in with a password and a refresh token, without a secret", function()
      local scope = "https://graph.microsoft.com/.default offline_access"
      local g = emu:client{ client_id = PUBLIC_CLIENT, client_secret = emulator.NONE, scope = scope,
                            username = fx.adele_upn, password = fx.adele_password }
      works(g)
      local rt = g:refresh_token()
      remember(rt)
      assert.is_string(rt)
      works(emu:client{ client_id = PUBLIC_CLIENT, client_secret = emulator.NONE, scope = scope,
                        refresh_token = rt })
      for _, r in ipairs(emu:token_requests()) do assert.is_nil(form_of(r).client_secret) end
    end)

    it("a confidential app without its secret: 401 invalid_client AADSTS7000218", function()
      local err = fails(emu:client{ client_secret = emulator.NONE, username = fx.adele_upn,
                                    password = fx.adele_password })
      assert_auth_error(err, 401, "invalid_client", 7000218)
    end)
  end)

  ---------------------------------------------------------------------------
  describe("national clouds", function()
    local expected = {
      global = { "https://graph.microsoft.com", "https://login.microsoftonline.com" },
      usgov = { "https://graph.microsoft.us", "https://login.microsoftonline.us" },
      usgov_dod = { "https://dod-graph.microsoft.us", "https://login.microsoftonline.us" },
      china = { "https://microsoftgraph.chinacloudapi.cn", "https://login.chinacloudapi.cn" },
    }
    for name, hosts in pairs(expected) do
      it(("cloud = %q sets url and login_url (no request made)"):format(name), function()
        local opts = { cloud = name, tenant_id = fx.tenant_id, client_id = fx.client_id,
                       client_secret = fx.client_secret }
        local c = graph.client(opts)
        assert.equal(hosts[1], require("graph.client").of(c).graph_url)
        assert.truthy(tostring(c):find(hosts[1], 1, true))
        local o = options.normalize(opts)
        assert.equal(hosts[2], o.login_url)
        assert.equal(hosts[2] .. "/" .. fx.tenant_id .. "/oauth2/v2.0/token", o.token_url)
        assert.equal(hosts[1] .. "/.default", o.scope)
        expose(tostring(c))
        c:close()
      end)
    end

    it("an explicit url wins over the cloud", function()
      local c = graph.client{ cloud = "china", url = emu.url, tenant_id = fx.tenant_id,
                              client_id = fx.client_id, client_secret = fx.client_secret }
      assert.equal(emu.url, require("graph.client").of(c).graph_url)
    end)

    it("an unknown cloud is a raised error", function()
      local msg = raised{ cloud = "mars", tenant_id = fx.tenant_id, client_id = fx.client_id,
                          client_secret = fx.client_secret }
      assert.truthy(msg:find("cloud", 1, true), msg)
    end)
  end)

  ---------------------------------------------------------------------------
  it("exposes no secret in any error, tostring or message of this file", function()
    assert.is_true(#exposed > 0)
    local secret, where = util.find_secret(exposed, secrets)
    assert.is_nil(secret, ("secret %q exposed in %q"):format(tostring(secret), tostring(where)))
  end)
end)
