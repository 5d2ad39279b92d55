-- luacheck: globals vim
-- runs-on: nvim
-- Host proof: graph.loop.nvim in Neovim run headless, from the repository root:
--   nvim --headless -u NONE -c 'luafile spec/hosts/nvim.lua' -c 'qa!'
-- The shared body (support/loop_proof.lua) on Neovim's own libuv: its loop
-- run by vim.wait, a vim.loop repeating timer as the host's 10 ms timer,
-- and after every call a check that the resumed coroutine may use vim.api
-- (resume goes through vim.schedule; a libuv callback could not). Ends with
-- `ok nvim` and :qa!, or FAIL lines and :cquit 1 (a Lua error alone would
-- still exit 0).
local NAME = "nvim"

-- print in Neovim goes to its message area, without line ends on the
-- terminal: the proof's lines (support.hostproof prints them) go to stdout
print = function(...)     -- luacheck: ignore 121
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  io.stdout:write(table.concat(parts, "\t"), "\n")
end

local passed = false
local ok, err = pcall(function()
  -- Neovim's Lua is LuaJIT: its graph.core is the LUA=luajit build
  package.cpath = "./build/luajit/?.so;" .. package.cpath
  local proof = require "support.hostproof"
  local loop_proof = require "support.loop_proof"
  local uv = vim.loop
  local buf = vim.api.nvim_create_buf(false, true)

  local host = { name = "nvim", loop = require("graph").loop.nvim() }

  function host.run_until(seconds, done)
    return vim.wait(math.ceil(seconds * 1000), done, 1) and true or false
  end

  host.timer = loop_proof.uv_timer(uv)

  -- an error in a libuv callback is reported by Neovim ("Error executing
  -- luv callback") and sets v:errmsg; nothing else would see it
  function host.reset() vim.v.errmsg = "" end
  function host.after_check()
    local msg = vim.v.errmsg
    return msg == "", msg
  end

  -- in the coroutine after a call: not a libuv callback, vim.api usable
  local n = 0
  function host.after_resume()
    if vim.in_fast_event() then return false, "resumed in a fast event (a libuv callback)" end
    n = n + 1
    return pcall(vim.api.nvim_buf_set_lines, buf, 0, -1, false, { "call " .. n })
  end

  passed = proof.run(NAME, function()
    local failed = loop_proof.run(host)
    proof.check(failed == 0, "%d check(s) failed", failed)
    proof.check(n > 0 and vim.api.nvim_buf_get_lines(buf, 0, -1, false)[1] == "call " .. n,
                "the coroutines' vim.api calls left no trace in the buffer")
  end)
  vim.api.nvim_buf_delete(buf, { force = true })
end)
if not ok then io.stdout:write("FAIL ", NAME, ": ", tostring(err), "\n") end
io.stdout:flush()
if ok and passed then vim.cmd("qa!") else vim.cmd("cquit 1") end
