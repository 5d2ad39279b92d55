-- What a host proof (spec/hosts/NAME.lua, run by spec/hosts/run.lua) shares
-- with the others: the runner's emulator and HTTP/2 front when it runs under
-- the runner (GRAPH_HOSTS_* in the environment), private ones otherwise, and
-- the output convention (figure lines, then `ok NAME` or a `FAIL` line).
--
--   local proof = require "support.hostproof"
--   proof.main("smoke", function()
--     local emu, front = proof.emulator(), proof.front()
--     proof.check(user.id == fx.adele_id, "users.get returned another user")
--     proof.figure("wall", 1.25, "s")
--   end)                       -- prints `ok smoke` and exits 0, or `FAIL smoke: ...` and exits 1
--
-- Under Neovim use proof.run (it returns instead of exiting) and end with
-- `cquit 1` on failure, `qa!` on success.
local emulator = require "support.emulator"

local M = {}

local started = {}      -- what this proof started itself, stopped by M.stop

-- The emulator: the runner's (reset, so this proof sees the seeded tenant and
-- no faults) or a private one. A proof that changes its config (latency,
-- faults) resets it again when done, or starts its own with emulator.start{}.
function M.emulator()
  if M.emu then return M.emu end
  local url = os.getenv("GRAPH_HOSTS_EMULATOR_URL")
  if url and url ~= "" then
    M.emu = emulator.attach{ url = url }
  else
    M.emu = emulator.start()
    started[#started + 1] = M.emu
  end
  M.emu:reset()
  return M.emu
end

-- The HTTP/2 front in front of M.emulator(): { url, port, ca } (see
-- support.h2front), the runner's or a private one.
function M.front()
  if M.h2 then return M.h2 end
  local url = os.getenv("GRAPH_HOSTS_H2_URL")
  if url and url ~= "" then
    M.h2 = { url = url, port = tonumber(url:match(":(%d+)/?$")), ca = os.getenv("GRAPH_HOSTS_CA_FILE") }
  else
    M.h2 = require("support.h2front").start(M.emulator().port)
    started[#started + 1] = M.h2
  end
  return M.h2
end

-- Options for a client of the emulator through the front.
function M.front_options(extra)
  local front = M.front()
  local o = { url = front.url, login_url = front.url, ca_file = front.ca }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

function M.figure(name, value, unit)
  print(("figure: %s = %s%s"):format(name, tostring(value), unit and (" " .. unit) or ""))
end

-- A failed check ends the proof with its message.
function M.check(cond, message, ...)
  if not cond then error({ proof_failure = select("#", ...) > 0 and message:format(...) or message }, 2) end
  return cond
end

function M.stop()
  for i = #started, 1, -1 do pcall(started[i].stop, started[i]) end
  started = {}
end

-- Runs body(), stops what this proof started, prints `ok NAME` or
-- `FAIL NAME: message` (with a traceback for a Lua error). Returns success.
function M.run(name, body)
  local ok, err = xpcall(body, function(e)
    if type(e) == "table" and e.proof_failure then return e.proof_failure end
    return debug.traceback(tostring(e), 2)
  end)
  M.stop()
  if ok then print("ok " .. name) else print("FAIL " .. name .. ": " .. tostring(err)) end
  io.stdout:flush()
  return ok
end

-- M.run, then exit 0 or 1 (plain Lua interpreters).
function M.main(name, body)
  os.exit(M.run(name, body) and 0 or 1)
end

return M
