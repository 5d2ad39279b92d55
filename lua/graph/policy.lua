--- The retry policy, in one place: what a result means, how long to wait
-- before another try, and the budget a call may spend (docs/api.md,
-- "Behaviour users rely on"). The pipeline and g.batch ask it; nothing
-- else decides a retry.
local errors = require "graph.errors"
local json = require "graph.json"

local M = {}

local DEFAULT_RETRY = { [429] = true, [503] = true, [504] = true }
local MAX_BACKOFF = 180      -- seconds, as Microsoft's Graph SDKs cap a single delay

--- Methods that may be repeated: the transport may retry them after a reset.
M.IDEMPOTENT = { GET = true, HEAD = true }

-- Network failures worth another try. Any method may be retried when the
-- request provably never left; an idempotent one also after a reset or a
-- timeout, as long as no response byte had arrived. A certificate that
-- fails verification fails again: never retried.
local NEVER_SENT = { couldnt_connect = true, couldnt_resolve = true, proxy = true }
local TRANSIENT = { send = true, recv = true, timeout = true, mismatched_response = true }

-- The token endpoint's answers worth another try: it refused the request
-- unread. A redemption that may have reached the server is never re-sent
-- (it may have rotated the refresh token); one that never left may be.
local TOKEN_RETRY = { [429] = true, [503] = true }

local Policy = {}
Policy.__index = Policy

local function status_set(list)
  if not list then return DEFAULT_RETRY end
  local set = {}
  for _, s in ipairs(list) do set[s] = true end
  return set
end

--- A policy from the client's options: max_retries, retry_delay,
-- retry_budget, retry_statuses; `redact` scrubs the errors it builds.
function M.new(o, redact)
  return setmetatable({ max_retries = o.max_retries, retry_delay = o.retry_delay,
                        retry_budget = o.retry_budget, statuses = status_set(o.retry_statuses),
                        redact = redact }, Policy)
end

--- Whether a transport failure may be retried.
function M.retryable_transport(err, idempotent)
  if err.kind ~= "transport" then return false end
  if NEVER_SENT[err.code] then return true end
  if not TRANSIENT[err.code] then return false end
  return err.request_sent == false or (idempotent and not err.response_started) or false
end

local function is_token_rejection(status, body)
  if status ~= 401 then return false end
  local doc = json.decode(body)
  local code = type(doc) == "table" and type(doc.error) == "table" and doc.error.code
  return code == nil or code == "InvalidAuthenticationToken"
end

--- Whether a status is one the client retries (retry_statuses).
function Policy:retries_status(status)
  return self.statuses[status] == true
end

--- Whether a failed token request may be sent again.
function Policy:retryable_token(err)
  if err.kind == "transport" then return M.retryable_transport(err, false) end
  return TOKEN_RETRY[err.status_code] and self.statuses[err.status_code] or false
end

--- What one exchange came to: "ok" (a 2xx); "reauth" (Graph refused the
-- token); or "error", err, whether it is worth another try. Any other
-- status is an error, a 3xx included: redirects are never followed.
-- `status` nil: `reason` is the C core's facts of a transport failure.
function Policy:outcome(idempotent, status, reason, headers, body, crid)
  if not status then
    local err = errors.from_core(reason, self.redact)
    return "error", err, M.retryable_transport(err, idempotent)
  end
  if status >= 200 and status < 300 then return "ok" end
  local err = errors.from_response(status, reason, headers, body, crid, self.redact)
  if is_token_rejection(status, body) then return "reauth", err, false end
  return "error", err, self.statuses[status] == true
end

--- Seconds to wait before retry number `n`: the server's Retry-After when
-- it sent one, else exponential backoff with full jitter.
function Policy:delay(n, err)
  if err.retry_after then return err.retry_after end
  local ceiling = math.min(self.retry_delay * 2 ^ (n - 1), MAX_BACKOFF)
  return ceiling * math.random()
end

--- The delay before another try of what failed with `err`, when it is
-- `retryable`, `retries` (made so far) is below max_retries and the wait
-- ends within `left` seconds (what remains of the call's deadline); else
-- nil, with `err` marked final: its `attempts`, and the retry_after a
-- retryable failure would have waited.
function Policy:next_delay(retryable, err, retries, left, attempts)
  local delay = retryable and self:delay(retries + 1, err)
  if not retryable or retries >= self.max_retries or delay > left then
    err.attempts = attempts
    if retryable then err.retry_after = err.retry_after or delay end
    return nil
  end
  return delay
end

return M
