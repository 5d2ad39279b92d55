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
local DOCUMENT = pretty.DOCUMENT      -- a fresh decoded object has no metatable yet

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
  local ok, session = pcall(core.session, options.session(o))
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
    redact = function(s) return session:redact(s) end,
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

-- Whether a transport failure may be retried; `idempotent` also allows a
-- reset or a timeout before any response byte.
local function retryable_transport(err, idempotent)
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

-- Seconds to wait before retry number `n`: the server's Retry-After when it
-- sent one, else exponential backoff with full jitter.
function Client:delay(n, err)
  if err.retry_after then return err.retry_after end
  local ceiling = math.min(self.retry_delay * 2 ^ (n - 1), MAX_BACKOFF)
  return ceiling * math.random()
end

--- The delay before another try of what failed with `err`, when it is
-- `retryable` and fits in the call's budget (`retries` made, `waited`
-- seconds); else nil, with `err` marked final: its attempts, and the
-- retry_after a retryable failure would have waited.
function Client:next_delay(retryable, err, retries, waited, attempts)
  local delay = retryable and self:delay(retries + 1, err)
  if not retryable or retries >= self.max_retries or waited + delay > self.retry_budget then
    err.attempts = attempts
    if retryable then err.retry_after = err.retry_after or delay end
    return nil
  end
  return delay
end

--- `err` with every string a user sees passed through the session's
-- redaction (the server may echo a secret in any field or header).
function Client:scrub(err)
  return errors.scrub(err, self.redact)
end

-- The token endpoint's answers worth another try: it refused the request
-- unread. A redemption that may have reached the server is never re-sent
-- (it may have rotated the refresh token); one that never left may be.
local TOKEN_RETRY = { [429] = true, [503] = true }

local function retryable_token(self, err)
  if err.kind == "transport" then return retryable_transport(err, false) end
  return TOKEN_RETRY[err.status_code] and self.retry_statuses[err.status_code] or false
end

--- Make sure the session holds a usable token before a request leaves:
-- acquire it here, in Lua, so that the token endpoint's 429 and 503 are
-- retried after their Retry-After within the call's budget (`retries` and
-- seconds `waited`, returned updated) and a rotated refresh token reaches
-- on_refresh_token before the call returns, whatever it comes to.
-- Returns true, nil, retries, waited or nil, err, retries, waited.
function Client:authorize(retries, waited)
  local session, tries = self.session, 0
  while true do
    tries = tries + 1
    local ok, err = session:token()
    if ok then
      if self.on_refresh_token then self:notice_rotation() end
      return true, nil, retries, waited
    end
    self:scrub(err)
    if self.logger then self:log("graph: token request failed: %s", tostring(err)) end
    local after = type(err.headers) == "table" and err.headers["retry-after"]
    if after and not err.retry_after then err.retry_after = core.retry_after(after) end
    local delay = self:next_delay(retryable_token(self, err), err, retries, waited, tries)
    if not delay then return nil, err, retries, waited end
    retries = retries + 1
    self:wait(retries, err, delay, "POST", "(token)")
    waited = waited + delay
  end
end

--- What one exchange came to: "ok" (a 2xx); "reauth" (Graph refused the
-- token); or an error, with whether it is worth another try. Any other
-- status is an error, a 3xx included: redirects are never followed.
function Client:outcome(method, status, reason, headers, body, crid)
  if not status then
    local err = self:scrub(reason)
    return "error", err, retryable_transport(err, IDEMPOTENT[method])
  end
  if status >= 200 and status < 300 then return "ok" end
  local err = errors.from_response(status, reason, headers, body, crid, self.redact)
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

--- One logical request: returns status, reason, headers, body (a 2xx),
-- attempts; or nil, err after the retries and the one re-authentication
-- allowed.
function Client:exchange(method, url, headers, body)
  local sent = request_headers(headers, body)
  local session, fresh = self.session, not IDEMPOTENT[method]
  -- retries: of the token and of the request (one budget); resent: of the request
  local attempts, retries, resent, waited, reauthenticated = 0, 0, 0, 0, false
  local first_crid
  while true do
    local tokens = self.logger and session:stats().token_requests
    local authorized, terr
    authorized, terr, retries, waited = self:authorize(retries, waited)
    if not authorized then return nil, terr end
    attempts = attempts + 1
    local started = tokens and core.now()
    local status, reason, rheaders, rbody = session:request(method, url, sent, body, true, fresh)
    if tokens then
      self:log_exchange(method, url, attempts, started, status, reason, rheaders, tokens)
    end
    if status and status >= 200 and status < 300 then      -- the usual case, first
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
      local delay = self:next_delay(retryable, err, retries, waited, attempts)
      if not delay then return nil, err end
      retries, resent = retries + 1, resent + 1
      self:wait(retries, err, delay, method, url)
      waited = waited + delay
      sent = again_headers(sent, first_crid, resent)
    end
  end
