--- Client options: schema, the connector's aliases, environment defaults,
-- auth-mode selection and endpoint checks. Produces the normalised table
-- the client and the C session are built from.
local check = require "graph.check"
local core = require "graph.core"

local M = {}

local FN = "graph.client"

M.schema = {
  auth = "string",
  tenant_id = "string", client_id = "string", client_secret = "string",
  username = "string", password = "string", refresh_token = "string",
  token_url = "string", url = "string", login_url = "string",
  scope = "string|table",
  verify_ssl = "boolean", ca_file = "string", http_proxy = "string",
  timeout = "number", connect_timeout = "number", stall_timeout = "number",
  max_retries = "number", retry_delay = "number", retry_budget = "number",
  retry_statuses = "table", on_retry = "function",
  on_refresh_token = "function", on_device_code = "function",
  certificate_file = "string", certificate_password = "string", certificate_alg = "string",
  cloud = "string", pacing = "table|false", log = "function",
  user_agent = "string", max_response_bytes = "number",
  -- the connector's own field names
  oauth_un = "string", oauth_pwd = "string", oauth_cl_id = "string",
  oauth_cl_secret = "string", cl_id = "string", cl_secret = "string",
}

M.aliases = {
  oauth_un = "username", oauth_pwd = "password",
  oauth_cl_id = "client_id", oauth_cl_secret = "client_secret",
  cl_id = "client_id", cl_secret = "client_secret",
}

M.defaults = {
  url = "https://graph.microsoft.com",
  login_url = "https://login.microsoftonline.com",
  scope = "https://graph.microsoft.com/.default",
  timeout = 100, connect_timeout = 30, stall_timeout = 30,
  max_retries = 3, retry_delay = 3, retry_budget = 180,
  verify_ssl = true,
}

-- National clouds (Graph docs "deployments"; identity platform "national clouds").
M.clouds = {
  global = { url = "https://graph.microsoft.com", login_url = "https://login.microsoftonline.com" },
  usgov = { url = "https://graph.microsoft.us", login_url = "https://login.microsoftonline.us" },
  usgov_dod = { url = "https://dod-graph.microsoft.us", login_url = "https://login.microsoftonline.us" },
  china = { url = "https://microsoftgraph.chinacloudapi.cn",
            login_url = "https://login.chinacloudapi.cn" },
}

-- Auth modes: the fields each one needs ("secret" = client_secret or
-- certificate_file), each + tenant_id or token_url. A public client (a
-- native app) has no secret: the delegated grants work without one.
local required = {
  client_credentials = { "client_id", "secret" },
  password = { "username", "password", "client_id" },
  refresh_token = { "refresh_token", "client_id" },
  device_code = { "client_id" },
}

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
    if not required[o.auth] then
      check.raise(("%s: field 'auth' must be one of 'client_credentials', 'password', " ..
        "'refresh_token', 'device_code', got '%s'"):format(FN, o.auth))
    end
    return o.auth
  end
  if o.refresh_token then return "refresh_token" end
  if o.username or o.password then return "password" end
  return "client_credentials"
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

  -- "not (x > 0)" also refuses NaN, which "x <= 0" would let through.
  -- luacheck: ignore 581
  for _, f in ipairs({ "timeout", "connect_timeout" }) do
    if not (o[f] > 0) then check.raise(("%s: field '%s' must be positive"):format(FN, f)) end
  end
  if not (o.stall_timeout >= 1) then
    check.raise(FN .. ": field 'stall_timeout' must be at least 1 (second)")
  end
  for i, status in ipairs(o.retry_statuses or {}) do
    if type(status) ~= "number" or status % 1 ~= 0 or status < 400 or status > 599 then
      check.raise(("%s: field 'retry_statuses' item %d must be an HTTP status from 400 to 599")
        :format(FN, i))
    end
  end
  if o.max_retries % 1 ~= 0 or o.max_retries < 0 or o.max_retries > 10 then
    check.raise(FN .. ": field 'max_retries' must be an integer from 0 to 10")
  end
  if o.retry_delay < 0 or o.retry_budget < 0 then
    check.raise(FN .. ": fields 'retry_delay' and 'retry_budget' must not be negative")
  end
  o.scope = scope_string(o.scope)
  o.url = endpoint("url", o.url)
  -- The version is the library's to add: "https://graph.microsoft.com/v1.0"
  -- (as some connector configurations carry it) means the same endpoint.
  o.url = o.url:gsub("/v1%.0$", "")
  local login
  o.login_url, login = endpoint("login_url", o.login_url)

  o.auth = pick_auth(o)
  -- Delegated grants ask for a refresh token, as the Microsoft SDKs do: Entra
  -- issues one only when the scope includes offline_access.
  if not scope_given and o.auth ~= "client_credentials" then o.scope = o.scope .. " offline_access" end
  for _, f in ipairs(required[o.auth]) do
    if f == "secret" then
      if o.client_secret == nil and o.certificate_file == nil then
        check.raise(("%s: auth '%s' needs field 'client_secret' or 'certificate_file'"):format(
          FN, o.auth))
      end
    elseif o[f] == nil then
      check.raise(("%s: auth '%s' needs field '%s'"):format(FN, o.auth, f))
    end
  end
  if o.certificate_alg and o.certificate_alg ~= "PS256" and o.certificate_alg ~= "RS256" then
    check.raise(FN .. ": field 'certificate_alg' must be 'PS256' or 'RS256'")
  end
  if o.auth == "device_code" and not o.on_device_code then
    o.on_device_code = function(info) print(info.message) end
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
  return o
end

return M
