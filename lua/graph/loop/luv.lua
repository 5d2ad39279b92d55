--- graph.loop.luv(uv): a loop on luv (libuv), `uv` defaulting to
-- require "luv". Timers are uv timers, watches uv poll handles; each handle
-- is closed when its timer fires or stops and when its watch stops. suspend
-- and resume are coroutine.yield and coroutine.resume; a coroutine's error
-- is raised again, with its traceback, from the callback that resumed it
-- (luv prints it as "Uncaught Error" and, by default, exits).
local coro = require "graph.loop.coro"
local timers = require "graph.loop.timer"

local M = {}

-- luv's poll events ("r", "w", "rw", with "d" for a hang-up) as the protocol's
local function ready_of(err, events)
  if err then return "e" end
  local r, w = events:find("r", 1, true), events:find("w", 1, true)
  if r and w then return "rw" end
  if r then return "r" end
  if w then return "w" end
  if events:find("d", 1, true) then return "e" end
end

-- Whether libuv can poll fd: not a closed descriptor, a regular file or a
-- directory (epoll refuses them). Asked first because luv 1.44 leaks the
-- handle it allocated when uv.new_poll fails.
local function pollable(uv, fd)
  local st, err = uv.fs_fstat(fd)
  if not st then return false, err end
  if st.type == "file" or st.type == "directory" then return false, "not pollable: a " .. st.type end
  return true
end

--- The loop; `name` (default "graph.loop.luv") starts its messages, and
-- graph.loop.nvim builds on it.
function M.new(uv, name)
  uv = uv or require "luv"
  name = name or "graph.loop.luv"
  local check = timers.checks(name)
  local co = coro.new(name)

  local function now() return uv.hrtime() / 1e9 end

  -- a uv timer that closes itself once it fired or is stopped
  local function after(seconds, fn)
    local h = uv.new_timer()
    local handle = {}
    function handle.stop()
      if not h:is_closing() then h:close() end
    end
    uv.update_time()       -- the loop's cached time may be old: count from now
    h:start(math.ceil(seconds * 1000), 0, function()
      h:close()
      fn()
    end)
    return handle
  end

  local L = { name = name:match("[^.]+$"), now = now, suspend = co.suspend, resume = co.resume }
  L.timer = timers.oneshot(name, after, now)

  function L.watch(fd, events, fn)
    local w = {}
    check.watch(fd, events, fn, w)
    local p = pollable(uv, fd) and uv.new_poll(fd)
    if p and not p:start(events, function(err, ev)
      local ready = ready_of(err, ev)
      if ready then fn(ready) end          -- a closed handle is called no more
    end) then
      p:close()
      p = nil
    end
    if not p then
      -- not a descriptor libuv can poll (closed, a regular file): said once, from the loop
      local t = L.timer(0, function() fn("e") end)
      function w.stop()
        w.stopped = true
        check.unwatch(fd, w)
        t:stop()
      end
      return w
    end
    function w.stop()
      if w.stopped then return end
      w.stopped = true
      check.unwatch(fd, w)
      p:close()               -- closing stops it: the descriptor is no longer polled
    end
    return w
  end

  return L
end

return M
