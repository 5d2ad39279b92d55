--- The client: one C session (connections + token cache) and the request
-- pipeline every action goes through: auth, retries, errors, JSON.
local core = require "graph.core"
local errors = require "graph.errors"
local json = require "graph.json"
local options = require "graph.options"
local check = require "graph.check"
local pacing = require "graph.pacing"
local pretty = require "graph.pretty"

local M = {}

local find, lower = string.find, string.lower
local decode = json.decode
local DOCUMENT = pretty.DOCUMENT      -- a fresh decoded table has no metatable yet

-- Methods keep `self` for a uniform call style even where they need no state.
-- luacheck: ignore 212/self

local Client = {}
Client.__index = Client
Client.__name = "graph.client"

local DEFAULT_RETRY = { [429] = true, [503] = true, [504] = true }
local MAX_BACKOFF = 180      -- seconds, as Microsoft's Graph SDKs cap a single delay

local function status_set(list)
  if not list then return DEFAULT_RETRY end
  local set = {}
  for _, s in ipairs(list) do set[s] = true end
  return set
end

--- Create a client from the table given to graph.client (see graph.options).
function M.new(user)
  local o = options.normalize(user)
  local ok, session = pcall(core.session, {
    grant = o.auth, token_url = o.token_url, client_id = o.client_id,
    client_secret = o.client_secret, username = o.username, password = o.password,
    refresh_token = o.refresh_token, scope = o.scope,
    certificate_file = o.certificate_file, certificate_password = o.certificate_password,
    certificate_alg = o.certificate_alg, on_device_code = o.on_device_code,
    timeout = o.timeout, connect_timeout = o.connect_timeout, stall_timeout = o.stall_timeout,
    verify_ssl = o.verify_ssl, ca_file = o.ca_file, http_proxy = o.http_proxy,
    user_agent = o.user_agent, max_response_bytes = o.max_response_bytes,
  })
  if not ok then          -- e.g. an unreadable certificate file: the caller's mistake
    check.raise((tostring(session):gsub("^.-graph%.core%.session: ", "graph.client: ")))
  end
  local self = setmetatable({
    session = session,
    graph_url = o.url,
    v1_root = o.url .. "/v1.0",
    auth = o.auth,
    tenant_id = o.tenant_id,
    client_id = o.client_id,
    max_retries = o.max_retries,
    retry_delay = o.retry_delay,
    retry_budget = o.retry_budget,
    retry_statuses = status_set(o.retry_statuses),
    on_retry = o.on_retry,
    pacing = pacing.new(o.pacing),
    logger = o.log or (os.getenv("GRAPH_DEBUG") and os.getenv("GRAPH_DEBUG") ~= "" and
                       os.getenv("GRAPH_DEBUG") ~= "0" and M.stderr_log) or nil,
    on_refresh_token = o.on_refresh_token,
    last_refresh_token = o.refresh_token,
  }, Client)
  return self
end

--- The default debug log (GRAPH_DEBUG=1): one line a request on stderr.
function M.stderr_log(line)
  io.stderr:write(line, "\n")
end

-- Debug logging: never a secret (the C core's redaction runs over every
-- line, and the Authorization header is only ever shown redacted).
function Client:log(fmt, ...)
  if self.logger then self.logger(self.session:redact(fmt:format(...))) end
end

-- After an exchange: the request, its outcome and timing, and whether a
-- token was acquired on the way.
function Client:log_exchange(method, url, attempt, started, status, reason, headers, tokens_before)
  if not self.logger then return end
  local tokens = self.session:stats().token_requests
  if tokens > tokens_before then self:log("graph: token acquired (token request %d)", tokens) end
  local ms = (core.now() - started) * 1000
  if status then
    self:log("graph: %s %s Authorization: Bearer <redacted> -> %d %s in %.1f ms " ..
             "(attempt %d, request-id %s)", method, url, status, reason, ms, attempt,
             tostring(headers["request-id"]))
  else
    self:log("graph: %s %s Authorization: Bearer <redacted> -> %s in %.1f ms (attempt %d)",
             method, url, tostring(reason), ms, attempt)
  end
end

