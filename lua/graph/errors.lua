--- The errors of the Lua layer, made here and only here (`new`), with the
-- C core's metatable (one `__tostring`). The C core hands the facts of a
-- transport or token failure as an error of the same shape. The schema:
-- docs/api.md, "Errors".
local core = require "graph.core"
local json = require "graph.json"

local M = {}

--- An error from its facts: { kind =, code =, message =, ... } (the fields
-- of docs/api.md, "Errors").
function M.new(facts)
  return core.error(facts)
end

local function innererror(e)
  local inner = type(e) == "table" and (e.innerError or e.innererror)
  return type(inner) == "table" and inner or {}
end

local function str(v)
  if type(v) == "string" then return v end
end

--- `err` with every string field and every header value passed through
-- `redact` (a server may echo a secret anywhere). `kind` is ours: kept.
function M.scrub(err, redact)
  for k, v in pairs(err) do
    if type(v) == "string" and k ~= "kind" then err[k] = redact(v) end
  end
  local headers = err.headers
  if type(headers) == "table" then
    local clean = {}                    -- a copy: the response's table is not ours to change
    for name, value in pairs(headers) do
      clean[name] = type(value) == "string" and redact(value) or value
    end
    err.headers = clean
  end
  return err
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
-- redirect is never followed (the token would go with it), `location`
-- says where it pointed. `sent_crid` is the client-request-id we sent; `redact`
-- scrubs secrets from every string field.
function M.from_response(status, reason, headers, body, sent_crid, redact)
  local err = {
    kind = "graph", status_code = status, reason = reason, headers = headers,
    code = "http_" .. tostring(status),
    request_id = headers["request-id"],
    client_request_id = headers["client-request-id"] or sent_crid,
    retry_after = headers["retry-after"] and core.retry_after(headers["retry-after"]),
  }
  local redirect = status >= 300 and status < 400
  err.location = redirect and headers.location or nil
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
  return M.new(M.scrub(err, redact))
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
