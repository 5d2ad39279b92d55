--- Client options: schema, the connector's aliases, environment defaults,
-- auth-mode selection and endpoint checks. Produces the normalised table
-- the client is built from, and the table for the C session.
--
-- What reaches the C session is described once, in C: core.options gives
-- each session option's type, range and default (csrc/gc_options.c), and
-- core.grants each grant's needs (GC_GRANTS in csrc/gc_oauth.h). Only what
-- the Lua layer alone reads is described here.
local check = require "graph.check"
local core = require "graph.core"

local M = {}

local FN = "graph.client"

-- The options only the Lua layer reads, and the connector's own names.
local lua_schema = {
  auth = "string", tenant_id = "string", url = "string", login_url = "string",
  scope = "string|table",          -- the session takes a string: an array is joined here
  max_retries = "number", retry_delay = "number", retry_budget = "number",
  retry_statuses = "table", on_retry = "function", on_refresh_token = "function",
  cloud = "string", pacing = "table|false", log = "function", loop = "table",
  oauth_un = "string", oauth_pwd = "string", oauth_cl_id = "string",
  oauth_cl_secret = "string", cl_id = "string", cl_secret = "string",
}

-- Their ranges, in the shape of core.options' entries, so one loop checks both.
local lua_ranges = {
  max_retries = { min = 0, max = 10, integer = true, expect = "an integer from 0 to 10" },
  retry_delay = { min = 0, max = math.huge, expect = "a number of 0 or more" },
  retry_budget = { min = 0, max = math.huge, expect = "a number of 0 or more" },
}

-- National clouds (Graph docs "deployments"; identity platform "national clouds").
M.clouds = {
  global = { url = "https://graph.microsoft.com", login_url = "https://login.microsoftonline.com" },
  usgov = { url = "https://graph.microsoft.us", login_url = "https://login.microsoftonline.us" },
  usgov_dod = { url = "https://dod-graph.microsoft.us", login_url = "https://login.microsoftonline.us" },
  china = { url = "https://microsoftgraph.chinacloudapi.cn",
            login_url = "https://login.chinacloudapi.cn" },
}

M.schema, M.limits, M.defaults = {}, {}, {
  url = M.clouds.global.url, login_url = M.clouds.global.login_url,
  max_retries = 3, retry_delay = 3, retry_budget = 180,
}
for name, spec in pairs(core.options) do
  if name ~= "grant" then          -- a client names its grant with `auth`
    M.schema[name], M.limits[name], M.defaults[name] = spec.type, spec, spec.default
  end
end
for name, kind in pairs(lua_schema) do M.schema[name] = kind end
for name, spec in pairs(lua_ranges) do M.limits[name] = spec end

