-- users.memberof: plain, query options, advanced queries and paging.
describe("users.memberof", function()
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"

  local emu, g
  setup(function() emu = emulator.shared() end)
  before_each(function()
    emu:reset()
    g = emu:client()
  end)

  local function memberof_requests()
    local list = {}
    for _, r in ipairs(emu:graph_requests()) do
      if r.path:find("/memberOf", 1, true) then list[#list + 1] = r end
    end
    return list
  end

  -- The first memberOf request: its path, decoded query and headers.
  local function first_request()
    local r = assert(memberof_requests()[1], "no memberOf request logged")
    local path, query = util.split_target(r.path)
    return path, query, r.headers
  end

  local function assert_advanced(headers, query)
    assert.equal("eventual", headers.consistencylevel)
    assert.equal("true", query["$count"])
  end

  local function ids(value)
    local list = {}
    for i, item in ipairs(value) do list[i] = item.id end
    return list
  end

  it("returns the memberships of a user", function()
    local result, response = util.expect_success(g.users.memberof, { id = fx.adele_id })
    assert.is_table(result.value)
    assert.is_true(#result.value > 0)
    for _, item in ipairs(result.value) do
      assert.is_string(item.id)
      assert.truthy(item["@odata.type"]:match("^#microsoft%.graph%."), item["@odata.type"])
    end
    assert.equal(200, response.status_code)
    assert.equal("OK", response.reason)
    local path, _, headers = first_request()
    assert.equal("/v1.0/users/" .. fx.adele_id .. "/memberOf", path)
    assert.is_nil(headers.consistencylevel)
    assert.is_nil(memberof_requests()[1].path:find("?", 1, true))
  end)

  it("accepts a userPrincipalName", function()
    local by_upn = util.expect_success(g.users.memberof, { id = fx.adele_upn })
    local by_id = util.expect_success(g.users.memberof, { id = fx.adele_id })
    assert.same(ids(by_id.value), ids(by_upn.value))
  end)

  it("sends select as $select without making it an advanced query", function()
    local result = util.expect_success(g.users.memberof, { id = fx.adele_id, select = { "id", "displayName" } })
    local _, query, headers = first_request()
    assert.equal("id,displayName", query["$select"])
    assert.is_nil(headers.consistencylevel)
    assert.is_nil(query["$count"])
    for _, item in ipairs(result.value) do assert.is_nil(item.description) end
  end)

  it("sends top as $top and gets at most that many", function()
    local result = util.expect_success(g.users.memberof, { id = fx.lynne_id, top = 5 })
    local _, query, headers = first_request()
    assert.equal("5", query["$top"])
    assert.is_nil(headers.consistencylevel)
    assert.is_true(#result.value <= 5)
    assert.is_true(#result.value > 0)
    assert.equal(1, #memberof_requests())
  end)

  it("with all = true follows every nextLink into one value", function()
    local single = util.expect_success(g.users.memberof, { id = fx.lynne_id, top = 999 })
    assert.is_true(#single.value >= 250, "expected 250+ memberships, got " .. #single.value)
    emu:reset()                       -- also revokes tokens: use a new client
    local all = util.expect_success(emu:client().users.memberof, { id = fx.lynne_id, all = true })
    local reqs = memberof_requests()
    assert.is_true(#reqs >= 3, "expected at least 3 pages, got " .. #reqs)
    for i = 2, #reqs do
      assert.truthy(reqs[i].path:find("^/v1%.0/users/[^/]+/memberOf%?"), reqs[i].path)
    end
    assert.same(ids(single.value), ids(all.value))
    local seen = {}
    for _, id in ipairs(ids(all.value)) do
      assert.is_nil(seen[id], "duplicate " .. id)
      seen[id] = true
    end
    assert.is_nil(all["@odata.nextLink"])
  end)

  it("with all = true never sends the token to a nextLink on another host", function()
    local other = emu.url:gsub("127%.0%.0%.1", "localhost")
    emu:fault{ path = "^/v1\\.0/users/" .. fx.lynne_id .. "/memberOf$", count = 1, json = {
      value = { { ["@odata.type"] = "#microsoft.graph.group", id = "1", displayName = "Page one" } },
      ["@odata.nextLink"] = other .. "/v1.0/users/" .. fx.lynne_id .. "/memberOf?$skiptoken=x",
    } }
    assert.has_no.errors(function() g.users.memberof{ id = fx.lynne_id, all = true } end)
    for _, r in ipairs(emu:requests()) do
      assert.is_nil((r.headers.host or ""):find("localhost", 1, true), "followed " .. r.path)
    end
  end)

  it("without all returns only the first page", function()
    local result = util.expect_success(g.users.memberof, { id = fx.lynne_id })
    assert.is_true(#result.value <= 100)
    assert.equal(1, #memberof_requests())
  end)

  it("with all = true keeps the query options on every page", function()
    local all = util.expect_success(g.users.memberof, { id = fx.lynne_id, all = true, top = 100, select = "id,displayName" })
    local reqs = memberof_requests()
    assert.is_true(#reqs >= 3)
    for _, r in ipairs(reqs) do
      local _, query = util.split_target(r.path)
      assert.equal("id,displayName", query["$select"])
    end
    assert.is_true(#all.value >= 250)
  end)

  it("makes count an advanced query and returns @odata.count", function()
    local result = util.expect_success(g.users.memberof, { id = fx.adele_id, count = true })
    local _, query, headers = first_request()
    assert_advanced(headers, query)
    assert.is_number(result["@odata.count"])
    assert.equal(#result.value, result["@odata.count"])
  end)

  it("returns the total @odata.count with all = true", function()
    local result = util.expect_success(g.users.memberof, { id = fx.lynne_id, count = true, all = true })
    assert.equal(#result.value, result["@odata.count"])
    assert.is_true(result["@odata.count"] >= 250)
    for _, r in ipairs(memberof_requests()) do
      assert.equal("eventual", r.headers.consistencylevel)
    end
  end)

  it("makes filter an advanced query", function()
    local filter = "startswith(displayName,'A')"
    local result = util.expect_success(g.users.memberof, { id = fx.lynne_id, filter = filter })
    local _, query, headers = first_request()
    assert_advanced(headers, query)
    assert.equal(filter, query["$filter"])
    assert.is_number(result["@odata.count"])
    for _, item in ipairs(result.value) do
      assert.equal("a", item.displayName:sub(1, 1):lower())
    end
  end)

  it("makes orderby an advanced query and gets sorted results", function()
    local result = util.expect_success(g.users.memberof, { id = fx.adele_id, orderby = "displayName" })
    local _, query, headers = first_request()
    assert_advanced(headers, query)
    assert.equal("displayName", query["$orderby"])
    for i = 2, #result.value do
      local a, b = result.value[i - 1].displayName or "", result.value[i].displayName or ""
      assert.is_true(a:lower() <= b:lower(), a .. " > " .. b)
    end
  end)

  it("makes search an advanced query and adds the double quotes", function()
    local result = util.expect_success(g.users.memberof, { id = fx.lynne_id, search = "displayName:tier" })
    local _, query, headers = first_request()
    assert.equal("eventual", headers.consistencylevel)
    assert.equal('"displayName:tier"', query["$search"])
    assert.equal("true", query["$count"])
    assert.is_number(result["@odata.count"])
    for _, item in ipairs(result.value) do
      assert.truthy(item.displayName:lower():find("tier", 1, true), item.displayName)
    end
  end)

  it("keeps the double quotes of an already quoted search", function()
    util.expect_success(g.users.memberof, { id = fx.lynne_id, search = '"displayName:tier"' })
    local _, query = first_request()
    assert.equal('"displayName:tier"', query["$search"])
  end)

  it("quotes each term of a search with several terms, not the whole string", function()
    local cases = {
      { "displayName:a OR mail:b", '"displayName:a" OR "mail:b"' },
      { "displayName:tier AND mail:lynne", '"displayName:tier" AND "mail:lynne"' },
      { '"displayName:a" OR mail:b', '"displayName:a" OR "mail:b"' },
      { '"displayName:a OR b"', '"displayName:a OR b"' },
      { "(displayName:a OR mail:b) AND description:c", '("displayName:a" OR "mail:b") AND "description:c"' },
      { "displayName:John Smith", '"displayName:John Smith"' },
      { "displayName:for OR", '"displayName:for OR"' },
      { "(displayName:a(b) OR mail:c)", '("displayName:a(b)" OR "mail:c")' },
      { " displayName:x ", ' "displayName:x" ' },
    }
    for _, case in ipairs(cases) do
      emu:reset()
      pcall(g.users.memberof, { id = fx.lynne_id, search = case[1] })   -- the emulator may refuse it
      local _, query = first_request()
      assert.equal(case[2], query["$search"], case[1])
    end
  end)

  it("percent-encodes query values so they cannot add parameters", function()
    util.expect_success(g.users.memberof, { id = fx.adele_id, filter = "displayName eq 'R&D $top=1'" })
    local _, query = first_request()
    assert.equal("displayName eq 'R&D $top=1'", query["$filter"])
    assert.is_nil(query["$top"])
    assert.is_nil(query[" $top"])
  end)

  it("accepts the connector's input shape with an email address", function()
    local result = util.expect_success(g.users.memberof, {
      ["path parameters"] = { ["email address"] = fx.adele_upn },
      parameters = { ["$filter"] = "startswith(displayName,'A')", ["$count"] = "true" },
    })
    assert.is_table(result.value)
    local path, query, headers = first_request()
    assert.equal("/v1.0/users/" .. require("graph.core").escape(fx.adele_upn) .. "/memberOf", path)
    assert.equal("startswith(displayName,'A')", query["$filter"])
    assert_advanced(headers, query)
  end)

  it("accepts the connector's $search parameter", function()
    util.expect_success(g.users.memberof, {
      ["path parameters"] = { ["email address"] = fx.lynne_upn },
      parameters = { ["$search"] = "displayName:tier" },
    })
    local _, query, headers = first_request()
    assert.equal('"displayName:tier"', query["$search"])
    assert.equal("eventual", headers.consistencylevel)
  end)

  it("returns a graph error for an unknown user", function()
    local err = util.expect_failure(g.users.memberof, { id = fx.missing_id })
    assert.equal("graph", err.kind)
    assert.equal(404, err.status_code)
    assert.equal("Request_ResourceNotFound", err.code)
  end)

  it("returns 403 for an app without directory read permission", function()
    local limited = emu:client{ client_id = fx.limited_client_id, client_secret = fx.limited_client_secret }
    local err = util.expect_failure(limited.users.memberof, { id = fx.adele_id })
    assert.equal(403, err.status_code)
    assert.equal("Authorization_RequestDenied", err.code)
  end)

  it("raises on a bad argument, naming the function and the field", function()
    local ok, msg = pcall(g.users.memberof, {})
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("users.memberof", 1, true), tostring(msg))
    ok, msg = pcall(g.users.memberof, { id = fx.adele_id, top = "ten" })
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("top", 1, true), tostring(msg))
    ok, msg = pcall(g.users.memberof, { id = fx.adele_id, all = "yes" })
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("all", 1, true), tostring(msg))
  end)
end)
