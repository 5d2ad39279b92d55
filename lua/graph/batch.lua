--- g.batch: Graph JSON batching (POST /v1.0/$batch), at most 20 requests a
-- batch, results in input order; throttled items are retried on their own,
-- after their Retry-After, as Graph's throttling guidance asks.
local bulk = require "graph.bulk"
local check = require "graph.check"
local compat = require "graph.compat"
local errors = require "graph.errors"
local json = require "graph.json"
local pipeline = require "graph.pipeline"

local M = {}

local PER_BATCH = 20      -- "JSON batch requests are currently limited to 20 individual requests."
local FN = "graph.batch"
local OPTS = { requests = "table", concurrency = "concurrency", on_progress = "function" }
local ITEM = { method = "string", url = "string", headers = "table", body = "table" }

local function lower_keys(t)
  local out = {}
  if type(t) == "table" then
    for k, v in pairs(t) do if type(k) == "string" then out[k:lower()] = v end end
  end
  return out
end

local function check_items(requests)
  for i, r in ipairs(requests) do
    local name = ("%s: requests[%d]"):format(FN, i)
    check.table(name, r, ITEM)
    check.field(name, "method", r.method, "string", true)
    check.field(name, "url", r.url, "url", true)
    for k, v in pairs(r.headers or {}) do
      check.field(name, "headers." .. tostring(k), v, "string", true)
    end
  end
end

-- Only a 2xx item succeeded: a 3xx is not followed, a 1xx is no answer.
local function succeeded(status)
  return type(status) == "number" and status >= 200 and status < 300
end

-- Every string of a table from the server, through `redact`, in place.
local function redact_tree(t, redact)
  for k, v in pairs(t) do
    if type(v) == "string" then t[k] = redact(v)
    elseif type(v) == "table" then redact_tree(v, redact) end
  end
end

-- One item's result. A failed item's headers and body (Graph's error) are
-- scrubbed of secrets like any error the library returns.
local function answer(client, status, headers, body)
  if not succeeded(status) then
    redact_tree(headers, client.redact)
    if type(body) == "table" then redact_tree(body, client.redact) end
  end
  return { status = status, headers = headers, body = body }
end

-- The body of one $batch call for the items `idx` of `requests`.
local function batch_body(requests, idx)
  local items = {}
  for k, i in ipairs(idx) do
    local r = requests[i]
    local headers = r.headers
    if r.body and not (headers and (headers["Content-Type"] or headers["content-type"])) then
      headers = {}
      for hk, hv in pairs(r.headers or {}) do headers[hk] = hv end
      headers["Content-Type"] = "application/json"     -- required with a body
    end
    items[k] = { id = tostring(k), method = r.method:upper(), url = r.url, headers = headers,
                 body = r.body }
  end
  return assert(json.encode({ requests = items }))
end

--- g.batch{ requests = { { method =, url = "/users/x", headers =, body = }, ... },
-- concurrency = 4, on_progress = } -> array in input order, each
-- { status =, headers = {lower-case}, body = } or an error; plus a summary.
function M.run(client, a)
  check.table(FN, a, OPTS)
  local requests = a.requests
  check.field(FN, "requests", requests, "table", true)
  check_items(requests)
  local p, n, d = client.policy, #requests, client.driver
  local deadline = d:now() + p.retry_budget        -- one deadline, as for any call
  local results, attempts, at, pending, done = {}, {}, {}, {}, 0
  for i = 1, n do pending[i], attempts[i], at[i] = i, 0, 0 end

  -- Item i of group call r: final, or throttled and scheduled again (at[i]).
  local function settle(i, r, item)
    attempts[i] = attempts[i] + 1
    local status = item and compat.tointeger(item.status)
    local headers = item and lower_keys(item.headers)
    local delay = status and p:retries_status(status) and
      p:next_delay(true, { retry_after = errors.retry_after(headers), status_code = status },
                   attempts[i] - 1, deadline - d:now(), attempts[i])
    if delay then
      client:retrying(attempts[i], { status_code = status }, delay, requests[i].method,
                      requests[i].url)
      at[i] = d:now() + delay
      return false
    end
    results[i] = (status and answer(client, status, headers, item.body))
      or r.err or errors.new{ kind = "decode", code = "invalid_response",
                              message = "the batch response has no item for this request" }
    done = done + 1
    if a.on_progress then a.on_progress(done, n) end
    return true
  end

  local function time_of(i) return at[i] end
  while #pending > 0 do
    local ready, later = pipeline.due(d, pending, time_of)   -- waits for the soonest
    local groups, calls = {}, {}
    for first = 1, #ready, PER_BATCH do
      local idx = { compat.unpack(ready, first, math.min(first + PER_BATCH - 1, #ready)) }
      groups[#groups + 1] = idx
      local reads = true
      for _, i in ipairs(idx) do reads = reads and requests[i].method:upper() == "GET" end
      calls[#calls + 1] = { method = "POST", url = client:url("/$batch"),
                            body = batch_body(requests, idx), read_only = reads }
    end
    local out = bulk.run(client, calls, { concurrency = a.concurrency or 4, family = "directory" })
    for g, idx in ipairs(groups) do
      local r, by_id = out[g], {}
      if r.doc and type(r.doc.responses) == "table" then
        for _, item in ipairs(r.doc.responses) do
          if type(item) == "table" and item.id ~= nil then by_id[tostring(item.id)] = item end
        end
      end
      for k, i in ipairs(idx) do
        if not settle(i, r, by_id[tostring(k)]) then later[#later + 1] = i end
      end
    end
    table.sort(later)
    pending = later
  end
  local ok = 0
  for i = 1, n do
    if succeeded(results[i].status) then ok = ok + 1 end
  end
  return results, { ok = ok, failed = n - ok }
end

return M
