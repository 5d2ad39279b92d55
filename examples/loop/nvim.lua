-- luacheck: globals vim
--- examples/loop/nvim.lua: in Neovim, `:luafile examples/loop/nvim.lua` fills
-- a scratch buffer with the Teams presence of the people in
-- $GRAPH_DEMO_USERS (space-separated UPNs), looked up at once, then the
-- first one's profile, while the editor stays responsive
-- (docs/hosts/nvim.md). Headless, it prints the buffer and quits:
--   nvim --headless -u NONE -c 'luafile examples/loop/nvim.lua'
-- The tenant comes from the environment: AZURE_TENANT_ID, AZURE_CLIENT_ID,
-- AZURE_CLIENT_SECRET, and GRAPH_URL / AZURE_AUTHORITY_HOST for another
-- cloud or the emulator.
local graph = require "graph"
local here = debug.getinfo(1, "S").source:match("^@(.*)/") or "."
local team = dofile(here .. "/team.lua")   -- the Graph side

local people = team.wanted()
local g = graph.client{ loop = graph.loop.nvim() }
local buf = vim.api.nvim_create_buf(false, true)
local headless = #vim.api.nvim_list_uis() == 0

-- The editor's own work, which must not stall while Graph answers.
local ticks = 0
local ticker = vim.fn.timer_start(10, function() ticks = ticks + 1 end, { ["repeat"] = -1 })

local function show(first, lines)          -- lines first.. of the buffer
  vim.api.nvim_buf_set_lines(buf, first, first + #lines, false, lines)
end

-- The end: the board in a window of its own, or headless on stdout.
local finished = false
local function finish(err)
  if finished then return end              -- once, even when several calls failed
  finished = true
  g:close()
  vim.fn.timer_stop(ticker)
  show(#people + 5, { ("the editor's 10 ms timer ran %d times while Graph answered"):format(ticks) })
  if err then vim.notify("graph: " .. tostring(err), vim.log.levels.ERROR) end
  if not headless then
    vim.cmd("botright sbuffer " .. buf)
    return
  end
  io.stdout:write(table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n"), "\n")
  vim.cmd(err and "cquit 1" or "qa!")
end

local board = { team.title(#people) }
for k, upn in ipairs(people) do board[k + 1] = ("  %-28s ..."):format(upn) end
show(0, board)

-- Each call suspends its coroutine; Neovim resumes it through
-- vim.schedule, so the code after a call may use vim.api.
local left = #people
for k, upn in ipairs(people) do
  coroutine.wrap(function()
    local ok, failure = pcall(function()   -- LuaJIT yields across pcall
      show(k, { team.presence_row(g, upn) })
      left = left - 1
      if left == 0 then show(#people + 1, team.profile(g, people[1])) end
    end)
    if not ok or left == 0 then finish(failure) end
  end)()
end
