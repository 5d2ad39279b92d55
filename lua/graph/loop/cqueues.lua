--- graph.loop.cqueues(cq): a loop on a cqueues controller, `cq` defaulting
-- to the one running the caller. Timers and watches are coroutines the
-- controller runs (cq:wrap), each also waiting on a condition so that stop
-- ends it at once; suspend waits on a condition that resume signals. An
-- error in a callback or a resumed coroutine comes out of cq:loop() (or
-- cq:step()) as cqueues reports any thread's error.
local timers = require "graph.loop.timer"

local M = {}

local pack = table.pack or function(...) return { n = select("#", ...), ... } end
local unpack = table.unpack or unpack      -- Lua 5.1 and LuaJIT

function M.new(cq)
  local cqueues = require "cqueues"
  local condition = require "cqueues.condition"
  local name = "graph.loop.cqueues"
  if cq == nil then cq = cqueues.running() end
  if cq == nil then
    error(name .. ": give the controller (cqueues.new()) when not called from inside one", 2)
  end
  if cqueues.type(cq) ~= "controller" then
    error(name .. ": cq must be a cqueues controller (cqueues.new()), got " .. type(cq), 2)
  end
  local check = timers.checks(name)
  local now = cqueues.monotime
  local waiting = setmetatable({}, { __mode = "k" })   -- coroutine -> its wait

  local L = { name = "cqueues", now = now }

  -- a stoppable job: run(job) in its own controller thread; job.stop() ends
  -- it at once (and calls job.on_stop)
  local function spawn(job, run)
    job.cond = condition.new()
    function job.stop()
      if job.stopped then return end
      job.stopped = true
      if job.on_stop then job.on_stop() end
      job.cond:signal()
    end
    cq:wrap(run, job)
    return job
  end

  function L.timer(seconds, fn)
    seconds = check.timer(seconds, fn)
    local due = now() + seconds
    return spawn({}, function(job)
      while not job.stopped do
        local left = due - now()
        if left <= 0 then break end
        cqueues.poll(job.cond, left)
      end
      if job.stopped then return end
      job.stopped = true
      fn()
    end)
  end

  function L.watch(fd, events, fn)
    local job = {}
    check.watch(fd, events, fn, job)
    function job.on_stop()
      check.unwatch(fd, job)
      cq:cancel(fd)   -- out of the controller's kernel set now: the socket may close next
    end
    -- one pollable per event, so that cqueues says which is ready
    local r = events:find("r", 1, true) and { pollfd = fd, events = "r" } or nil
    local w = events:find("w", 1, true) and { pollfd = fd, events = "w" } or nil
    return spawn(job, function()
      local objects = { job.cond, r or w, r and w or nil }
      while not job.stopped do
        local readable, writable = false, false
        for _, ready in ipairs{ cqueues.poll(unpack(objects)) } do
          if ready == r then readable = true elseif ready == w then writable = true end
        end
        if job.stopped then return end
        if readable or writable then
          fn((readable and "r" or "") .. (writable and "w" or ""))
        end
      end
    end)
  end

  function L.suspend()
    local co = coroutine.running()
    local _, managed = cqueues.running()
    if not managed then
      error(name .. ": call from a coroutine that a cqueues controller runs (cq:wrap)", 2)
    end
    local wait = { cond = condition.new() }
    waiting[co] = wait
    while not wait.values do wait.cond:wait() end
    return unpack(wait.values, 1, wait.values.n)
  end

  function L.resume(co, ...)
    local wait = type(co) == "thread" and waiting[co]
    if not wait then
      error(name .. ": resume: the coroutine is not waiting in loop.suspend", 2)
    end
    waiting[co] = nil
    wait.values = pack(...)
    wait.cond:signal()
    return true
  end

  return L
end

return M
