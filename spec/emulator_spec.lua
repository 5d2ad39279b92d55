-- The emulator against its own wire contract (emulator/README.md):
-- emulator/selftest.py talks to fresh servers over raw HTTP, so a spec of the
-- library cannot pass merely because the emulator drifted the same way.
describe("the emulator", function()
  local util = require "support.util"
  local emulator = require "support.emulator"

  it("passes emulator/selftest.py (bounded: 120 s)", function()
    local out, ok, code = util.run(("cd %s && timeout 120 python3 emulator/selftest.py --certs %s")
      :format(util.shell_quote(util.root), util.shell_quote(emulator.certs().dir)))
    assert.is_true(ok, ("selftest.py exited %s%s:\n%s"):format(code, code == 124 and " (timed out)" or "", out))
    assert.truthy(out:find("selftest: all checks passed", 1, true), out)
  end)
end)
