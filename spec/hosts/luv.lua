-- runs-on: lua5.4 lua5.3 lua5.2 lua5.1 luajit
-- needs: luv
-- Host proof: graph.loop.luv in a luv program. The shared body
-- (support/loop_proof.lua) with luv's own loop run by uv.run and a uv
-- repeating timer as the host's 10 ms timer.
local proof = require "support.hostproof"
local loop_proof = require "support.loop_proof"
local uv = require "luv"

proof.main("luv", function()
  local host = { name = "luv (" .. (rawget(_G, "jit") and "LuaJIT" or _VERSION) .. ")",
                 loop = require("graph").loop.luv(uv) }

  -- uv.run("once") until done() or `seconds`, under a guard timer
  function host.run_until(seconds, done)
    local expired = false
    local guard = uv.new_timer()
    guard:start(math.ceil(seconds * 1000), 0, function() expired = true end)
    while not done() and not expired do uv.run("once") end
    guard:close()
    uv.run("nowait")                       -- the guard's close completes
    return done()
  end

  host.timer = loop_proof.uv_timer(uv)

  local failed = loop_proof.run(host)
  uv.run("nowait")          -- luv 1.44 crashes in lua_close while a handle's close is pending
  proof.check(failed == 0, "%d check(s) failed", failed)
end)
