-- luacheck: globals vim
-- Host proof: graph.loop.nvim in Neovim run headless, from the repository root:
--   nvim --headless -u NONE -c 'luafile spec/hosts/nvim_loop.lua' -c 'qa!'
-- The protocol's cases (spec/support/loop_contract.lua) on Neovim's own
-- libuv with real sockets, then what is Neovim's own: a resumed coroutine
-- runs where vim.api may be called (a libuv callback may not), and its
-- error reaches vim.notify. Ends with `ok nvim_loop` and :qa!, or FAIL
-- lines and :cquit 1 (a Lua error alone would still exit 0).
local NAME = "nvim_loop"
local uv = vim.loop
local started = uv.hrtime()

local function say(line) io.stdout:write(line, "\n") end

local failed = 0
local function check(name, f)
  local ok, err = pcall(f)
  if ok then
    say("ok - " .. name)
  else
    failed = failed + 1
    say("FAIL " .. name .. ": " .. tostring(err):gsub("\n", "\n     "))
  end
end

local function finish()
  local ok_emu, emulator = pcall(require, "support.emulator")
  local emu = ok_emu and emulator.shared_if_started()
  if emu then emu:stop() end                -- Neovim may exit without collecting it
  if failed == 0 then
    say("ok " .. NAME)
    vim.cmd("qa!")
  else
    say(("FAIL %s: %d check(s) failed"):format(NAME, failed))
    vim.cmd("cquit 1")
  end
end

local ok_setup, err_setup = pcall(function()
  -- Neovim's Lua is LuaJIT: its graph.core is the LUA=luajit build
  package.cpath = "./build/luajit/?.so;" .. package.cpath
  local core_ok, core_err = pcall(require, "graph.core")
  if not core_ok then
    error("graph.core does not load in Neovim's LuaJIT (make all LUA=luajit): " .. tostring(core_err))
  end
  local loop = require "graph.loop"
  local contract = require "support.loop_contract"
  local assert = require "luassert"

  -- vim.loop with the handles the adapter makes counted: uv.walk aborts in
  -- Neovim (its own handles are not luv's), so live() counts what the
  -- adapter opened and has not closed
  local opened = {}
  local counted = setmetatable({}, { __index = uv })
  function counted.new_timer()
    local h = uv.new_timer()
    opened[#opened + 1] = h
    return h
  end
  function counted.new_poll(fd)
    local h, err = uv.new_poll(fd)
    if h then opened[#opened + 1] = h end
    return h, err
  end
  local L = loop.nvim(counted)

  local host = contract.luv_host(uv, L)
  function host.live()                  -- not uv.walk: it aborts in Neovim
    local n = 0
    for _, h in ipairs(opened) do
      if not h:is_closing() then n = n + 1 end
    end
    return n
  end
  function host.figure(name, value, unit) say(("figure: nvim %s = %.1f %s"):format(name, value, unit)) end
  function host.run(seconds, done)      -- Neovim runs its loop while it waits
    return vim.wait(math.ceil(seconds * 1000), done, 1) and true or false
  end

  for _, c in ipairs(contract.cases_for(host)) do
    check(c.name, function() c.run(host) end)
  end

  check("is graph.loop.nvim(), named nvim, on vim.loop by default", function()
    assert.are.equal("nvim", loop.nvim().name)
  end)

  check("resumes through vim.schedule: the coroutine may call vim.api, a libuv callback may not", function()
    local buf = vim.api.nvim_create_buf(false, true)
    local co, in_callback, after
    host.spawn(function()
      co = coroutine.running()
      local v = L.suspend()
      after = { fast = vim.in_fast_event(), value = v }
      vim.api.nvim_buf_set_lines(buf, 0, -1, false, { "set after " .. v })
    end)
    L.timer(0.01, function()
      in_callback = { fast = vim.in_fast_event(),
                      pcall(vim.api.nvim_buf_set_lines, buf, 0, -1, false, { "from the callback" }) }
      L.resume(co, "resume")
      assert.is_nil(after)                 -- not resumed inside the callback itself
    end)
    assert.is_true(host.run(2, function() return after ~= nil end))
    assert.is_true(in_callback.fast)
    assert.is_false(in_callback[1])        -- E5560: not in a lua loop callback
    assert.matches("E5560", in_callback[2])
    assert.is_false(after.fast)
    assert.are.equal("resume", after.value)
    assert.are.same({ "set after resume" }, vim.api.nvim_buf_get_lines(buf, 0, -1, false))
    vim.api.nvim_buf_delete(buf, { force = true })
  end)

  check("reports a resumed coroutine's error through vim.notify, with its traceback", function()
    local notified = {}
    local notify = vim.notify
    vim.notify = function(msg, level) notified[#notified + 1] = { msg = msg, level = level } end
    local co
    host.spawn(function()
      co = coroutine.running()
      L.suspend()
      error("not lost")
    end)
    L.timer(0, function() L.resume(co) end)
    local seen = host.run(2, function() return #notified > 0 end)
    vim.notify = notify
    assert.is_true(seen, "vim.notify was not called")
    assert.are.equal(vim.log.levels.ERROR, notified[1].level)
    assert.matches("nvim_loop%.lua:%d+: not lost", notified[1].msg)
    assert.matches("stack traceback:", notified[1].msg, 1, true)
  end)

  -- figures: how late a 10 ms timer fires while nothing else runs
  local worst, total, n = 0, 0, 20
  local fired = 0
  local function again()
    local t0 = L.now()
    L.timer(0.01, function()
      local late = L.now() - t0 - 0.01
      worst, total, fired = math.max(worst, late), total + late, fired + 1
      if fired < n then again() end
    end)
  end
  again()
  check("fires 20 timers of 10 ms one after the other", function()
    assert.is_true(host.run(5, function() return fired == n end))
  end)
  say(("figure: nvim 10 ms timer lateness worst = %.2f ms"):format(worst * 1000))
  say(("figure: nvim 10 ms timer lateness mean = %.2f ms"):format(total / n * 1000))
  say(("figure: nvim_loop wall = %.0f ms"):format((uv.hrtime() - started) / 1e6))
end)

if not ok_setup then
  failed = failed + 1
  say("FAIL " .. NAME .. ": " .. tostring(err_setup))
end
finish()
