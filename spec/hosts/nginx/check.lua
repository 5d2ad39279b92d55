-- The checks of the nginx host proof (spec/hosts/nginx/run.sh starts the
-- emulator and nginx, then runs this with the suite's Lua). Talks to nginx
-- through graph.core sessions without credentials; compares with the
-- blocking client on the same emulator. Raises on the first failure.
--   NGINX_URL     http://127.0.0.1:PORT of the proof's nginx
--   NGINX_PREFIX  its prefix (error.log, access.log)
--   EMU_READY     the emulator's ready file
--   GRAPH_ROOT    the repository (docs/hosts/nginx.md, examples/nginx/)
local core = require "graph.core"
local graph = require "graph"
local json = require "graph.json"

local base = assert(os.getenv("NGINX_URL"), "NGINX_URL")
local prefix = assert(os.getenv("NGINX_PREFIX"), "NGINX_PREFIX")
local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end
local emu = json.decode(read(assert(os.getenv("EMU_READY"), "EMU_READY")))

local CALLS = 20

-- (0) docs/hosts/nginx.md shows the example files this proof runs, verbatim.
do
  local root = assert(os.getenv("GRAPH_ROOT"), "GRAPH_ROOT")
  local page = read(root .. "/docs/hosts/nginx.md")
  local blocks = {}
  for body in page:gmatch("\n```%w*\n(.-\n)```") do blocks[body] = true end
  for _, f in ipairs{ "examples/nginx/nginx.conf", "examples/nginx/graph_user.lua" } do
    assert(blocks[read(root .. "/" .. f)], "docs/hosts/nginx.md does not show " .. f .. " as it is")
  end
end

local function check(cond, ...)
  if not cond then error(table.concat({ ... }, ""), 2) end
end

-- Equal values, array markers included (an empty array must stay an array).
local function same(a, b, path)
  path = path or "value"
  if type(a) ~= "table" or type(b) ~= "table" then
    check(a == b, path, ": ", tostring(a), " ~= ", tostring(b))
    return
  end
  check(json.is_array(a) == json.is_array(b), path, ": array marker differs")
  for k, v in pairs(a) do same(v, b[k], path .. "." .. tostring(k)) end
  for k in pairs(b) do check(a[k] ~= nil, path .. "." .. tostring(k), ": missing") end
end

local blocking = graph.client{
  tenant_id = emu.tenant_id, client_id = emu.client_id, client_secret = emu.client_secret,
  url = emu.url, login_url = emu.url, timeout = 10,
}
local control = core.session{ timeout = 10, connect_timeout = 5 }
local function emulator(path)
  local status, _, _, body = control:request("GET", emu.url .. "/_emulator/" .. path, {}, nil, false)
  check(status == 200, "emulator ", path, ": ", tostring(status))
  return json.decode(body)
end

-- The last CALLS users of the tenant: among them, users whose businessPhones
-- is an empty array, which must reach the handler as an array.
local listing = assert(blocking.request{ path = "/users", query = { ["$select"] = "id" } })
local ids = {}
for i = #listing.value - CALLS + 1, #listing.value do ids[#ids + 1] = listing.value[i].id end
check(#ids == CALLS, "the emulator lists ", #ids, " users, expected ", CALLS)
local expected = assert(blocking.users.get_many{ ids = ids })
local empty_arrays = 0
for _, u in ipairs(expected) do
  if json.is_array(u.businessPhones) and #u.businessPhones == 0 then empty_arrays = empty_arrays + 1 end
end
check(empty_arrays > 0, "no user with an empty businessPhones among the ", CALLS)

local bodies = {}
local function get_user(s, id)
  local status, _, _, body = s:request("GET", base .. "/users/" .. core.escape(id), {}, nil, false)
  bodies[#bodies + 1] = body
  return status, body and json.decode(body)
end

local blocking_tokens = emulator("stats").token_requests

-- (1) One call: the user, as the blocking client reads it.
local plain = core.session{ timeout = 20, connect_timeout = 5 }
local status, user = get_user(plain, ids[1])
check(status == 200, "GET /users/", ids[1], ": ", tostring(status))
same(user, expected[1], "user")

-- (2) CALLS calls in flight at once, and /ping on the same single worker
-- meanwhile: every ping answered, every result its caller's.
local function wave()
  local run = core.session{ timeout = 20, connect_timeout = 5 }
  local reqs = {}
  for i, id in ipairs(ids) do
    reqs[i] = { id = i, method = "GET", url = base .. "/users/" .. core.escape(id) }
  end
  local results, pings, worst = {}, 0, 0
  local started = core.now()
  local done, left = run:submit(reqs, false)   -- all CALLS at once
  while true do
    for _, r in ipairs(done or {}) do results[r.id] = r end
    if left == 0 then break end
    local t0 = core.now()
    local st, _, _, pong = plain:request("GET", base .. "/ping", {}, nil, false)
    check(st == 200 and pong == "pong\n", "/ping during the calls: ", tostring(st), " ", tostring(pong))
    pings, worst = pings + 1, math.max(worst, core.now() - t0)
    local fds, seconds = run:wants()
    done, left = run:step(core.poll(fds, math.min(seconds or 0.01, 0.01)))
  end
  local wall = core.now() - started
  run:close()
  for i, id in ipairs(ids) do
    local r = results[i]
    check(r and r.status == 200, "GET /users/", id, ": ", tostring(r and (r.status or r.err)))
    bodies[#bodies + 1] = r.body
    same(json.decode(r.body), expected[i], "user " .. id)
  end
  return pings, worst, wall
end

local function figures(what, pings, worst, wall)
  print(("figure: nginx %s: wall time of %d calls in flight = %.0f ms"):format(what, CALLS, wall * 1000))
  print(("figure: nginx %s: pings answered during the calls = %d pings"):format(what, pings))
  print(("figure: nginx %s: ping worst latency = %.1f ms"):format(what, worst * 1000))
end
figures("first wave (thread VMs made)", wave())

-- The same again: each thread VM kept its client, so no new token.
local tokens = emulator("stats").token_requests
figures("second wave (VMs and clients reused)", wave())
local again = emulator("stats").token_requests
check(again == tokens, "the second wave asked for ", again - tokens, " new tokens: clients were not kept")
print(("figure: nginx token requests of the thread VMs = %d requests"):format(tokens - blocking_tokens))

-- (3) A 404: a structured error, the blocking client's, with its tostring.
local missing = "no.such.user@" .. emu.tenant_domain
local _, want = blocking.users.get{ id = missing }
local st404, doc = get_user(plain, missing)
check(st404 == 404, "GET /users/", missing, ": ", tostring(st404))
local e = doc.error
check(type(e) == "table", "no error table in the 404 body")
for _, k in ipairs{ "kind", "code", "status_code", "message" } do
  check(e[k] == want[k], "error.", k, ": ", tostring(e[k]), " ~= ", tostring(want[k]))
end
check(e.kind == "graph" and e.code == "Request_ResourceNotFound", "error kind/code: ", e.kind, " ", e.code)
check(type(e.text) == "string" and e.text:find("^graph: 404 Request_ResourceNotFound: "),
  "tostring(err) in the handler: ", tostring(e.text))

-- (3b) An answer JSON cannot hold (a Latin-1 header value) crosses by
-- nginx's own copy: the same user.
do
  local target = "/v1.0/users/" .. ids[#ids]
  local body = assert(json.encode{ path = "^" .. target .. "$", headers = { ["X-Odd"] = "caf\u{e9}" } })
  local st = control:request("POST", emu.url .. "/_emulator/faults", { ["content-type"] = "application/json" },
                             body, false)
  check(st == 200, "emulator fault: ", tostring(st))
  local st_odd, odd = get_user(plain, ids[#ids])
  check(st_odd == 200, "GET /users/", ids[#ids], " with a Latin-1 header: ", tostring(st_odd))
  same(odd, expected[#ids], "user with a Latin-1 header")
  check(#emulator("faults").faults == 0, "the fault was not used")
end

-- (3c) A bulk call: each user or its error in its place, the error's
-- tostring back in the handler.
do
  local asked = { ids[1], missing, ids[2] }
  local want_many = blocking.users.get_many{ ids = asked }
  local st_many, _, _, body = plain:request("GET", base .. "/users?ids=" .. core.escape(table.concat(asked, ",")),
                                            {}, nil, false)
  check(st_many == 200, "GET /users?ids=...: ", tostring(st_many))
  bodies[#bodies + 1] = body
  local got = json.decode(body)
  same(got[1], want_many[1], "get_many[1]")
  same(got[3], want_many[3], "get_many[3]")
  local item = got[2].error
  check(item and item.code == want_many[2].code and item.status_code == 404, "get_many[2]: not its 404")
  check(item.text:find("^graph: 404 Request_ResourceNotFound: ") and item.text:find(item.request_id, 1, true),
        "get_many[2]: tostring(err) in the handler: ", tostring(item.text))
end

-- (3d) A caller that goes away mid-call: its answer is dropped, the
-- worker goes on (error.log is checked below).
do
  local impatient = core.session{ timeout = 0.05, connect_timeout = 5 }
  local st_gone, why = impatient:request("GET", base .. "/users/" .. ids[3], {}, nil, false)
  check(st_gone == nil and type(why) == "table" and why.code == "timeout", "the impatient call: ", tostring(st_gone))
  impatient:close()
  core.sleep(0.6)                     -- its Graph call ends (200 ms latency) after the caller left
  local st_after, after = get_user(plain, ids[3])
  check(st_after == 200, "after a caller left: ", tostring(st_after))
  same(after, expected[3], "user after a caller left")
end

-- (3e) When nginx cannot run the call (here: no such thread pool): nil, err
-- of kind "host" with nginx's reason.
do
  local st_np, _, _, text = plain:request("GET", base .. "/nopool", {}, nil, false)
  check(st_np == 200 and text:find("^host worker_thread nginx could not run the call in a worker thread: "),
        "/nopool: ", tostring(st_np), " ", tostring(text))
  check(text:find("nopool", 1, true), "/nopool: nginx's reason is not in the message: ", text)
end

-- (4) No secret in nginx's logs nor in any answer.
local secrets = { emu.client_secret }
for _, t in ipairs(emulator("issued").tokens) do secrets[#secrets + 1] = t end
check(#secrets > 1, "the emulator issued no token")
local places = { ["error.log"] = read(prefix .. "/error.log"), ["access.log"] = read(prefix .. "/access.log"),
                 ["the answers"] = table.concat(bodies, "\n") }
for where, text in pairs(places) do
  for _, secret in ipairs(secrets) do
    check(not text:find(secret, 1, true), "a secret in ", where)
  end
end
check(not places["error.log"]:find("%[alert%]") and not places["error.log"]:find("%[crit%]")
      and not places["error.log"]:find("%[error%]"), "nginx logged errors:\n", places["error.log"])

blocking:close()
plain:close()
control:close()
print("checks passed")
