-- runs-on: lua5.4 lua5.3 lua5.2 lua5.1 luajit
-- needs: cqueues
-- Host proof: graph.loop.cqueues on a cqueues controller. The shared body
-- (support/loop_proof.lua), its coroutines threads of the controller
-- (cq:wrap), the controller stepped by cq:step, and a controller thread
-- sleeping 10 ms at a time as the host's own timer.
local proof = require "support.hostproof"
local loop_proof = require "support.loop_proof"
local cqueues = require "cqueues"

proof.main("cqueues", function()
  local cq
  local host = { name = "cqueues (" .. (rawget(_G, "jit") and "LuaJIT" or _VERSION) .. ")" }

  -- a controller of its own for each check: one a check left broken fails that check only
  function host.reset()
    cq = cqueues.new()
    host.loop = require("graph").loop.cqueues(cq)
  end
  host.reset()

  -- cq:step until done() or `seconds`; a thread's error ends the proof
  function host.run_until(seconds, done)
    local deadline = cqueues.monotime() + seconds
    while not done() do
      local left = deadline - cqueues.monotime()
      if left <= 0 then break end
      assert(cq:step(math.min(left, 0.05)))
    end
    return done()
  end

  function host.spawn(f) cq:wrap(f) end

  function host.timer(seconds, fn)
    local stopped = false
    cq:wrap(function()
      while true do
        cqueues.sleep(seconds)
        if stopped then return end
        fn()
      end
    end)
    return { stop = function() stopped = true end }
  end

  local failed = loop_proof.run(host)
  proof.check(failed == 0, "%d check(s) failed", failed)
end)
