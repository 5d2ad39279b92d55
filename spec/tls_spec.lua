-- TLS: certificate verification, ca_file, verify_ssl and handshake reuse,
-- against emulators serving the test CA's certificates.
describe("TLS", function()
  local core = require "graph.core"
  local emulator = require "support.emulator"
  local util = require "support.util"

  -- Close obj when the running test ends (what `local x <close>` does on 5.4).
  local function closing(obj)
    finally(function() obj:close() end)
    return obj
  end
  local fx = require "support.fixtures"

  local good, wronghost, expired
  setup(function()
    good = emulator.start{ tls = "server" }
    wronghost = emulator.start{ tls = "wronghost" }
    expired = emulator.start{ tls = "expired" }
  end)
  teardown(function()
    for _, e in ipairs{ good, wronghost, expired } do if e then e:stop() end end
  end)
  before_each(function() good:reset() end)

  local function get(s, e)
    return s:request("GET", e.url .. "/_emulator/stats", {}, nil, false)
  end

  local function expect_ssl_verify(s, e)
    local status, err = get(s, e)
    assert.is_nil(status)
    assert.equal("transport", err.kind)
    assert.equal("ssl_verify", err.code)
  end

  it("serves https", function()
    assert.truthy(good.url:match("^https://"))
  end)

  describe("a core session", function()
    it("fails with ssl_verify when the CA is unknown", function()
      local s = closing(core.session{ timeout = 5 })
      expect_ssl_verify(s, good)
    end)

    it("succeeds with the test CA as ca_file", function()
      local s = closing(core.session{ timeout = 5, ca_file = good.certs.ca })
      assert.equal(200, (get(s, good)))
    end)

    it("succeeds without verification when verify_ssl is false", function()
      local s = closing(core.session{ timeout = 5, verify_ssl = false })
      assert.equal(200, (get(s, good)))
    end)

    it("fails with ssl_verify when the certificate names another host", function()
      local s = closing(core.session{ timeout = 5, ca_file = good.certs.ca })
      expect_ssl_verify(s, wronghost)
    end)

    it("fails with ssl_verify when the certificate has expired", function()
      local s = closing(core.session{ timeout = 5, ca_file = good.certs.ca })
      expect_ssl_verify(s, expired)
    end)
  end)

  describe("a client", function()
    it("fails with a transport ssl_verify error without the CA", function()
      local g = good:client{ ca_file = emulator.NONE }
      local err = util.expect_failure(g.users.get, { id = fx.adele_id })
      assert.equal("transport", err.kind)
      assert.equal("ssl_verify", err.code)
    end)

    it("works with ca_file", function()
      local g = good:client()
      local user = util.expect_success(g.users.get, { id = fx.adele_id })
      assert.equal(fx.adele_id, user.id)
    end)

    it("works with verify_ssl = false", function()
      local g = good:client{ ca_file = emulator.NONE, verify_ssl = false }
      local user = util.expect_success(g.users.get, { id = fx.adele_id })
      assert.equal(fx.adele_id, user.id)
    end)

    it("does one TLS handshake for 20 requests", function()
      local before = good:stats()
      local g = good:client()
      for _ = 1, 20 do util.expect_success(g.users.get, { id = fx.adele_id }) end
      local after = good:stats()
      assert.equal(1, after.tls_handshakes - before.tls_handshakes)
      assert.equal(1, after.connections - before.connections)
    end)

    -- libcurl (OpenSSL) writes every session key to $SSLKEYLOGFILE: only
    -- with the explicit GRAPH_TLS_KEYLOG=1 debug switch
    local function keylog_run(extra_env)
      local dir = util.tmpdir()
      local file = dir .. "/keys.log"
      local env = {
        AZURE_TENANT_ID = good.tenant_id, AZURE_CLIENT_ID = good.client_id,
        AZURE_CLIENT_SECRET = good.client_secret, AZURE_AUTHORITY_HOST = good.url,
        GRAPH_URL = good.url, GRAPH_CA_FILE = good.certs.ca, SSLKEYLOGFILE = file,
      }
      for k, v in pairs(extra_env) do env[k] = v end
      local out = util.run_lua([[
        local graph = require "graph"
        local user, err = graph.users.get{ id = ]] .. ("%q"):format(fx.adele_id) .. [[ }
        print(user and ("ID=" .. user.id) or ("ERR=" .. tostring(err)))
        print("ENV=" .. tostring(os.getenv("SSLKEYLOGFILE")))
      ]], env)
      assert.truthy(out:find("ID=" .. fx.adele_id, 1, true), out)
      assert.truthy(out:find("ENV=" .. file, 1, true), "the variable is put back: " .. out)
      return util.read_file(file)
    end

    it("never writes TLS keys to SSLKEYLOGFILE without GRAPH_TLS_KEYLOG=1", function()
      assert.is_nil(keylog_run{})
      assert.is_nil(keylog_run{ GRAPH_TLS_KEYLOG = "yes" })
    end)

    it("writes them with GRAPH_TLS_KEYLOG=1", function()
      local keys = keylog_run{ GRAPH_TLS_KEYLOG = "1" }
      assert.truthy(keys and keys:find("CLIENT_", 1, true), tostring(keys))
    end)

    it("takes its CA file from GRAPH_CA_FILE", function()
      local out = util.run_lua([[
        local graph = require "graph"
        local user, err = graph.users.get{ id = ]] .. ("%q"):format(fx.adele_id) .. [[ }
        print(user and ("ID=" .. user.id) or ("ERR=" .. tostring(err)))
      ]], {
        AZURE_TENANT_ID = good.tenant_id, AZURE_CLIENT_ID = good.client_id,
        AZURE_CLIENT_SECRET = good.client_secret, AZURE_AUTHORITY_HOST = good.url,
        GRAPH_URL = good.url, GRAPH_CA_FILE = good.certs.ca,
      })
      assert.truthy(out:find("ID=" .. fx.adele_id, 1, true), out)
    end)
  end)
end)
