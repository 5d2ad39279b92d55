--- The one wait step: every pause the Lua layer makes (Retry-After, backoff,
-- pacing, token retries), every wait for the network during a bulk run and
-- the clock it reads go through here, so that a host can replace how
-- waiting is done (an event loop, a virtual clock in a spec) without
-- touching the pipeline. A waiter is { now, sleep, io }: io(fds, seconds)
-- waits until one of fds ({ [fd] = "r" | "w" | "rw" }) is ready or the
-- seconds (nil: no limit) pass, and returns the ready ones as core.poll does.
local core = require "graph.core"

local M = {}

local DEFAULT = { now = core.now, sleep = core.sleep, io = core.poll }
local waiter = DEFAULT

--- Monotonic seconds, as the current waiter tells them.
function M.now()
  return waiter.now()
end

--- Wait `seconds` (nothing when it is not positive).
function M.sleep(seconds)
  if seconds > 0 then waiter.sleep(seconds) end
end

--- Wait for the network: the ready descriptors of `fds`.
function M.io(fds, seconds)
  return waiter.io(fds, seconds)
end

--- Whether network waits are the default one: then the C core polls by
-- itself within a step (s:step_blocking), which is the same wait without
-- passing the descriptors through Lua.
function M.blocking()
  return waiter.io == core.poll
end

--- Install `w` ({ now =, sleep =, io = }), or the default blocking waiter
-- when `w` is nil; returns the one it replaces.
function M.use(w)
  local old = waiter
  if w ~= nil and (type(w) ~= "table" or type(w.now) ~= "function" or
                   type(w.sleep) ~= "function" or type(w.io) ~= "function") then
    error("graph.wait.use: expects { now = function, sleep = function, io = function } or nil", 2)
  end
  waiter = w or DEFAULT
  return old
end

return M