end

--- Tell on_retry, then sleep `delay` seconds before retry number `attempt`.
function Client:wait(attempt, err, delay, method, url)
  self:retrying(attempt, err, delay, method, url)
  core.sleep(delay)
end

function Client:retrying(attempt, err, delay, method, url)
  if self.on_retry then
    self.on_retry{ attempt = attempt, status = err.status_code, status_code = err.status_code,
                   code = err.code, delay = delay, method = method, url = url }
  end
end

-- A success that cannot be used: a decode error, with the client-request-id.
local function unusable(self, status, reason, headers, crid, code, message)
  return nil, self:scrub(errors.decode(status, reason, headers,
                                       crid or self.session:client_request_id(), code, message))
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
  -- prints as JSON in a REPL (a top-level array keeps its marker, which prints so too)
  return getmetatable(doc) and doc or setmetatable(doc, DOCUMENT), response
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

--- Pages a walk follows at most, unless the call gives `max_pages`.
M.MAX_PAGES = 10000

-- A walk that cannot go on: a decode error about the page just read.
function Client:paging_error(response, code, message)
  return self:scrub(errors.decode(response.status_code, response.reason, response.headers,
                                  nil, code, message))
end

-- Why `page` (page number `n`) cannot be walked on from: a code and a
-- message; else nil and the next URL (nil at the end). `followed` holds
-- the URLs already requested.
function Client:next_link(page, n, followed)
  local value = type(page) == "table" and page.value
  -- an array: empty, or with a first element (an object has neither)
  if type(value) ~= "table" or (value[1] == nil and next(value) ~= nil) then
    return "not_a_collection", "page " .. n .. " is not a collection (it has no 'value' array)"
  end
  local link = page["@odata.nextLink"]
  if link == nil then return nil, nil end
  if type(link) ~= "string" or not self:owns(link) or find(link, "[%s%c]") then
    return "bad_next_link", "@odata.nextLink of page " .. n .. " is not a URL on the " ..
      "configured Graph endpoint"
  end
  if followed[link] then
    return "page_loop", "@odata.nextLink of page " .. n .. " repeats a page already read"
  end
  return nil, link
end

--- Walk a collection from `url`, one request per step, at most `max_pages`
-- (default M.MAX_PAGES) pages. Each step returns page, response; nil after
-- the last page; or, once, false, err when a page fails, cannot be walked
-- on from, or would pass max_pages (never a silent end).
function Client:walk(url, headers, max_pages)
  max_pages = max_pages or M.MAX_PAGES
  local followed, n, done, last = { [url] = true }, 0, false, nil
  return function()
    if done or not url then return nil end
    done = true                                  -- until this step succeeds
    if n >= max_pages then
      return false, self:paging_error(last, "page_limit",
        ("the collection has more than max_pages (%d) pages"):format(max_pages))
    end
    local page, response = self:fetch("GET", url, headers)
    if not page then return false, response end
    n = n + 1
    local code, detail = self:next_link(page, n, followed)
    if code then return false, self:paging_error(response, code, detail) end
    url, last, done = detail, response, false
    if url then followed[url] = true end
    return page, response
  end
end

--- Every page of the collection at `url` merged into the first one's
-- `value` (all = true): result, last response; or nil, err when any page
-- fails, never a partial `value`.
function Client:collect(url, headers, max_pages)
  local step = self:walk(url, headers, max_pages)
  local result, response = step()
  if not result then return nil, response end
  local values = result.value
  for page, r in step do
    if not page then return nil, r end
    for _, item in ipairs(page.value) do values[#values + 1] = item end
    response = r
  end
  result["@odata.nextLink"] = nil
  return result, response
end

return M
