-- Suite-wide secrets check. Everything the library shows a user during the
-- run is observed here: every value every client action returns (results,
-- response tables, errors, each step of g.pages / g.items, batch items with
-- their headers and bodies: every string, walked recursively), error tables
-- and their tostring, tostring of clients, debug log lines, and the output
-- of child scripts. At the end of the run it is scanned for every secret
-- the suite used and every token the emulators issued. One hit fails the
-- suite (spec/support/helper.lua).
local util = require "support.util"
local fixtures = require "support.fixtures"

-- observed: each distinct string once (responses repeat a lot); seen: the set.
local M = { observed = {}, seen = {}, secrets = {} }

local function add_secret(s)
  if type(s) == "string" and #s >= 6 then M.secrets[s] = true end
end

for _, k in ipairs{ "client_secret", "limited_client_secret", "adele_password",
                    "megan_password", "seed_refresh_token" } do
  add_secret(fixtures[k])
end
add_secret("cert-pass-123")                      -- app-encrypted.pem's pass phrase

local function remember(s)
  if not M.seen[s] then
    M.seen[s] = true
    M.observed[#M.observed + 1] = s
  end
end

--- Remember what a user could see: any value (tables are walked).
function M.observe(v)
  for _, s in ipairs(util.strings_in(v)) do remember(s) end
  if type(v) ~= "string" then remember(tostring(v)) end
end

-- Observe every value of a call's return, and give them back unchanged.
local function observe_results(...)
  for i = 1, select("#", ...) do M.observe((select(i, ...))) end
  return ...
end

-- An iterator (g.pages, g.items: a for iterator with :next()) whose every
-- step is observed, either way it is taken.
local function observed_iterator(iter)
  local step = function() return observe_results(iter:next()) end
  return setmetatable({}, { __call = step, __index = { next = step } })
end

local ITERATORS = { pages = true, items = true }
local ACTIONS = { "request", "pages", "items", "batch", "users", "presence", "security" }

--- Wrap the actions of a client (or of the graph module, the default
-- client's) so that whatever they return is observed: `names` are the
-- action namespaces bound on `tree` (graph/init.lua), all by default.
function M.watch(tree, names)
  for _, name in ipairs(names or ACTIONS) do
    local f = tree[name]
    if type(f) == "function" then
      if ITERATORS[name] then
        tree[name] = function(...) return observed_iterator(f(...)) end
      else
        tree[name] = function(...) return observe_results(f(...)) end
      end
    elseif type(f) == "table" then
      local inner = {}
      for k in pairs(f) do inner[#inner + 1] = k end
      M.watch(f, inner)
    end
  end
  return tree
end

--- Watch every client `graph.client` makes from now on, and the module's
-- own functions.
function M.watch_module(graph)
  if M.watched == graph then return end
  M.watched = graph
  local make = graph.client
  graph.client = function(...) return M.watch(make(...)) end
  M.watch(graph)
end

--- Tokens an emulator issued (access and refresh): secrets too.
function M.add_tokens(list)
  for _, t in ipairs(list or {}) do add_secret(t) end
end

--- Private-key text from the certificates the run generated.
function M.add_key_file(path)
  local text = util.read_file(path)
  if not text then return end
  for line in text:gmatch("[^\n]+") do
    if not line:find("-----", 1, true) and #line >= 40 then add_secret(line) end
  end
end

--- The hits: { { secret =, seen = } } of `secrets` (a set; all the run's
-- by default) in the strings `observed` (all observed by default). They are
-- joined into one text (a NUL between them: no secret holds one) and each
-- secret searched once; only a secret found is traced back to its strings.
function M.scan(observed, secrets)
  observed, secrets = observed or M.observed, secrets or M.secrets
  local hits = {}
  local text = table.concat(observed, "\0")
  for secret in pairs(secrets) do
    if text:find(secret, 1, true) then
      for _, seen in ipairs(observed) do
        if seen:find(secret, 1, true) then hits[#hits + 1] = { secret = secret, seen = seen } end
      end
    end
  end
  return hits
end

return M
