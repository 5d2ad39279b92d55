-- HTTP/2: a client through a real HTTP/2 front (nghttpx, spec/support/h2front.lua)
-- in front of the HTTP/1.1 emulator speaks h2 (nghttpx's access log records
-- each request's ALPN and client port) and multiplexes a bulk call's
-- concurrent GETs on one connection.
local h2front = require "support.h2front"

if not h2front.available() then
  describe("HTTP/2 front", function()
    pending("skipped: " .. h2front.NGHTTPX .. " is missing (Debian's nghttp2-proxy; make deps installs it)")
  end)
  return
end

describe("HTTP/2 front", function()
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"

  local emu, front
  setup(function()
    emu = emulator.start()
    front = h2front.start(emu.port)
  end)
  teardown(function()
    if front then front:stop() end
    if emu then emu:stop() end
  end)
  before_each(function() emu:reset() end)

  local function client(extra)
    local o = { url = front.url, login_url = front.url, ca_file = front.ca }
    for k, v in pairs(extra or {}) do o[k] = v end
    return emu:client(o)
  end

  -- The front's log lines for Graph requests whose path starts with `prefix`.
  local function graph_lines(prefix)
    local list = {}
    for _, r in ipairs(front:requests()) do
      if r.path:sub(1, #prefix) == prefix then list[#list + 1] = r end
    end
    return list
  end

  it("serves a client's users.get over h2 (ALPN), the token request too", function()
    local g = client()
    local target = "/v1.0/users/" .. fx.adele_id
    local user = util.expect_success(g.users.get, { id = fx.adele_id })
    assert.equal(fx.adele_id, user.id)
    local gets = graph_lines(target)
    assert.is_true(#gets >= 1, "nghttpx logged no " .. target)
    for _, r in ipairs(gets) do
      assert.equal("h2", r.alpn)
      assert.equal(200, r.status)
    end
    local token = graph_lines("/" .. emu.tenant_id .. "/oauth2/")
    assert.equal(1, #token)
    assert.equal("h2", token[1].alpn)
  end)

  it("multiplexes users.get_many's concurrent GETs on one connection", function()
    local g = client()
    util.expect_success(g.users.get, { id = fx.lynne_id })      -- the token first, on its own
    local before = #front:requests()
    emu:config{ latency = 0.2 }
    local ids = {}
    for i = 1, 16 do ids[i] = i % 2 == 0 and fx.adele_id or fx.lynne_id end
    local res, summary = g.users.get_many{ ids = ids, concurrency = 8 }
    emu:config{ latency = 0 }
    assert.same({ ok = 16, failed = 0 }, summary)
    for i, id in ipairs(ids) do assert.equal(id, res[i].id) end

    local ports, gets = {}, 0
    for i, r in ipairs(front:requests()) do
      if i > before and r.path:find("^/v1%.0/users/") then
        assert.equal("h2", r.alpn)
        ports[r.port] = true
        gets = gets + 1
      end
    end
    assert.equal(16, gets)
    local n = 0
    for _ in pairs(ports) do n = n + 1 end
    assert.equal(1, n, "the GETs came on " .. n .. " connections")
    -- many in flight at once behind that one connection (nghttpx opens
    -- backend connections to the emulator as it needs them)
    local stats = emu:stats()
    assert.is_true(stats.max_concurrency >= 4, "max_concurrency " .. tostring(stats.max_concurrency))
  end)

  it("pages through the front: the next links keep its https scheme", function()
    local g = client()
    local all = util.expect_success(g.users.list, { top = 10, all = true })
    local direct = util.expect_success(emu:client().users.list, { top = 10, all = true })
    assert.is_true(#direct.value > 10, "the seeded tenant has more than one page")
    assert.equal(#direct.value, #all.value)
    assert.is_true(#graph_lines("/v1.0/users") > 1)
  end)

  -- make test-h2 (GRAPH_SPEC_H2=1): the shared emulator's clients go through a front
  if os.getenv("GRAPH_SPEC_H2") == "1" then
    it("sends the shared emulator's clients through its own HTTP/2 front", function()
      local shared = emulator.shared()
      assert.is_table(shared.front, "GRAPH_SPEC_H2=1 but the shared emulator has no front")
      local g = shared:client()
      local before = #shared.front:requests()
      util.expect_success(g.users.get, { id = fx.adele_id })
      local after = shared.front:requests()
      assert.is_true(#after > before, "the front served none of the client's requests")
      assert.equal("h2", after[#after].alpn)
    end)
  end
end)
