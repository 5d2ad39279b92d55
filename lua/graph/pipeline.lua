--- The request pipeline: every Graph call, one request or thousands, runs
-- here. A request is a record { method, url, headers, body, idempotent,
-- fresh }; its result is a record { status, reason, headers, body,
-- attempts, client_request_id } for a 2xx, else { err = err }. The
-- pipeline owns the order of things: pacing, the token (one step of each
-- round), the attempts, the one re-authentication, retries each at its own
-- time (its own Retry-After), progress as each request ends, and the log.
-- What a result means and how long to wait is graph.policy's; every wait is
-- the client's driver's (graph.driver: in place, or a host's loop).
local core = require "graph.core"
local errors = require "graph.errors"
local policy = require "graph.policy"

local M = {}

local IDEMPOTENT = policy.IDEMPOTENT
local HUGE = math.huge

--- The headers of a request: Accept, the caller's, and Content-Type for a
-- body. The C core adds client-request-id (a new GUID) unless one is given.
local ACCEPT_JSON = { Accept = "application/json" }

function M.headers(headers, body)
  if not headers and not body then return ACCEPT_JSON end   -- shared, never written
  local sent, typed = { Accept = "application/json" }, false
  if headers then
    for k, v in pairs(headers) do
      sent[k] = v
      typed = typed or k:lower() == "content-type"
    end
  end
  if body and not typed then sent["Content-Type"] = "application/json" end
  return sent
end

-- Another attempt goes with the first one's client-request-id and, when it
-- is a retry, its number.
local function again(sent, crid, resent)
  local h = {}
  for k, v in pairs(sent) do h[k] = v end
  h["client-request-id"] = crid
  h["Retry-Attempt"] = resent and tostring(resent)
  return h
end

-- The state of one request during a run.
local function state(rec)
  local idempotent = rec.idempotent
  if idempotent == nil then idempotent = IDEMPOTENT[rec.method] or false end
  local fresh = rec.fresh
  if fresh == nil then fresh = not idempotent end   -- writes get their own connection
  return { method = rec.method, url = rec.url, body = rec.body,
           headers = M.headers(rec.headers, rec.body), idempotent = idempotent,
           fresh = fresh, attempts = 0, resent = 0, at = 0, crid = nil }
end

-- The log line of one attempt (never a secret: the client redacts it).
local function log_attempt(client, st, seconds, status, reason, headers)
  if status then
    client:log("graph: %s %s Authorization: Bearer <redacted> -> %d %s in %.1f ms " ..
               "(attempt %d, request-id %s)", st.method, st.url, status, reason, seconds * 1000,
               st.attempts, tostring(headers["request-id"]))
  else
    client:log("graph: %s %s Authorization: Bearer <redacted> -> %s in %.1f ms (attempt %d)",
               st.method, st.url, tostring(errors.from_core(reason)), seconds * 1000,
               st.attempts)                       -- the C core's facts: made an error here
  end
end

-- The device code sign-in (RFC 8628), driven from here one step at a time:
-- the C core makes one request a step and keeps the device code; the
-- prompt runs between steps, and the waits between polls are the
-- driver's. Never waits past the code's life or the client's timeout,
-- both counted from the start. Returns true (the token cached) or nil, err.
local function sign_in(client)
  local session, d = client.session, client.driver
  local started = d:now()
  local r = d:auth("device_start")
  if r.err then return nil, r.err end
  local info = r.value
  client.signing_in = true
  local ok, failure = pcall(client.on_device_code, info)
  client.signing_in = false
  if not ok then                            -- the callback's error is the caller's
    if not client.closed then session:device_cancel() end
    error(failure, 0)
  end
  if client.closed then
    return nil, errors.new{ kind = "auth", code = "closed",
                            message = "the client was closed during the device code sign-in" }
  end
  local interval, pause, resent = info.interval, nil, 0
  local expires_at, timeout_at = started + info.expires_in, started + client.timeout
  while true do
    if d:now() + (pause or interval) > math.min(expires_at, timeout_at) then   -- no wait past it
      session:device_cancel()
      if timeout_at < expires_at then
        return nil, errors.new{ kind = "auth", code = "timeout", message =
          ("the device code sign-in did not complete within the client's timeout " ..
           "(%.0f s; raise 'timeout' to wait longer)"):format(client.timeout) }
      end
      return nil, errors.new{ kind = "auth", code = "expired_token",
        message = "the device code expired before the sign-in completed (RFC 8628)" }
    end
    d:sleep(pause or interval)
    pause = nil
    r = d:auth("device_poll")
    if r.err then
      -- a poll throttled or lost (the core keeps the code): polled again
      -- after its Retry-After, within the same deadlines; else it is over
      local err = errors.from_core(r.err, client.redact)
      if not client.policy:retryable_token(err) then
        session:device_cancel()
        return nil, err
      end
      resent, pause = resent + 1, math.max(interval, err.retry_after or 0)
      client:retrying(resent, err, pause, "POST", "(device code poll)")
    elseif r.value == true then
      return true
    elseif r.value == "slow_down" then
      interval = interval + 5                                    -- RFC 8628 section 3.5
    end
  end
end

-- The session's token: at hand, or asked of the identity platform through
-- the engine (one request for every coroutine that needs it at once), or
-- signed in from here for the device code grant (auth/sign_in_required).
-- While another coroutine signs a person in, the others wait for it.
local function token(client)
  local session, d = client.session, client.driver
  if client.signing_in then
    error("graph.client: a request from inside on_device_code is refused " ..
          "(the sign-in is not over)", 0)
  end
  while client.sign_in_by and client.sign_in_by[1] do d:sleep(0.25) end
  if session:token_ready() then return true end
  local r = d:auth("token")
  if not r.err then return true end
  if r.err.code ~= "sign_in_required" then return nil, r.err end
  client.sign_in_by = setmetatable({ coroutine.running() or true }, { __mode = "v" })
  local ok, err = sign_in(client)
  client.sign_in_by = nil
  return ok, err
end

--- Make sure the session holds a usable token before a round leaves:
-- acquired here, so that the token endpoint's 429 and 503 are retried after
-- their Retry-After within the call's deadline, and a rotated refresh token
-- reaches on_refresh_token before the call returns. `call` counts the
-- token's retries; `failed`: the error of a first try already made.
-- Returns true, or nil, err.
local function authorize(client, call, failed)
  local session, p, tries, d = client.session, client.policy, 0, client.driver
  local before = client.logger and session:stats().token_requests
  while true do
    tries = tries + 1
    local ok, err = nil, failed
    if failed then failed = nil else ok, err = token(client) end
    if ok then
      if before and session:stats().token_requests > before then
        client:log("graph: token acquired (token request %d)", session:stats().token_requests)
      end
      client:notice_rotation()
      return true
    end
    -- the C core's facts, or an error made here (a closed session redacts
    -- nothing: its secrets are wiped)
    err = errors.from_core(err, not client.closed and client.redact or nil)
    if client.closed then return nil, err end   -- closed from on_device_code: nothing more
    if client.logger then client:log("graph: token request failed: %s", tostring(err)) end
    local retries = call.token_retries + call.most_resent
    local delay = p:next_delay(p:retryable_token(err), err, retries,
                               call.deadline - d:now(), tries)
    if not delay then return nil, err end
    call.token_retries = call.token_retries + 1
    client:retrying(retries + 1, err, delay, "POST", "(token)")
    d:sleep(delay)
  end