function Client:__tostring()
  return ("graph.client (%s, tenant %s, client %s, %s)"):format(
    self.auth, self.tenant_id or "-", self.client_id or "-", self.graph_url)
end

function Client:close()
  self.session:close()
end
Client.__close = Client.close

--- The current refresh token (rotated ones replace the original), or nil.
function Client:refresh_token()
  return self.session:refresh_token()
end

-- Tell the script when the identity platform rotated its refresh token.
function Client:notice_rotation()
  if not self.on_refresh_token then return end
  local rt = self.session:refresh_token()
  if rt and rt ~= self.last_refresh_token then
    self.last_refresh_token = rt
    self.on_refresh_token(rt)
  end
end

-- Network failures worth another try. Any method may be retried when the
-- request provably never left; GET (idempotent) also after a reset or a
-- timeout, as long as no response byte had arrived. A certificate that
-- fails verification fails again: never retried.
local IDEMPOTENT = { GET = true, HEAD = true }
local NEVER_SENT = { couldnt_connect = true, couldnt_resolve = true, proxy = true }
local TRANSIENT = { send = true, recv = true, timeout = true, mismatched_response = true }

local function retryable_transport(method, err)
  if err.kind ~= "transport" then return false end
  if NEVER_SENT[err.code] then return true end
  if not TRANSIENT[err.code] then return false end
  return err.request_sent == false or (IDEMPOTENT[method] and not err.response_started)
end

local function is_token_rejection(status, body)
  if status ~= 401 then return false end
  local doc = json.decode(body)
  local code = type(doc) == "table" and type(doc.error) == "table" and doc.error.code
  return code == nil or code == "InvalidAuthenticationToken"
end

-- Seconds to wait before retry number `n`: the server's Retry-After when it
-- sent one, else exponential backoff with full jitter.
function Client:delay(n, err)
  if err.retry_after then return err.retry_after end
  local ceiling = math.min(self.retry_delay * 2 ^ (n - 1), MAX_BACKOFF)
  return ceiling * math.random()
end

--- What one exchange came to: "ok"; "reauth" (Graph refused the token); or
-- an error, with whether it is worth another try.
function Client:outcome(method, status, reason, headers, body, crid)
  if not status then
    local err = reason
    return "error", err, retryable_transport(method, err)
  end
  if status < 400 then return "ok" end
  local err = errors.from_response(status, reason, headers, body, crid,
                                   function(s) return self.session:redact(s) end)
  if is_token_rejection(status, body) then return "reauth", err, false end
  return "error", err, self.retry_statuses[status] == true
end

-- The headers of a request: Accept, the caller's, and Content-Type for a
-- body. The C core adds client-request-id (a new GUID) unless one is given.
local ACCEPT_JSON = { Accept = "application/json" }

local function request_headers(headers, body)
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
local function again_headers(sent, crid, retries)
  local again = {}
  for k, v in pairs(sent) do again[k] = v end
  again["client-request-id"] = crid
  again["Retry-Attempt"] = retries and tostring(retries)
  return again
end

--- One logical request: returns status, reason, headers, body (status < 400),
-- attempts; or nil, err after the retries and the one
-- re-authentication allowed.
function Client:exchange(method, url, headers, body)
  local sent = request_headers(headers, body)
  local session, fresh = self.session, not IDEMPOTENT[method]
  local attempts, retries, waited, reauthenticated = 0, 0, 0, false
  local first_crid
  while true do
    attempts = attempts + 1
    local tokens = self.logger and session:stats().token_requests
    local started = tokens and core.now()
    local status, reason, rheaders, rbody = session:request(method, url, sent, body, true, fresh)
    if tokens then
      self:log_exchange(method, url, attempts, started, status, reason, rheaders, tokens)
    end
    if status and status < 400 then            -- the usual case, first
      if self.on_refresh_token then self:notice_rotation() end
      return status, reason, rheaders, rbody, attempts
    end
    local crid = status and session:client_request_id() or reason.client_request_id
    first_crid = first_crid or crid
    local outcome, err, retryable = self:outcome(method, status, reason, rheaders, rbody, crid)
    if outcome == "reauth" and not reauthenticated then
      reauthenticated = true            -- expired or revoked: one fresh token, once
      session:drop_token()
      sent = again_headers(sent, first_crid)
    else
      local delay = retryable and self:delay(retries + 1, err)
      if not retryable or retries >= self.max_retries or waited + delay > self.retry_budget then
        err.attempts = attempts
        if retryable then err.retry_after = err.retry_after or delay end
        return nil, err
      end
      retries = retries + 1
      self:retrying(retries, err, delay, method, url)
      core.sleep(delay)
      waited = waited + delay
      sent = again_headers(sent, first_crid, retries)
    end
  end
