--- Suspend and resume through coroutine.yield and coroutine.resume: for
-- loops whose callbacks may resume any coroutine (luv, Neovim, a host's
-- timer). Not an adapter itself: graph.loop.luv, .nvim and .timer use it.
local M = {}

local pack = table.pack or function(...) return { n = select("#", ...), ... } end
local unpack = table.unpack or unpack      -- Lua 5.1 and LuaJIT

--- The message of a coroutine's error, with the coroutine's traceback when
-- it is a string (any other value is kept as it is: a host's error object).
function M.failure(co, err)
  if type(err) == "string" then return debug.traceback(co, err) end
  return err
end

--- suspend, claim, run for the adapter called `name` (its messages start so):
--   suspend()       yields the calling coroutine; returns what resume passes
--   claim(co)       checks co waits in suspend, and that it is not resumed
--                   twice (the caller of resume is blamed); false when co
--                   died meanwhile (its host closed it: nothing to resume)
--   run(co, args)   resumes co with args (a pack): true, or false, failure
-- and resume(co, ...) = claim, then run, raising the coroutine's failure;
-- it returns whether co was resumed.
function M.new(name)
  local waiting = setmetatable({}, { __mode = "k" })   -- an abandoned coroutine may go

  local function resumed(co, ...)
    if waiting[co] then        -- resumed by its owner, not by the loop: not ours to answer
      waiting[co] = nil
      error(name .. ": the coroutine was resumed by something other than loop.resume", 2)
    end
    return ...
  end

  local function suspend()
    local co, main = coroutine.running()
    if co == nil or main then
      error(name .. ": call from a coroutine (the main thread cannot be suspended)", 2)
    end
    if coroutine.isyieldable and not coroutine.isyieldable() then
      error(name .. ": this coroutine cannot yield here (a C function or metamethod is on its stack)", 2)
    end
    waiting[co] = true
    return resumed(co, coroutine.yield())
  end

  local function claim(co)
    if type(co) ~= "thread" then
      error(("%s: resume: 'co' must be a coroutine, got %s"):format(name, type(co)), 3)
    end
    if not waiting[co] then
      error(name .. ": resume: the coroutine is not waiting in loop.suspend", 3)
    end
    waiting[co] = nil
    return coroutine.status(co) == "suspended"
  end

  local function run(co, args)
    if coroutine.status(co) ~= "suspended" then return true end   -- closed by its host
    local ok, err = coroutine.resume(co, unpack(args, 1, args.n))
    if ok then return true end
    return false, M.failure(co, err)
  end

  local function resume(co, ...)
    if not claim(co) then return false end
    if coroutine.status(co) ~= "suspended" then return true end   -- closed by its host
    local ok, err = coroutine.resume(co, ...)
    if not ok then error(M.failure(co, err), 0) end
    return true
  end

  return { suspend = suspend, claim = claim, run = run, resume = resume, pack = pack }
end

return M
