-- graph.loop.cqueues in cqueues itself: the protocol's cases on a
-- controller with real sockets (cqueues.socket.pair), every thread ended
-- afterwards (cq:count()), and a coroutine's error out of cq:step().
local have_cqueues, cqueues = pcall(require, "cqueues")

describe("graph.loop.cqueues", function()
  if not have_cqueues then
    pending("lua-cqueues is not installed for " .. _VERSION .. " (make deps)")
    return
  end
  local contract = require "support.loop_contract"
  local socket = require "cqueues.socket"
  local loop = require "graph.loop"
  local cq = cqueues.new()
  local L = loop.cqueues(cq)

  local host = { loop = L }
  function host.live() return cq:count() end
  -- steps the controller until done() or `seconds`; a thread's error fails the spec
  function host.run(seconds, done)
    local deadline = cqueues.monotime() + seconds
    while not done() do
      local left = deadline - cqueues.monotime()
      if left <= 0 then break end
      assert(cq:step(math.min(left, 0.01)))
    end
    return done() and true or false
  end
  function host.spawn(f) cq:wrap(f) end
  local sockets = {}
  function host.pair()
    local a, b = assert(socket.pair())
    a:setmode("bn", "bn")
    b:setmode("bn", "bn")
    sockets[a:pollfd()], sockets[b:pollfd()] = a, b
    return a:pollfd(), b:pollfd()
  end
  function host.write(fd, s)
    assert(sockets[fd]:xwrite(s, "bn", 0))
  end
  function host.read(fd) return (sockets[fd]:xread(-4096, "b", 0)) end
  function host.close(fd)
    sockets[fd]:close()
    sockets[fd] = nil
  end

  for _, c in ipairs(contract.cases_for(host)) do
    it(c.name, function() c.run(host) end)
  end

  it("runs on the caller's controller by default, and needs one outside", function()
    local util = require "support.util"
    assert.matches("loop_cqueues_spec%.lua:%d+: graph%.loop%.cqueues: give the controller",
                   util.raised(function() loop.cqueues() end))
    assert.matches("loop_cqueues_spec%.lua:%d+: graph%.loop%.cqueues: cq must be a cqueues controller",
                   util.raised(function() loop.cqueues({}) end))
    local name
    cq:wrap(function() name = loop.cqueues().name end)
    assert.is_true(host.run(1, function() return name ~= nil end))
    assert.are.equal("cqueues", name)
  end)

  it("refuses to suspend a coroutine the controller does not run", function()
    local ok, msg
    cq:wrap(function()
      ok, msg = coroutine.wrap(function() return pcall(L.suspend) end)()
    end)
    assert.is_true(host.run(1, function() return ok ~= nil end))
    assert.is_false(ok)
    assert.matches("graph%.loop%.cqueues: call from a coroutine that a cqueues controller runs", msg)
  end)

  it("does not lose the error of a resumed coroutine: cq:step returns it", function()
    local co
    cq:wrap(function()
      co = coroutine.running()
      L.suspend()
      error("not lost")
    end)
    assert.is_true(host.run(1, function() return co ~= nil end))
    L.timer(0, function() L.resume(co) end)
    local step
    for _ = 1, 10 do
      step = { cq:step(0.01) }                -- ok or false, err, errno, thread
      if not step[1] then break end
    end
    assert.is_falsy(step[1])
    assert.matches("loop_cqueues_spec%.lua:%d+: not lost", step[2])
    assert.are.equal(co, step[4])
    assert.is_true(host.run(0.05, function() return cq:count() == 0 end))
  end)

  it("ends a stopped timer's or watch's thread at once, not at its time", function()
    local t = L.timer(30, function() end)
    local a, b = host.pair()
    local w = L.watch(a, "r", function() end)
    host.run(0.02, function() return false end)
    assert.are.equal(2, cq:count())
    t:stop()
    w:stop()
    assert.is_true(host.run(0.05, function() return cq:count() == 0 end))
    host.close(a)
    host.close(b)
  end)
end)
