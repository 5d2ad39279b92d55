-- C hosts embedding Lua and the module, built by the Makefile's test targets
-- for this run's Lua and build (plain, ASan, or ThreadSanitizer for
-- `make test-threads`, which runs this file alone): spec/host/threads_host.c
-- runs one lua_State per thread, each with its own client, concurrently
-- against the emulator; examples/embed.c is the embedding example.
local util = require "support.util"
local emulator = require "support.emulator"
local fx = require "support.fixtures"

-- Run by hand (no GRAPH_SPEC_HOSTS from the Makefile): build the hosts first.
local function build()
  if os.getenv("GRAPH_SPEC_HOSTS") then return end
  local rel = util.hosts:sub(#util.root + 2)
  local out, ok = util.run(("cd %s && make -s LUA=%s %s/threads_host %s/embed")
    :format(util.shell_quote(util.root), util.lua, rel, rel))
  assert.is_true(ok, out)
end

-- Run a host with the emulator's credentials in a clean environment;
-- returns its combined output and the success flag.
local function run_host(emu, args, env)
  local vars = {
    AZURE_TENANT_ID = fx.tenant_id, AZURE_CLIENT_ID = fx.client_id,
    AZURE_CLIENT_SECRET = fx.client_secret, GRAPH_URL = emu.url, AZURE_AUTHORITY_HOST = emu.url,
    TSAN_OPTIONS = "halt_on_error=1:exitcode=66",
  }
  for k, v in pairs(env or {}) do vars[k] = v end
  local out, ok = util.run(util.lua_env(vars) .. " " .. args)
  require("support.secrets").observe(out)
  assert.is_nil(out:find("WARNING: ThreadSanitizer", 1, true), out)
  return out, ok
end

describe("embedding in a threaded C host", function()
  it("runs 4 states on 4 threads, each with its own client, without interference", function()
    build()
    local emu = emulator.shared()
    emu:reset()
    local before = emu:stats()
    local out, ok = run_host(emu, ("%s/threads_host %s/spec/host/threads.lua 4")
      :format(util.shell_quote(util.hosts), util.shell_quote(util.root)), { THREAD_REQUESTS = "25" })
    assert.is_true(ok, out)
    assert.matches("4 threads, 0 failed", out)
    local after = emu:stats()
    assert.equal(4 * 25 * 2, after.graph_requests - before.graph_requests)
    assert.equal(4, after.token_requests - before.token_requests)   -- one token per client
    assert.equal(4, after.connections - before.connections)         -- one connection per client
  end)
end)

describe("examples/embed.c", function()
  -- Run it for one user against the freshly reset shared emulator.
  local function embed(id)
    build()
    local emu = emulator.shared()
    emu:reset()
    return run_host(emu, util.shell_quote(util.hosts .. "/embed") .. " " .. util.shell_quote(id))
  end

  it("prints the user's name and presence", function()
    local out, ok = embed(fx.adele_upn)
    assert.is_true(ok, out)
    assert.matches("^Adele Vance is %a+ %(%a*%)\n$", out)
  end)

  it("prints a failure as the error's one line, exits 1", function()
    local out, ok = embed(fx.missing_id)
    assert.is_false(ok, out)
    -- tostring(err) already starts with "graph: "
    assert.matches("^graph: 404 Request_ResourceNotFound: [^\n]+\n$", out)
  end)
end)
