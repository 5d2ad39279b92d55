-- graph.cli: the `msgraph` command-line tool (bin/msgraph calls `main`).
-- JSON on stdout, the error's one line on stderr, and exit codes:
-- 0 ok, 1 Graph, auth or decode error, 2 usage, 3 transport.
local compat = require "graph.compat"
local pretty = require "graph.pretty"
local users = require "graph.users"

local M = {}
local unpack = table.unpack or unpack      -- Lua 5.1 and LuaJIT

local EXIT = { ok = 0, graph = 1, auth = 1, decode = 1, usage = 2, transport = 3 }
M.EXIT = EXIT

local codec = require "graph.json"           -- "nan" and "inf" are not JSON: they stay strings

-- A usage error: raised as a table so it is told apart from a Lua error.
local Usage = {}
local current                               -- the command being run, for "Try ..." hints
local function usage(msg, command)
  error(setmetatable({ message = msg, command = command or current }, Usage), 0)
end

---------------------------------------------------------------------------
-- Options: every name with its kind; each command lists the ones it takes.

local KINDS = {
  url = "value", ["login-url"] = "value", retries = "value", pretty = "flag", raw = "flag", help = "flag",
  select = "value", filter = "value", search = "value", orderby = "value", top = "value",
  all = "flag", count = "flag", body = "value", query = "list", header = "list", beta = "flag",
}
local GLOBAL = { "url", "login-url", "retries", "pretty", "raw", "help" }

local OPTION_HELP = {
  select = "--select a,b      properties to return",
  filter = "--filter EXPR     OData $filter (an advanced query: ConsistencyLevel eventual)",
  search = "--search EXPR     $search, e.g. displayName:ada (quotes are added)",
  orderby = "--orderby EXPR    $orderby",
  top = "--top N           page size",
  all = "--all             follow @odata.nextLink to the last page",
  count = "--count           add @odata.count",
  body = "--body JSON       request body (- reads it from stdin)",
  query = "--query k=v       a query parameter (repeatable)",
  header = "--header 'N: v'   a request header (repeatable)",
  beta = "--beta            use the beta endpoint instead of v1.0",
}

---------------------------------------------------------------------------
-- Helpers

local function is_tty(fd)
  local r = os.execute("test -t " .. fd)
  return r == true or r == 0
end

local function trim_location(msg)
  return (tostring(msg):gsub("^[^\n:]*:%d+: ", ""))
end

local function positive_integer(name, s)
  local n = tonumber(s)
  if not n or n < 1 or n % 1 ~= 0 then usage(("--%s wants a positive integer, got '%s'"):format(name, s)) end
  return math.floor(n)
end

---------------------------------------------------------------------------
-- users update: key=value takes the property's type from Graph's v1.0 schema
-- (lua/graph/schema.lua, generated from the CSDL); key:=JSON sends raw JSON.

local user_types, user_names            -- property -> EDM type; lower-case name -> name
local function user_property(name)
  if not user_types then
    user_types, user_names = require("graph.schema").user, {}
    for k in pairs(user_types) do user_names[k:lower()] = k end
  end
  local canonical = user_names[name:lower()]
  return canonical, canonical and user_types[canonical]
end

local DATETIME = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d"
local SCALARS = {
  ["Edm.String"] = function(v) return v end,
  ["Edm.Guid"] = function(v) return v end,
  ["Edm.Boolean"] = function(v)
    if v == "true" then return true elseif v == "false" then return false end
  end,
  ["Edm.Int32"] = function(v)
    local n = v:match("^%-?%d+$") and compat.tointeger(tonumber(v))
    return n and n >= -2^31 and n < 2^31 and n or nil
  end,
  ["Edm.Int64"] = function(v) return v:match("^%-?%d+$") and compat.tointeger(tonumber(v)) end,
  ["Edm.Double"] = function(v) return v:match("^[%d.eE+-]+$") and tonumber(v) end,
  ["Edm.DateTimeOffset"] = function(v) return v:find(DATETIME) and v end,
}

