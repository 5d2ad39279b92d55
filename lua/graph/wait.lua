--- The one wait step: every pause the Lua layer makes (Retry-After, backoff,
-- pacing, token retries) and the clock it reads go through here, so that a
-- host can replace how waiting is done (an event loop, a virtual clock in
-- a spec) without touching the pipeline.
local core = require "graph.core"

local M = {}

local DEFAULT = { now = core.now, sleep = core.sleep }
local waiter = DEFAULT

--- Monotonic seconds, as the current waiter tells them.
function M.now()
  return waiter.now()
end

--- Wait `seconds` (nothing when it is not positive).
function M.sleep(seconds)
  if seconds > 0 then waiter.sleep(seconds) end
end

--- Install `w` ({ now = fn() -> seconds, sleep = fn(seconds) }), or the
-- default blocking waiter when `w` is nil; returns the one it replaces.
function M.use(w)
  local old = waiter
  if w ~= nil and (type(w) ~= "table" or type(w.now) ~= "function" or type(w.sleep) ~= "function") then
    error("graph.wait.use: expects { now = function, sleep = function } or nil", 2)
  end
  waiter = w or DEFAULT
  return old
end

return M
