-- The client's public surface (issue 11): the actions and close,
-- refresh_token, __close, __tostring; nothing of the pipeline; a closed
-- client says so, blamed on the caller.
describe("a client's public surface", function()
  local emulator = require "support.emulator"
  local fx = require "support.fixtures"

  local emu
  setup(function() emu = emulator.shared() end)
  before_each(function() emu:reset() end)

  it("holds the actions and four methods, no internals", function()
    local g = emu:client()
    for _, name in ipairs{ "session", "exchange", "fetch", "outcome", "policy", "pacing",
                           "authorize", "walk", "collect", "document", "url", "redact" } do
      assert.is_nil(g[name], name .. " is reachable")
    end
    assert.is_function(g.users.get)
    assert.is_function(g.batch)
    assert.is_function(g.close)
    assert.is_function(g.refresh_token)
    assert.is_function(getmetatable(g).__close)
    assert.matches("^graph%.client %(", tostring(g))
    g:close()
  end)

  it("says 'attempt to use a closed client', blamed on the caller, once closed", function()
    local g = emu:client()
    assert.truthy(g.users.get{ id = fx.adele_id })
    g:close()
    g:close()                                  -- closing again is harmless
    local ok, msg = pcall(function() return g.users.get{ id = fx.adele_id } end)
    assert.is_false(ok)
    assert.matches("^[^:]+:%d+: graph%.client: attempt to use a closed client$", msg)
    assert.is_nil(msg:find("lua/graph/", 1, true), msg)         -- blamed on the caller
    ok, msg = pcall(function() local rt = g:refresh_token(); return rt end)
    assert.is_false(ok)
    assert.matches("^[^:]+:%d+: graph%.client: attempt to use a closed client$", msg)
    assert.is_nil(msg:find("lua/graph/", 1, true), msg)         -- blamed on the caller
  end)
end)
