-- Why graph.loop has no Copas adapter (docs/loop.md): Debian's lua-copas
-- 1.2.0 (Lua 5.1/5.2 only) has no timer, no copas.sleep and no
-- copas.wakeup. When this fails, the Copas installed can carry the
-- protocol: write graph/loop/copas.lua on its timers and sleep/wakeup.
describe("Copas", function()
  local util = require "support.util"

  it("still offers no timer, copas.sleep or copas.wakeup, so graph.loop has no adapter for it", function()
    -- in a child: requiring copas rewrites LuaSocket's socket.protect and socket.newtry
    local out, ok = util.run_lua([[
      local have, copas = pcall(require, "copas")
      if not have then print("no copas") return end
      print("sleep=" .. type(copas.sleep), "wakeup=" .. type(copas.wakeup), "timer=" .. type(copas.timer))
      print("graph.loop.copas=" .. type(require("graph.loop").copas))
    ]])
    assert.is_true(ok, out)
    if out:find("no copas", 1, true) then
      return pending("lua-copas is not installed for " .. _VERSION .. " (Debian builds it for Lua 5.1 and 5.2 only)")
    end
    assert.matches("sleep=nil\twakeup=nil\ttimer=nil", out, 1, true)
    assert.matches("graph.loop.copas=nil", out, 1, true)
  end)
end)
