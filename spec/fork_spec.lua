-- After fork(), a child never shares its parent's connections: it abandons
-- the inherited handles (a cleanup would close the parent's TLS sessions),
-- opens its own, draws fresh client-request-ids, and the parent carries on
-- on the connections it had.
describe("after fork()", function()
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"

  -- fork/wait/_exit from spec/host/forklib.c, built for the running Lua
  local forklib
  setup(function()
    local pc = jit and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
    local dir = util.tmpdir()
    local out, ok = util.run(("cc -std=c99 -shared -fPIC -o %s/forklib.so %s $(pkg-config --cflags %s)")
      :format(dir, util.shell_quote(util.root .. "/spec/host/forklib.c"), pc))
    assert(ok, "building forklib.so failed:\n" .. out)
    forklib = assert(package.loadlib(dir .. "/forklib.so", "luaopen_forklib"))()
  end)

  -- Run f in a child process; returns its exit status (0: f returned true).
  local function in_child(f)
    local pid = forklib.fork()
    if pid == 0 then
      local ok, res = pcall(f)
      forklib._exit(ok and res == true and 0 or 1) -- never back into busted
    end
    return forklib.wait(pid)
  end

  local function user_gets(emu)
    local list = {}
    for _, r in ipairs(emu:graph_requests()) do
      if r.method == "GET" then list[#list + 1] = r end
    end
    return list
  end

  local tls
  setup(function() tls = emulator.start{ tls = "server" } end)
  teardown(function() if tls then tls:stop() end end)

  for _, mode in ipairs{ "http", "https" } do
    local function server() return mode == "https" and tls or emulator.shared() end

    it(("the child uses connections of its own and the parent keeps its own (%s)"):format(mode), function()
      local emu = server()
      emu:reset()
      local g = emu:client{ max_retries = 0 }
      util.expect_success(g.users.get, { id = fx.adele_id })
      local status = in_child(function()
        local user = g.users.get{ id = fx.lynne_id }
        g:close() -- closing must not close the parent's connections
        return user ~= nil and user.id == fx.lynne_id
      end)
      assert.equal(0, status, "the child's request failed")
      local user = util.expect_success(g.users.get, { id = fx.adele_id })
      assert.equal(fx.adele_id, user.id)
      local gets = user_gets(emu)
      assert.equal(3, #gets)
      local parent1, child, parent2 = gets[1], gets[2], gets[3]
      assert.equal("/v1.0/users/" .. fx.lynne_id, child.path)
      assert.are_not.equal(parent1.connection, child.connection, "the child used the parent's connection")
      assert.equal(parent1.connection, parent2.connection, "the parent lost its kept-alive connection")
      assert.equal(2, emu:stats().connections)
      -- the GUID pool was reseeded: the child did not draw the parent's next ids
      local crid = function(r) return r.headers["client-request-id"] end
      assert.are_not.equal(crid(parent2), crid(child))
      assert.is_true(util.is_guid(crid(child)))
    end)

    it(("request_many in the child opens its own pool (%s)"):format(mode), function()
      local emu = server()
      emu:reset()
      local g = emu:client{ max_retries = 0 }
      local ids = { fx.adele_id, fx.lynne_id }
      local res = util.expect_success(g.users.get_many, { ids = ids, concurrency = 2 })
      assert.equal(fx.adele_id, res[1].id)
      local before = {}
      for _, r in ipairs(user_gets(emu)) do before[r.connection] = true end
      local status = in_child(function()
        local got = g.users.get_many{ ids = ids, concurrency = 2 }
        g:close()
        return got ~= nil and got[2].id == fx.lynne_id
      end)
      assert.equal(0, status, "the child's request_many failed")
      local gets = user_gets(emu)
      assert.equal(4, #gets)
      for i = 3, 4 do
        assert.is_nil(before[gets[i].connection], "the child used a connection of the parent's pool")
      end
      res = util.expect_success(g.users.get_many, { ids = ids, concurrency = 2 })
      assert.equal(fx.lynne_id, res[2].id)
      gets = user_gets(emu)
      local kept = 0
      for i = 5, 6 do
        local c = gets[i].connection
        assert.are_not.equal(gets[3].connection, c, "the parent used the child's connection")
        assert.are_not.equal(gets[4].connection, c, "the parent used the child's connection")
        if before[c] then kept = kept + 1 end
      end
      -- (with two jobs, libcurl may open a second connection or wait for the first)
      assert.is_true(kept >= 1, "the parent's pool lost its connections")
    end)
  end
end)
