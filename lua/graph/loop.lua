--- Event loops: how a host's loop drives a client without blocking it.
--
-- A client given `loop = ...` never waits itself: each call suspends the
-- calling coroutine and the loop resumes it when the answer is in. A loop
-- is a table of five functions (the adapters in graph/loop/ make them from
-- a host's own primitives; any host can write its own):
--
--   loop.now() -> seconds            a monotonic clock
--   loop.timer(seconds, fn) -> t     fn() once, from the loop, after
--                                    `seconds` (0, or less: at its next
--                                    turn), never before by loop.now();
--                                    t:stop() cancels it (stopping twice,
--                                    or after it fired, does nothing)
--   loop.watch(fd, events, fn) -> w  fn(ready) from the loop whenever fd is
--                                    ready for `events` ("r", "w", "rw");
--                                    ready is "r", "w", "rw", "e" (error,
--                                    hang-up) or "?" (ready for something:
--                                    hosts that cannot tell); until
--                                    w:stop() ("e" may come once only).
--                                    One watch per fd at a time; stop it
--                                    when fd closes, before the loop runs
--                                    again (libuv aborts the process when
--                                    a descriptor it is to poll is gone).
--   loop.suspend() -> ...            from the calling coroutine: wait until
--                                    resumed; returns what resume passes.
--                                    Raises when the caller is not a
--                                    coroutine the loop can resume.
--   loop.resume(co, ...)             from a loop callback: resume `co`,
--                                    suspended in loop.suspend, with `...`;
--                                    raises when co is not waiting there.
--                                    Returns true, or false doing nothing
--                                    when co died meanwhile (its host
--                                    closed it: coroutine.close).
--                                    co may run inside resume (luv, timer)
--                                    or after it returns, from the loop
--                                    (Neovim: vim.schedule; cqueues): do
--                                    not count on either
--
-- and a `name`. The callbacks given to timer and watch must be called from
-- the loop, never from inside timer/watch themselves. Nothing here calls
-- into the C core: the library steps its transfer engine between the
-- loop's callbacks (libcurl's own callbacks only record into C state).
local M = {}

local FIELDS = { "now", "timer", "watch", "suspend", "resume" }

--- `loop` itself when it is a loop; else raises, naming the missing field
-- and blaming the caller's caller (`who` names the function checking).
function M.check(loop, who)
  if type(loop) ~= "table" then
    error(("%s: 'loop' must be a table of functions (graph.loop.luv() and so on), got %s")
          :format(who, type(loop)), 3)
  end
  for _, k in ipairs(FIELDS) do
    if type(loop[k]) ~= "function" then
      error(("%s: loop.%s must be a function (see graph.loop)"):format(who, k), 3)
    end
  end
  return loop
end

-- The shipped adapters, loaded on first use: graph.loop.luv(...) and so on
-- (docs/loop.md: what each needs; why Debian's Copas has none).
local ADAPTERS = { luv = true, nvim = true, cqueues = true, timer = true }

return setmetatable(M, {
  __index = function(_, name)
    if ADAPTERS[name] then return require("graph.loop." .. name).new end
  end,
})