-- A Collection(Edm.String) value: a JSON array of strings, or a comma list.
local function string_list(v)
  if v:sub(1, 1) == "[" then
    local list = codec.decode(v)
    if type(list) ~= "table" then return nil end
    for _, item in ipairs(list) do if type(item) ~= "string" then return nil end end
    return list
  end
  local list = codec.array()            -- "otherMails=" clears the list: []
  for item in (v .. ","):gmatch("([^,]*),") do
    if item ~= "" then list[#list + 1] = item end
  end
  return list
end

-- One key=value or key:=JSON argument: the property's name and its JSON value.
local function update_field(arg)
  local k, raw, v = arg:match("^([^=:]+)(:?)=(.*)$")
  if not k then usage(("'%s' is not key=value or key:=JSON"):format(arg)) end
  local name, edm = user_property(k)
  if not name then usage(("'%s' is not a property of a user in Graph v1.0"):format(k)) end
  if raw == ":" then
    local value = codec.decode(v)
    if value == nil then usage(("%s:= wants JSON, got '%s'"):format(name, v)) end
    return name, value
  end
  local value
  if SCALARS[edm] then
    value = SCALARS[edm](v)
  elseif edm == "Collection(Edm.String)" then
    value = string_list(v)
  else                                   -- a complex type or a collection of them
    usage(("%s is a %s: give it as JSON, %s:={...}"):format(name, edm, name))
  end
  if value == nil then
    usage(("%s is a %s, not '%s' (key:=JSON sends a value as it is)"):format(name, edm, v))
  end
  return name, value
end

local function percent_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- An error of the library as a plain table for the JSON output.
local function error_table(err)
  return { error = { kind = err.kind, code = err.code, message = err.message,
                     status_code = err.status_code, request_id = err.request_id } }
end

local function is_error(v)
  local mt = getmetatable(v)
  return type(v) == "table" and type(mt) == "table" and mt.__name == "graph.error"
end

-- The progress bar: on stderr, only when it is a terminal (MSGRAPH_PROGRESS=1|0 overrides).
local WIDTH = 30
local function progress(label)
  local force = os.getenv("MSGRAPH_PROGRESS")
  if force == "0" or (force ~= "1" and not is_tty(2)) then return nil end
  local bar = { drawn = false }
  function bar.update(done, total)
    local line
    if total and total > 0 then
      local filled = math.floor(WIDTH * done / total)
      line = ("%s [%s%s] %d/%d %3d%%"):format(label, ("#"):rep(filled), ("-"):rep(WIDTH - filled),
        done, total, math.floor(100 * done / total))
    else
      line = ("%s: %d"):format(label, done)
    end
    io.stderr:write("\r", line, "\27[K")
    io.stderr:flush()
    bar.drawn = true
  end
  function bar.finish()
    if bar.drawn then io.stderr:write("\n") end
  end
  return bar
end

---------------------------------------------------------------------------
-- Commands: run(g, positional, options) returns what the library returned.

local function collection_args(o)
  return { filter = o.filter, search = o.search, orderby = o.orderby, select = o.select,
           count = o.count or nil, all = o.all or nil,
           top = o.top and positive_integer("top", o.top) }
end

-- users list --all: page by page, so the progress bar can move. The query is
-- the one users.list sends (advanced queries need ConsistencyLevel: eventual).
local function list_all(g, o)
  local advanced = o.filter or o.search or o.orderby or o.count
  local search = users.search_query(o.search)
  local query = {
    { "$select", o.select }, { "$filter", o.filter }, { "$search", search },
    { "$orderby", o.orderby }, { "$top", o.top and positive_integer("top", o.top) },
    { "$count", advanced and "true" or nil },
  }
  local q = {}
  for _, p in ipairs(query) do if p[2] ~= nil then q[#q + 1] = p end end
  local bar = progress("users")
  local result, response = { value = {} }, nil
  for page, resp in g.pages{ path = "/users", query = q,
                             headers = advanced and { ConsistencyLevel = "eventual" } or nil } do
    if page == false then
      if bar then bar.finish() end
      return nil, resp
    end
    response = resp
    result["@odata.count"] = result["@odata.count"] or page["@odata.count"]
    for _, u in ipairs(page.value or {}) do result.value[#result.value + 1] = u end
    if bar then bar.update(#result.value, result["@odata.count"]) end
  end
  if bar then bar.finish() end
  return result, response
end

local function request_args(pos, o)
  local method = pos[1]:upper()
  if not method:match("^%u+$") then usage("METHOD must be a word such as GET or PATCH", "request") end
  local path, qs = pos[2]:match("^([^?]*)%??(.*)$")
  if path:sub(1, 1) ~= "/" then usage("the path must start with '/', e.g. /users", "request") end
  local query = {}
  local function add(kv, where)
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then usage(("%s '%s' is not k=v"):format(where, kv), "request") end
    query[#query + 1] = { percent_decode(k), percent_decode(v) }
  end
  for kv in qs:gmatch("[^&]+") do add(kv, "query parameter") end
  for _, kv in ipairs(o.query or {}) do add(kv, "--query") end
  local headers
  for _, h in ipairs(o.header or {}) do
    local name, value = h:match("^([%w-]+):%s*(.-)%s*$")
    if not name then usage(("--header '%s' is not 'Name: value'"):format(h), "request") end
    headers = headers or {}
    headers[name] = value
  end
  local body = o.body
  if body == "-" then body = io.stdin:read("*a") end
  if body and codec.decode(body) == nil then usage("--body is not valid JSON", "request") end
  return { method = method, path = percent_decode(path), query = query[1] and query or nil,
           headers = headers, body = body, version = o.beta and "beta" or nil }
end

local COMMANDS = {
  {
    name = "users get", args = "ID", min = 1, max = 1, options = { "select" },
    summary = "a user by id or userPrincipalName",
    example = "msgraph users get adele.vance@contoso.com --select id,displayName",
    run = function(g, pos, o) return g.users.get{ id = pos[1], select = o.select } end,
  },
  {
    name = "users list", args = "", min = 0, max = 0,
    options = { "filter", "search", "orderby", "top", "count", "select", "all" },
    summary = "users of the tenant (a progress count on stderr with --all)",
    example = "msgraph users list --filter \"startswith(displayName,'A')\" --all",
    run = function(g, _, o)
      if o.all then return list_all(g, o) end
      local a = collection_args(o)
      return g.users.list(a)
    end,
  },
  {
    name = "users memberof", args = "ID", min = 1, max = 1,
    options = { "filter", "search", "orderby", "top", "count", "select", "all" },
    summary = "groups, directory roles and administrative units the user is a member of",
    example = "msgraph users memberof adele.vance@contoso.com --count " ..
              "--filter \"startswith(displayName,'Global')\"",
    run = function(g, pos, o)
      local a = collection_args(o)
      a.id = pos[1]
      return g.users.memberof(a)
    end,
  },
  {
    name = "users update", args = "ID key=value...", min = 2, options = {},
    summary = "PATCH the user; each value takes its property's type from Graph's schema " ..
              "(a, b lists for string collections), key:=JSON sends raw JSON (officeLocation:=null)",
    example = "msgraph users update adele.vance@contoso.com accountEnabled=false jobTitle='Head of Sales'",
    run = function(g, pos)
      local body = {}
      for i = 2, #pos do
        local name, value = update_field(pos[i])
        body[name] = value
      end
      return g.users.update{ id = pos[1], body = body }
    end,
  },
  {
    name = "users revoke-sessions", args = "ID", min = 1, max = 1, options = {},
    summary = "invalidate every refresh token and session of the user",
    example = "msgraph users revoke-sessions adele.vance@contoso.com",
    run = function(g, pos) return g.users.revoke_sessions{ id = pos[1] } end,
  },
  {
    name = "presence get", args = "ID...", min = 1, options = {},
    summary = "Teams presence: one id gives an object, several an array (a progress bar on stderr)",
    example = "msgraph presence get 87d349ed-44d7-43e1-9a83-5f2406dee5bd " ..
              "e2a9f0c4-3b1d-4c8e-9f6a-2d5b7e1c0a93",
    run = function(g, pos)
      if #pos == 1 then return g.presence.get{ id = pos[1] } end
      local bar = progress("presence")
      if bar then bar.update(0, #pos) end
      local results, summary = g.presence.get_many{ ids = pos, on_progress = bar and bar.update }
      if bar then bar.finish() end
      return results, summary
    end,
  },
  {
    name = "request", args = "METHOD /path", min = 2, max = 2,
    options = { "body", "query", "header", "beta" },
    summary = "any Graph endpoint, with the same auth, retries and errors",
    example = "msgraph request GET /users --query '$top=5' --query '$select=id,displayName'",
    run = function(g, pos, o) return g.request(request_args(pos, o)) end,
  },
}
local BY_NAME = {}
for _, c in ipairs(COMMANDS) do BY_NAME[c.name] = c end

---------------------------------------------------------------------------
-- Help

local function command_help(c)
  local lines = { ("usage: msgraph %s%s%s [options]"):format(c.name, c.args ~= "" and " " or "", c.args),
                  "", c.summary, "" }
  if #c.options > 0 then
    lines[#lines + 1] = "options:"
    for _, name in ipairs(c.options) do lines[#lines + 1] = "  " .. OPTION_HELP[name] end
    lines[#lines + 1] = ""
  end
  lines[#lines + 1] = "example:"
  lines[#lines + 1] = "  " .. c.example
  lines[#lines + 1] = ""
  lines[#lines + 1] = "See msgraph --help for the global options, environment and exit codes."
  return table.concat(lines, "\n") .. "\n"
end

local function main_help()
  local lines = { "usage: msgraph [options] COMMAND [ARGS]", "",
                  "Microsoft Graph from the shell: JSON on stdout, errors on stderr.", "",
                  "commands:" }
  for _, c in ipairs(COMMANDS) do
    local synopsis = { c.name, c.args ~= "" and c.args or nil }
    for _, name in ipairs(c.options) do
      synopsis[#synopsis + 1] = "[" .. OPTION_HELP[name]:match("^(.-)%s%s") .. "]"
    end
    lines[#lines + 1] = "  " .. table.concat(synopsis, " ")
    lines[#lines + 1] = "      " .. c.summary
  end
  for _, l in ipairs{
    "",
    "options:",
    "  --pretty          indented JSON (the default when stdout is a terminal)",
    "  --raw             compact JSON on one line (the default otherwise)",
    "  --url URL         Graph endpoint (default $GRAPH_URL, else https://graph.microsoft.com)",
    "  --login-url URL   identity platform (default $AZURE_AUTHORITY_HOST)",
    "  --retries N       retries of throttling and network failures (default 3; 0 fails fast)",
    "  -h, --help        this help; msgraph COMMAND --help for a command's own",
    "",
    "environment:",
    "  AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET (or AZURE_USERNAME and",
    "  AZURE_PASSWORD, or AZURE_CLIENT_CERTIFICATE_PATH), GRAPH_URL, AZURE_AUTHORITY_HOST,",
    "  GRAPH_CA_FILE; GRAPH_DEBUG=1 logs each request on stderr; MSGRAPH_PROGRESS=1 or 0",
    "  forces the progress bar on or off (by default: when stderr is a terminal).",
    "",
    "exit codes:",
    "  0 ok; 1 Graph or auth error, or a response that is not the JSON expected;",
    "  2 usage or configuration; 3 transport (connection, TLS, timeout).",
  } do lines[#lines + 1] = l end
  return table.concat(lines, "\n") .. "\n"
end

---------------------------------------------------------------------------
-- Parsing

-- argv -> words (command and arguments), options { name = value | true | {list} }.
local function parse(argv)
  local words, o = {}, {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, #argv do words[#words + 1] = argv[j] end
      break
    elseif a == "-h" then
      o.help = true
    elseif a:sub(1, 2) == "--" then
      local name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      local kind = KINDS[name]
      if not kind then usage("unknown option --" .. name) end
      if kind == "flag" then
        if value then usage("--" .. name .. " takes no value") end
        o[name] = true
      else
        if not value then
          i = i + 1
          value = argv[i]
          if value == nil then usage("--" .. name .. " needs a value") end
        end
        if kind == "list" then
          o[name] = o[name] or {}
          table.insert(o[name], value)
        else
          o[name] = value
        end
      end
    else
      words[#words + 1] = a
    end
    i = i + 1
  end
  return words, o
end

local GROUPS = { users = true, presence = true }

-- The command named by the first words, and the remaining positionals.
local function resolve(words)
  local w1, w2 = words[1], words[2]
  if w1 == "request" then return BY_NAME.request, { unpack(words, 2) } end
  if GROUPS[w1] then
    local c = w2 and BY_NAME[w1 .. " " .. w2]
    if c then return c, { unpack(words, 3) } end
    return nil, nil, w1
  end
  return nil
end

local function check_options(c, o)
  local allowed = {}
  for _, n in ipairs(GLOBAL) do allowed[n] = true end
  for _, n in ipairs(c.options) do allowed[n] = true end
  for name in pairs(o) do
    if not allowed[name] then usage(("'%s' takes no --%s"):format(c.name, name), c.name) end
  end
  if o.pretty and o.raw then usage("give --pretty or --raw, not both", c.name) end
end

local function check_arity(c, pos)
  if #pos < c.min or (c.max and #pos > c.max) then
    usage(("'%s' wants %s, got %d argument%s"):format(c.name, c.args, #pos, #pos == 1 and "" or "s"),
      c.name)
  end
end

---------------------------------------------------------------------------
-- Running

local function write_json(v, as_pretty)
  if type(v) == "string" then                 -- a non-JSON answer of g.request ($count, text)
    io.stdout:write(v, v:sub(-1) == "\n" and "" or "\n")
  else
    io.stdout:write(pretty.json(v, { compact = not as_pretty }), "\n")
  end
end

-- Print a bulk result (array of documents and errors); 1 when any failed.
local function report_bulk(pos, results, summary, as_pretty)
  local shown, failed = {}, {}
  for i, r in ipairs(results) do
    if is_error(r) then
      local e = error_table(r)
      e.id = pos[i]
      shown[i] = e
      failed[#failed + 1] = ("msgraph: %s: %s"):format(pos[i], tostring(r))
    else
      shown[i] = r
    end
  end
  write_json(shown, as_pretty)
  for i = 1, math.min(#failed, 5) do io.stderr:write(failed[i], "\n") end
  if #failed > 5 then io.stderr:write(("msgraph: ... and %d more\n"):format(#failed - 5)) end
  if summary.failed > 0 then
    io.stderr:write(("msgraph: %d of %d failed\n"):format(summary.failed, #results))
    return EXIT.graph
  end
  return EXIT.ok
end

local function run(argv)
  local words, o = parse(argv)
  if words[1] == "help" then
    table.remove(words, 1)
    o.help = true
  end
  local c, pos, group = resolve(words)
  if not c then
    if o.help and (#words == 0 or group) then
      io.stdout:write(main_help())
      return EXIT.ok
    end
    if #words == 0 then usage("a command is needed") end
    usage(("unknown command '%s'"):format(table.concat(words, " ", 1, math.min(#words, 2))))
  end
  current = c.name
  if o.help then
    io.stdout:write(command_help(c))
    return EXIT.ok
  end
  check_options(c, o)
  check_arity(c, pos)

  local loaded, graph = pcall(require, "graph")
  if not loaded then
    io.stderr:write("msgraph: cannot load lua-msgraph: ", tostring(graph):match("[^\n]*"), "\n")
    return EXIT.graph
  end
  local retries = o.retries and tonumber(o.retries)
  if o.retries and not (retries and retries >= 0 and retries <= 10 and retries % 1 == 0) then
    usage(("--retries wants an integer from 0 to 10, got '%s'"):format(o.retries))
  end
  local ok, g = pcall(graph.client, { url = o.url, login_url = o["login-url"], max_retries = retries })
  if not ok then
    local msg = trim_location(g)
    if msg:find("needs field", 1, true) then
      msg = msg .. "\n(set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET: see msgraph --help)"
    end
    usage(msg)
  end
  local as_pretty = o.pretty or (not o.raw and is_tty(1))
  local result, detail = c.run(g, pos, o)
  g:close()
  if result == nil then
    io.stderr:write(tostring(detail), "\n")
    return EXIT[type(detail) == "table" and detail.kind] or EXIT.graph
  end
  if c.name == "presence get" and #pos > 1 then return report_bulk(pos, result, detail, as_pretty) end
  write_json(result, as_pretty)
  return EXIT.ok
end

--- Run the tool with `argv` (the script's `arg`); returns the exit code.
-- Usage errors and the library's programming errors print one line, never
-- a traceback (GRAPH_DEBUG=1 adds it for a bug of the tool itself).
function M.main(argv)
  local list = {}
  for i = 1, #(argv or {}) do list[i] = argv[i] end
  local ok, code = xpcall(function() return run(list) end, function(e)
    if getmetatable(e) == Usage then return e end
    local debug_on = os.getenv("GRAPH_DEBUG")
    if debug_on and debug_on ~= "" and debug_on ~= "0" then return debug.traceback(tostring(e), 2) end
    return trim_location(e)
  end)
  if ok then return code end
  local usage_error = getmetatable(code) == Usage
  local command = usage_error and code.command or current
  io.stderr:write("msgraph: ", usage_error and code.message or tostring(code), "\n")
  io.stderr:write(("Try 'msgraph %s--help'.\n"):format(command and command .. " " or ""))
  return EXIT.usage
end

return M
