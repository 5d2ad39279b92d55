-- A client given a loop: each call suspends its coroutine and resumes with
-- what the blocking call returns; many coroutines share one client, its
-- engine and one token request; nothing waits in place. On libuv (luv),
-- the host every adapter's contract is checked on (spec/loop_*_spec.lua);
-- the other hosts' proofs are spec/hosts/.
local have_luv, uv = pcall(require, "luv")

describe("a client with a loop", function()
  if not have_luv then
    pending("lua-luv is not installed for " .. _VERSION .. " (make deps)")
    return
  end
  local graph = require "graph"
  local client = require "graph.client"
  local emulator = require "support.emulator"
  local fx = require "support.fixtures"
  local util = require "support.util"
  local emu

  setup(function() emu = emulator.shared() end)
  before_each(function() emu:reset() end)
  teardown(function() uv.run("nowait") end)   -- luv 1.44: let handle closes complete

  -- Run fns as coroutines on the loop until all end (or 10 s); their
  -- errors come out of the loop's callbacks, here (no pcall around a call
  -- that yields: PUC 5.1 cannot yield across it).
  local function run(fns)
    local left, failure = #fns, nil
    for _, fn in ipairs(fns) do
      coroutine.wrap(function()
        fn()
        left = left - 1
      end)()
    end
    local guard = uv.new_timer()
    guard:start(10000, 0, function() failure = failure or "the loop ran past 10 s" end)
    while left > 0 and not failure do uv.run("once") end
    guard:stop()
    guard:close()
    if failure then error(failure, 0) end
  end

  local function session_of(g) return client.of(g).session end

  -- a first try made at once (no log), or through the whole pipeline (a log)
  for _, logged in ipairs{ false, true } do
    it("resumes each coroutine with what the blocking call returns, one token for all" ..
       (logged and " (logged)" or ""), function()
      local g = emu:client{ loop = graph.loop.luv(uv), log = not logged and emulator.NONE or nil }
      local blocking = emu:client{}
      local want_user = assert(blocking.users.get{ id = fx.adele_id })
      local _, want_err = blocking.users.get{ id = fx.missing_id }
      emu:reset()
      local got, fns = {}, {}
      for i = 1, 10 do
        fns[i] = function()
          local id = (i % 2 == 0) and fx.adele_id or fx.missing_id
          got[i] = util.pack(g.users.get{ id = id })
        end
      end
      run(fns)
      for i = 1, 10 do
        if i % 2 == 0 then
          assert.are.same(want_user, got[i][1])
        else
          assert.is_nil(got[i][1])
          assert.are.equal(want_err.code, got[i][2].code)
          assert.are.equal(404, got[i][2].status_code)
        end
      end
      assert.are.equal(1, #emu:token_requests())
      assert.are.equal(0, session_of(g):stats().blocking_waits)
      assert.are.equal(0, session_of(g):stats().jobs)
      g:close()
      blocking:close()
    end)
  end

  it("yields through pacing, Retry-After and the bulk calls", function()
    local g = emu:client{ loop = graph.loop.luv(uv), retry_delay = 0 }
    emu:fault{ path = "^/v1\\.0/users/" .. fx.lynne_id, status = 429, count = 1,
               headers = { ["Retry-After"] = "0.3" } }
    local ticks, many, one = 0, nil, nil
    local ticker = uv.new_timer()
    ticker:start(10, 10, function() ticks = ticks + 1 end)
    run{
      function() many = util.pack(g.users.get_many{ ids = { fx.adele_id, fx.lynne_id } }) end,
      function() one = util.pack(g.users.get{ id = fx.lynne_id }) end,
    }
    ticker:stop()
    ticker:close()
    assert.is_table(many[1])
    assert.are.equal(fx.adele_id, many[1][1].id)
    assert.are.equal(fx.lynne_id, many[1][2].id)
    assert.are.equal(fx.lynne_id, one[1].id)
    assert.is_true(ticks >= 10, "the loop's timer ran only " .. ticks .. " times in 0.3 s")
    assert.are.equal(0, session_of(g):stats().blocking_waits)
    g:close()
  end)

  it("walks pages with pages:next(), the step a for loop takes (PUC 5.1 cannot yield there)", function()
    local g = emu:client{ loop = graph.loop.luv(uv) }
    local n, last = 0, nil
    run{ function()
      local pages = g.pages{ path = "/users", query = { ["$top"] = 2 } }
      while true do
        local page, r = pages:next()
        if page == nil then break end
        assert(page, r)
        n, last = n + 1, page
      end
    end }
    assert.is_true(n >= 2, "walked " .. n .. " pages")
    assert.is_nil(last["@odata.nextLink"])
    g:close()
  end)

  it("refuses to be called from the main thread, which cannot be suspended", function()
    local g = emu:client{ loop = graph.loop.luv(uv) }
    assert.has_error(function() g.users.get{ id = fx.adele_id } end,
      "graph.client: a client with a loop is called from a coroutine " ..
      "(the main thread cannot be suspended)")
    g:close()
  end)

  it("without a loop never yields, even from a coroutine", function()
    local g = emu:client{}
    local co = coroutine.create(function() return g.users.get{ id = fx.adele_id } end)
    local ok, user = coroutine.resume(co)
    assert.is_true(ok)
    assert.are.equal("dead", coroutine.status(co))
    assert.are.equal(fx.adele_id, user.id)
    g:close()
  end)

  it("checks the loop it is given, naming the missing function", function()
    assert.has_error(function() emu:client{ loop = { now = os.time } } end,
                     "graph.client: loop.timer must be a function (see graph.loop)")
  end)
end)
