-- graph.nginx outside nginx: the caller's checks (they raise before nginx is
-- asked) and the worker thread's half, `run`, against the emulator. The two
-- halves together, in nginx, are spec/hosts/nginx/run.sh.
local core = require "graph.core"
local json = require "graph.json"
local emulator = require "support.emulator"
local secrets = require "support.secrets"
local util = require "support.util"

describe("graph.nginx", function()
  local gn = require "graph.nginx"

  describe("call raises on misuse, blamed on the caller", function()
    local cases = {
      { "pool", function() gn.call(nil, "users.get", {}) end, "'pool' must be the name of a thread_pool" },
      { "empty pool", function() gn.call("", "users.get", {}) end, "'pool'" },
      { "action type", function() gn.call("graph", 42, {}) end, "'action' must name a client action" },
      { "action shape", function() gn.call("graph", "users..get", {}) end, "\"users..get\"" },
      { "action dot", function() gn.call("graph", "users.", {}) end, "'action'" },
      { "args", function() gn.call("graph", "users.get", "x") end, "'args' must be a table or nil" },
      { "client_opts", function() gn.call("graph", "users.get", {}, 1) end, "'client_opts' must be a table" },
      { "a function in args", function() gn.call("graph", "users.get_many", { ids = {}, on_progress = print }) end,
        "args.on_progress is a function" },
      { "a function in options", function() gn.call("graph", "users.get", {}, { log = print }) end,
        "client_opts.log is a function" },
      { "a table key", function() gn.call("graph", "users.get", { [{}] = 1 }) end, "args has a table key" },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        local msg = util.raised(case[2])
        assert.truthy(msg:find("graph.nginx.call: ", 1, true), msg)
        assert.truthy(msg:find(case[3], 1, true), msg)
        assert.truthy(msg:find("graph_nginx_spec.lua", 1, true), msg)
      end)
    end

    it("graph.null and graph.array pass; outside nginx, the call says so", function()
      local graph = require "graph"
      local msg = util.raised(function()
        gn.call("graph", "users.update", { id = "x", body = { officeLocation = graph.null, otherMails = graph.array() } })
      end)
      assert.truthy(msg:find("graph.nginx.call: not in nginx: ngx.run_worker_thread is missing", 1, true), msg)
      assert.truthy(msg:find("graph_nginx_spec.lua", 1, true), msg)
    end)

    it("a cycle (nginx's own copy would recurse without end)", function()
      local body = {}
      body.self = body
      local msg = util.raised(function() gn.call("graph", "users.update", { id = "x", body = body }) end)
      assert.truthy(msg:find("args.body.self refers back to itself", 1, true), msg)
    end)
  end)

  describe("run, the worker thread's half", function()
    local emu, opts
    setup(function()
      emu = emulator.shared()
      opts = { tenant_id = emu.tenant_id, client_id = emu.client_id, client_secret = emu.client_secret,
               url = emu.url, login_url = emu.url, max_retries = 0, timeout = 10 }
    end)
    before_each(function() emu:reset() end)

    -- One call through run as nginx makes it: packed in, packed out.
    local function run(action, args, client)
      local how, packed = gn.run("json", assert(core.json_encode{ action = action, args = args, client = client or opts }))
      assert.equal("json", how)
      local out = assert(json.decode(packed))
      secrets.observe(out)
      return out
    end

    it("returns the blocking call's result, array markers and null included", function()
      local g = emu:client()
      local want = assert(g.users.get{ id = "$svc-backup@contoso.onmicrosoft.com" })
      g:close()
      local out = run("users.get", { id = "$svc-backup@contoso.onmicrosoft.com" })
      assert.same(want, out.result)
      assert.truthy(json.is_array(out.result.businessPhones))
      assert.equal(0, #out.result.businessPhones)
      assert.equal(json.null, out.result.mobilePhone)
      assert.equal(200, out.response.status_code)
      assert.same({ "document" }, out.marks)      -- what the caller's side puts back
    end)

    it("names a bulk call's items: each a document or an error", function()
      local out = run("users.get_many", { ids = { "adele.vance@contoso.onmicrosoft.com", "nobody@x.example" } })
      assert.same({ "document", "document", "error" }, out.marks)
      assert.equal("Request_ResourceNotFound", out.result[2].code)
      assert.same({ ok = 1, failed = 1 }, out.response)
    end)

    it("keeps one client per options: the token is acquired once", function()
      for _ = 1, 3 do run("users.get", { id = "adele.vance@contoso.onmicrosoft.com" }) end
      assert.equal(1, emu:stats().token_requests)
      -- the same options in another table (built in another order): the same client
      local function copy(changes)
        local t = {}
        for _, k in ipairs(util.sorted_keys(opts)) do t[k] = opts[k] end
        for k, v in pairs(changes or {}) do t[k] = v end
        return t
      end
      run("users.get", { id = "adele.vance@contoso.onmicrosoft.com" }, copy())
      assert.equal(1, emu:stats().token_requests)
      -- other options: another client, with its own token
      run("users.get", { id = "adele.vance@contoso.onmicrosoft.com" }, copy{ timeout = 9 })
      assert.equal(2, emu:stats().token_requests)
    end)

    it("what JSON cannot hold comes back as it is, for nginx to copy", function()
      if _VERSION == "Lua 5.1" and not jit then   -- luacheck: ignore 113/jit
        pending("nginx's Lua is LuaJIT: PUC 5.1 is not a thread VM nginx makes")
        return
      end
      emu:fault{ path = "^/v1.0/users/", headers = { ["X-Odd"] = "caf\195\169" } }   -- UTF-8 here, sent as Latin-1
      local fresh = {}                  -- a client of its own: its first GET is the one with the fault
      for k, v in pairs(opts) do fresh[k] = v end
      fresh.timeout = 8
      local how, out = gn.run("json", assert(core.json_encode{
        action = "users.get", args = { id = "adele.vance@contoso.onmicrosoft.com" }, client = fresh }))
      assert.equal("lua", how)
      assert.equal("caf\xe9", out.response.headers["x-odd"])
      assert.equal("87d349ed-44d7-43e1-9a83-5f2406dee5bd", out.result.id)
    end)

    it("a failure comes back as the error's fields, without a secret", function()
      local out = run("users.get", { id = "nobody@contoso.onmicrosoft.com" })
      assert.is_nil(out.result)
      assert.equal("graph", out.err.kind)
      assert.equal("Request_ResourceNotFound", out.err.code)
      assert.equal(404, out.err.status_code)
      assert.truthy(tostring(core.error(out.err)):find("^graph: 404 Request_ResourceNotFound: "))
      assert.falsy(assert(core.json_encode(out)):find(emu.client_secret, 1, true))
    end)

    it("a misuse in the thread comes back to be raised, naming the field", function()
      assert.truthy(run("users.get", {}).raise:find("'id'", 1, true))
      assert.truthy(run("users.nope", {}).raise:find("unknown action 'users.nope'", 1, true))
      -- a client's methods are no actions: the refresh token never leaves
      assert.truthy(run("refresh_token", {}).raise:find("unknown action 'refresh_token'", 1, true))
      assert.truthy(run("pages", { path = "/users" }).raise:find("returns an iterator", 1, true))
    end)
  end)
end)
