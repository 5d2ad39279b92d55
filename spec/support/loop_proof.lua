-- The host proofs' shared body (issue 12, "Prove it, in each host"): one
-- client given the host's loop, many coroutines of the host's calling it
-- against the emulator, and what must hold whatever the host:
--
--   local loop_proof = require "support.loop_proof"
--   local failed = loop_proof.run{
--     name = "luv",                         -- starts its figure names
--     loop = graph.loop.luv(),              -- a graph.loop table
--     run_until = function(seconds, done) end,  -- run the host's loop until done() or the time
--     timer = function(seconds, fn) end,    -- the host's own repeating timer -> :stop()
--     spawn = function(f) end,              -- optional: run f as a coroutine of the host's
--                                           --   (default: coroutine.create, then resume)
--     after_resume = function() end,        -- optional, in the coroutine after each call:
--                                           --   true, or false and why (Neovim: vim.api works)
--     reset = function() end,               -- optional, before each check: may set a new loop
--     after_check = function() end,         -- optional, after each check: true, or false and
--                                           --   why (an error the host reported on its own)
--   }                                       -- the number of checks that failed
--
-- Each check prints `ok - NAME`, `skip - NAME: why` or `FAIL NAME: why`,
-- and figures as `figure: HOST name = value unit` (support.hostproof).
-- Behaviour is asserted; timings are printed only. Coroutine bodies record
-- what they got and never raise (an error in a resumed coroutine would end
-- up in the host's loop, not here): the checks read the records afterwards.
local proof = require "support.hostproof"
local fx = require "support.fixtures"

local M = {}

local LATENCY = 0.2         -- the emulator's, as in the issue's figures
local COROUTINES, CALLS = 50, 4
local TICK = 0.01           -- the host's own timer

---------------------------------------------------------------------------
-- Outcomes: what a call returned, in a form two calls can be compared in

-- Deep equality of two results.
local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

-- A call's result as { value = } or { err = { kind, code, status_code } }.
local function outcome(result, err)
  if result ~= nil then return { value = result } end
  if type(err) ~= "table" then return { err = { kind = "not an error object: " .. tostring(err) } } end
  return { err = { kind = err.kind, code = err.code, status_code = err.status_code } }
end

local function describe(o)
  if o == nil then return "nothing" end
  if o.err then
    return ("error kind=%s code=%s status=%s"):format(tostring(o.err.kind), tostring(o.err.code),
                                                      tostring(o.err.status_code))
  end
  local v = o.value
  return type(v) == "table" and ("a result (id %s)"):format(tostring(v.id)) or tostring(v)
end

-- A bulk call's array: each user as it is, each error by its facts.
local function bulk_outcome(result, err)
  if result == nil then return outcome(result, err) end
  local items = {}
  for i, r in ipairs(result) do
    items[i] = (type(r) == "table" and r.kind) and outcome(nil, r) or r
  end
  return { value = items }
end

-- A $batch's items without what differs per call (headers, error bodies' innerError).
local function batch_outcome(result, err)
  if result == nil then return outcome(result, err) end
  local items = {}
  for i, r in ipairs(result) do
    local body = r.body
    -- an error body's innerError (date, request ids) differs per call
    if type(body) == "table" and type(body.error) == "table" then body = { code = body.error.code } end
    items[i] = { status = r.status, body = body }
  end
  return { value = items }
end

---------------------------------------------------------------------------
-- Running bodies as the host's coroutines, its timer ticking

local function spawn_default(f)
  local co = coroutine.create(f)
  local ok, err = coroutine.resume(co)
  if not ok then error(debug.traceback(co, err), 0) end
end

