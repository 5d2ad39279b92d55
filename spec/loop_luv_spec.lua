-- graph.loop.luv in luv itself: the protocol's cases on libuv's loop with
-- real sockets (uv.socketpair), every handle closed afterwards (uv.walk),
-- and a resumed coroutine's error raised from the loop's callback.
local have_luv, uv = pcall(require, "luv")

describe("graph.loop.luv", function()
  if not have_luv then
    pending("lua-luv is not installed for " .. _VERSION .. " (make deps)")
    return
  end
  local contract = require "support.loop_contract"
  local util = require "support.util"
  local L = require("graph.loop").luv()

  local host = contract.luv_host(uv, L)
  local live = host.live

  for _, c in ipairs(contract.cases_for(host)) do
    it(c.name, function() c.run(host) end)
  end
  -- luv 1.44 crashes in lua_close when a handle's close has not completed
  teardown(function() uv.run("nowait") end)

  it("is graph.loop.luv(), and takes the luv module to use", function()
    assert.are.equal("luv", require("graph.loop").luv(uv).name)
    assert.are.equal(require("graph.loop.luv").new, require("graph.loop").luv)
  end)

  it("has graph.loop.nvim raise outside Neovim (spec/hosts/nvim_loop.lua proves it inside)", function()
    assert.matches("loop_luv_spec%.lua:%d+: graph%.loop%.nvim: run inside Neovim",
                   util.raised(function() require("graph.loop").nvim() end))
  end)

  it("raises a resumed coroutine's error with its traceback from resume", function()
    local co
    host.spawn(function()
      co = coroutine.running()
      L.suspend()
      local function deep() error("boom in the coroutine") end
      deep()
    end)
    local ok, msg = pcall(L.resume, co)
    assert.is_false(ok)
    assert.matches("loop_luv_spec%.lua:%d+: boom in the coroutine", msg)
    assert.matches("stack traceback:", msg, 1, true)
    assert.matches("in %a* ?%a* ?'?deep'?", msg)
  end)

  it("keeps a resumed coroutine's error that is not a string as it is", function()
    local co
    local value = { code = 7 }
    host.spawn(function()
      co = coroutine.running()
      L.suspend()
      error(value)
    end)
    local ok, err = pcall(L.resume, co)
    assert.is_false(ok)
    assert.are.equal(value, err)
  end)

  it("does not lose the error of a coroutine resumed from a luv callback", function()
    local out, ok = util.run_lua([[
      local uv = require "luv"
      local L = require("graph.loop").luv()
      local co = coroutine.create(function()
        L.suspend()
        error("not lost")
      end)
      coroutine.resume(co)
      L.timer(0.01, function() L.resume(co) end)
      uv.run()
      print("the loop went on")
    ]])
    assert.is_false(ok, out)
    assert.matches("script%.lua:5: not lost", out)
    assert.matches("stack traceback:", out, 1, true)
    assert.is_nil(out:find("the loop went on", 1, true))
  end)

  it("reports \"e\" once for a refused connection: libuv stops polling after an error", function()
    local c, why = contract.refused_socket()
    if not c then return pending(why) end
    local seen = {}                           -- (luv itself prints "EBADF: bad file descriptor")
    local w = L.watch(c:getfd(), "w", function(ready) seen[#seen + 1] = ready end)
    host.run(0.2, function() return false end)
    assert.are.same({ "e" }, seen)
    w:stop()
    c:close()
    host.run(0.01, function() return false end)
  end)

  it("reports \"e\" for a descriptor it cannot poll, once, from the loop", function()
    local path = os.tmpname()
    local fd = assert(uv.fs_open(path, "r", 0))   -- a regular file: epoll refuses it
    local seen = {}
    local w = L.watch(fd, "r", function(ready) seen[#seen + 1] = ready end)
    assert.are.same({}, seen)
    host.run(0.05, function() return false end)
    assert.are.same({ "e" }, seen)
    w:stop()
    uv.fs_close(fd)
    os.remove(path)
    local a, b = host.pair()
    host.close(a)
    host.close(b)
    w = L.watch(a, "r", function(ready) seen[#seen + 1] = ready end)   -- closed
    host.run(0.05, function() return false end)
    assert.are.same({ "e", "e" }, seen)
    w:stop()
    host.run(0.01, function() return false end)
    assert.are.equal(0, live())
  end)
end)
