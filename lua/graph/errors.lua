--- Error tables for Graph responses. Every run-time failure is `nil, err`
-- with err built here or in the C core, sharing one metatable.
local core = require "graph.core"
local json = require "graph.json"

local M = {}

local function innererror(e)
  local inner = type(e) == "table" and (e.innerError or e.innererror)
  return type(inner) == "table" and inner or {}
end

local function str(v)
  if type(v) == "string" then return v end
end

--- Error for a response whose status is >= 400.
-- `sent_crid` is the client-request-id we sent; `redact` scrubs secrets.
function M.from_response(status, reason, headers, body, sent_crid, redact)
  local err = {
    kind = "graph", status_code = status, reason = reason, headers = headers,
    request_id = headers["request-id"],
    client_request_id = headers["client-request-id"] or sent_crid,
    retry_after = headers["retry-after"] and core.retry_after(headers["retry-after"]),
  }
  local doc = (body ~= "") and json.decode(body) or nil
  if type(doc) == "table" and type(doc.error) == "table" then
    local e, inner = doc.error, innererror(doc.error)
    err.code = str(e.code)
    err.message = str(e.message) and redact(e.message)
    err.request_id = err.request_id or str(inner["request-id"])
    err.client_request_id = headers["client-request-id"] or str(inner["client-request-id"])
      or sent_crid
    err.date = str(inner.date)
  elseif body ~= "" then
    -- Not Graph's envelope (a gateway page, a cut-off body): say so, keep the status.
    err.kind = "decode"
    err.code = "invalid_json"
    err.message = ("%s: error body is not Graph's JSON error (%s)"):format(
      reason ~= "" and reason or tostring(status), headers["content-type"] or "no content type")
  else
    err.message = reason
  end
  return core.error(err)
end

--- Error for a success status whose body cannot be used.
function M.decode(status, reason, headers, sent_crid, code, message)
  return core.error{
    kind = "decode", code = code, message = message, status_code = status,
    reason = reason, headers = headers, request_id = headers["request-id"],
    client_request_id = headers["client-request-id"] or sent_crid,
  }
end

return M
