--- The driver: how a client waits. Every wait of the pipeline goes through
-- its client's driver: the clock, pauses (Retry-After, pacing, device-code
-- polling) and the network. Without a loop it waits in place through
-- graph.wait (the C core's poll(2), or a waiter installed there). With a
-- loop (graph.loop) it never waits: the calling coroutine is suspended,
-- the loop's watch and timer callbacks step the session's engine, and each
-- coroutine is resumed when an answer of its own is in. Many coroutines
-- share one client this way: their requests go into one engine (HTTP/2
-- multiplexes them), and one token request serves all of them.
local wait = require "graph.wait"
local loops = require "graph.loop"

local M = {}

local D = {}
D.__index = D

local running, status = coroutine.running, coroutine.status

--- A driver for `session`; `loop` (optional) is a graph.loop table.
function M.new(session, loop)
  if loop ~= nil then loops.check(loop, "graph.client") end
  return setmetatable({
    session = session, loop = loop, last_id = 0,
    owner = {},                       -- id -> the coroutine waiting for it (true: in place)
    inbox = {},                       -- id -> its result, until its owner takes it
    woken = {},                       -- coroutines to resume after this step
    resuming = setmetatable({}, { __mode = "k" }),   -- resumed, not yet running again
    watches = {},                     -- fd -> { events =, handle = }
    timer = nil, timer_at = nil,
    auth_id = nil, auth_step = nil, auth_result = nil,
    auth_waiters = {},                -- coroutines waiting for the identity platform
  }, D)
end

function D:new_id()
  self.last_id = self.last_id + 1
  return self.last_id
end

--- Whether waits happen in place through the C core's own poll(2) (the
-- default, fastest path: one call waits for a single request).
function D:blocking()
  return self.loop == nil and wait.blocking()
end

function D:now()
  if self.loop then return self.loop.now() end
  return wait.now()
end

-- The calling coroutine, as the loop can suspend it; raises for the main
-- thread (5.2+ says so; 5.1 returns nil).
local function current(who)
  local co, main = running()
  if co == nil or main then
    error(who .. ": a client with a loop is called from a coroutine " ..
          "(the main thread cannot be suspended)", 0)
  end
  return co
end

-- Resume co once: a loop may run it later (Neovim's vim.schedule, a
-- cqueues condition), and a second answer in the meantime must not resume
-- it again; unless its host closed it. The driver holds a waiting
-- coroutine, as any loop callback would: often nothing else does
-- (coroutine.wrap(f)() in a luv program).
function D:resume(co)
  if self.resuming[co] or status(co) ~= "suspended" then return end
  self.resuming[co] = true
  self.loop.resume(co)
end

-- Suspend the calling coroutine until the driver resumes it.
function D:suspend(co)
  self.loop.suspend()
  self.resuming[co] = nil
end

--- Pause `seconds` (nothing when not positive).
function D:sleep(seconds)
  if seconds <= 0 then return end
  local loop = self.loop
  if not loop then return wait.sleep(seconds) end
  local co = current("graph.client")
  local deadline = loop.now() + seconds
  repeat                                    -- only the timer ends the pause
    loop.timer(deadline - loop.now(), function() self:resume(co) end)
    self:suspend(co)
  until loop.now() >= deadline
end

-- A coroutine its host closed (coroutine.close, a cancelled cqueues
-- thread) or that died: its other transfers are cancelled (a request
-- already sent is not recalled), their answers dropped.
function D:abandon(co)
  for id, owner in pairs(self.owner) do
    if owner == co then
      self.owner[id], self.inbox[id] = nil, nil
      self.session:cancel(id)
    end
  end
end

-- Results to their owners: stored for the living, dropped for the
-- abandoned; an identity platform answer goes to everyone waiting for it
-- (it serves them all even when the coroutine that asked is gone).
function D:deliver(done)
  for k = 1, #done do
    local r = done[k]
    local id = r.id
    if id == self.auth_id then
      self.auth_id, self.auth_result = nil, r
      for co in pairs(self.auth_waiters) do
        self.auth_waiters[co] = nil
        self.woken[co] = true
      end
    else
      local co = self.owner[id]
      if co == true then
        self.inbox[id] = r
      elseif co and status(co) == "dead" then
        self.owner[id] = nil
        self:abandon(co)
      elseif co then
        self.inbox[id] = r
        self.woken[co] = true
      end
    end
  end
end

