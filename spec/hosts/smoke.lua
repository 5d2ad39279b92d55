-- runs-on: lua5.4 lua5.1 luajit
-- The runner's own proof: a blocking users.get against the emulator, then the
-- same through the HTTP/2 front, on plain interpreters (no loop, no host).
local proof = require "support.hostproof"
local fx = require "support.fixtures"
local core = require "graph.core"

proof.main("smoke", function()
  local emu = proof.emulator()
  for _, how in ipairs{ "direct", "h2" } do
    local g = emu:client(how == "h2" and proof.front_options() or nil)
    local t0 = core.now()
    local user, err = g.users.get{ id = fx.adele_id, select = { "id", "displayName" } }
    local ms = (core.now() - t0) * 1000
    proof.check(user, "%s users.get failed: %s", how, tostring(err))
    proof.check(user.id == fx.adele_id and user.displayName == "Adele Vance",
      "%s users.get returned %s", how, tostring(user.id))
    proof.figure(how .. " users.get (token included)", ("%.1f"):format(ms), "ms")
    g:close()
  end
end)
