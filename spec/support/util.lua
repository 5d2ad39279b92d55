-- Small helpers shared by the specs: URL/form decoding, subprocesses,
-- temporary directories, deep scans of values.
local M = {}

-- The repository root: spec/support/util.lua lives two levels below it.
do
  local src = debug.getinfo(1, "S").source:gsub("^@", "")
  local dir = src:match("^(.*)/spec/support/[^/]+$")
  if not dir or dir == "" or dir == "." then
    local p = io.popen("pwd")
    dir = p:read("*l")
    p:close()
  elseif dir:sub(1, 1) ~= "/" then
    local p = io.popen("pwd")
    dir = p:read("*l") .. "/" .. dir
    p:close()
  end
  M.root = dir
end

-- What the processes a spec starts run: the interpreter, graph/core.so and C
-- hosts of this run (the Makefile's test targets set them: the instrumented
-- interpreter and build under test-asan, luajit and build/luajit under
-- LUA=luajit). Run by hand, the defaults are the running Lua and the build
-- `make` makes for it.
do
  local lua = jit and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))    -- luacheck: ignore 113
  local core_dir = lua == "lua5.4" and M.root or (M.root .. "/build/" .. lua)
  M.lua = os.getenv("GRAPH_SPEC_LUA") or lua
  M.lua_path = M.root .. "/lua/?.lua;" .. M.root .. "/lua/?/init.lua;;"
  M.lua_cpath = os.getenv("GRAPH_SPEC_CPATH") or (core_dir .. "/?.so;;")
  M.hosts = os.getenv("GRAPH_SPEC_HOSTS")
    or (M.root .. (lua == "lua5.4" and "/build/host" or ("/build/" .. lua .. "/host")))
  -- a sanitizer's settings reach the instrumented children too
  M.child_env = {}
  for _, name in ipairs{ "ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS" } do
    M.child_env[name] = os.getenv(name)
  end
end

function M.percent_decode(s, plus_is_space)
  if plus_is_space then s = s:gsub("+", " ") end
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- "a=1&b=x%20y" -> { a = "1", b = "x y" }; repeated keys keep the last value.
function M.decode_form(s)
  local t = {}
  for pair in (s or ""):gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    t[M.percent_decode(k, true)] = M.percent_decode(v, true)
  end
  return t
end

-- "/v1.0/users/x?$select=a,b" -> "/v1.0/users/x", { ["$select"] = "a,b" }, "$select=a,b"
function M.split_target(target)
  local path, query = target:match("^([^?]*)%??(.*)$")
  return path, M.decode_form(query), query
end

function M.is_guid(s)
  return type(s) == "string"
    and s:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") ~= nil
end

function M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function M.write_file(path, content)
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
end

-- Run a shell command; returns its combined stdout+stderr, whether it exited
-- 0, and its exit status (the shell reports it: Lua 5.1's and LuaJIT's
-- popen:close() do not).
local unpack = table.unpack or unpack      -- Lua 5.1 and LuaJIT

function M.run(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"__exit=$?\""))
  local out = p:read("*a")
  p:close()
  local text, code = out:match("^(.*)__exit=(%d+)\n$")
  code = tonumber(code)
  if M.lsan_crashed(text or out) and not M.rerun then   -- once, and said so
    io.stderr:write("\nutil.run: LeakSanitizer's tracer crashed (not a leak report); running again: ",
                    cmd:sub(1, 200), "\n")
    M.rerun = true
    local again = { M.run(cmd) }
    M.rerun = nil
    return unpack(again)
  end
  return text or out, code == 0, code
end

