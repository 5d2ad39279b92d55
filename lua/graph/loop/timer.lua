--- graph.loop.timer{ after = ..., now = ..., tick = ... }: a loop for hosts
-- that only offer a one-shot timer, `after(seconds, fn) -> handle` with
-- `handle:stop()`. Descriptors are watched by a periodic tick polling them
-- with a zero timeout (graph.core's poll), so readiness is seen within
-- `tick` seconds (default 0.01); suspend and resume are coroutine.yield and
-- coroutine.resume.
local coro = require "graph.loop.coro"

local M = {}

local EVENTS = { r = true, w = true, rw = true }

--- The argument checks shared by the adapters (`name` starts the messages,
-- the caller of timer/watch is blamed), and which descriptors are watched:
--   c.timer(seconds, fn) -> seconds (a negative delay is 0)
--   c.watch(fd, events, fn, w)   w becomes fd's watch; one per fd at a time
--   c.unwatch(fd, w)             w's stop: fd may be watched again
function M.checks(name)
  local watched = {}
  local c = {}
  function c.timer(seconds, fn)
    if type(seconds) ~= "number" or seconds ~= seconds or seconds == math.huge then
      error(("%s: timer: seconds must be a finite number, got %s"):format(name, tostring(seconds)), 3)
    end
    if type(fn) ~= "function" then
      error(("%s: timer: fn must be a function, got %s"):format(name, type(fn)), 3)
    end
    return seconds > 0 and seconds or 0
  end
  function c.watch(fd, events, fn, w)
    if type(fd) ~= "number" or fd < 0 or fd % 1 ~= 0 then
      error(("%s: watch: fd must be a descriptor (an integer >= 0), got %s"):format(name, tostring(fd)), 3)
    end
    if not EVENTS[events] then
      error(("%s: watch: events must be \"r\", \"w\" or \"rw\", got %s"):format(name, tostring(events)), 3)
    end
    if type(fn) ~= "function" then
      error(("%s: watch: fn must be a function, got %s"):format(name, type(fn)), 3)
    end
    if watched[fd] then
      error(("%s: watch: fd %d is already watched (stop that watch first)"):format(name, fd), 3)
    end
    watched[fd] = w
  end
  function c.unwatch(fd, w)
    if watched[fd] == w then watched[fd] = nil end
  end
  return c
end

--- timer(seconds, fn) -> t on a host's after(seconds, fn) -> handle: fn()
-- once, never before `seconds` have passed by now() (a host timer that fires
-- early is set again for what is left); t:stop() any number of times.
function M.oneshot(name, after, now)
  local check = M.checks(name)
  return function(seconds, fn)
    seconds = check.timer(seconds, fn)
    local due = now() + seconds
    local t, handle = {}, nil
    local function fire()
      handle = nil
      if t.stopped then return end
      local left = due - now()
      if left > 0 then
        handle = after(left, fire)
        return
      end
      t.stopped = true
      fn()
    end
    function t.stop()
      if t.stopped then return end
      t.stopped = true
      if handle then
        handle:stop()
        handle = nil
      end
    end
    handle = after(seconds, fire)
    return t
  end
end

-- core.poll's letters ("r", "w", "e" together) as the protocol's ready
local function ready_of(letters)
  if letters:find("e", 1, true) then return "e" end
  return letters
end

function M.new(opts)
  local name = "graph.loop.timer"
  if type(opts) ~= "table" or type(opts.after) ~= "function" then
    error(name .. ": give { after = function(seconds, fn) -> handle with :stop() }", 2)
  end
  if opts.now ~= nil and type(opts.now) ~= "function" then
    error(name .. ": now must be a function returning seconds (a monotonic clock)", 2)
  end
  local tick = opts.tick or 0.01
  if type(tick) ~= "number" or tick ~= tick or tick <= 0 or tick == math.huge then
    error(name .. ": tick must be a number of seconds > 0, got " .. tostring(tick), 2)
  end
  local core = require "graph.core"
  local after, now = opts.after, opts.now or core.now
  local check = M.checks(name)
  local co = coro.new(name)

  local watches = {}   -- fd -> the watch
  local fds = {}       -- fd -> events: what core.poll waits for
  local ticker         -- the host's handle of the next tick, while anything is watched

  local function poll_all()
    ticker = nil
    local current = {}
    for fd, w in pairs(watches) do current[fd] = w end
    for fd, letters in pairs(core.poll(fds, 0)) do
      local w = current[fd]
      if w and watches[fd] == w then w.fn(ready_of(letters)) end   -- not stopped meanwhile
    end
    if next(watches) ~= nil and ticker == nil then ticker = after(tick, poll_all) end
  end

  local L = { name = "timer", now = now, suspend = co.suspend, resume = co.resume }
  L.timer = M.oneshot(name, after, now)

  function L.watch(fd, events, fn)
    local w = { fn = fn }
    check.watch(fd, events, fn, w)
    watches[fd], fds[fd] = w, events
    function w.stop()
      if watches[fd] ~= w then return end
      watches[fd], fds[fd] = nil, nil
      check.unwatch(fd, w)
      if next(watches) == nil and ticker then
        ticker:stop()
        ticker = nil
      end
    end
    if ticker == nil then ticker = after(0, poll_all) end
    return w
  end

  return L
end

return M
