-- runs-on: lua5.4 lua5.3 lua5.2 lua5.1 luajit
-- needs: luv cqueues
-- Host proof: the examples of docs/hosts/ (examples/loop/*.lua) run as a
-- user runs them, in a process of their own configured from the
-- environment, against the emulator at 150 ms of latency: on this entry's
-- Lua the luv, cqueues and timer ones (the luv one through the HTTP/2 front
-- as well, on lua5.4), and in the luajit entry the Neovim one in headless
-- Neovim (its Lua is LuaJIT). Each must print what the blocking client
-- answers, every row for its own user, with the host's own timer running
-- meanwhile, the users' GETs in flight together and one token for all; no
-- secret in its output; and each page of docs/hosts/ shows its example as
-- it is.
local proof = require "support.hostproof"
local util = require "support.util"
local core = require "graph.core"

local ROOT = util.root
local ENTRY = os.getenv("GRAPH_HOSTS_RUNS_ON") or "lua5.4"
local LATENCY = 0.15
local RUN_TIMEOUT = 30
local team = dofile(ROOT .. "/examples/loop/team.lua")
local fx = require "support.fixtures"
local PEOPLE = { fx.adele_upn, fx.lynne_upn, fx.megan_upn, "nobody@" .. fx.domain }

-- Each page shows its example exactly: a fenced block equal to the file
local function check_pages()
  local blocks = {}
  for _, page in ipairs{ "luv", "nvim", "cqueues", "timer", "README" } do
    local text = assert(util.read_file(ROOT .. "/docs/hosts/" .. page .. ".md"), "docs/hosts/" .. page .. ".md")
    blocks[page] = {}
    for body in text:gmatch("\n```%w*\n(.-\n)```") do blocks[page][body] = true end
  end
  for page, file in pairs{ luv = "luv", nvim = "nvim", cqueues = "cqueues", timer = "timer", README = "team" } do
    local path = "examples/loop/" .. file .. ".lua"
    proof.check(blocks[page][util.read_file(ROOT .. "/" .. path)],
      "docs/hosts/%s.md does not show %s as it is", page, path)
  end
end

-- What the examples must print: what examples/loop/team.lua's calls give
-- on a blocking client (an error row's request-id differs: false).
local function expected(emu)
  local g = emu:client()
  local rows = {}
  for k, upn in ipairs(PEOPLE) do
    local row = team.presence_row(g, upn)
    rows[k] = not row:find("request-id", 1, true) and row
  end
  proof.check(rows[1] and rows[2] and rows[3] and not rows[4], "the blocking client's board: %s / %s / %s / %s",
    tostring(rows[1]), tostring(rows[2]), tostring(rows[3]), tostring(rows[4]))
  local want = { rows = rows, profile = team.profile(g, PEOPLE[1]) }
  g:close()
  return want
end

local function lines_of(text)
  local t = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do t[#t + 1] = line end
  return t
end

local function index_of(lines, wanted)
  for i, line in ipairs(lines) do
    if line == wanted then return i end
  end
end

-- The output of one example against what the blocking client answered.
local function check_output(label, out, want)
  local lines = lines_of(out)
  local at = index_of(lines, team.title(#PEOPLE))
  proof.check(at, "%s: no board in its output:\n%s", label, out)
  for k, upn in ipairs(PEOPLE) do
    local line = lines[at + k] or ""
    if want.rows[k] then
      proof.check(line == want.rows[k], "%s: row %d is %q, the blocking client's is %q", label, k, line,
        want.rows[k])
    else
      proof.check(line:find(upn, 1, true) and line:find("404 Request_ResourceNotFound", 1, true),
        "%s: row %d is %q, not %s's 404", label, k, line, upn)
    end
  end
  local p = index_of(lines, want.profile[1])
  proof.check(p, "%s: no profile in its output:\n%s", label, out)
  for i, want_line in ipairs(want.profile) do
    proof.check(lines[p + i - 1] == want_line, "%s: profile line %d is %q, the blocking client's is %q",
      label, i, tostring(lines[p + i - 1]), want_line)
  end
  local ticks = tonumber(out:match("10 ms %a+ ran (%d+) times while Graph answered")
    or out:match("drew (%d+) frames while Graph answered"))
  proof.check(ticks and ticks > 0, "%s: the host's own timer did not run while Graph answered:\n%s", label, out)
  return ticks
end

-- The environment a user gives: the tenant, and where Graph is.
local function tenant_env(emu, front)
  local url = front and front.url or emu.url
  return {
    AZURE_TENANT_ID = emu.tenant_id, AZURE_CLIENT_ID = emu.client_id,
    AZURE_CLIENT_SECRET = emu.client_secret, GRAPH_URL = url, AZURE_AUTHORITY_HOST = url,
    GRAPH_CA_FILE = front and front.ca or nil,
    GRAPH_DEMO_USERS = table.concat(PEOPLE, " "),
    HOME = os.getenv("HOME"),
  }
end

local function quoted(list)
  local t = {}
  for k, s in ipairs(list) do t[k] = util.shell_quote(s) end
  return table.concat(t, " ")
end

-- Runs one example; checks its output and the emulator's view of it.
local function run_example(emu, want, host, opts)
  local label = host .. (opts.front and " via HTTP/2" or "")
  emu:reset()
  emu:config{ latency = LATENCY }
  local program = "examples/loop/" .. host .. ".lua"
  local command
  if host == "nvim" then
    command = "nvim --headless -u NONE -c " .. util.shell_quote("luafile " .. program)
  else
    command = util.lua .. " " .. program .. " " .. quoted(PEOPLE)
  end
  local t0 = core.now()
  local out, ok, code = util.run(("cd %s && %s timeout -k 5 %d %s </dev/null"):format(
    util.shell_quote(ROOT), util.lua_env(tenant_env(emu, opts.front)), RUN_TIMEOUT, command))
  local wall = core.now() - t0
  proof.check(ok, "%s: %s exited with %s:\n%s", label, program, tostring(code), out)
  local ticks = check_output(label, out, want)

  local stats = emu:stats()
  proof.check(stats.token_requests == 1, "%s: %d token requests, one serves every coroutine",
    label, stats.token_requests)
  proof.check(stats.max_concurrency >= #PEOPLE,
    "%s: at most %d Graph requests were in flight at once; the %d users' lookups go together",
    label, stats.max_concurrency, #PEOPLE)
  local secrets = emu:call("GET", "/_emulator/issued").tokens    -- every token it issued
  secrets[#secrets + 1] = emu.client_secret
  proof.check(not util.find_secret({ out }, secrets), "%s: a secret is in its output", label)
  proof.figure(label .. " example wall", ("%.2f"):format(wall), "s")
  proof.figure(label .. " example host timer ticks", ticks)
  print(("ok - %s: %s"):format(label, program))
end

proof.main("examples", function()
  check_pages()
  local emu = proof.emulator()
  local want = expected(emu)
  for _, host in ipairs{ "luv", "cqueues", "timer" } do run_example(emu, want, host, {}) end
  if ENTRY == "lua5.4" then run_example(emu, want, "luv", { front = proof.front() }) end
  if ENTRY == "luajit" then run_example(emu, want, "nvim", {}) end
  emu:reset()
end)