end

function Client:retrying(attempt, err, delay, method, url)
  if self.on_retry then
    self.on_retry{ attempt = attempt, status = err.status_code, status_code = err.status_code,
                   code = err.code, delay = delay, method = method, url = url }
  end
end

-- A success that cannot be used: a decode error, with the client-request-id.
local function unusable(self, status, reason, headers, crid, code, message)
  return nil, errors.decode(status, reason, headers, crid or self.session:client_request_id(),
                            code, message)
end

--- The document a successful response carries: the decoded JSON, or true
-- when there is none (204, or no body to a PATCH); nil, err when unusable.
-- With `raw`, a non-JSON answer (text/plain $count, a photo) is returned as
-- its text instead of being an error. `crid`: the client-request-id sent,
-- when not the session's last one.
function Client:document(method, status, reason, headers, body, crid, raw)
  local response = { status_code = status, reason = reason, headers = headers }
  if status == 204 or (body == "" and method ~= "GET") then return true, response end
  if body == "" then
    return unusable(self, status, reason, headers, crid, "invalid_json",
                    "response has an empty body where a JSON document was expected")
  end
  local ctype = headers["content-type"]
  local json_type = not ctype or find(ctype, "json", 1, true) or find(lower(ctype), "json", 1, true)
  if raw and not json_type then return body, response end
  if not json_type then
    return unusable(self, status, reason, headers, crid, "content_type",
                    ("expected a JSON response, got %s"):format(ctype))
  end
  local doc, msg = decode(body)
  if type(doc) ~= "table" then
    return unusable(self, status, reason, headers, crid, "invalid_json",
                    "response is not valid JSON: " .. tostring(msg or "not an object"))
  end
  return setmetatable(doc, DOCUMENT), response  -- prints as JSON in a REPL
end

--- The URL of `path` (below the version root) with an encoded query string.
function Client:url(path, query, version)
  local url = (version and (self.graph_url .. "/" .. version) or self.v1_root) .. path
  if query and query ~= "" then url = url .. "?" .. query end
  return url
end

function Client:fetch(method, url, headers, body, raw)
  local status, reason, rheaders, rbody, attempts = self:exchange(method, url, headers, body)
  if not status then return nil, reason end
  local doc, response = self:document(method, status, reason, rheaders, rbody, nil, raw)
  if not doc then response.attempts = attempts end
  return doc, response
end

--- Whether `link` (an @odata.nextLink) is on this client's Graph endpoint:
-- the token goes with it, so it must never lead elsewhere.
function Client:owns(link)
  return link:sub(1, #self.graph_url + 1) == self.graph_url .. "/"
end

function Client:bad_link(response)
  return errors.decode(response.status_code, response.reason, response.headers, nil,
    "bad_next_link", "@odata.nextLink points outside the configured Graph endpoint")
end

--- Follow @odata.nextLink from `first` until the end, merging `value`.
-- Links must stay on this client's Graph endpoint: the token goes with them.
function Client:follow(first, response, headers)
  local result = first
  local values = first.value
  if type(values) ~= "table" then return first, response end
  local page = first
  while type(page["@odata.nextLink"]) == "string" do
    local link = page["@odata.nextLink"]
    if not self:owns(link) then
      return nil, self:bad_link(response)
    end
    local err
    page, err = self:fetch("GET", link, headers)
    if not page then return nil, err end
    response = err
    if type(page.value) ~= "table" then break end
    for _, item in ipairs(page.value) do values[#values + 1] = item end
  end
  result["@odata.nextLink"] = nil
  return result, response
end

return M