-- Resume the coroutines whose answers came (after the step is over and the
-- watches are in step with the engine: never from inside either).
function D:wake()
  local woken = self.woken
  if next(woken) == nil then return end
  self.woken = {}
  for co in pairs(woken) do self:resume(co) end
end

-- One step of the engine from a loop callback.
function D:on_ready(fd, ready)
  if self.closed then return end
  local done = self.session:step(fd, ready)
  self:deliver(done)
  self:sync()
  self:wake()
end

--- Keep the loop's watches and timer in step with what the engine waits for.
function D:sync()
  local loop = self.loop
  if not loop or self.closed then return end
  local fds, seconds, renewed = self.session:wants(true)   -- fds false: as they were
  local watches = self.watches
  if fds then
    for fd, w in pairs(watches) do
      if fds[fd] ~= w.events or renewed[fd] then
        w.handle:stop()
        watches[fd] = nil
      end
    end
    for fd, events in pairs(fds) do
      if not watches[fd] then
        watches[fd] = { events = events,
                        handle = loop.watch(fd, events, function(ready) self:on_ready(fd, ready) end) }
      end
    end
  end
  local at = seconds and loop.now() + seconds
  if self.timer and (not at or at < self.timer_at - 0.001) then
    self.timer:stop()
    self.timer = nil
  end
  if at and not self.timer then
    self.timer_at = at
    local t
    t = loop.timer(seconds, function()
      if self.timer == t then self.timer = nil end
      self:on_ready(nil)
    end)
    self.timer = t
  end
end

-- Wait in place for the engine (no loop): one step. Only called while an
-- answer is awaited, so an empty engine is a bug, never a wait forever.
function D:step_in_place()
  local session = self.session
  local done, left
  if wait.blocking() then
    done, left = session:step_blocking()
  else
    local fds, seconds = session:wants()
    done, left = session:step(wait.io(fds, seconds))
  end
  if left == 0 and #done == 0 then
    error("graph.client: internal error: the answer awaited is not in the engine", 0)
  end
  self:deliver(done)
end

--- Send `records` (each given an `id` here); their results come back from
-- take. use_auth: each carries the session's token.
function D:submit(records, use_auth)
  local owner = self.loop and current("graph.client") or true
  for k = 1, #records do
    local id = self:new_id()
    records[k].id = id
    self.owner[id] = owner
  end
  self:deliver((self.session:submit(records, use_auth)))
  self:sync()
end

--- The results that are in for the ids of `records`, waiting for at
-- least one; each id's result is taken once.
function D:take(records)
  while true do
    local got, inbox = {}, self.inbox
    for k = 1, #records do
      local id = records[k].id
      local r = id and inbox[id]
      if r then
        got[#got + 1] = r
        inbox[id], self.owner[id], records[k].id = nil, nil, nil
      end
    end
    if #got > 0 then return got end
    if self.closed then error("graph.client: attempt to use a closed client", 0) end
    if self.loop then self:suspend(running()) else self:step_in_place() end
  end
end

--- One request to the identity platform (`step`: "token", "device_start",
-- "device_poll"); returns its result record ({ value = } or { err = }).
-- Callers asking while one is in flight share it: if the coroutine that
-- started it is abandoned, the others still get its answer.
function D:auth(step)
  if not (self.auth_id and self.auth_step == step) then
    local id = self:new_id()
    local ok, err = self.session:auth(step, id)
    if not ok then return { err = err } end
    self.auth_id, self.auth_step, self.auth_result = id, step, nil
    self:sync()
  end
  local id = self.auth_id
  while true do
    local r = self.auth_result
    if r and r.id == id then return r end
    if self.closed then error("graph.client: attempt to use a closed client", 0) end
    if self.loop then
      local co = current("graph.client")
      self.auth_waiters[co] = true
      self:suspend(co)
    else
      self:step_in_place()
    end
  end
end

--- The client closes: watches and timer stop; coroutines waiting are
-- resumed to find it closed.
function D:close()
  self.closed = true
  for fd, w in pairs(self.watches) do
    w.handle:stop()
    self.watches[fd] = nil
  end
  if self.timer then self.timer:stop() end
  self.timer = nil
  if self.loop then                         -- from the loop, not from inside close
    for _, co in pairs(self.owner) do
      if co ~= true then self.woken[co] = true end
    end
    for co in pairs(self.auth_waiters) do self.woken[co] = true end
    self.loop.timer(0, function() self:wake() end)
  end
end

return M
