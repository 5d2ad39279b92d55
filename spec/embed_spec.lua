-- A C host embedding Lua 5.4 (spec/host/threads_host.c) runs one lua_State
-- per thread, each with its own client, concurrently against the emulator.
-- `make test-threads` runs this file with the ThreadSanitizer builds.
describe("embedding in a threaded C host", function()
  local util = require "support.util"
  local emulator = require "support.emulator"
  local fx = require "support.fixtures"

  local tsan = os.getenv("GRAPH_TSAN_DIR")          -- set by make test-threads
  local dir = tsan or (util.root .. "/build/host")

  local function build()
    if tsan then return end
    local out, ok = util.run(("cd %s && make -s build/host/threads_host")
      :format(util.shell_quote(util.root)))
    assert.is_true(ok, out)
  end

  it("runs 4 states on 4 threads, each with its own client, without interference", function()
    build()
    local emu = emulator.shared()
    emu:reset()
    local before = emu:stats()
    local env = table.concat({
      "AZURE_TENANT_ID=" .. fx.tenant_id, "AZURE_CLIENT_ID=" .. fx.client_id,
      "AZURE_CLIENT_SECRET=" .. util.shell_quote(fx.client_secret), "GRAPH_URL=" .. emu.url,
      "THREAD_REQUESTS=25",
      "LUA_PATH=" .. util.shell_quote(util.root .. "/lua/?.lua;" .. util.root .. "/lua/?/init.lua;;"),
      "LUA_CPATH=" .. util.shell_quote((tsan and (tsan .. "/?.so;") or (util.root .. "/?.so;")) .. ";"),
      "TSAN_OPTIONS=halt_on_error=1:exitcode=66",
    }, " ")
    local out, ok = util.run(("env %s %s/threads_host %s/spec/host/threads.lua 4")
      :format(env, dir, util.root))
    assert.is_true(ok, out)
    assert.matches("4 threads, 0 failed", out)
    assert.is_nil(out:find("WARNING: ThreadSanitizer", 1, true), out)
    local after = emu:stats()
    assert.equal(4 * 25 * 2, after.graph_requests - before.graph_requests)
    assert.equal(4, after.token_requests - before.token_requests)   -- one token per client
    assert.equal(4, after.connections - before.connections)         -- one connection per client
  end)
end)