local function tablen(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- The proof's state for one host: the host, its ticks, failures.
local P = {}
P.__index = P

-- Start the host's 10 ms timer: each tick counted, the worst gap between
-- ticks (from the start) kept.
function P:start_timer()
  local L = self.host.loop
  local t = { ticks = 0, worst = 0, last = L.now() }
  t.handle = self.host.timer(TICK, function()
    local now = L.now()
    t.worst = math.max(t.worst, now - t.last)
    t.last, t.ticks = now, t.ticks + 1
  end)
  self.clock = t
  return t
end

function P:ticks() return self.clock and self.clock.ticks or 0 end

-- Runs each of `bodies` (function(i)) as a coroutine of the host's, with
-- the host's timer ticking, until every one has finished or `limit`
-- seconds; returns { all =, finished =, wall =, ticks =, worst = }.
-- prepare(run), when given, runs once the bodies are spawned.
function P:drive(bodies, limit, prepare)
  local L, host = self.host.loop, self.host
  local t = self:start_timer()
  local run = { finished = 0, n = #bodies }
  local t0 = L.now()
  for i, body in ipairs(bodies) do
    (host.spawn or spawn_default)(function()
      body(i)
      run.finished = run.finished + 1
      if run.finished == run.n then run.wall = L.now() - t0 end
    end)
  end
  if prepare then prepare(run) end
  host.run_until(limit, function() return run.finished == run.n end)
  t.handle:stop()
  self.clock = nil
  run.all, run.ticks, run.worst = run.finished == run.n, t.ticks, t.worst
  run.wall = run.wall or (L.now() - t0)
  return run
end

function P:figure(name, value, unit)
  proof.figure(self.host.name .. " " .. name, value, unit)
end

-- In a coroutine, after a call: the host's own check (Neovim: vim.api).
function P:after_resume(where)
  local f = self.host.after_resume
  if not f then return end
  local ok, why = f()
  if not ok then self.resume_failures[#self.resume_failures + 1] = where .. ": " .. tostring(why) end
end

function P:check_after_resume()
  proof.check(#self.resume_failures == 0, "after a call the coroutine could not go on as the host's: %s",
              table.concat(self.resume_failures, "; "))
end

---------------------------------------------------------------------------
-- The tenant's users, and what the blocking client answers for each

-- keys: 30 object ids and 30 UPNs; ref[key]: the blocking users.get outcome.
function P:load_users()
  local emu = self.emu
  emu:reset()
  local g = emu:client()
  local list, err = g.users.list{ all = true, select = { "id", "userPrincipalName" } }
  proof.check(list, "users.list (blocking) failed: %s", tostring(err))
  local keys, ids, ref = {}, {}, {}
  for _, u in ipairs(list.value) do
    keys[#keys + 1], ids[#ids + 1] = u.id, u.id
    keys[#keys + 1] = u.userPrincipalName
  end
  for _, key in ipairs(keys) do
    ref[key] = outcome(g.users.get{ id = key })
    proof.check(ref[key].value, "the blocking users.get{ id = %q } failed: %s", key, describe(ref[key]))
  end
  g:close()
  proof.check(#ids >= 20, "the tenant has %d users", #ids)
  self.keys, self.ids, self.ref = keys, ids, ref
end

-- Call k of coroutine i among `keys`: 4 keys 13 apart, shifted by 7 a
-- coroutine, so that no two coroutines ask for the same set.
local function key_of(keys, i, k)
  return keys[(i * 7 + k * 13) % #keys + 1]
end

-- The bodies of the 50 coroutines x 4 users.get on `g`; got[i][k] = { key, out }.
function P:users_bodies(g, keys, first)
  local got, bodies = {}, {}
  for i = 1, COROUTINES do
    got[i] = {}
    bodies[i] = function()
      for k = 1, CALLS do
        local key = (k == 1 and first and first[i]) or key_of(keys, i, k)
        got[i][k] = { key = key, out = outcome(g.users.get{ id = key }) }
        self:after_resume("users.get")
      end
    end
  end
  return bodies, got
end

-- Every record in got is the outcome expected for its key (expect[key],
-- else the blocking users.get's).
function P:check_users(got, expect)
  local wrong = {}
  for i = 1, COROUTINES do
    for k = 1, CALLS do
      local r = got[i][k]
      if not r then
        wrong[#wrong + 1] = ("coroutine %d call %d: no result"):format(i, k)
      else
        local want = expect and expect[r.key] or self.ref[r.key]
        if not same(r.out, want) then
          wrong[#wrong + 1] = ("coroutine %d call %d (%s): got %s, the blocking call %s")
            :format(i, k, r.key, describe(r.out), describe(want))
        end
      end
    end
  end
  proof.check(#wrong == 0, "%d of %d results wrong; first: %s", #wrong, COROUTINES * CALLS,
              tostring(wrong[1]))
end

local function stats_of(g)
  return require("graph.client").of(g).session:stats()
end

-- The emulator reset (the seeded tenant, no faults) at `latency`; the loop.
function P:fresh(latency)
  self.emu:reset()
  self.emu:config{ latency = latency }
  return self.emu, self.host.loop
end

local function check_run(run, what, limit)
  proof.check(run.all, "%s: %d of %d coroutines finished within %d s", what, run.finished, run.n, limit)
  proof.check(run.ticks > 0, "%s: the host's own %d ms timer never ticked during the run", what, TICK * 1000)
end

local function check_no_blocking(g, what)
  local st = stats_of(g)
  proof.check(st.blocking_waits == 0, "%s: the session waited in place %d time(s) (blocking_waits)",
              what, st.blocking_waits)
end

---------------------------------------------------------------------------
-- The checks

local checks = {}

checks[#checks + 1] = {
  id = "users",
  name = "200 users.get from 50 coroutines on one client: every result right and its " ..
         "caller's, the host's timer ticking, no blocking wait, one token request",
  run = function(self)
  local emu, L = self:fresh(LATENCY)
  local g = emu:client{ loop = L }
  local bodies, got = self:users_bodies(g, self.keys)
  local run = self:drive(bodies, 20)
  check_run(run, "users.get x 200", 20)
  self:check_users(got)
  check_no_blocking(g, "users.get x 200")
  local tokens = #emu:token_requests()
  proof.check(tokens == 1, "%d token requests for the 50 coroutines (one serves them all)", tokens)
  self:check_after_resume()
  self:figure("200 users.get, 50 coroutines: worst 10 ms timer gap (target <= 50)", ("%.1f"):format(run.worst * 1000), "ms")
  self:figure("200 users.get, 50 coroutines: wall (target <= 1.5)", ("%.2f"):format(run.wall), "s")
  self:figure("200 users.get, 50 coroutines: timer ticks", run.ticks)
  g:close()
end }

-- The faults of check 2, each on a user of its own (by object id); the
-- token fault hits the client's first token request.
local FAULT_OPTIONS = { timeout = 1, max_retries = 1 }
local function faults_for(ids)
  local function path(id) return "^/v1\\.0/users/" .. id end
  return {
    { path = path(ids[1]), delay = 2.5, count = 2 },                          -- beyond the timeout, twice
    { path = path(ids[2]), status = 429, headers = { ["Retry-After"] = "0.5" }, count = 1 },
    { path = path(ids[3]), action = "drop", count = 1 },                      -- closed, no answer
    { target = "token", delay = 0.6, count = 1 },                             -- a slow token endpoint
  }
end

checks[#checks + 1] = {
  id = "faults",
  name = "the same with faults (a slow answer past the timeout, 429 with Retry-After, a " ..
         "dropped connection, a slow token endpoint): the loop never stalls and each " ..
         "result is the blocking API's",
  run = function(self)
  local emu, L = self.emu, self.host.loop
  local faulted = { self.ids[1], self.ids[2], self.ids[3] }
  local normal = {}
  for _, key in ipairs(self.keys) do
    if key ~= faulted[1] and key ~= faulted[2] and key ~= faulted[3] then normal[#normal + 1] = key end
  end

  -- what the blocking API answers under the same faults
  emu:reset()
  emu:config{ latency = LATENCY }
  emu:fault(faults_for(faulted))
  local blocking = emu:client(FAULT_OPTIONS)
  local expect = {}
  for _, id in ipairs(faulted) do expect[id] = outcome(blocking.users.get{ id = id }) end
  blocking:close()

  emu:reset()
  emu:config{ latency = LATENCY }
  emu:fault(faults_for(faulted))
  local g = emu:client{ loop = L, timeout = FAULT_OPTIONS.timeout, max_retries = FAULT_OPTIONS.max_retries }
  local bodies, got = self:users_bodies(g, normal, faulted)
  local run = self:drive(bodies, 30)
  check_run(run, "users.get x 200 with faults", 30)
  self:check_users(got, expect)
  check_no_blocking(g, "users.get x 200 with faults")
  local tokens = #emu:token_requests()
  proof.check(tokens == 1, "%d token requests for the 50 coroutines", tokens)
  self:check_after_resume()
  for i, id in ipairs(faulted) do
    self:figure(("faults: %s"):format(({ "slow answer", "429 Retry-After", "dropped" })[i]),
                describe(expect[id]))
  end
  self:figure("faults: worst 10 ms timer gap", ("%.1f"):format(run.worst * 1000), "ms")
  self:figure("faults: wall", ("%.2f"):format(run.wall), "s")
  g:close()
end }

-- Page through g.pages: a generic for where the Lua can yield in one
-- (5.2+, LuaJIT); on PUC 5.1 the explicit pages:next() when there is one,
-- else the iterator called directly (a plain call may yield there).
local PUC51 = _VERSION == "Lua 5.1" and rawget(_G, "jit") == nil
local function all_pages(pages)
  local list = {}
  if PUC51 then
    local step = type(pages) == "table" and function() return pages:next() end or pages
    while true do
      local page, r = step()
      if page == nil then break end
      list[#list + 1] = outcome(page, r)
      if page == false then break end
    end
  else
    for page, r in pages do
      list[#list + 1] = outcome(page, r)
      if page == false then break end
    end
  end
  return { value = list }
end

-- Every kind of action, each as a function of a client.
local function actions(ids)
  return {
    { "users.get_many", function(g) return bulk_outcome(g.users.get_many{ ids = { ids[4], ids[5], fx.missing_id, ids[6] } }) end },
    { "request", function(g) return outcome(g.request{ method = "GET", path = "/users/" .. ids[7] }) end },
    { "pages", function(g) return all_pages(g.pages{ path = "/users/" .. fx.lynne_id .. "/memberOf" }) end },
    { "presence.get", function(g) return outcome(g.presence.get{ id = fx.adele_id }) end },
    { "users.memberof", function(g) return outcome(g.users.memberof{ id = fx.lynne_id, all = true }) end },
    { "batch", function(g)
      return batch_outcome(g.batch{ requests = {
        { method = "GET", url = "/users/" .. ids[8] },
        { method = "GET", url = "/users/" .. fx.missing_id },
        { method = "GET", url = "/users/" .. fx.adele_id .. "/presence" },
      } })
    end },
  }
end

checks[#checks + 1] = {
  id = "no_loop",
  name = "a client without a loop, called from a coroutine, never yields (a call finishes " ..
         "in the resume that started it)",
  run = function(self)
  local emu = self.emu
  emu:reset()
  emu:config{ latency = 0.02 }
  -- a pause too: Retry-After is waited in place
  emu:fault{ path = "^/v1\\.0/users/" .. self.ids[9], status = 429, headers = { ["Retry-After"] = "0.1" }, count = 1 }
  local g = emu:client()
  local calls = {
    { "users.get", function() return outcome(g.users.get{ id = self.ids[10] }) end, self.ref[self.ids[10]] },
    { "users.get after a 429", function() return outcome(g.users.get{ id = self.ids[9] }) end, self.ref[self.ids[9]] },
    { "users.get_many", function() local r = g.users.get_many{ ids = { self.ids[11], self.ids[12] } }
        return { value = r } end,
      { value = { self.ref[self.ids[11]].value, self.ref[self.ids[12]].value } } },
  }
  for _, c in ipairs(calls) do
    local co = coroutine.create(c[2])
    local ok, got = coroutine.resume(co)
    proof.check(ok, "%s raised: %s", c[1], tostring(got))
    proof.check(coroutine.status(co) == "dead", "%s yielded (the coroutine is %s after one resume)",
                c[1], coroutine.status(co))
    proof.check(same(got, c[3]), "%s: got %s, expected %s", c[1], describe(got), describe(c[3]))
  end
  g:close()
end }

-- What the driver holds for nobody: empty at the end of a run.
local function leftovers(g)
  local d = require("graph.client").of(g).driver
  local parts = {}
  for _, k in ipairs{ "owner", "inbox", "woken", "auth_waiters" } do
    local n = tablen(d[k])
    if n > 0 then parts[#parts + 1] = ("%s has %d"):format(k, n) end
  end
  return table.concat(parts, ", ")
end

-- Runs the host's loop until the session has no job left (answers of
-- abandoned transfers may still come in after the last coroutine ended).
function P:settle(g, seconds)
  local session = require("graph.client").of(g).session
  self.host.run_until(seconds, function() return session:stats().jobs == 0 end)
  return session:stats().jobs
end

-- Nothing left behind once the answers of abandoned transfers are in.
function P:check_released(g)
  local jobs = self:settle(g, 5)
  proof.check(jobs == 0, "%d job(s) left in the engine after the run", jobs)
  local left = leftovers(g)
  proof.check(left == "", "the driver still holds: %s", left)
end

checks[#checks + 1] = {
  id = "abandoned", needs_close = true,
  name = "a coroutine closed mid-call has its transfer released: the others' results " ..
         "right, no job left, nothing left in the driver",
  run = function(self)
  local emu, L = self:fresh(LATENCY)
  local g = emu:client{ loop = L }
  local d = require("graph.client").of(g).driver
  local bodies, got = self:users_bodies(g, self.keys)
  local cos, closed = {}, 0
  for i, body in ipairs(bodies) do
    bodies[i] = function()
      cos[i] = coroutine.running()
      body(i)
    end
  end
  local CLOSED = 10
  local run = self:drive(bodies, 20, function(r)
    -- every coroutine's first users.get in flight (the token is in): close ten of them
    self.host.run_until(5, function() return tablen(d.owner) == COROUTINES end)
    proof.check(tablen(d.owner) == COROUTINES, "the 50 first calls were not all in flight (%d)", tablen(d.owner))
    for i = 1, CLOSED do
      proof.check(coroutine.status(cos[i]) == "suspended", "coroutine %d is %s, not suspended", i,
                  coroutine.status(cos[i]))
      assert(coroutine.close(cos[i]))
      closed = closed + 1
    end
    r.n = r.n - closed
  end)
  check_run(run, "abandoned", 20)
  -- the closed ones got nothing; the others everything, right
  for i = 1, CLOSED do
    proof.check(got[i][1] == nil, "closed coroutine %d still got a result", i)
    got[i] = nil
  end
  local wrong = 0
  for i = CLOSED + 1, COROUTINES do
    for k = 1, CALLS do
      local r = got[i][k]
      if not (r and same(r.out, self.ref[r.key])) then wrong = wrong + 1 end
    end
  end
  proof.check(wrong == 0, "%d results of the living coroutines wrong or missing", wrong)
  self:check_released(g)
  check_no_blocking(g, "abandoned")
  g:close()
end }

checks[#checks + 1] = {
  id = "shared_token", needs_close = true,
  name = "the shared token: when the coroutine that started the token request is closed, " ..
         "the others still get the token and their results",
  run = function(self)
  local emu, L = self:fresh(0.05)
  emu:fault{ target = "token", delay = 0.5, count = 1 }
  local g = emu:client{ loop = L }
  local d = require("graph.client").of(g).driver
  local N = 10
  local starter
  local got, bodies = {}, {}
  for i = 1, N do
    bodies[i] = function()
      if i == 1 then starter = coroutine.running() end
      local key = self.ids[i]
      got[i] = outcome(g.users.get{ id = key })
    end
  end
  local run = self:drive(bodies, 10, function(r)
    self.host.run_until(2, function() return tablen(d.auth_waiters) == N end)
    proof.check(tablen(d.auth_waiters) == N, "%d coroutines wait for the token, not %d", tablen(d.auth_waiters), N)
    proof.check(d.auth_waiters[starter], "the first coroutine is not among those waiting for the token")
    assert(coroutine.close(starter))
    r.n = r.n - 1
  end)
  check_run(run, "shared token", 10)
  proof.check(got[1] == nil, "the closed coroutine got a result")
  for i = 2, N do
    proof.check(same(got[i], self.ref[self.ids[i]]), "coroutine %d: got %s", i, describe(got[i]))
  end
  local tokens = #emu:token_requests()
  proof.check(tokens == 1, "%d token requests (the closed coroutine's served the others)", tokens)
  self:check_released(g)
  g:close()
end }

checks[#checks + 1] = {
  id = "h2",
  name = "HTTP/2: the 50-coroutine run through the HTTP/2 front, results right, the concurrent " ..
         "GETs on one multiplexed connection",
  run = function(self)
  local emu, L = self:fresh(LATENCY)
  -- a front of its own: its access log holds this run's requests only
  local front = require("support.h2front").start(emu.port)
  local ok, err = pcall(function()
    local via = { url = front.url, login_url = front.url, ca_file = front.ca }
    -- the blocking answers through the front (its links name the front)
    local blocking, expect = emu:client(via), {}
    for _, key in ipairs(self.keys) do expect[key] = outcome(blocking.users.get{ id = key }) end
    blocking:close()
    emu:reset()
    emu:config{ latency = LATENCY }
    local log_from = #front:requests()
    via.loop = L
    local g = emu:client(via)
    local bodies, got = self:users_bodies(g, self.keys)
    local run = self:drive(bodies, 20)
    check_run(run, "HTTP/2", 20)
    self:check_users(got, expect)
    check_no_blocking(g, "HTTP/2")
    g:close()
    -- nghttpx writes its access log a little after answering
    local log
    self.host.run_until(3, function()
      log = front:requests()
      return #log >= log_from + COROUTINES * CALLS
    end)
    local gets, seen, conns = 0, {}, 0
    for n = log_from + 1, #log do
      local r = log[n]
      if r.method == "GET" and r.path:find("^/v1%.0/users") then
        gets = gets + 1
        proof.check(r.alpn == "h2", "a GET reached the front over %s, not h2", r.alpn)
        if not seen[r.port] then seen[r.port], conns = true, conns + 1 end
      end
    end
    proof.check(gets == COROUTINES * CALLS, "the front saw %d users GETs, not %d", gets, COROUTINES * CALLS)
    proof.check(conns == 1, "the 200 GETs came on %d connections, not one multiplexed connection", conns)
    self:figure("HTTP/2: connections for 200 GETs", conns)
    self:figure("HTTP/2: worst 10 ms timer gap", ("%.1f"):format(run.worst * 1000), "ms")
    self:figure("HTTP/2: wall", ("%.2f"):format(run.wall), "s")
  end)
  front:stop()
  if not ok then error(err, 0) end
end }

checks[#checks + 1] = {
  id = "bulk_together",
  name = "one coroutine's bulk call whose answers come in together (users.get_many of " ..
         "every user at concurrency 30) resumes once with the blocking call's result",
  run = function(self)
  local emu, L = self:fresh(LATENCY)
  local function call(g) return bulk_outcome(g.users.get_many{ ids = self.ids, concurrency = #self.ids }) end
  local blocking = emu:client()
  local expect = call(blocking)
  blocking:close()
  local g = emu:client{ loop = L }
  local got = {}
  -- several coroutines at once, so that answers for each land in the same loop turn
  local bodies = {}
  for i = 1, 3 do
    bodies[i] = function()
      got[i] = call(g)
      self:after_resume("users.get_many")
    end
  end
  local run = self:drive(bodies, 20)
  check_run(run, "get_many together", 20)
  for i = 1, 3 do
    proof.check(same(got[i], expect), "coroutine %d: got %s, the blocking call %s", i, describe(got[i]), describe(expect))
  end
  check_no_blocking(g, "get_many together")
  self:check_after_resume()
  g:close()
end }

-- Last: on PUC 5.1 a call that cannot yield ends the host's loop (luv
-- exits), and the checks above have run by then.
checks[#checks + 1] = {
  id = "actions",
  name = "every kind of action yields to the loop and resumes with the blocking call's " ..
         "result: users.get_many, request, pages, presence.get, users.memberof, batch",
  run = function(self)
  local emu, L = self:fresh(0.05)
  local list = actions(self.ids)
  local blocking, expect = emu:client(), {}
  for i, a in ipairs(list) do expect[i] = a[2](blocking) end
  blocking:close()

  local g = emu:client{ loop = L }
  local got, ticked, bodies = {}, {}, {}
  for i, a in ipairs(list) do
    bodies[i] = function()
      local before = self:ticks()
      got[i] = a[2](g)
      ticked[i] = self:ticks() - before
      self:after_resume(a[1])
    end
  end
  local run = self:drive(bodies, 20)
  check_run(run, "actions", 20)
  for i, a in ipairs(list) do
    proof.check(expect[i].value, "%s: the blocking call failed: %s", a[1], describe(expect[i]))
    proof.check(got[i] ~= nil, "%s: no result", a[1])
    proof.check(same(got[i], expect[i]), "%s: got %s, the blocking call %s", a[1], describe(got[i]),
                describe(expect[i]))
    -- the host's timer ticked during the call: it yielded to the loop
    proof.check(ticked[i] > 0, "%s: the host's timer never ran during the call (it did not yield)", a[1])
  end
  check_no_blocking(g, "actions")
  self:check_after_resume()
  if PUC51 then
    local explicit = type(g.pages{ path = "/users" }) == "table"
    self:figure("pages on 5.1 stepped by", explicit and "pages:next()" or "a direct call of the iterator")
  end
  g:close()
end }

---------------------------------------------------------------------------

--- The host timer of a libuv host (luv, Neovim's vim.loop): a repeating uv timer.
function M.uv_timer(uv)
  return function(seconds, fn)
    local ms = math.ceil(seconds * 1000)
    local h = uv.new_timer()
    h:start(ms, ms, fn)
    return { stop = function() h:close() end }
  end
end

--- Runs every check on `host` (see the top); prints each one's line;
-- returns how many failed.
function M.run(host)
  local self = setmetatable({ host = host, resume_failures = {} }, P)
  self.emu = proof.emulator()
  local failed = 0
  local function line(s)
    io.stdout:write(s, "\n")
    io.stdout:flush()
  end
  local ok, err = pcall(P.load_users, self)
  if not ok then
    line("FAIL loading the tenant's users: " .. tostring(type(err) == "table" and err.proof_failure or err))
    return 1
  end
  -- LOOP_PROOF_CHECKS="faults h2" runs only those (to reproduce one)
  local only
  for w in (os.getenv("LOOP_PROOF_CHECKS") or ""):gmatch("%S+") do
    only = only or {}
    only[w] = true
  end
  for _, c in ipairs(checks) do
    if only and not only[c.id] then
      line("skip - " .. c.name .. ": not in LOOP_PROOF_CHECKS")
    elseif c.needs_close and not coroutine.close then
      line("skip - " .. c.name .. ": " .. _VERSION .. " has no coroutine.close")
    else
      self.resume_failures = {}
      if host.reset then host.reset() end
      local passed, why = xpcall(function()
        c.run(self)
        if host.after_check then
          local clean, what = host.after_check()
          proof.check(clean, "the host reported an error during the check: %s", tostring(what))
        end
      end, function(e)
        if type(e) == "table" and e.proof_failure then return e.proof_failure end
        return debug.traceback(tostring(e), 2)
      end)
      if passed then
        line("ok - " .. c.name)
      else
        failed = failed + 1
        line("FAIL " .. c.name .. ": " .. tostring(why):gsub("\n", "\n     "))
      end
    end
  end
  self.emu:reset()
  return failed
end

return M
