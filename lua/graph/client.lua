--- The client: one C session (connections + token cache), its retry
-- policy and pacing, and what the actions share: URLs, documents (JSON or
-- a decode error) and paging. Requests go through graph.pipeline.
local core = require "graph.core"
local driver = require "graph.driver"
local errors = require "graph.errors"
local json = require "graph.json"
local options = require "graph.options"
local check = require "graph.check"
local pacing = require "graph.pacing"
local pipeline = require "graph.pipeline"
local policy = require "graph.policy"
local pretty = require "graph.pretty"

local M = {}

local FN = "graph.client"
local find, lower = string.find, string.lower
local decode = json.decode
local DOCUMENT = pretty.DOCUMENT      -- a fresh decoded object has no metatable yet

-- Methods keep `self` for a uniform call style even where they need no state.
-- luacheck: ignore 212/self

local Client = {}
Client.__index = Client
Client.__name = "graph.client"

--- Create a client from the table given to graph.client (see graph.options).
function M.new(user)
  local o = options.normalize(user)
  if o.loop ~= nil then require("graph.loop").check(o.loop, FN) end
  local ok, session = pcall(core.session, options.session(o))
  if not ok then          -- e.g. an unreadable certificate file: the caller's mistake
    check.raise((tostring(session):gsub("^.-graph%.core%.session: ", "graph.client: ")))
  end
  local d = driver.new(session, o.loop)
  local self = setmetatable({
    session = session,
    driver = d,
    graph_url = o.url,
    v1_root = o.url .. "/v1.0",
    auth = o.auth,
    tenant_id = o.tenant_id,
    client_id = o.client_id,
    on_retry = o.on_retry,
    pacing = pacing.new(o.pacing, d),
    logger = o.log or (os.getenv("GRAPH_DEBUG") and os.getenv("GRAPH_DEBUG") ~= "" and
                       os.getenv("GRAPH_DEBUG") ~= "0" and M.stderr_log) or nil,
    on_refresh_token = o.on_refresh_token,
    on_device_code = o.on_device_code,
    timeout = o.timeout,
    last_refresh_token = o.refresh_token,
    redact = function(s) return session:redact(s) end,
  }, Client)
  self.policy = policy.new(o, self.redact)
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

function Client:__tostring()
  return ("graph.client (%s, tenant %s, client %s, %s)"):format(
    self.auth, self.tenant_id or "-", self.client_id or "-", self.graph_url)
end

function Client:close()
  self.driver:close()        -- coroutines waiting on a loop find the client closed
  self.session:close()       -- from on_device_code too: the sign-in then ends with nil, err
  self.closed = true
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

--- `err` with every string a user sees passed through the session's
-- redaction (the server may echo a secret in any field or header).
function Client:scrub(err)
  return errors.scrub(err, self.redact)
end

--- Tell on_retry about retry number `attempt` of method/url, `delay`
-- seconds from now.
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
  local status, reason, rheaders, rbody, attempts = pipeline.one(self, method, url, headers, body)
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
  while true do                  -- not a generic for: PUC 5.1 cannot yield from its iterator
    local page, r = step()
    if page == nil then break end
    if not page then return nil, r end
    for _, item in ipairs(page.value) do values[#values + 1] = item end
    response = r
  end
  result["@odata.nextLink"] = nil
  return result, response
end

-- The public face of a client: the actions (bound by graph.client) and
-- close, refresh_token, __close, __tostring. The state and the pipeline
-- stay behind it, found through a weak table keyed by the public object.
local behind = setmetatable({}, { __mode = "k" })

M.CLOSED = "graph.client: attempt to use a closed client"

-- The client behind `pub`, open; a misuse is blamed on whoever called the
-- public method (level 3: the caller of our caller).
local function open_client(pub)
  local c = behind[pub]
  if not c then error("graph.client: expected a client (use client:method(), not client.method())", 3) end
  if c.closed then error(M.CLOSED, 3) end
  return c
end

local Public = { __name = "graph.client" }
local methods = {}
Public.__index = methods

function methods.close(pub)
  local c = behind[pub]
  if not c then error("graph.client: expected a client (use client:close())", 2) end
  if not c.closed then c:close() end
end
Public.__close = methods.close

--- The current refresh token (rotated ones replace the original), or nil.
function methods.refresh_token(pub)
  return open_client(pub).session:refresh_token()
end

function Public.__tostring(pub)
  local c = behind[pub]
  return c and tostring(c) or "graph.client"
end

--- The public object for the client `c`, with `bind(pub, c)` giving it
-- its actions.
function M.public(c, bind)
  local pub = setmetatable({}, Public)
  behind[pub] = c
  bind(pub, c)
  return pub
end

--- The client behind a public object (for the library's own specs).
function M.of(pub)
  return behind[pub]
end

return M
