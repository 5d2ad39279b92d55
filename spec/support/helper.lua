-- busted helper: runs once per busted process, before any spec file.
-- Loading the support modules here keeps them (and the lazily started shared
-- emulator they hold) alive across spec files, which busted otherwise
-- insulates from each other. Nothing is started until a spec asks for it.
-- lua-cjson is no dependency (JSON is in the C core): a spec that loads it
-- would pass here, where a benchmark row installs it, and fail on a fresh machine.
for _, name in ipairs{ "cjson", "cjson.safe" } do
  package.preload[name] = function()
    error(name .. " is not a dependency of lua-msgraph: use graph.json", 2)
  end
end
require "support.util"
require "support.fixtures"
require "support.emulator"
require "support.secrets"
-- Load the C core once for the whole run when it is built; specs that need it
-- fail on their own with a clear message when it is not.
pcall(require, "graph.core")
-- Every client the suite makes has what its actions return observed by the
-- secrets scan below (graph.client is wrapped once, for the whole run).
do
  local ok, graph = pcall(require, "graph")
  if ok then require("support.secrets").watch_module(graph) end
end

-- At the end of the run: scan everything the library showed for secrets.
local busted = require "busted"
busted.subscribe({ "suite", "end" }, function()
  local emulator, secrets = require "support.emulator", require "support.secrets"
  local shared = emulator.shared_if_started()
  if shared then shared:collect_tokens() end
  local dir = emulator.certs_dir()
  if dir then
    for _, f in ipairs{ "app.pem", "rogue.pem", "server.key", "ca.key" } do
      secrets.add_key_file(dir .. "/" .. f)
    end
  end
  local hits = secrets.scan()
  local n = 0
  for _ in pairs(secrets.secrets) do n = n + 1 end
  io.write(("\nsecrets scan: %d strings shown to users checked against %d secrets: %d hits\n")
    :format(#secrets.observed, n, #hits))
  for i = 1, math.min(#hits, 5) do
    io.write(("  secret %q appeared in %q\n"):format(hits[i].secret:sub(1, 12) .. "...",
      hits[i].seen:sub(1, 200)))
  end
  if #hits > 0 then os.exit(1) end
  return nil, true
end)
