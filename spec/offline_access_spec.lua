-- Delegated grants and offline_access: Entra issues a refresh token only when
-- the scope asks for offline_access; the library asks for it by default on
-- the delegated grants (password, refresh token, device code), and keeps
-- `.default` alone for client credentials.
describe("offline_access", function()
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"

  local emu
  setup(function() emu = emulator.shared() end)
  before_each(function() emu:reset() end)

  local function last_scope()
    local reqs = emu:token_requests()
    return util.decode_form(reqs[#reqs].body).scope
  end

  local function password_client(extra)
    local o = { username = fx.adele_upn, password = fx.adele_password }
    for k, v in pairs(extra or {}) do o[k] = v end
    return emu:client(o)
  end

  it("is in the default scope of the password grant, which then gets a refresh token", function()
    local g = password_client()
    util.expect_success(g.users.get, { id = fx.adele_id })
    assert.equal("https://graph.microsoft.com/.default offline_access", last_scope())
    assert.is_string(g:refresh_token())
  end)

  it("is in the default scope of the refresh-token grant, which then rotates the token", function()
    local g = emu:client{ refresh_token = fx.seed_refresh_token }
    util.expect_success(g.users.get, { id = fx.adele_id })
    assert.equal("https://graph.microsoft.com/.default offline_access", last_scope())
    assert.is_string(g:refresh_token())
    assert.are_not.equal(fx.seed_refresh_token, g:refresh_token())
  end)

  it("is not added for client credentials", function()
    local g = emu:client()
    util.expect_success(g.users.get, { id = fx.adele_id })
    assert.equal("https://graph.microsoft.com/.default", last_scope())
  end)

  it("is not added to a scope the caller gives; no refresh token comes back then", function()
    local g = password_client{ scope = "https://graph.microsoft.com/.default" }
    util.expect_success(g.users.get, { id = fx.adele_id })
    assert.equal("https://graph.microsoft.com/.default", last_scope())
    assert.is_nil(g:refresh_token())
  end)

  it("the emulator's refresh-token grant issues no new refresh token without it", function()
    local g = emu:client{ refresh_token = fx.seed_refresh_token, scope = "https://graph.microsoft.com/.default" }
    util.expect_success(g.users.get, { id = fx.adele_id })
    assert.equal("https://graph.microsoft.com/.default", last_scope())
    assert.equal(fx.seed_refresh_token, g:refresh_token())     -- nothing rotated in
  end)
end)