-- LeakSanitizer's own stop-the-world tracer sometimes crashes at a child's
-- exit on a loaded machine ("Tracer caught signal 11", google/sanitizers#1353):
-- no leak was found or missed, the check did not run. Only that is re-run.
function M.lsan_crashed(text)
  return text:find("Tracer caught signal", 1, true) ~= nil and
         text:find("LeakSanitizer has encountered a fatal error", 1, true) ~= nil
end

local tmpdirs = {}
function M.tmpdir()
  local out, ok = M.run("mktemp -d /tmp/msgraph-spec.XXXXXX")
  assert(ok, "mktemp failed: " .. out)
  local dir = out:gsub("%s+$", "")
  tmpdirs[#tmpdirs + 1] = dir
  return dir
end

function M.rmtree(dir)
  if dir and dir:match("^/tmp/msgraph%-spec%.") then
    os.execute("rm -rf " .. M.shell_quote(dir))
  end
end

-- Whatever temporary directories are left go when this process ends.
M._cleanup = setmetatable({}, { __gc = function()
  for _, dir in ipairs(tmpdirs) do M.rmtree(dir) end
end })

-- The pid of this Lua process (/proc/self is the process that opens it).
function M.pid()
  local s = assert(M.read_file("/proc/self/stat"))
  return tonumber(s:match("^(%d+)"))
end

-- `env -i PATH=... LUA_PATH=... LUA_CPATH=... K=V ...`: a clean environment
-- with this run's library and build on the paths (opts.lua_path and
-- opts.lua_cpath replace them), plus `env`.
function M.lua_env(env, opts)
  opts = opts or {}
  local vars = { PATH = os.getenv("PATH") or "/usr/bin:/bin",
                 LUA_PATH = opts.lua_path or M.lua_path, LUA_CPATH = opts.lua_cpath or M.lua_cpath }
  for k, v in pairs(M.child_env) do vars[k] = v end
  for k, v in pairs(env or {}) do vars[k] = v end
  local parts = { "env", "-i" }
  for k, v in pairs(vars) do parts[#parts + 1] = k .. "=" .. M.shell_quote(v) end
  return table.concat(parts, " ")
end

-- Run a Lua script in a fresh process of this run's interpreter (opts.lua
-- replaces it) with M.lua_env(env, opts), from the repository root (or
-- opts.cwd). Returns the combined output and the success flag.
function M.run_lua(script, env, opts)
  opts = opts or {}
  local dir = M.tmpdir()
  local file = dir .. "/script.lua"
  M.write_file(file, script)
  local cwd = opts.cwd or M.root
  local out, ok = M.run(("cd %s && %s %s %s"):format(M.shell_quote(cwd), M.lua_env(env, opts),
    opts.lua or M.lua, M.shell_quote(file)))
  M.rmtree(dir)
  require("support.secrets").observe(out)
  return out, ok
end

-- Every string reachable from v (keys and values, through tables and
-- metatable-less nesting), plus tostring(v) of tables with __tostring.
function M.strings_in(v, acc, seen)
  acc, seen = acc or {}, seen or {}
  local t = type(v)
  if t == "string" then
    acc[#acc + 1] = v
  elseif t == "number" or t == "boolean" then
    acc[#acc + 1] = tostring(v)
  elseif t == "table" and not seen[v] then
    seen[v] = true
    local mt = getmetatable(v)
    if mt and mt.__tostring then acc[#acc + 1] = tostring(v) end
    for k, x in next, v do
      M.strings_in(k, acc, seen)
      M.strings_in(x, acc, seen)
    end
  elseif t == "userdata" then
    acc[#acc + 1] = tostring(v)
  end
  return acc
end

-- Returns the first secret (plain substring) found in any of the strings, or nil.
function M.find_secret(strings, secrets)
  for _, s in ipairs(strings) do
    for _, secret in ipairs(secrets) do
      if #secret >= 4 and s:find(secret, 1, true) then
        return secret, s
      end
    end
  end
end

function M.contains(list, x)
  for _, v in ipairs(list) do
    if v == x then return true end
  end
  return false
end

-- table.pack, on every Lua.
function M.pack(...)
  return { n = select("#", ...), ... }
end

-- Calls f under pcall and asserts it neither raised nor returned a result:
-- the runtime-failure convention (nil, err) of the library.
-- The message `f(...)` raises; fails the spec when it does not raise.
function M.raised(f, ...)
  local ok, msg = pcall(f, ...)
  assert(not ok, "expected a raised error")
  return tostring(msg)
end

-- The keys of `t`, sorted.
function M.sorted_keys(t)
  local list = {}
  for k in pairs(t) do list[#list + 1] = k end
  table.sort(list)
  return list
end

function M.expect_failure(f, ...)
  local packed = M.pack(pcall(f, ...))
  assert(packed[1], "expected nil, err but the call raised: " .. tostring(packed[2]))
  assert(packed[2] == nil, "expected nil, err but the call succeeded")
  local err = packed[3]
  assert(type(err) == "table", "expected an error table, got " .. type(err))
  require("support.secrets").observe(err)
  return err
end

-- Calls f under pcall and asserts it succeeded; returns result, response.
function M.expect_success(f, ...)
  local ok, res, resp = pcall(f, ...)
  assert(ok, "the call raised: " .. tostring(res))
  assert(res ~= nil, "the call failed: " .. tostring(resp))
  return res, resp
end

-- One request to the identity platform on core session `s`, waited for in
-- place: what the step answers (its value), or nil, err (the error made of
-- the core's facts, as the client makes it).
function M.auth(s, step)
  local errors = require "graph.errors"
  local function redact(text) return s:redact(text) end
  local ok, err = s:auth(step, -1)
  if not ok then return nil, errors.from_core(err, redact) end
  while true do
    local done = s:step_blocking()
    for _, r in ipairs(done) do
      if r.id == -1 then
        if r.err then return nil, errors.from_core(r.err, redact) end
        return r.value
      end
    end
  end
end

-- The session's token at hand, or acquired: true, or nil, err.
function M.token(s)
  if s:token_ready() then return true end
  return M.auth(s, "token")
end

return M
