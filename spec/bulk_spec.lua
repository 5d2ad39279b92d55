-- Bulk calls: users.get_many (libcurl multi), presence.get_many
-- (getPresencesByUserId), batch ($batch), pacing and progress.
describe("bulk calls", function()
  local util = require "support.util"
  local emulator = require "support.emulator"
  local fx = require "support.fixtures"
  local core = require "graph.core"

  local emu
  setup(function() emu = emulator.shared() end)
  before_each(function() emu:reset() end)

  local function is_error(v) return getmetatable(v) and getmetatable(v).__name == "graph.error" end

  describe("users.get_many", function()
    it("returns users and errors in input order", function()
      local g = emu:client()
      local ids = { fx.adele_id, fx.missing_id, fx.lynne_upn, fx.guest_upn, fx.adele_upn }
      local res, summary = g.users.get_many{ ids = ids, select = { "id", "userPrincipalName" } }
      assert.equal(#ids, #res)
      assert.equal(fx.adele_id, res[1].id)
      assert.is_true(is_error(res[2]))
      assert.equal("Request_ResourceNotFound", res[2].code)
      assert.equal(404, res[2].status_code)
      assert.equal(fx.lynne_id, res[3].id)
      assert.equal(fx.guest_upn, res[4].userPrincipalName)
      assert.equal(fx.adele_id, res[5].id)
      assert.same({ ok = 4, failed = 1 }, summary)
    end)

    it("runs requests concurrently over a bounded pool, with one token", function()
      local g = emu:client()
      emu:config{ latency = 0.05 }
      local ids = {}
      for i = 1, 48 do ids[i] = fx.adele_id end
      local t0 = core.now()
      local res, summary = g.users.get_many{ ids = ids, concurrency = 16 }
      local elapsed = core.now() - t0
      emu:config{ latency = 0 }
      assert.equal(48, summary.ok)
      local stats = emu:stats()
      assert.equal(1, stats.token_requests)          -- acquired once for all of them
      assert.is_true(stats.max_concurrency > 1, "max_concurrency " .. stats.max_concurrency)
      assert.is_true(stats.connections <= 16 + 1)
      assert.is_true(elapsed < 48 * 0.05, ("%.2f s is not faster than sequential"):format(elapsed))
      assert.equal(fx.adele_id, res[48].id)
    end)

    it("retries throttled requests after their Retry-After and reports progress", function()
      local g = emu:client{ retry_delay = 0.01 }
      emu:fault{ target = "graph", path = "^/v1\\.0/users/", status = 429,
                 headers = { ["Retry-After"] = "0.2" }, count = 3 }
      local calls = {}
      local t0 = core.now()
      local _, summary = g.users.get_many{ ids = { fx.adele_id, fx.lynne_id, fx.adele_upn },
        on_progress = function(done, total) calls[#calls + 1] = { done, total } end }
      assert.is_true(core.now() - t0 >= 0.2)
      assert.same({ ok = 3, failed = 0 }, summary)
      assert.same({ 3, 3 }, calls[#calls])
      for i = 2, #calls do assert.is_true(calls[i][1] > calls[i - 1][1]) end
      assert.equal(6, emu:stats().graph_requests)
    end)

    it("re-acquires the token once when Graph rejects it", function()
      local g = emu:client()
      util.expect_success(g.users.get, { id = fx.adele_id })
      emu:expire_tokens()
      local _, summary = g.users.get_many{ ids = { fx.adele_id, fx.lynne_id } }
      assert.same({ ok = 2, failed = 0 }, summary)
      assert.equal(2, emu:stats().token_requests)
    end)

    it("raises on bad input", function()
      local g = emu:client()
      assert.has_error(function() g.users.get_many{ ids = "x" } end,
        "graph.users.get_many: field 'ids' must be a table, got string")
      assert.has_error(function() g.users.get_many{ ids = { "a", "" } } end)
      assert.has_error(function() g.users.get_many{ ids = { "a" }, concurrency = 0 } end)
      assert.has_error(function() g.users.get_many{ ids = { "a\r\nX: y" } } end)
    end)
  end)

  describe("presence.get_many", function()
    it("splits ids into calls of at most 650 and keeps input order", function()
      local g = emu:client()
      local ids = {}
      for i = 1, 1400 do ids[i] = (i % 3 == 0) and fx.lynne_id or fx.adele_id end
      ids[700] = fx.missing_id
      local res, summary = g.presence.get_many{ ids = ids }
      assert.equal(1400, #res)
      assert.equal(3, emu:stats().graph_requests)
      assert.equal(fx.adele_id, res[1].id)
      assert.equal(fx.lynne_id, res[3].id)
      assert.is_true(is_error(res[700]))
      assert.equal("Request_ResourceNotFound", res[700].code)
      assert.same({ ok = 1399, failed = 1 }, summary)
      local posts = emu:requests()
      for _, r in ipairs(posts) do
        if r.path:find("getPresencesByUserId", 1, true) then
          assert.equal("POST", r.method)
          assert.is_true(#require("graph.json").decode(r.body).ids <= 650)
        end
      end
    end)

    it("gives every id the error when its call fails", function()
      local g = emu:client{ max_retries = 0 }
      emu:fault{ target = "graph", path = "getPresencesByUserId", status = 503, count = 1 }
      local res, summary = g.presence.get_many{ ids = { fx.adele_id, fx.lynne_id } }
      assert.equal(503, res[1].status_code)
      assert.equal(503, res[2].status_code)
      assert.same({ ok = 0, failed = 2 }, summary)
    end)
  end)

  describe("batch", function()
    it("splits into batches of 20 and returns results in input order", function()
      local g = emu:client()
      local reqs = {}
      for i = 1, 45 do reqs[i] = { method = "GET", url = "/users/" .. fx.adele_id .. "?$select=id" } end
      reqs[3] = { method = "GET", url = "/users/" .. fx.missing_id }
      reqs[4] = { method = "PATCH", url = "/users/" .. fx.adele_id, body = { jobTitle = "Batched" } }
      local res, summary = g.batch{ requests = reqs }
      assert.equal(45, #res)
      assert.equal(200, res[1].status)
      assert.equal(fx.adele_id, res[1].body.id)
      assert.equal(404, res[3].status)
      assert.equal("Request_ResourceNotFound", res[3].body.error.code)
      assert.equal(204, res[4].status)
      assert.same({ ok = 44, failed = 1 }, summary)
      assert.equal("Batched", emu:user_state(fx.adele_id).jobTitle)
      local stats = emu:stats()
      assert.equal(3, stats.graph_requests)
      assert.equal(45, stats.batch_items)
    end)

    it("retries throttled items on their own after their Retry-After", function()
      local g = emu:client()
      emu:fault{ target = "batch_item", path = "lynne", status = 429,
                 headers = { ["Retry-After"] = "0.3" }, count = 2 }
      local reqs = {
        { method = "GET", url = "/users/" .. fx.adele_id },
        { method = "GET", url = "/users/" .. fx.lynne_upn },
        { method = "GET", url = "/users/" .. fx.lynne_upn },
      }
      local t0 = core.now()
      local res, summary = g.batch{ requests = reqs }
      assert.is_true(core.now() - t0 >= 0.3)
      assert.same({ ok = 3, failed = 0 }, summary)
      assert.equal(fx.lynne_id, res[3].body.id)
      assert.equal(5, emu:stats().batch_items)       -- 3, then the 2 throttled again
    end)
  end)

  describe("a redirect", function()
    it("is an error for a get_many item, not the user", function()
      local g = emu:client()
      emu:fault{ target = "graph", path = "lynne", status = 302, count = 1,
                 headers = { Location = "https://attacker.example/" },
                 json = { id = fx.lynne_id, displayName = "Not Lynne" } }
      local res, summary = g.users.get_many{ ids = { fx.adele_id, fx.lynne_upn } }
      assert.same({ ok = 1, failed = 1 }, summary)
      assert.is_true(is_error(res[2]))
      assert.equal("graph", res[2].kind)
      assert.equal(302, res[2].status_code)
      assert.equal("https://attacker.example/", res[2].location)
    end)

    it("is not ok for a $batch item", function()
      local g = emu:client()
      emu:fault{ target = "batch_item", path = "lynne", status = 307, count = 1,
                 headers = { Location = "https://attacker.example/" } }
      local res, summary = g.batch{ requests = {
        { method = "GET", url = "/users/" .. fx.adele_id },
        { method = "PATCH", url = "/users/" .. fx.lynne_upn, body = { jobTitle = "x" } },
      } }
      assert.equal(307, res[2].status)
      assert.same({ ok = 1, failed = 1 }, summary)
    end)
  end)

  describe("the token", function()
    it("is retried after the token endpoint's 503, once for the whole call", function()
      local g = emu:client{ max_retries = 2 }
      emu:fault{ target = "token", status = 503, count = 1, headers = { ["Retry-After"] = "0.1" },
                 json = { error = "temporarily_unavailable" } }
      local res, summary = g.users.get_many{ ids = { fx.adele_id, fx.lynne_id, fx.adele_upn } }
      assert.same({ ok = 3, failed = 0 }, summary)
      assert.equal(fx.lynne_id, res[2].id)
      assert.equal(2, #emu:token_requests())
    end)

    it("gives every request the token endpoint's final error, with retry_after", function()
      local g = emu:client{ max_retries = 1 }
      emu:fault{ target = "token", status = 429, count = 10, headers = { ["Retry-After"] = "0.05" },
                 json = { error = "too_many_requests" } }
      local res, summary = g.batch{ requests = { { method = "GET", url = "/users/" .. fx.adele_id } } }
      assert.same({ ok = 0, failed = 1 }, summary)
      assert.equal(429, res[1].status_code)
      assert.equal(0.05, res[1].retry_after)
      assert.equal(2, #emu:token_requests())
    end)
  end)

  describe("a failed $batch item", function()
    it("has its headers and Graph's error scrubbed of secrets", function()
      local g = emu:client()
      local secret = fx.client_secret
      emu:fault{ target = "batch_item", path = "lynne", status = 400, count = 1,
                 headers = { ["X-Echo"] = "got " .. secret },
                 json = { error = { code = "BadRequest", message = "you sent " .. secret } } }
      local res = g.batch{ requests = { { method = "GET", url = "/users/" .. fx.lynne_upn } } }
      assert.equal(400, res[1].status)
      assert.equal("BadRequest", res[1].body.error.code)
      for _, str in ipairs(util.strings_in(res)) do assert.is_nil(str:find(secret, 1, true), str) end
      assert.matches("^got ", res[1].headers["x-echo"])
    end)
  end)

  describe("pacing", function()
    it("holds a bulk call to the configured rate", function()
      local g = emu:client{ pacing = { directory = { requests = 4, per = 0.5 } } }
      local ids = {}
      for i = 1, 12 do ids[i] = fx.adele_id end
      local t0 = core.now()
      local _, summary = g.users.get_many{ ids = ids, concurrency = 8 }
      local elapsed = core.now() - t0
      assert.equal(12, summary.ok)
      -- 4 at once, then 8 more at 8 per second: at least ~1 s
      assert.is_true(elapsed >= 0.9, ("%.2f s"):format(elapsed))
    end)

    it("can be turned off, and rejects malformed limits", function()
      local g = emu:client{ pacing = false }
      local _, summary = g.users.get_many{ ids = { fx.adele_id, fx.lynne_id } }
      assert.equal(2, summary.ok)
      assert.has_error(function() emu:client{ pacing = { presence = { requests = 0, per = 1 } } } end)
    end)
  end)
end)
