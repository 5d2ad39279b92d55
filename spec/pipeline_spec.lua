-- The one request pipeline (issue 11): bulk requests retried each at its
-- own Retry-After, bulk calls logged, and every wait the Lua layer makes
-- going through the one replaceable wait step (graph.wait): a fake waiter
-- with a virtual clock sees Retry-After, pacing and token retries, and no
-- real time passes for them; a bulk run's network waits go through its io.
describe("the request pipeline", function()
  local core = require "graph.core"
  local wait = require "graph.wait"
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"

  local emu
  setup(function() emu = emulator.shared() end)
  before_each(function() emu:reset() end)

  local function user_path(id) return "^/v1\\.0/users/" .. id .. "$" end

  describe("a bulk call", function()
    it("retries each request after its own Retry-After, not the round's largest", function()
      emu:fault{
        { target = "graph", path = user_path(fx.adele_id), status = 429,
          headers = { ["Retry-After"] = "1.5" }, count = 1 },
        { target = "graph", path = user_path(fx.lynne_id), status = 429,
          headers = { ["Retry-After"] = "0.1" }, count = 1 },
      }
      local g = emu:client()
      local _, summary = g.users.get_many{ ids = { fx.adele_id, fx.lynne_id } }
      assert.same({ ok = 2, failed = 0 }, summary)
      local lynne = emu:requests_to("/v1.0/users/" .. fx.lynne_id, "GET")
      local adele = emu:requests_to("/v1.0/users/" .. fx.adele_id, "GET")
      assert.equal(2, #lynne)
      assert.equal(2, #adele)
      local gap = lynne[2].time - lynne[1].time
      assert.is_true(gap >= 0.1 and gap < 1.0, ("lynne retried after %.3f s, asked 0.1"):format(gap))
      assert.is_true(adele[2].time - adele[1].time >= 1.5)
    end)

    it("is logged like a single call: one line an attempt", function()
      local lines = {}
      local g = emu:client{ log = function(l) lines[#lines + 1] = l end }
      emu:fault{ target = "graph", path = user_path(fx.lynne_id), status = 503,
                 headers = { ["Retry-After"] = "0" }, count = 1 }
      util.expect_success(g.users.get_many, { ids = { fx.adele_id, fx.lynne_id } })
      local text = table.concat(lines, "\n")
      local adele, lynne = fx.adele_id:gsub("%-", "%%-"), fx.lynne_id:gsub("%-", "%%-")
      assert.matches("GET [^\n]*" .. adele .. "[^\n]* %-> 200 OK in [%d.]+ ms %(attempt 1", text)
      assert.matches("GET [^\n]*" .. lynne .. "[^\n]* %-> 503 [^\n]*%(attempt 1", text)
      assert.matches("GET [^\n]*" .. lynne .. "[^\n]* %-> 200 OK [^\n]*%(attempt 2", text)
    end)
  end)

  describe("graph.wait", function()
    -- A virtual clock: sleeping moves it on at once and is recorded.
    local slept, offset, polls, old
    before_each(function()
      slept, offset, polls = {}, 0, 0
      old = wait.use{ now = function() return core.now() + offset end,
                      sleep = function(s) slept[#slept + 1] = s; offset = offset + s end,
                      io = function(fds, s) polls = polls + 1; return core.poll(fds, s) end }
    end)
    after_each(function() wait.use(old) end)

    local function total() local t = 0 for _, s in ipairs(slept) do t = t + s end return t end

    it("carries a Retry-After wait: 30 virtual seconds, no real ones", function()
      emu:fault{ target = "graph", path = user_path(fx.adele_id), status = 429,
                 headers = { ["Retry-After"] = "30" }, count = 1 }
      local t0 = core.now()
      local user = util.expect_success(emu:client().users.get, { id = fx.adele_id })
      assert.equal(fx.adele_id, user.id)
      assert.equal(1, #slept)              -- counted from the answer: a hair less is left
      assert.near(30, slept[1], 0.5)
      assert.is_true(core.now() - t0 < 5, "real time passed")
    end)

    it("carries the token endpoint's Retry-After", function()
      emu:fault{ target = "token", status = 429, headers = { ["Retry-After"] = "20" }, count = 1 }
      local t0 = core.now()
      util.expect_success(emu:client().users.get, { id = fx.adele_id })
      assert.equal(1, #slept)
      assert.near(20, slept[1], 0.5)
      assert.is_true(core.now() - t0 < 5, "real time passed")
    end)

    it("carries pacing: 3 requests at 1 per 10 s wait about 20 virtual seconds", function()
      local g = emu:client{ pacing = { directory = { requests = 1, per = 10 } } }
      local t0 = core.now()
      local _, summary = g.users.get_many{ ids = { fx.adele_id, fx.lynne_id, fx.adele_id } }
      assert.same({ ok = 3, failed = 0 }, summary)
      assert.near(20, total(), 0.5)
      assert.is_true(core.now() - t0 < 5, "real time passed")
    end)

    it("carries a bulk run's network waits: the engine steps when the waiter says", function()
      local ids = { fx.adele_id, fx.lynne_id, fx.adele_upn, fx.missing_id }
      local res, summary = emu:client().users.get_many{ ids = ids, concurrency = 2 }
      assert.same({ ok = 3, failed = 1 }, summary)
      assert.equal(fx.lynne_id, res[2].id)
      assert.equal(404, res[4].status_code)
      assert.is_true(polls > 0, "no network wait went through the waiter")
    end)

    it("carries a single call's network wait", function()
      local user = util.expect_success(emu:client().users.get, { id = fx.adele_id })
      assert.equal(fx.adele_id, user.id)
      assert.is_true(polls > 0, "the request waited behind the waiter's back")
    end)

    -- The device code sign-in's waits between polls: the interval, slow_down's
    -- 5 s more, the client's timeout, all on the waiter's clock; the C core
    -- only makes one request a step, so no real time passes.
    local function device_client(extra)
      local o = { auth = "device_code", client_id = fx.client_id, client_secret = emulator.NONE,
                  scope = emulator.NONE, on_device_code = function() end }
      for k, v in pairs(extra or {}) do o[k] = v end
      return emu:client(o)
    end

    it("carries the device code polling: the interval and slow_down's 5 s more", function()
      emu:config{ device_interval = 5, device_slow_down = 1, device_auto_approve_after = 1 }
      local shown = 0
      local t0 = core.now()
      local g = device_client{ timeout = 60, on_device_code = function(info)
        shown = shown + 1
        assert.equal(5, info.interval)
        assert.same({}, slept)                 -- shown before the first wait
      end }
      local user = util.expect_success(g.users.get, { id = fx.adele_id })
      assert.equal(fx.adele_id, user.id)
      assert.equal(1, shown)
      -- slow_down, then pending, then approved: three polls, each after its wait
      assert.same({ 5, 10, 10 }, slept)
      assert.is_true(core.now() - t0 < 3, "real time passed")
    end)

    it("ends the device code polling at the client's timeout on the waiter's clock", function()
      emu:config{ device_interval = 5 }       -- pending for ever, the code for 900 s
      local t0 = core.now()
      local err = util.expect_failure(device_client{ timeout = 30 }.users.get, { id = fx.adele_id })
      assert.equal("auth", err.kind)
      assert.equal("timeout", err.code)
      assert.same({ 5, 5, 5, 5, 5 }, slept)   -- a sixth would end past 30 s
      assert.is_true(core.now() - t0 < 3, "real time passed")
    end)

    it("measures the call's deadline on its clock: a budget spent in virtual time ends the call", function()
      emu:fault{ target = "graph", path = user_path(fx.adele_id), status = 429,
                 headers = { ["Retry-After"] = "100" }, count = 5 }
      local err = util.expect_failure(emu:client{ retry_budget = 150 }.users.get, { id = fx.adele_id })
      assert.equal(429, err.status_code)
      assert.equal(1, #slept)              -- a second 100 s would end past the deadline
      assert.near(100, slept[1], 0.5)
      assert.equal(2, err.attempts)
      assert.equal(100, err.retry_after)
    end)
  end)

  it("leaves no sleep in the Lua layer outside graph.wait", function()
    for _, name in ipairs{ "client", "pipeline", "policy", "bulk", "batch", "pacing", "presence",
                           "users", "request", "security" } do
      local src = util.read_file("lua/graph/" .. name .. ".lua")
      assert.is_nil(src:find("core%.sleep"), name .. ".lua calls core.sleep")
    end
  end)
end)
