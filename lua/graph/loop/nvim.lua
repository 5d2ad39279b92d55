--- graph.loop.nvim(uv): a loop in Neovim (0.7 and later) on its libuv
-- (`uv` defaults to vim.uv, or vim.loop before 0.10), as graph.loop.luv
-- except that resume goes through vim.schedule: the resumed coroutine runs
-- outside libuv's callbacks, where vim.api may be called. A coroutine's
-- error is reported through vim.notify (level ERROR) with its traceback:
-- nothing above the scheduled callback could catch it.
local coro = require "graph.loop.coro"
local luv = require "graph.loop.luv"

local M = {}

function M.new(uv)
  local vim = rawget(_G, "vim")
  if type(vim) ~= "table" or (vim.uv or vim.loop) == nil or vim.schedule == nil then
    error("graph.loop.nvim: run inside Neovim (vim.loop and vim.schedule are missing)", 2)
  end
  local name = "graph.loop.nvim"
  local L = luv.new(uv or vim.uv or vim.loop, name)     -- vim.uv: Neovim 0.10 and later
  local co = coro.new(name)
  L.suspend = co.suspend
  function L.resume(thread, ...)
    if not co.claim(thread) then return false end
    local args = co.pack(...)
    vim.schedule(function()
      local ok, err = co.run(thread, args)
      if not ok then vim.notify(tostring(err), vim.log.levels.ERROR) end
    end)
    return true
  end
  return L
end

return M
