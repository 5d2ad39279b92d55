--- The errors users see, made here and only here (`new`), with the C
-- core's metatable (one `__tostring`). The C core makes none: it hands
-- the facts of a transport failure or of a token endpoint answer that is
-- no token as a plain table, and `from_core` makes the error of them. The
-- schema: docs/api.md, "Errors".
local core = require "graph.core"
local json = require "graph.json"

local M = {}

--- The Retry-After of a header table (lower-case names), in seconds, or
-- nil: the one reading of it (seconds, fractions or an HTTP date).
function M.retry_after(headers)
  local v = type(headers) == "table" and headers["retry-after"] or nil
  if v == nil then return nil end
  return core.retry_after(tostring(v))
end

--- `err` with every string field and every header name and value passed
-- through `redact` (a server may echo a secret anywhere). `kind` is ours:
-- kept.
function M.scrub(err, redact)
  for k, v in pairs(err) do
    if type(v) == "string" and k ~= "kind" then err[k] = redact(v) end
  end
  local headers = err.headers
  if type(headers) == "table" then
    local clean = {}                    -- a copy: the response's table is not ours to change
    for name, value in pairs(headers) do
      clean[type(name) == "string" and redact(name) or name] =
        type(value) == "string" and redact(value) or value
    end
    err.headers = clean
  end
  return err
end

--- The one constructor: the error of `fields` ({ kind =, code =,
-- message =, ... }: docs/api.md, "Errors"), every string of it passed
-- through `redact` when one is given. The table itself becomes the error.
function M.new(fields, redact)
  if redact then M.scrub(fields, redact) end
  return core.error(fields)
end

local function str(v)
  if type(v) == "string" then return v end
end

-- What an answer's headers say about it, into `err` (a field already set
-- wins): request-id (Graph's; the token endpoint's is x-ms-request-id),
-- Retry-After, and where a 3xx pointed (a redirect is never followed: the
-- token would go with it).
local function from_headers(err)
  local headers, status = err.headers, err.status_code
  if type(headers) ~= "table" then return end
  err.request_id = err.request_id or str(headers["request-id"]) or str(headers["x-ms-request-id"])
  err.retry_after = err.retry_after or M.retry_after(headers)
  if status and status >= 300 and status < 400 then err.location = str(headers.location) end
end

-- The identity platform's error reply (RFC 6749 section 5.2, with Entra's
-- additions), field by field: ours = theirs.
local OAUTH_FIELDS = {
  code = "error", message = "error_description", trace_id = "trace_id",
  correlation_id = "correlation_id", suberror = "suberror", error_uri = "error_uri",
  timestamp = "timestamp",
}

local function oauth_fields(err, reply)
  for ours, theirs in pairs(OAUTH_FIELDS) do err[ours] = str(reply[theirs]) end
  local codes = reply.error_codes       -- the AADSTS numbers only
  if type(codes) == "table" then
    err.error_codes = {}
    for _, n in ipairs(codes) do
      if type(n) == "number" then err.error_codes[#err.error_codes + 1] = n end
    end
  end
end

--- The error of the facts the C core hands (`nil, facts`, or a step's
-- `{ err = facts }`): kind, code, message, status_code, reason, headers,
-- client_request_id, request_sent, response_started; `oauth`, the identity
-- platform's error reply, is mapped here. `redact` scrubs every string.
-- An error already made comes back as it is (scrubbed again).
function M.from_core(facts, redact)
  local reply = facts.oauth
  if type(reply) == "table" then
    facts.oauth = nil
    oauth_fields(facts, reply)
  end
  from_headers(facts)
  return M.new(facts, redact)
end

local function innererror(e)
  local inner = type(e) == "table" and (e.innerError or e.innererror)
  return type(inner) == "table" and inner or {}
end

-- What a body that is not Graph's error envelope is, for the message.
local function not_envelope(status, reason, headers)
  local what = (reason ~= "" and reason or tostring(status))
  if status >= 300 and status < 400 then
    return ("%d %s: redirect to %s not followed"):format(status, what,
      headers.location or "(no Location)")
  end
  return ("%d %s: the body is not Graph's JSON error (%s)"):format(status, what,
    headers["content-type"] or "no content type")
end

--- Error for a response whose status is not 2xx: kind "graph", `code`
-- Graph's error.code, or "http_<status>" when the body is not Graph's
-- error envelope (a proxy's HTML page, an empty body) and for any 3xx: a
-- redirect is never followed, `location` says where it pointed.
-- `sent_crid` is the client-request-id we sent; `redact` scrubs secrets
-- from every string field.
function M.from_response(status, reason, headers, body, sent_crid, redact)
  local err = {
    kind = "graph", status_code = status, reason = reason, headers = headers,
    code = "http_" .. tostring(status),
    client_request_id = headers["client-request-id"] or sent_crid,
  }
  from_headers(err)
  local redirect = status >= 300 and status < 400
  local doc = (body ~= "" and not redirect) and json.decode(body) or nil
  if type(doc) == "table" and type(doc.error) == "table" then
    local e, inner = doc.error, innererror(doc.error)
    err.code = str(e.code) or err.code
    err.message = str(e.message)
    err.request_id = err.request_id or str(inner["request-id"])
    err.client_request_id = headers["client-request-id"] or str(inner["client-request-id"])
      or sent_crid
    err.date = str(inner.date)
  elseif body ~= "" or redirect then
    err.message = not_envelope(status, reason, headers)
  else
    err.message = reason
  end
  return M.new(err, redact)
end

--- Error for a success status whose body cannot be used.
function M.decode(status, reason, headers, sent_crid, code, message)
  return M.new{
    kind = "decode", code = code, message = message, status_code = status,
    reason = reason, headers = headers, request_id = headers["request-id"],
    client_request_id = headers["client-request-id"] or sent_crid,
  }
end

return M
