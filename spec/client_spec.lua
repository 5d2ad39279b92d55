-- graph.client and graph.configure: options, aliases, auth modes, defaults.
describe("graph.client", function()
  local graph = require "graph"
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"

  local emu
  setup(function() emu = emulator.shared() end)
  before_each(function() emu:reset() end)

  local raised = util.raised

  local function client_error(opts)
    return raised(graph.client, opts)
  end

  local function last_token_form()
    local reqs = emu:token_requests()
    assert.is_true(#reqs > 0, "no token request was made")
    return util.decode_form(reqs[#reqs].body), reqs[#reqs]
  end

  local function works(g)
    local user = util.expect_success(g.users.get, { id = fx.adele_id })
    assert.equal(fx.adele_id, user.id)
  end

  describe("option validation", function()
    it("raises on an unknown option, naming it", function()
      local msg = client_error(emu:client_options{ timout = 5 })
      assert.truthy(msg:find("graph.client: unknown option 'timout'", 1, true), msg)
    end)

    it("raises when the options are not a table", function()
      local msg = raised(graph.client, "tenant")
      assert.truthy(msg:find("graph.client", 1, true), msg)
    end)

    local wrong = {
      { "client_id", 42 }, { "client_secret", {} }, { "tenant_id", true },
      { "timeout", "10" }, { "connect_timeout", {} }, { "max_retries", "3" },
      { "verify_ssl", "yes" }, { "scope", 5 }, { "url", 1 }, { "ca_file", 5 },
    }
    for _, case in ipairs(wrong) do
      local field, value = case[1], case[2]
      it(("raises naming the function and the field when %s is a %s"):format(field, type(value)), function()
        local msg = client_error(emu:client_options{ [field] = value })
        assert.truthy(msg:find("graph.client", 1, true), msg)
        assert.truthy(msg:find(field, 1, true), msg)
      end)
    end

    it("raises on an unknown auth mode, naming auth", function()
      local msg = client_error(emu:client_options{ auth = "kerberos" })
      assert.truthy(msg:find("auth", 1, true), msg)
    end)

    it("raises when a field the auth mode requires is missing", function()
      local msg = client_error(emu:client_options{ auth = "client_credentials", tenant_id = emulator.NONE })
      assert.truthy(msg:find("tenant_id", 1, true), msg)
      msg = client_error(emu:client_options{ auth = "password", password = fx.adele_password })
      assert.truthy(msg:find("username", 1, true), msg)
    end)

    it("does not echo a secret in its error messages", function()
      local msg = client_error(emu:client_options{ timout = 5 })
      assert.is_nil(msg:find(fx.client_secret, 1, true), msg)
    end)

    it("accepts every documented option", function()
      assert.has_no.errors(function()
        graph.client(emu:client_options{
          scope = { "https://graph.microsoft.com/.default" }, verify_ssl = true,
          ca_file = "/etc/ssl/certs/ca-certificates.crt", http_proxy = "http://127.0.0.1:3128",
          timeout = 30, connect_timeout = 5, max_retries = 2,
        })
      end)
    end)
  end)

  describe("auth modes", function()
    it("uses client_credentials for tenant_id, client_id and client_secret", function()
      works(emu:client())
      local form, req = last_token_form()
      assert.equal("client_credentials", form.grant_type)
      assert.equal(fx.client_id, form.client_id)
      assert.equal(fx.client_secret, form.client_secret)
      assert.equal("https://graph.microsoft.com/.default", form.scope)
      assert.equal("/" .. fx.tenant_id .. "/oauth2/v2.0/token", (util.split_target(req.path)))
      assert.equal("POST", req.method)
    end)

    it("uses the password grant when username and password are given", function()
      works(emu:client{ username = fx.adele_upn, password = fx.adele_password })
      local form, req = last_token_form()
      assert.equal("password", form.grant_type)
      assert.equal(fx.adele_upn, form.username)
      assert.equal(fx.adele_password, form.password)
      assert.equal(fx.client_secret, form.client_secret)
      assert.equal("/" .. fx.tenant_id .. "/oauth2/v2.0/token", (util.split_target(req.path)))
    end)

    it("uses the refresh_token grant when a refresh token is given", function()
      works(emu:client{ refresh_token = fx.seed_refresh_token })
      local form, req = last_token_form()
      assert.equal("refresh_token", form.grant_type)
      assert.equal(fx.seed_refresh_token, form.refresh_token)
      assert.equal("/" .. fx.tenant_id .. "/oauth2/v2.0/token", (util.split_target(req.path)))
    end)

    it("sends the refresh_token grant to common only when tenant_id names it", function()
      local opts = emu:client_options{ refresh_token = fx.seed_refresh_token, tenant_id = emulator.NONE }
      assert.is_false(pcall(graph.client, opts))   -- no silent common (AADSTS50194)
      local g = emu:client{ refresh_token = fx.seed_refresh_token, tenant_id = "common" }
      pcall(g.users.get, { id = fx.adele_id })
      local form, req = last_token_form()
      assert.equal("refresh_token", form.grant_type)
      assert.equal("/common/oauth2/v2.0/token", (util.split_target(req.path)))
    end)

    it("uses the rotated refresh token for the next grant", function()
      local g = emu:client{ refresh_token = fx.seed_refresh_token }
      works(g)
      emu:expire_tokens()
      works(g)
      local reqs = emu:token_requests()
      assert.equal(2, #reqs)
      local second = util.decode_form(reqs[2].body).refresh_token
      assert.are_not.equal(fx.seed_refresh_token, second)
      -- the seed token was consumed by the first grant: reusing it fails
      local other = emu:client{ refresh_token = fx.seed_refresh_token }
      local err = util.expect_failure(other.users.get, { id = fx.adele_id })
      assert.equal("auth", err.kind)
      assert.equal("invalid_grant", err.code)
    end)

    it("follows auth = over the fields given", function()
      works(emu:client{ auth = "client_credentials", username = fx.adele_upn, password = fx.adele_password })
      assert.equal("client_credentials", last_token_form().grant_type)
    end)

    it("posts client_credentials to token_url when given", function()
      local token_url = emu.url .. "/" .. fx.tenant_id .. "/oauth2/v2.0/token"
      works(emu:client{ tenant_id = emulator.NONE, token_url = token_url })
      local form, req = last_token_form()
      assert.equal("client_credentials", form.grant_type)
      assert.equal("/" .. fx.tenant_id .. "/oauth2/v2.0/token", (util.split_target(req.path)))
    end)

    it("sends a scope array space-separated", function()
      local g = emu:client{ username = fx.adele_upn, password = fx.adele_password,
        scope = { "User.Read.All", "offline_access" } }
      pcall(g.users.get, { id = fx.adele_id })
      assert.equal("User.Read.All offline_access", last_token_form().scope)
    end)

    it("sends a scope string as given", function()
      works(emu:client{ scope = "https://graph.microsoft.com/.default" })
      assert.equal("https://graph.microsoft.com/.default", last_token_form().scope)
    end)
  end)

  describe("token_url", function()
    -- Refused means: graph.client raises naming token_url, or the client
    -- returns nil, err without contacting anything.
    local function refused(opts)
      local before = #emu:requests()
      local ok, g = pcall(graph.client, opts)
      if not ok then
        assert.truthy(tostring(g):find("token_url", 1, true), tostring(g))
      else
        local err = util.expect_failure(g.users.get, { id = fx.adele_id })
        assert.are_not.equal("transport", err.kind)
        assert.equal(before, #emu:requests())
      end
    end

    it("is refused outside login_url", function()
      refused(emu:client_options{ tenant_id = emulator.NONE, login_url = emu.url .. "/login",
        token_url = emu.url .. "/" .. fx.tenant_id .. "/oauth2/v2.0/token" })
    end)

    it("is refused on another host", function()
      refused(emu:client_options{ tenant_id = emulator.NONE,
        token_url = "https://login.evil.example/" .. fx.tenant_id .. "/oauth2/v2.0/token" })
    end)

    it("is refused when login_url is only a string prefix of it", function()
      refused(emu:client_options{ tenant_id = emulator.NONE,
        token_url = emu.url .. "0/" .. fx.tenant_id .. "/oauth2/v2.0/token" })
      refused(emu:client_options{ tenant_id = emulator.NONE,
        token_url = emu.url .. ".evil.example/" .. fx.tenant_id .. "/oauth2/v2.0/token" })
      refused(emu:client_options{ tenant_id = emulator.NONE,
        token_url = emu.url .. "@evil.example/" .. fx.tenant_id .. "/oauth2/v2.0/token" })
    end)

    it("is accepted under login_url", function()
      assert.has_no.errors(function()
        graph.client(emu:client_options{ tenant_id = emulator.NONE,
          token_url = emu.url .. "/" .. fx.tenant_id .. "/oauth2/v2.0/token" })
      end)
    end)
  end)

  describe("aliases", function()
    it("accepts oauth_un, oauth_pwd, oauth_cl_id and oauth_cl_secret", function()
      works(graph.client{
        tenant_id = fx.tenant_id, url = emu.url, login_url = emu.url,
        oauth_un = fx.adele_upn, oauth_pwd = fx.adele_password,
        oauth_cl_id = fx.client_id, oauth_cl_secret = fx.client_secret,
      })
      local form = last_token_form()
      assert.equal("password", form.grant_type)
      assert.equal(fx.adele_upn, form.username)
      assert.equal(fx.adele_password, form.password)
      assert.equal(fx.client_id, form.client_id)
      assert.equal(fx.client_secret, form.client_secret)
    end)

    it("accepts cl_id and cl_secret", function()
      works(graph.client{
        tenant_id = fx.tenant_id, url = emu.url, login_url = emu.url,
        cl_id = fx.client_id, cl_secret = fx.client_secret,
      })
      local form = last_token_form()
      assert.equal(fx.client_id, form.client_id)
      assert.equal(fx.client_secret, form.client_secret)
    end)

    it("accepts cl_id and cl_secret with a refresh token", function()
      works(graph.client{
        tenant_id = fx.tenant_id, url = emu.url, login_url = emu.url,
        cl_id = fx.client_id, cl_secret = fx.client_secret, refresh_token = fx.seed_refresh_token,
      })
      assert.equal("refresh_token", last_token_form().grant_type)
    end)
  end)

  describe("instances", function()
    it("coexist, each with its own credentials and token cache", function()
      local a, b = emu:client(), emu:client()
      local bad = emu:client{ client_secret = "wrong-secret" }
      works(a)
      works(b)
      local err = util.expect_failure(bad.users.get, { id = fx.adele_id })
      assert.equal("auth", err.kind)
      works(a)
      works(b)
      assert.equal(3, #emu:token_requests())
    end)

    it("never route plain-http requests through http_proxy (the token would be in clear)", function()
      -- https ones use it through CONNECT: transport_spec.lua
      local g = graph.client{
        tenant_id = fx.tenant_id, client_id = fx.client_id, client_secret = fx.client_secret,
        url = emu.url, login_url = emu.url, http_proxy = emu.url, max_retries = 0, timeout = 5,
      }
      util.expect_success(g.users.get, { id = fx.adele_id })
      for _, r in ipairs(emu:requests()) do
        assert.is_nil(r.path:find("^http://"), "an absolute-form request reached the proxy")
      end
    end)
  end)

  describe("defaults", function()
    local function env(extra)
      local t = {
        AZURE_TENANT_ID = fx.tenant_id, AZURE_CLIENT_ID = fx.client_id,
        AZURE_CLIENT_SECRET = fx.client_secret, AZURE_AUTHORITY_HOST = emu.url, GRAPH_URL = emu.url,
      }
      for k, v in pairs(extra or {}) do t[k] = v end
      return t
    end
    local script = [[
      local graph = require "graph"
      local user, err = graph.users.get{ id = ]] .. ("%q"):format(fx.adele_id) .. [[ }
      print(user and ("ID=" .. user.id) or ("ERR=" .. tostring(err)))
    ]]

    it("come from the AZURE_* and GRAPH_URL environment variables", function()
      local out = util.run_lua(script, env())
      assert.truthy(out:find("ID=" .. fx.adele_id, 1, true), out)
      assert.equal("client_credentials", last_token_form().grant_type)
    end)

    it("use the password grant with AZURE_USERNAME and AZURE_PASSWORD", function()
      local out = util.run_lua(script, env{ AZURE_USERNAME = fx.adele_upn, AZURE_PASSWORD = fx.adele_password })
      assert.truthy(out:find("ID=" .. fx.adele_id, 1, true), out)
      local form = last_token_form()
      assert.equal("password", form.grant_type)
      assert.equal(fx.adele_upn, form.username)
    end)

    it("are replaced by graph.configure", function()
      local g = require "graph"
      g.configure(emu:client_options())
      local user = util.expect_success(g.users.get, { id = fx.adele_id })
      assert.equal(fx.adele_id, user.id)
      local presence = util.expect_success(g.presence.get, { id = fx.adele_id })
      assert.equal(fx.adele_id, presence.id)
      local groups = util.expect_success(g.users.memberof, { id = fx.adele_id })
      assert.is_table(groups.value)
      assert.is_true(util.expect_success(g.users.update, { id = fx.adele_id, body = { jobTitle = "Configured" } }))
      assert.equal(1, #emu:token_requests())
    end)

    it("are replaced again by a second graph.configure", function()
      graph.configure(emu:client_options())
      util.expect_success(graph.users.get, { id = fx.adele_id })
      graph.configure(emu:client_options{ client_secret = "wrong-secret" })
      local err = util.expect_failure(graph.users.get, { id = fx.adele_id })
      assert.equal("auth", err.kind)
      assert.equal("invalid_client", err.code)
    end)

    it("graph.configure validates its options like graph.client", function()
      local ok, msg = pcall(graph.configure, emu:client_options{ bogus_key = 1 })
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("bogus_key", 1, true), tostring(msg))
    end)
  end)
end)