end

-- What the attempt of `st` that ended came to: the request's result when it
-- is final, else nil with `st` scheduled again (st.at). `reauth`: this
-- round's token refusals get one fresh token (set by the caller).
local function settle(client, call, st, status, reason, headers, body, crid)
  if status and status >= 200 and status < 300 then
    return { status = status, reason = reason, headers = headers, body = body,
             attempts = st.attempts, client_request_id = st.crid or crid }
  end
  st.crid = st.crid or crid
  local outcome, err, retryable = client.policy:outcome(st.idempotent, status, reason, headers,
                                                        body, st.crid)
  if outcome == "reauth" and not call.reauthenticated then
    call.reauth = true                  -- expired or revoked: one fresh token, once a call
    st.headers = again(st.headers, st.crid)
    return nil
  end
  local retries = call.token_retries + st.resent
  local now = client.driver:now()
  local delay = client.policy:next_delay(retryable, err, retries, call.deadline - now, st.attempts)
  if not delay then return { err = err } end
  st.resent = st.resent + 1
  if st.resent > call.most_resent then call.most_resent = st.resent end
  client:retrying(retries + 1, err, delay, st.method, st.url)
  st.at = now + delay
  st.headers = again(st.headers, st.crid, st.resent)
  return nil
end

-- One round: the requests `round` (indexes into `states`) sent at once,
-- at most opts.concurrency in flight; the finished ones go to `finish`,
-- the others are left for a later round.
local function send(client, call, states, round, opts, finish)
  local session, d = client.session, client.driver
  local logging = client.logger ~= nil
  if call.single and d:blocking() then   -- one request, the C core's own blocking wait
    local st = states[round[1]]
    st.attempts = st.attempts + 1
    local started = logging and core.now()
    local status, reason, headers, body = session:request(st.method, st.url, st.headers, st.body,
                                                          true, st.fresh)
    if status and status >= 200 and status < 300 and not logging then   -- the usual case
      return finish(round[1], { status = status, reason = reason, headers = headers, body = body,
                                attempts = st.attempts, client_request_id = st.crid })
    end
    if logging then log_attempt(client, st, core.now() - started, status, reason, headers) end
    local crid = status and session:client_request_id() or reason.client_request_id
    local result = settle(client, call, st, status, reason, headers, body, crid)
    if result then finish(round[1], result) end
    return
  end
  -- the engine runs the round; each request is settled (and reported) as
  -- it ends, between steps, never from inside one
  local most, n, sent = opts.concurrency or 8, #round, 0
  local flight, index = {}, {}              -- the states in flight; id -> their index
  local function refill()
    local batch = {}
    while sent < n and #flight + #batch < most do
      sent = sent + 1
      local st = states[round[sent]]
      st.attempts = st.attempts + 1
      batch[#batch + 1] = st
    end
    if #batch == 0 then return end
    d:submit(batch, true)                   -- gives each its id
    for k = 1, #batch do
      flight[#flight + 1] = batch[k]
      index[batch[k].id] = round[sent - #batch + k]
    end
    client:notice_rotation()
  end
  refill()
  while #flight > 0 do
    local got = d:take(flight)              -- takes their ids back
    local still = {}
    for k = 1, #flight do
      if flight[k].id then still[#still + 1] = flight[k] end
    end
    flight = still
    for _, r in ipairs(got) do
      local i = index[r.id]
      index[r.id] = nil
      local st = states[i]
      if logging then log_attempt(client, st, r.time or 0, r.status, r.reason or r.err, r.headers) end
      local result = settle(client, call, st, r.status, r.status and r.reason or r.err, r.headers,
                            r.body, r.client_request_id)
      if result then finish(i, result) end
    end
    refill()
  end
end

--- Run `records` through `client`; opts: concurrency (many at once),
-- family (pacing), on_progress(done, total) as each request ends, single
-- (one request, unpaced: with the default waiter the C core waits for it
-- in one call, s:request). Returns
-- the results in input order. One deadline bounds the call: no retry is
-- scheduled to start later than retry_budget seconds after the call began
-- (each attempt is bounded by `timeout` on its own).
local NO_OPTS = {}

--- The indexes of `pending` whose time (`at(i)`) has come, in order, and
-- the others; when none has come, after waiting (through driver `d`) for
-- the soonest.
function M.due(d, pending, at)
  while true do
    local now, ready, later, soonest = d:now(), {}, {}, HUGE
    for _, i in ipairs(pending) do
      local t = at(i)
      if t <= now then ready[#ready + 1] = i
      else
        later[#later + 1] = i
        if t < soonest then soonest = t end
      end
    end
    if #ready > 0 then return ready, later end
    d:sleep(soonest - now)
  end
end

-- After a round: the one re-authentication, when Graph refused the token.
local function reauthenticate(client, call)
  if call.reauth then
    call.reauth, call.reauthenticated = false, true
    client.session:drop_token()
  end
end

function M.run(client, records, opts)
  opts = opts or NO_OPTS
  local n = #records
  local first = opts.first                  -- a single call's first try, made by M.one
  local call = { deadline = (first and first.started or client.driver:now()) +
                            client.policy.retry_budget,
                 token_retries = 0, most_resent = 0, reauthenticated = false, reauth = false,
                 single = opts.single and n == 1 }
  local states, pending, results, done = {}, {}, {}, 0
  for i = 1, n do states[i], pending[i] = state(records[i]), i end
  local on_progress = opts.on_progress
  if first and first.token_err then
    local ok, err = authorize(client, call, first.token_err)
    if not ok then return { { err = err } } end
  elseif first then
    states[1].attempts = 1
    local r = settle(client, call, states[1], first[1], first[2], first[3], first[4], first[5])
    if r then return { r } end
    reauthenticate(client, call)
  end

  local function finish(i, result)
    results[i] = result
    done = done + 1
    if on_progress then on_progress(done, n) end
  end

  local function at(i) return states[i].at end
  while #pending > 0 do
    local ready, later = M.due(client.driver, pending, at)
    local admitted = opts.family and client.pacing:admit(opts.family, #ready) or #ready
    for k = admitted + 1, #ready do later[#later + 1] = ready[k]; ready[k] = nil end
    local ok, err = authorize(client, call)
    if not ok then                          -- no token: what is left of the call fails
      for _, i in ipairs(ready) do finish(i, { err = err }) end
      for _, i in ipairs(later) do finish(i, { err = err }) end
      later = {}
    else
      send(client, call, states, ready, opts, finish)
      reauthenticate(client, call)
      -- what is not finished goes again, by its time
      for _, i in ipairs(ready) do
        if not results[i] then later[#later + 1] = i end
      end
      table.sort(later)
    end
    pending = later
  end
  return results
end

-- The first try of a single call, with the token at hand: waited for in
-- place by the C core (s:request), or through the client's loop. Returns
-- status, reason (the transport error when no status), headers, body and
-- the client-request-id it went with.
local function try_once(client, d, method, url, headers, body)
  local sent, fresh = M.headers(headers, body), not IDEMPOTENT[method]
  if d.loop then
    local recs = { { method = method, url = url, headers = sent, body = body, fresh = fresh } }
    d:submit(recs, true)
    local r = d:take(recs)[1]
    return r.status, r.status and r.reason or r.err, r.headers, r.body, r.client_request_id
  end
  local session = client.session
  local status, reason, rheaders, rbody = session:request(method, url, sent, body, true, fresh)
  if status and status >= 200 and status < 300 then return status, reason, rheaders, rbody end
  return status, reason, rheaders, rbody,
         status and session:client_request_id() or reason.client_request_id
end

--- One request: status, reason, headers, body (a 2xx), attempts; or nil, err.
-- The usual case (a token at hand, a 2xx at once, no log) makes its one
-- try here without building the run's records; anything else goes on in
-- M.run from that try. A waiter installed in graph.wait (a spec's virtual
-- clock) sees every wait: then M.run makes the first try too.
function M.one(client, method, url, headers, body)
  local d, first = client.driver, nil
  if not client.logger and (d.loop or d:blocking()) then
    local started = d:now()
    local ok, err = token(client)
    if not ok then
      first = { started = started, token_err = err }
    else
      client:notice_rotation()
      local status, reason, rheaders, rbody, crid = try_once(client, d, method, url, headers, body)
      if status and status >= 200 and status < 300 then
        return status, reason, rheaders, rbody, 1
      end
      first = { started = started, status, reason, rheaders, rbody, crid }
    end
  end
  local r = M.run(client, { { method = method, url = url, headers = headers, body = body } },
                  { single = true, first = first })[1]
  if r.err then return nil, r.err end
  return r.status, r.reason, r.headers, r.body, r.attempts
end

return M
