--- Many requests at once: the C core runs them concurrently (libcurl multi),
-- this layer gives each the single-request treatment (auth, retries,
-- errors, JSON) and keeps the results in input order.
local core = require "graph.core"

local M = {}

local function copy(t)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  return c
end

--- Run `requests` ({ method =, url =, headers =, body = }) through `client`.
-- opts: concurrency, family (pacing), on_progress(done, total).
-- Returns an array in input order of { doc =, response = } or { err = }.
function M.run(client, requests, opts)
  local n = #requests
  local results, attempts, sent = {}, {}, {}
  local pending = {}
  for i, r in ipairs(requests) do
    local h = copy(r.headers)
    h.Accept = h.Accept or "application/json"
    h["client-request-id"] = core.guid()
    if r.body then h["Content-Type"] = h["Content-Type"] or "application/json" end
    -- reads may ride kept-alive connections; writes get their own (see gc_http.c)
    sent[i] = { method = r.method, url = r.url, headers = h, body = r.body,
                fresh = not (r.method == "GET" or r.read_only) }
    attempts[i], pending[#pending + 1] = 0, i
  end
  local finished, waited, retries, reauthenticated = 0, 0, 0, false
  local on_progress = opts.on_progress

  local function finish(i, result)
    results[i] = result
    finished = finished + 1
    if on_progress then on_progress(finished, n) end
  end

  while #pending > 0 do
    local admitted = client.pacing:admit(opts.family, #pending)
    local round, later = {}, {}
    for k, i in ipairs(pending) do
      if k <= admitted then round[#round + 1] = i else later[#later + 1] = i end
    end
    local batch = {}
    for k, i in ipairs(round) do
      batch[k] = sent[i]
      attempts[i] = attempts[i] + 1
    end
    -- the token first, in Lua (retried within the budget; a rotation reported)
    local out, err
    out, err, retries, waited = client:authorize(retries, waited)
    if out then
      out, err = client.session:request_many(batch, opts.concurrency, true)
      if client.on_refresh_token then client:notice_rotation() end   -- after, never from inside
    end
    if not out then                      -- no token: every request of the round fails
      for _, i in ipairs(round) do
        err.attempts = attempts[i]
        finish(i, { err = err })
      end
      out = {}
    end
    local retry, delay, reauth = {}, 0, false
    for k, i in ipairs(round) do
      local r = out[k]
      if r then
        local s = sent[i]
        local crid = s.headers["client-request-id"]
        local outcome, e, retryable = client:outcome(s.method, r.status or nil,
          r.status and r.reason or r.err, r.headers, r.body, crid)
        if outcome == "ok" then
          local doc, resp = client:document(s.method, r.status, r.reason, r.headers, r.body, crid)
          if not doc then resp.attempts = attempts[i] end
          finish(i, doc and { doc = doc, response = resp } or { err = resp })
        elseif outcome == "reauth" and not reauthenticated then
          reauth = true
          retry[#retry + 1] = i
        elseif retryable and attempts[i] <= client.max_retries then
          retry[#retry + 1] = i
          local d = client:delay(attempts[i], e)
          if d > delay then delay = d end
          s.last_err = e
        else
          e.attempts = attempts[i]
          finish(i, { err = e })
        end
      end
    end
    if reauth then
      reauthenticated = true
      client.session:drop_token()
    end
    if #retry > 0 and delay > 0 then
      if waited + delay > client.retry_budget then
        for _, i in ipairs(retry) do         -- asked to wait longer than is left
          local e = sent[i].last_err
          if e then
            e.attempts, e.retry_after = attempts[i], e.retry_after or delay
            finish(i, { err = e })
          end
        end
        local kept = {}
        for _, i in ipairs(retry) do if not sent[i].last_err then kept[#kept + 1] = i end end
        retry = kept
      else
        retries = retries + 1
        client:wait(retries, sent[retry[1]].last_err or {}, delay, "*", "(bulk)")
        waited = waited + delay
      end
    end
    for _, i in ipairs(retry) do
      sent[i].last_err = nil
      if attempts[i] > 0 then sent[i].headers["Retry-Attempt"] = tostring(attempts[i]) end
    end
    pending = retry
    for _, i in ipairs(later) do pending[#pending + 1] = i end
  end
  return results
end

return M
