-- spec/hosts/run.lua [NAME...]: run the host proofs (`make test-hosts`), from
-- the repository root, with lua5.4 and ./graph/core.so; every proof when no
-- NAME is given. Exits 1 if any proof failed.
--
-- A host proof is spec/hosts/NAME.lua, or spec/hosts/NAME/run.sh (run with
-- bash). It succeeds by exiting 0 with `ok NAME` as its last line; a line
-- starting with FAIL or another exit status is a failure. It prints its
-- figures as `figure: name = value unit` lines, and stops itself within 60 s
-- (the runner kills it after 90). support/hostproof.lua implements this.
--
-- Its first lines may say where it runs and what it needs:
--   -- runs-on: lua5.1 lua5.2 lua5.3 lua5.4 luajit nvim
--                              (default: nvim for nvim*.lua, lua5.4 for the others)
--   -- needs: cqueues          (a module each Lua must `require`; those without
--                              it are skipped, and none having it is a failure)
-- (`#` instead of `--` in run.sh.) A .lua proof runs once per runs-on entry
-- in that interpreter, under nvim as
--   nvim --headless -u NONE -c 'luafile FILE' -c 'qa!'
-- (a Lua error there still exits 0: the proof must `cquit 1` on failure).
-- nvim runs LuaJIT, so it gets LuaJIT's build; a run.sh gets the build of
-- its runs-on entry (nginx's Lua is LuaJIT: `# runs-on: luajit`).
--
-- The environment of each run:
--   LUA_PATH                  ./lua/?.lua;./lua/?/init.lua;./spec/?.lua;;
--   LUA_CPATH                 that Lua's graph/core.so (./?.so for lua5.4, ./build/LUA/?.so)
--   GRAPH_SPEC_LUA, GRAPH_SPEC_CPATH, GRAPH_SPEC_HOSTS   as in the Makefile's spec_env
--   GRAPH_HOSTS_NAME          the proof's name; GRAPH_HOSTS_RUNS_ON its runs-on entry
--   GRAPH_HOSTS_ROOT          the repository root
--   GRAPH_HOSTS_EMULATOR_URL  the shared emulator, http://127.0.0.1:PORT (and _PORT)
--   GRAPH_HOSTS_H2_URL        the HTTP/2 front in front of it, https://127.0.0.1:PORT (and _PORT)
--   GRAPH_HOSTS_CA_FILE       the CA that signed the front's certificate
-- The shared emulator is reset before each proof; a proof that needs faults or
-- latency resets it when done or starts its own (support.emulator.start{}).
--
-- The caller chooses the interpreters (for sanitizer or valgrind variants):
--   GRAPH_HOSTS_ONLY="lua5.4"        run only these runs-on entries (others are listed as skipped)
--   GRAPH_HOSTS_LUA_lua5_4=CMD       the command for an interpreter (its name, `.` as `_`)
--   GRAPH_HOSTS_CPATH_lua5_4=CPATH   its LUA_CPATH (and GRAPH_SPEC_CPATH)
--   GRAPH_HOSTS_WRAP="valgrind -q --error-exitcode=99"   a prefix for every Lua interpreter
-- e.g. under ASan (what `make test-hosts-asan` runs):
--   GRAPH_HOSTS_ONLY=lua5.4 GRAPH_HOSTS_LUA_lua5_4=build/asan/lua \
--   GRAPH_HOSTS_CPATH_lua5_4='./build/asan/?.so;;' ASAN_OPTIONS=... lua5.4 spec/hosts/run.lua
-- The emulator, the front and this runner stay uninstrumented.
package.path = "./lua/?.lua;./lua/?/init.lua;./spec/?.lua;" .. package.path   -- run from the root
package.cpath = "./?.so;" .. package.cpath
local util = require "support.util"
local emulator = require "support.emulator"
local h2front = require "support.h2front"

local ROOT = util.root
local PROOF_TIMEOUT = 90
local q = util.shell_quote

local function env_of(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local function words(s)
  local t = {}
  for w in (s or ""):gmatch("%S+") do t[#t + 1] = w end
  return t
end

local only = env_of("GRAPH_HOSTS_ONLY") and {} or nil
for _, w in ipairs(words(env_of("GRAPH_HOSTS_ONLY"))) do only[w] = true end
local wrap = env_of("GRAPH_HOSTS_WRAP", "")

-- The Lua whose build a runs-on entry uses, its command and its paths.
local function lua_of(entry)
  local lua = entry == "nvim" and "luajit" or entry
  local key = lua:gsub("%.", "_")
  local dir = lua == "lua5.4" and "." or ("./build/" .. lua)
  local cpath = env_of("GRAPH_HOSTS_CPATH_" .. key, dir .. "/?.so;;")
  return {
    name = lua,
    cmd = env_of("GRAPH_HOSTS_LUA_" .. key, lua),
    cpath = cpath,
    abs_cpath = (cpath:gsub("^%./", ROOT .. "/"):gsub(";%./", ";" .. ROOT .. "/")),
    hosts = ROOT .. (lua == "lua5.4" and "/build/host" or ("/build/" .. lua .. "/host")),
  }
end

-- The proofs: spec/hosts/*.lua (not this file) and spec/hosts/*/run.sh.
local function proofs(wanted)
  local list = {}
  local p = assert(io.popen("cd " .. q(ROOT) .. " && ls spec/hosts/*.lua spec/hosts/*/run.sh 2>/dev/null"))
  for path in p:lines() do
    local name = path:match("^spec/hosts/([^/]+)%.lua$") or path:match("^spec/hosts/([^/]+)/run%.sh$")
    if name and name ~= "run" and (not next(wanted) or wanted[name]) then
      local head = util.read_file(ROOT .. "/" .. path):sub(1, 2000)
      list[#list + 1] = {
        name = name, path = path, shell = path:match("%.sh$") ~= nil,
        runs_on = words(head:match("[-#]+%s*runs%-on:%s*([^\n]*)") or (name:match("^nvim") and "nvim" or "lua5.4")),
        needs = words(head:match("[-#]+%s*needs:%s*([^\n]*)")),
      }
    end
  end
  p:close()
  for name in pairs(wanted) do
    local found = false
    for _, pr in ipairs(list) do found = found or pr.name == name end
    if not found then error("run.lua: no host proof named " .. name .. " in spec/hosts/", 0) end
  end
  return list
end

-- Whether interpreter `lua` can require every module in `needs` (a script
-- file, not -e: the instrumented interpreter runs files only).
local function has_modules(lua, needs)
  local dir = util.tmpdir()
  for _, m in ipairs(needs) do
    util.write_file(dir .. "/needs.lua", ("require %q"):format(m))
    local _, ok = util.run(("cd %s && LUA_CPATH=%s %s %s"):format(q(ROOT), q(lua.cpath), lua.cmd,
      q(dir .. "/needs.lua")))
    if not ok then util.rmtree(dir) return false, m end
  end
  util.rmtree(dir)
  return true
end

local function command(proof, entry, lua)
  if proof.shell then return "bash " .. q(proof.path) end
  if entry == "nvim" then
    return ("nvim --headless -u NONE -c %s -c 'qa!'"):format(q("luafile " .. proof.path))
  end
  return (wrap ~= "" and (wrap .. " ") or "") .. lua.cmd .. " " .. q(proof.path)
end

-- Runs one proof in one place; streams its output; returns ok, figures, why.
local function run_one(proof, entry, lua, shared)
  local env = {
    LUA_PATH = "./lua/?.lua;./lua/?/init.lua;./spec/?.lua;;", LUA_CPATH = lua.cpath,
    GRAPH_SPEC_LUA = lua.cmd, GRAPH_SPEC_CPATH = lua.abs_cpath, GRAPH_SPEC_HOSTS = lua.hosts,
    GRAPH_HOSTS_NAME = proof.name, GRAPH_HOSTS_RUNS_ON = entry, GRAPH_HOSTS_ROOT = ROOT,
    GRAPH_HOSTS_EMULATOR_URL = shared.emu.url, GRAPH_HOSTS_EMULATOR_PORT = tostring(shared.emu.port),
    GRAPH_HOSTS_H2_URL = shared.front.url, GRAPH_HOSTS_H2_PORT = tostring(shared.front.port),
    GRAPH_HOSTS_CA_FILE = shared.front.ca,
  }
  local parts = {}
  for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. q(v) end
  table.sort(parts)
  local cmd = ("cd %s && env %s timeout -k 5 %d %s </dev/null 2>&1; echo \"__exit=$?\""):format(
    q(ROOT), table.concat(parts, " "), PROOF_TIMEOUT, command(proof, entry, lua))
  shared.emu:reset()
  local p = assert(io.popen(cmd))
  local last, failed, figures, code = nil, nil, {}, nil
  for line in p:lines() do
    -- the status marker may follow output without a final newline (nvim's)
    local rest, c = line:match("^(.-)__exit=(%d+)$")
    if c then code, line = tonumber(c), rest end
    if line ~= "" then
      io.stdout:write("  ", line, "\n")
      io.stdout:flush()
      local clean = line:gsub("\r", ""):gsub("%s+$", "")
      if clean ~= "" then last = clean end
      if clean:match("^FAIL") then failed = failed or clean end
      local fig = clean:match("^figure:%s*(.+)$")
      if fig then figures[#figures + 1] = fig end
    end
  end
  p:close()
  if code ~= 0 then
    return false, figures, code == 124 and ("timed out after " .. PROOF_TIMEOUT .. " s")
      or ("exit status " .. tostring(code))
  end
  if failed then return false, figures, failed end
  if last ~= "ok " .. proof.name then
    return false, figures, "its last line is not `ok " .. proof.name .. "`: " .. tostring(last)
  end
  return true, figures
end

local function main(...)
  local wanted = {}
  for _, name in ipairs{ ... } do wanted[name] = true end
  local list = proofs(wanted)
  if #list == 0 then error("run.lua: no host proofs in spec/hosts/", 0) end

  local shared = {}
  shared.emu = emulator.start()
  shared.front = h2front.start(shared.emu.port)
  io.stdout:write(("hosts: emulator %s, HTTP/2 front %s\n"):format(shared.emu.url, shared.front.url))

  local results = {}
  local function record(label, status, figures, why)
    results[#results + 1] = { label = label, status = status, figures = figures or {}, why = why }
  end
  local ok, err = pcall(function()
    for _, proof in ipairs(list) do
      local ran = 0
      for _, entry in ipairs(proof.runs_on) do
        local label = #proof.runs_on > 1 and ("%s (%s)"):format(proof.name, entry) or proof.name
        local lua = lua_of(entry)
        io.stdout:write("== host: ", label, "\n")
        local has, missing = true, nil
        if not (only and not only[entry]) and entry ~= "nvim" then has, missing = has_modules(lua, proof.needs) end
        if only and not only[entry] then
          io.stdout:write("  skipped: not in GRAPH_HOSTS_ONLY\n")
          record(label, "skip", nil, "not in GRAPH_HOSTS_ONLY")
        elseif not has then
          io.stdout:write("  skipped: ", lua.name, " has no module ", missing, "\n")
          record(label, "skip", nil, lua.name .. " has no " .. missing)
        else
          ran = ran + 1
          local passed, figures, why = run_one(proof, entry, lua, shared)
          if not passed then io.stdout:write("FAIL host ", label, ": ", why, "\n") end
          record(label, passed and "ok" or "FAIL", figures, why)
        end
      end
      if ran == 0 and not only then
        io.stdout:write("FAIL host ", proof.name, ": it ran nowhere (needs ", table.concat(proof.needs, " "),
          "; make deps installs the hosts)\n")
        record(proof.name, "FAIL", nil, "ran nowhere")
      end
    end
  end)
  shared.front:stop()
  shared.emu:stop()
  if not ok then error(err, 0) end

  io.stdout:write("\n== hosts summary\n")
  local failures = 0
  for _, r in ipairs(results) do
    io.stdout:write(("%-4s %s%s\n"):format(r.status, r.label, r.why and r.status ~= "ok" and (": " .. r.why) or ""))
    for _, f in ipairs(r.figures) do io.stdout:write("       ", f, "\n") end
    if r.status == "FAIL" then failures = failures + 1 end
  end
  io.stdout:write(failures == 0 and "hosts: all passed\n" or ("hosts: %d failed\n"):format(failures))
  return failures == 0
end

local ok, passed = pcall(main, ...)
if not ok then
  io.stderr:write("FAIL spec/hosts/run.lua: ", tostring(passed), "\n")
  os.exit(1)
end
os.exit(passed and 0 or 1)