-- Checked in a fixed order, so two bad fields always give the same error.
local limited = {}
for name in pairs(M.limits) do limited[#limited + 1] = name end
table.sort(limited)

M.aliases = {
  oauth_un = "username", oauth_pwd = "password",
  oauth_cl_id = "client_id", oauth_cl_secret = "client_secret",
  cl_id = "client_id", cl_secret = "client_secret",
}

-- The auth modes: C's grants but "none" (a session without credentials).
M.grants = {}
local auth_names = {}
for _, g in ipairs(core.grants) do
  if g.name ~= "none" then
    M.grants[g.name] = g
    auth_names[#auth_names + 1] = "'" .. g.name .. "'"
  end
end

local credential_fields = {
  "tenant_id", "client_id", "client_secret", "username", "password",
  "refresh_token", "token_url", "auth", "certificate_file",
}

-- Connection settings taken from the environment when not given.
local env_settings = {
  url = "GRAPH_URL", login_url = "AZURE_AUTHORITY_HOST", ca_file = "GRAPH_CA_FILE",
}

-- Credentials taken from the environment only when none were given at all,
-- so explicit credentials never mix with stray variables.
local env_credentials = {
  tenant_id = "AZURE_TENANT_ID", client_id = "AZURE_CLIENT_ID",
  client_secret = "AZURE_CLIENT_SECRET", username = "AZURE_USERNAME",
  password = "AZURE_PASSWORD", certificate_file = "AZURE_CLIENT_CERTIFICATE_PATH",
  certificate_password = "AZURE_CLIENT_CERTIFICATE_PASSWORD",
}

local function env(name)
  local v = os.getenv(name)
  if v ~= nil and v ~= "" then return v end
end

--- Split "scheme://authority/path" with light validation; nil when malformed.
local function parse_url(u)
  local scheme, authority, path = u:match("^(%a[%w+.-]*)://([^/?#]+)([^?#]*)$")
  if not scheme then return nil end
  scheme = scheme:lower()
  if authority:find("@", 1, true) then return nil end      -- no userinfo tricks
  local host = authority:match("^%[.-%]") or authority:match("^[^:]+")
  return { scheme = scheme, authority = authority:lower(), host = host and host:lower(),
           path = path }
end
M.parse_url = parse_url

local function is_loopback(host)
  return host == "localhost" or host == "[::1]" or (host or ""):match("^127%.%d+%.%d+%.%d+$") ~= nil
end

-- A URL as an error may show it: never its user info (a password may be
-- there) nor its query or fragment, nor a control character.
local function shown(url)
  if url:find("@", 1, true) then return "(a URL with user info, not shown)" end
  return (url:gsub("[?#].*$", "?..."):gsub("%c", "?"))
end

-- An endpoint that will see secrets or tokens: https, or http on loopback only.
local function endpoint(name, value)
  local trimmed = value:gsub("/+$", "")
  local u = parse_url(trimmed)
  if not u or (u.scheme ~= "https" and u.scheme ~= "http") then
    check.raise(("%s: field '%s' must be an http(s) URL without user info or query, got '%s'")
      :format(FN, name, shown(value)))
  end
  if u.scheme == "http" and not is_loopback(u.host) then
    check.raise(("%s: field '%s' must use https (plain http is allowed only on loopback)")
      :format(FN, name))
  end
  return trimmed, u
end

local function scope_string(s)
  if type(s) == "table" then
    for i = 1, #s do check.field(FN, "scope[" .. i .. "]", s[i], "id", true) end
    return table.concat(s, " ")
  end
  return s
end

local function pick_auth(o)
  if o.auth then
    if not M.grants[o.auth] then
      check.raise(("%s: field 'auth' must be one of %s, got '%s'"):format(
        FN, table.concat(auth_names, ", "), o.auth))
    end
    return o.auth
  end
  if o.refresh_token then return "refresh_token" end
  if o.username or o.password then return "password" end
  return "client_credentials"
end

-- Whether `v` is within `spec` (an entry of M.limits). "not within" also
-- refuses NaN, which "v < min" would let through.
local function within(spec, v)
  if spec.min then
    return v >= spec.min and v <= spec.max and (not spec.integer or v % 1 == 0)
  end
  if spec.values then
    for _, allowed in ipairs(spec.values) do
      if v == allowed then return true end
    end
    return false
  end
  return true
end

-- A need of a grant (core.grants' "field" or "field|other") is met.
local function has(o, need)
  for f in need:gmatch("[^|]+") do
    if o[f] ~= nil then return true end
  end
  return false
end

--- Validate `user` (the table given to graph.client) and return a normalised copy.
function M.normalize(user)
  check.table(FN, user, M.schema)
  local o = {}
  for k, v in pairs(user) do
    local name = M.aliases[k] or k
    if o[name] ~= nil and o[name] ~= v then
      check.raise(("%s: fields '%s' and '%s' disagree"):format(FN, k, name))
    end
    o[name] = v
  end
  local scope_given = o.scope ~= nil

  if o.cloud then
    local cloud = M.clouds[o.cloud]
    if not cloud then
      check.raise(("%s: field 'cloud' must be 'global', 'usgov', 'usgov_dod' or 'china', " ..
        "got '%s'"):format(FN, o.cloud))
    end
    o.url = o.url or cloud.url
    o.login_url = o.login_url or cloud.login_url
    o.scope = o.scope or (cloud.url .. "/.default")
  end
  for field, var in pairs(env_settings) do
    if o[field] == nil then o[field] = env(var) end
  end
  local has_credentials = false
  for _, f in ipairs(credential_fields) do
    if o[f] ~= nil then has_credentials = true end
  end
  if not has_credentials then
    for field, var in pairs(env_credentials) do o[field] = env(var) end
  end
  for k, v in pairs(M.defaults) do
    if o[k] == nil then o[k] = v end
  end
  if o.login_url and not o.login_url:find("://", 1, true) then
    o.login_url = "https://" .. o.login_url        -- AZURE_AUTHORITY_HOST may be a bare host
  end

  for _, name in ipairs(limited) do
    local v = o[name]
    if v ~= nil and not within(M.limits[name], v) then
      check.raise(("%s: field '%s' must be %s"):format(FN, name, M.limits[name].expect))
    end
  end
  for i, status in ipairs(o.retry_statuses or {}) do
    if type(status) ~= "number" or status % 1 ~= 0 or status < 400 or status > 599 then
      check.raise(("%s: field 'retry_statuses' item %d must be an HTTP status from 400 to 599")
        :format(FN, i))
    end
  end
  o.scope = scope_string(o.scope)
  o.url = endpoint("url", o.url)
  -- The version is the library's to add: "https://graph.microsoft.com/v1.0"
  -- (as some connector configurations carry it) means the same endpoint.
  o.url = o.url:gsub("/v1%.0$", "")
  local login
  o.login_url, login = endpoint("login_url", o.login_url)

  o.auth = pick_auth(o)
  local grant = M.grants[o.auth]
  -- Delegated grants ask for a refresh token, as the Microsoft SDKs do: Entra
  -- issues one only when the scope includes offline_access.
  if not scope_given and grant.delegated then o.scope = o.scope .. " offline_access" end
  for _, need in ipairs(grant.needs) do      -- a grant that shows the user a code
    if need == "on_device_code" and o.on_device_code == nil then
      o.on_device_code = function(info) print(info.message) end
    end
  end

  if o.token_url then
    local url, u = endpoint("token_url", o.token_url)
    local prefix = login.path
    if u.authority ~= login.authority or u.scheme ~= login.scheme
       or u.path:sub(1, #prefix) ~= prefix
       or not u.path:sub(#prefix + 1):match("^/[^/]+/oauth2/v2%.0/token$") then
      check.raise(("%s: field 'token_url' must be %s/{tenant}/oauth2/v2.0/token"):format(
        FN, o.login_url))
    end
    o.token_url = url
  else
    -- Never a silent "common" or "organizations": a single-tenant app (the
    -- default registration) fails there with AADSTS50194. A multi-tenant
    -- app names one of them as its tenant_id.
    if o.tenant_id == nil then
      check.raise(("%s: auth '%s' needs field 'tenant_id' (or 'token_url'); an app " ..
        "registered for several tenants may give 'organizations' or 'common'"):format(FN, o.auth))
    end
    o.token_url = o.login_url .. "/" .. core.escape(o.tenant_id) .. "/oauth2/v2.0/token"
  end
  for _, need in ipairs(grant.needs) do
    if not has(o, need) then
      check.raise(("%s: auth '%s' needs field '%s'"):format(FN, o.auth, (need:gsub("|", "' or '"))))
    end
  end
  return o
end

--- The table for core.session: the session's fields of a normalised `o`.
function M.session(o)
  local t = {}
  for name in pairs(core.options) do t[name] = o[name] end
  t.grant = o.auth
  return t
end

return M
